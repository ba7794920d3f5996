"""NC006: container names must be unique across containers, init and ephemeral containers."""

from __future__ import annotations

from collections.abc import Iterator

from nativecar.rewrites import Context
from nativecar.rules import Problem, Rule, Stream, named
from nativecar.workloads import Pod

RULE = Rule(
    id="NC006",
    name="duplicate-container-name",
    severity="error",
    summary="Two containers of a pod share a name",
    doc=(
        "Names are unique across `containers`, `initContainers` and `ephemeralContainers` "
        "('Duplicate value'). A sidecar moved or injected into `initContainers` next to a "
        "container of the same name makes the pod invalid. Fix: rename one of them."
    ),
)


def check(pod: Pod, context: Context, stream: Stream) -> Iterator[Problem]:
    seen: set[str] = set()
    for field in ("initContainers", "containers", "ephemeralContainers"):
        for container in named(pod.containers(field)):
            name = container.get("name")
            if not isinstance(name, str) or not name:
                continue  # no name at all is not a second one (the API wants one; see the others' messages)
            if name in seen:
                yield Problem(f"a second container is named {name} (in {field})", container, "name")
            seen.add(name)
