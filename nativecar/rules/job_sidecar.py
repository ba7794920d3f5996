"""NC001: a Job or CronJob whose sidecar runs as a regular container never completes."""

from __future__ import annotations

from collections.abc import Iterator

from nativecar.rewrites import Context
from nativecar.rules import Problem, Rule, Stream, is_job, legacy_sidecars
from nativecar.workloads import Pod

RULE = Rule(
    id="NC001",
    name="job-never-completes",
    severity="error",
    summary="A Job's sidecar runs as a regular container, so the Job never completes",
    doc=(
        "A Job is complete when all its pod's containers have exited. A proxy in `containers` "
        "keeps running after the work is done, so the pod stays Running and the Job never "
        "completes (CronJobs pile up). As a native sidecar (an init container with "
        "`restartPolicy: Always`) it is stopped once the regular containers exit. "
        "Fix: `nativecar migrate` (rewrite: legacy)."
    ),
)


def check(pod: Pod, context: Context, stream: Stream) -> Iterator[Problem]:
    if not is_job(pod):
        return
    for container, _ in legacy_sidecars(pod, context):
        name = pod.container_name(container)
        yield Problem(f"{name} runs as a regular container: the {pod.kind} never completes", container)
