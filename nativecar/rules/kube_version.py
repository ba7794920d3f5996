"""NC011: native sidecars in manifests for a Kubernetes version that does not run them."""

from __future__ import annotations

from collections.abc import Iterator

from nativecar.rewrites import Context
from nativecar.rules import Problem, Rule, Stream, native_sidecars
from nativecar.workloads import Pod

RULE = Rule(
    id="NC011",
    name="native-sidecars-unsupported",
    severity="error",
    summary="Native sidecars, but the target Kubernetes version does not run them",
    doc=(
        "Native sidecars are on by default from Kubernetes 1.29. On 1.28 they need the "
        "SidecarContainers feature gate: without it the API server silently drops "
        "`restartPolicy`, the sidecar becomes a plain init container that never exits and the "
        "pod hangs in `Init:`. Before 1.28 the field is unknown. Fix: target 1.29 or later, "
        "or pass --feature-gates SidecarContainers=true if a 1.28 cluster enables it."
    ),
)


def check(pod: Pod, context: Context, stream: Stream) -> Iterator[Problem]:
    problem = context.version_problem()
    if problem is None:
        return
    for sidecar in native_sidecars(pod):
        yield Problem(f"sidecar {pod.container_name(sidecar)}: {problem}", sidecar, "restartPolicy")
