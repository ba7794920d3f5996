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
    summary="A container's restartPolicy is one the target version rejects",
    doc=(
        "Before Kubernetes 1.34 an init container accepts only `restartPolicy: Always` (which "
        "makes it a sidecar) and a regular container accepts none ('may not be set for non-init "
        "containers'). From 1.34 (ContainerRestartRules) both may carry Always, OnFailure or "
        "Never; `Always` on a regular container then means 'restart this container', not "
        "'sidecar'. Fix: a sidecar belongs in `initContainers` with `restartPolicy: Always`; "
        "otherwise remove the field or raise --kube-version."
    ),
)


def check(pod: Pod, context: Context, stream: Stream) -> Iterator[Problem]:
    if context.kube_version >= (1, 34):
        return
    for container in named(pod.containers("initContainers")):
        policy = container.get("restartPolicy")
        if policy is not None and policy != "Always":
            yield Problem(
                f"init container {container.get('name')} has restartPolicy {policy!r}; "
                "before 1.34 only Always is accepted",
                container,
                "restartPolicy",
            )
    for container in named(pod.containers()):
        if "restartPolicy" in container:
            yield Problem(
                f"regular container {container.get('name')} has restartPolicy; before 1.34 only init containers may",
                container,
                "restartPolicy",
            )
