"""NC002: a sidecar that still runs as a regular container."""

from __future__ import annotations

from collections.abc import Iterator

from nativecar.rewrites import Context
from nativecar.rules import Problem, Rule, Stream, is_job, legacy_sidecars
from nativecar.workloads import Pod

RULE = Rule(
    id="NC002",
    name="legacy-sidecar",
    severity="warning",
    summary="A sidecar runs as a regular container instead of a native sidecar",
    doc=(
        "A sidecar in `containers` starts alongside the app, not before it, and is stopped in "
        "parallel with it, so the app can start before its proxy is ready and lose connections "
        "while shutting down. A native sidecar starts first and stops last. Jobs are reported "
        "by NC001 instead. Fix: `nativecar migrate` (rewrite: legacy)."
    ),
)


def check(pod: Pod, context: Context, stream: Stream) -> Iterator[Problem]:
    if is_job(pod):
        return
    for container, profile in legacy_sidecars(pod, context):
        yield Problem(f"{pod.container_name(container)} ({profile.name}) runs as a regular container", container)
