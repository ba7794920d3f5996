"""NC003: a native sidecar without a startup signal lets the app start before it is ready."""

from __future__ import annotations

from collections.abc import Iterator

from nativecar.rewrites import Context
from nativecar.rules import Problem, Rule, Stream, native_sidecars
from nativecar.workloads import Pod

RULE = Rule(
    id="NC003",
    name="no-startup-signal",
    severity="warning",
    summary="A native sidecar has no startupProbe or postStart hook",
    doc=(
        "The kubelet starts the next init container, and then the app, as soon as a sidecar has "
        "started: its process runs, its postStart hook returned, its startupProbe passed. "
        "Without a startupProbe or postStart that is the moment the process exists, so the app "
        "may start before its proxy accepts connections. Readiness is not the start gate. "
        "Fix: `nativecar migrate` adds the profile's startup probe or derives one from the "
        "sidecar's readiness or liveness probe (rewrite: probes)."
    ),
)


def check(pod: Pod, context: Context, stream: Stream) -> Iterator[Problem]:
    for sidecar in native_sidecars(pod):
        lifecycle = sidecar.get("lifecycle") if isinstance(sidecar.get("lifecycle"), dict) else {}
        if "startupProbe" not in sidecar and "postStart" not in lifecycle:
            yield Problem(f"sidecar {pod.container_name(sidecar)} has no startupProbe", sidecar)
