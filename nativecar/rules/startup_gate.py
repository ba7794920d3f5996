"""NC016: a sidecar's startup probe that can never pass, or that another container answers."""

from __future__ import annotations

from collections.abc import Iterator

from nativecar.lifecycle import analysis
from nativecar.rewrites import Context
from nativecar.rules import Problem, Rule, Stream, raw
from nativecar.workloads import Pod

RULE = Rule(
    id="NC016",
    name="startup-probe-unanswered",
    severity="error",
    summary="A sidecar's startupProbe can never pass, or another container answers it",
    doc=(
        "The kubelet starts the containers after a sidecar only once its startupProbe has "
        "passed, and kills and restarts the sidecar when the probe keeps failing. A probe on "
        "a port the sidecar does not listen on (a Cloud SQL proxy without --health-check, or "
        "with its health server on 127.0.0.1, which the kubelet cannot reach) never passes: "
        "the app never starts. All containers of a pod share one network, so a probe on a "
        "port another container listens on is answered by that container, and says nothing "
        "about this one. Fix: probe the port the sidecar itself serves (for the Cloud SQL "
        "proxy: --health-check --http-address=0.0.0.0 and its own --http-port)."
    ),
)


def check(pod: Pod, context: Context, stream: Stream) -> Iterator[Problem]:
    model = stream.model(pod, context)
    for gate in analysis.start(model):
        if gate.kind == "startupProbe" and gate.status in ("never", "other"):
            container = model.named(gate.container)
            if container is not None:
                verb = "can never pass" if gate.status == "never" else "is answered by another container"
                yield Problem(
                    f"sidecar {gate.container}'s startupProbe {verb}: {gate.reason}",
                    raw(pod, container),
                    "startupProbe",
                )
