"""NC020: an object names a native sidecar, which tools written for regular containers may miss.

The rows of `references.REFERENCES` that are reported under NC020: the pod's own
`kubectl.kubernetes.io/default-container` (and `default-logs-container`) annotation, a
VerticalPodAutoscaler's `containerPolicies`, a HorizontalPodAutoscaler's `ContainerResource`
metric and a NetworkPolicy's named ingress port, each when it names a native sidecar (or a port
only native sidecars declare) of a pod it targets. Service `targetPort`s are NC009's.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from nativecar import references
from nativecar.rewrites import Context
from nativecar.rules import Problem, Rule, Stream, named, native_sidecars, skeleton
from nativecar.workloads import Pod, label

RULE = Rule(
    id="NC020",
    name="reference-to-native-sidecar",
    severity="warning",
    summary="Another object names a native sidecar, as it would a regular container",
    doc=(
        "Moving a sidecar into `initContainers` changes what other objects point at. "
        "`kubectl.kubernetes.io/default-container` naming it makes kubectl logs/exec default "
        "to an init container; a VerticalPodAutoscaler `containerPolicies` entry or a "
        "HorizontalPodAutoscaler `ContainerResource` metric naming it, or a NetworkPolicy that "
        "opens a port by a name only the sidecar declares, was written for a regular container "
        "and may no longer apply (some network plugins resolved named ports among regular "
        "containers only). Fix by hand, as each finding says; a port number works everywhere."
    ),
)
ROWS = tuple(row for row in references.REFERENCES if row.rule_id == RULE.id)


def _sidecars(pod: Pod) -> tuple[set[str], set[str]]:
    """The names of the pod's native sidecars, and the port names only they declare."""
    sidecars = native_sidecars(pod)
    names = {container["name"] for container in sidecars if isinstance(container.get("name"), str)}
    regular = {str(port.get("name")) for container in named(pod.containers()) for port in named(container.get("ports"))}
    ports = {
        str(port.get("name"))
        for container in sidecars
        for port in named(container.get("ports"))
        if port.get("name") and str(port.get("name")) not in regular
    }
    return names, ports


def check(pod: Pod, context: Context, stream: Stream) -> Iterator[Problem]:
    names, ports = _sidecars(pod)
    if not names:
        return
    for row in ROWS:
        holders: list[Any] = (
            [pod.template]
            if row.kind == "Pod"
            else [obj for obj in stream.others if obj.get("kind") == row.kind and references.targets(obj, pod)]
        )
        for holder in holders:
            for value, mapping, key in references.found(holder, row):
                if not isinstance(value, str) or value not in (names if row.names == "container" else ports):
                    continue
                what = "native sidecar" if row.names == "container" else "port of a native sidecar"
                where = "" if row.kind == "Pod" else f"{label(holder)} "
                yield Problem(f"{where}names {what} {value!r}: {row.advice}", mapping, key)


def awaiting(pod: Pod, context: Context) -> Pod | None:
    """What of `pod` this rule reads to check it against objects later in the stream."""
    if not native_sidecars(pod):
        return None
    sidecars = [
        {"name": sidecar.get("name"), "restartPolicy": "Always", "ports": sidecar.get("ports")}
        for sidecar in native_sidecars(pod)
    ]
    regular = [
        {"name": container.get("name"), "ports": container.get("ports")} for container in named(pod.containers())
    ]
    return skeleton(pod, {"initContainers": sidecars, "containers": regular})
