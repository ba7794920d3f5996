"""Where other objects name a pod's containers: one table, as data, beside the kind table.

Moving a sidecar from `containers` to `initContainers` changes what other objects point at. Each
row of `REFERENCES` says which object refers to a container, by which field, what the field
names (a container by name, a port by name, a container by its index in `containers`), and
what nativecar does about it: `edit` where the meaning is unchanged and the edit is exact,
`report` otherwise (a finding at the referring line, NC009 and NC020, with what to do).

`referring(document)` tells the engine which documents to keep beside the pods (they are small);
`targets(obj, pod)` says whether an object refers to a pod at all (its `targetRef`, its
selector); `found(obj, row)` yields the values at a row's field.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Literal, NamedTuple

from nativecar.workloads import Pod

DEFAULT_CONTAINER = "kubectl.kubernetes.io/default-container"
DEFAULT_LOGS_CONTAINER = "kubectl.kubernetes.io/default-logs-container"


class Reference(NamedTuple):
    """One way an object names a container of a pod.

    `kind`: the referring object's kind (`Pod` for the pod template's own metadata); `field`: the
    path to the reference, `[*]` for every item of a list; `names`: what its value names;
    `rule`: `edit` or `report`; `advice`: what the user does (or what nativecar edits); `rule_id`:
    the finding that reports it.
    """

    kind: str
    field: str
    names: Literal["container", "port", "index"]
    rule: Literal["edit", "report"]
    advice: str
    rule_id: str


REFERENCES: tuple[Reference, ...] = (
    Reference(
        "Pod",
        f"metadata.annotations.{DEFAULT_CONTAINER}",
        "container",
        "report",
        "kubectl logs/exec/attach then default to an init container; name the app container instead",
        "NC020",
    ),
    Reference(
        "Pod",
        f"metadata.annotations.{DEFAULT_LOGS_CONTAINER}",
        "container",
        "report",
        "kubectl logs then defaults to an init container; name the app container instead",
        "NC020",
    ),
    Reference(
        "Service",
        "spec.ports[*].targetPort",
        "port",
        "report",
        "before Kubernetes 1.32 a named targetPort resolves among regular containers only (kubernetes#127958): "
        "use the port number",
        "NC009",
    ),
    Reference(
        "NetworkPolicy",
        "spec.ingress[*].ports[*].port",
        "port",
        "report",
        "network plugins that resolve named ports among regular containers only do not open it: use the port number",
        "NC020",
    ),
    Reference(
        "VerticalPodAutoscaler",
        "spec.resourcePolicy.containerPolicies[*].containerName",
        "container",
        "report",
        "check that the VPA in the cluster covers init containers, or the policy no longer applies",
        "NC020",
    ),
    Reference(
        "HorizontalPodAutoscaler",
        "spec.metrics[*].containerResource.container",
        "container",
        "report",
        "check that the metrics pipeline reports init containers, or the metric goes missing",
        "NC020",
    ),
)

# The rows kustomize's patches add (nativecar/kustomize.py edits them when the run holds the
# tree: base and overlays): a strategic-merge entry matched by name, a JSON 6902 path by index.
REFERENCES += (
    Reference(
        "Kustomization",
        "patches[*] / patchesStrategicMerge[*]: spec.template.spec.containers[name=NAME]",
        "container",
        "edit",
        "the entry moves to initContainers, keeping what it sets (the base has restartPolicy and probes)",
        "",
    ),
    Reference(
        "Kustomization",
        "patches[*] / patchesJson6902[*]: /spec/template/spec/containers/N",
        "index",
        "edit",
        "the path becomes initContainers/M, and the indexes of the containers after it shift",
        "",
    ),
)

REFERRING_KINDS = frozenset(row.kind for row in REFERENCES if row.kind not in ("Pod", "Kustomization"))


def found(obj: Any, row: Reference) -> Iterator[tuple[Any, Any, Any]]:
    """The (value, mapping holding it, key) at `row.field` in `obj`'s model (the mapping and
    key are where a finding points)."""
    if row.kind == "Pod":
        metadata = obj.get("metadata") if isinstance(obj, dict) else None
        annotations = metadata.get("annotations") if isinstance(metadata, dict) else None
        key = row.field.split("metadata.annotations.", 1)[1]
        if isinstance(annotations, dict) and key in annotations:
            yield annotations[key], annotations, key
        return
    yield from _walk(obj, row.field.split("."))


def _walk(value: Any, parts: list[str]) -> Iterator[tuple[Any, Any, Any]]:
    head, rest = parts[0], parts[1:]
    name, many = (head[:-3], True) if head.endswith("[*]") else (head, False)
    if not isinstance(value, dict) or name not in value:
        return
    child = value[name]
    if many:
        for item in child if isinstance(child, list) else []:
            if rest:
                yield from _walk(item, rest)
        return
    if rest:
        yield from _walk(child, rest)
    else:
        yield child, value, name


def targets(obj: dict, pod: Pod) -> bool:
    """Whether `obj` refers to `pod`: a VPA's `targetRef` or an HPA's `scaleTargetRef` naming the
    workload, a NetworkPolicy's `podSelector` or a Service's `selector` matching the template's
    labels (matchLabels and plain selectors only: an expression is not guessed at)."""
    spec = obj.get("spec") if isinstance(obj.get("spec"), dict) else {}
    if not _same_namespace(obj, pod):
        return False
    kind = obj.get("kind")
    if kind in ("VerticalPodAutoscaler", "HorizontalPodAutoscaler"):
        ref = spec.get("targetRef" if kind == "VerticalPodAutoscaler" else "scaleTargetRef")
        metadata = pod.workload.get("metadata") if isinstance(pod.workload.get("metadata"), dict) else {}
        return isinstance(ref, dict) and ref.get("kind") == pod.kind and ref.get("name") == metadata.get("name")
    labels = pod.metadata_map("labels")
    if kind == "NetworkPolicy":
        selector = spec.get("podSelector")
        if not isinstance(selector, dict) or selector.get("matchExpressions"):
            return False
        wanted = selector.get("matchLabels") or {}
    else:
        wanted = spec.get("selector")
    if not isinstance(wanted, dict) or (kind == "Service" and not wanted):
        return False
    return all(labels.get(key) == value for key, value in wanted.items())


def _same_namespace(obj: dict, pod: Pod) -> bool:
    def namespace(metadata: Any) -> Any:
        return metadata.get("namespace") if isinstance(metadata, dict) else None

    theirs, ours = namespace(obj.get("metadata")), namespace(pod.workload.get("metadata"))
    return theirs is None or ours is None or theirs == ours


START = "<!-- reference table: nativecar/references.py; tests/test_readme.py checks it -->"
END = "<!-- end of reference table -->"


def _names(names: str) -> str:
    return "a container by its index" if names == "index" else f"a {names}"


def markdown() -> str:
    """The table in Markdown, for the README."""
    lines = ["| object | field | names | nativecar | what to do |", "|---|---|---|---|---|"]
    for row in REFERENCES:
        kind = "the pod template" if row.kind == "Pod" else row.kind
        done = (
            "edits it (in a run that holds base and overlays)" if row.rule == "edit" else f"reports it ({row.rule_id})"
        )
        lines.append(f"| {kind} | `{row.field}` | {_names(row.names)} | {done} | {row.advice} |")
    return "\n".join(lines) + "\n"
