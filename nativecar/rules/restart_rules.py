"""NC014: `restartPolicy: Always` on a regular container, which restarts it and is no sidecar."""

from __future__ import annotations

from collections.abc import Iterator

from nativecar.rewrites import Context
from nativecar.rules import Problem, Rule, Stream, named
from nativecar.workloads import Pod

RULE = Rule(
    id="NC014",
    name="restart-policy-not-a-sidecar",
    severity="warning",
    summary="restartPolicy: Always on a regular container restarts it; it does not make a sidecar",
    doc=(
        "From Kubernetes 1.34 (feature gate ContainerRestartRules, alpha in 1.34, on by "
        "default from 1.35) a regular container may carry `restartPolicy`. `Always` then "
        "means 'restart this container whenever it exits', whatever the pod's restartPolicy: "
        "it does not make the container a sidecar, it still starts with the app and not "
        "before it, and a Job's pod waits for it forever. Only an init container with "
        "`restartPolicy: Always` is a sidecar. Fix: move the container to `initContainers` "
        "(`nativecar migrate --sidecar NAME`), or remove the field."
    ),
)


def check(pod: Pod, context: Context, stream: Stream) -> Iterator[Problem]:
    if not context.container_restart_rules:
        return  # before the gate the API rejects the field: NC005
    for container in named(pod.containers()):
        if container.get("restartPolicy") == "Always":
            never = " the pod never completes," if stream.model(pod, context).runs_to_completion else ""
            yield Problem(
                f"restartPolicy: Always on regular container {pod.container_name(container)} "
                "restarts it whenever it exits;"
                f"{never} and it is not a sidecar",
                container,
                "restartPolicy",
            )
