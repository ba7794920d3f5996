"""NC005: container restartPolicy values the target Kubernetes version rejects."""

from __future__ import annotations

from collections.abc import Iterator

from nativecar.rewrites import Context
from nativecar.rules import Problem, Rule, Stream, named
from nativecar.workloads import Pod

RULE = Rule(
    id="NC005",
    name="restart-policy-unsupported",
    severity="error",
    summary="A container's restartPolicy is one the target version (or its feature gates) rejects",
    doc=(
        "Without the ContainerRestartRules feature gate (alpha and off in 1.34, on by default "
        "from 1.35) an init container accepts only `restartPolicy: Always` (which makes it a "
        "sidecar) and a regular container accepts none ('may not be set for non-init "
        "containers'). With it both may carry Always, OnFailure or Never; `Always` on a "
        "regular container then means 'restart this container', not 'sidecar' (NC014). "
        "Fix: a sidecar belongs in `initContainers` with `restartPolicy: Always`; otherwise "
        "remove the field, raise --kube-version to 1.35, or pass --feature-gates "
        "ContainerRestartRules=true for a 1.34 cluster that enables it."
    ),
)


def check(pod: Pod, context: Context, stream: Stream) -> Iterator[Problem]:
    if context.container_restart_rules:
        return
    without = "before 1.34" if context.kube_version < (1, 34) else "without the ContainerRestartRules feature gate"
    for container in named(pod.containers("initContainers")):
        policy = container.get("restartPolicy")
        if policy is not None and policy != "Always":
            yield Problem(
                f"init container {pod.container_name(container)} has restartPolicy {policy!r}; "
                f"{without} only Always is accepted",
                container,
                "restartPolicy",
            )
    for container in named(pod.containers()):
        if "restartPolicy" in container:
            yield Problem(
                f"regular container {pod.container_name(container)} has restartPolicy; "
                f"{without} only init containers may",
                container,
                "restartPolicy",
            )
