"""NC004: probes or lifecycle hooks on a plain init container are rejected by the API server."""

from __future__ import annotations

from collections.abc import Iterator

from nativecar.rewrites import Context
from nativecar.rules import Problem, Rule, Stream, named
from nativecar.workloads import Pod

FIELDS = ("lifecycle", "livenessProbe", "readinessProbe", "startupProbe")
RULE = Rule(
    id="NC004",
    name="probes-on-plain-init-container",
    severity="error",
    summary="An init container without restartPolicy: Always has probes or lifecycle hooks",
    doc=(
        "The API server rejects `lifecycle`, `livenessProbe`, `readinessProbe` and "
        "`startupProbe` on an init container unless it is a sidecar (`restartPolicy: Always`): "
        "'may not be set for init containers without restartPolicy=Always'. Usually the "
        "container was meant as a sidecar and something dropped its restartPolicy: some "
        "mutating webhooks and operators built on old client libraries do (istio#49054). "
        "Fix: add `restartPolicy: Always`, or remove the fields if it is a plain init step."
    ),
)


def check(pod: Pod, context: Context, stream: Stream) -> Iterator[Problem]:
    for container in named(pod.containers("initContainers")):
        if container.get("restartPolicy") == "Always":
            continue
        for field in FIELDS:
            if field in container:
                yield Problem(
                    f"init container {pod.container_name(container)} has {field} but no restartPolicy: Always",
                    container,
                    field,
                )
