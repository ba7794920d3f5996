"""NC015: a native sidecar whose own preStop hook makes it exit, while the app still drains."""

from __future__ import annotations

from collections.abc import Iterator

from nativecar.rewrites import Context
from nativecar.rules import Problem, Rule, Stream, raw
from nativecar.workloads import Pod

RULE = Rule(
    id="NC015",
    name="sidecar-prestop-stops-it",
    severity="warning",
    summary="A native sidecar's preStop hook stops it at the start of termination",
    doc=(
        "The kubelet runs every container's preStop hook at the moment termination starts, "
        "sidecars' included; only their SIGTERM waits until the regular containers have "
        "exited. A sidecar preStop that asks the sidecar to exit (an httpGet or curl to "
        "`/quitquitquit` or `/shutdown`, a `kill`) therefore stops the proxy while the app is "
        "still draining, and the app loses its connections. Linkerd removed its own such "
        "hook for native mode; the Cloud SQL Proxy Operator still renders one. Fix: remove "
        "the preStop (the kubelet sends SIGTERM after the app has exited), or make it drain "
        "instead (Istio: `pilot-agent request POST drain`)."
    ),
)


def check(pod: Pod, context: Context, stream: Stream) -> Iterator[Problem]:
    for container in stream.model(pod, context).role("sidecar"):
        if container.pre_stop.kind == "stops":
            yield Problem(
                f"sidecar {container.name}'s preStop ({container.pre_stop.text}) stops it as termination starts, "
                "while the app is still draining",
                raw(pod, container),
                "lifecycle",
            )
