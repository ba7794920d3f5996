"""NC016: a sidecar's startup probe that can never pass, or that another container answers."""

from __future__ import annotations

from collections.abc import Iterator

from nativecar.lifecycle import analysis
from nativecar.lifecycle.verify import BROKEN
from nativecar.rewrites import Context
from nativecar.rules import Problem, Rule, Stream, raw
from nativecar.workloads import Pod

RULE = Rule(
    id="NC016",
    name="startup-probe-unanswered",
    severity="error",
    summary="A start gate (startupProbe, postStart) can never pass, or another container answers it",
    doc=(
        "The kubelet starts the containers after a sidecar only once its startupProbe has "
        "passed, and kills and restarts the sidecar when the probe keeps failing. A probe on "
        "a port the sidecar does not listen on (a Cloud SQL proxy without --health-check, or "
        "with its health server on 127.0.0.1, which the kubelet cannot reach) never passes: "
        "the app never starts. All containers of a pod share one network, so a probe on a "
        "port another container listens on is answered by that container, and says nothing "
        "about this one. A probe or postStart hook that waits for a container listed after it "
        "(the app's port) waits forever: that container starts only once the gate has passed; "
        "and a sidecar whose own readiness needs such a container (Linkerd's proxy in the "
        "pod that serves its identity) may never become ready. Fix: probe the port the "
        "sidecar itself serves (for the Cloud SQL proxy: --health-check "
        "--http-address=0.0.0.0 and its own --http-port)."
    ),
)


def check(pod: Pod, context: Context, stream: Stream) -> Iterator[Problem]:
    model = stream.model(pod, context)
    for gate in analysis.start(model):
        if gate.kind in ("startupProbe", "postStart") and gate.status in BROKEN:
            container = model.named(gate.container)
            if container is not None:
                verb = {"never": "can never pass", "other": "is answered by another container"}.get(
                    gate.status, "may never pass"
                )
                yield Problem(
                    f"{container.name}'s {gate.kind} {verb}: {gate.reason}",
                    raw(pod, container),
                    "startupProbe" if gate.kind == "startupProbe" else "lifecycle",
                )
