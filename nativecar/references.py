"""Where other objects name a pod's containers: one table, as data, beside the kind table.

Moving a sidecar from `containers` to `initContainers` changes what other objects point at. Each
row of `REFERENCES` says which object refers to a container, by which field, what the field
names (a container by name, a port by name, a container by its index in `containers`), and
what nativecar does about it: `edit` where the meaning is unchanged and the edit is exact (a
Service's named `targetPort`, kustomize's patches), `report` otherwise (a finding at the
referring line, NC009 and NC020, with what to do).

`REFERRING_KINDS` tells the engine which documents to keep beside the pods (they are small);
`targets(obj, pod)` says whether an object refers to a pod at all (its `targetRef`, its
selector); `found(obj, row)` yields the values at a row's field; `pod_ports` and
`target_port_edits` decide the one edit outside a pod and its patches, a Service's `targetPort`.
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
        "edit",
        "before Kubernetes 1.32 a named targetPort resolves among regular containers only (kubernetes#127958): "
        "the name becomes the port's number when every pod of the run the Service selects gives it one "
        "number; otherwise NC009 reports it",
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
# tree: base and overlays; NC021 reports what is left for a base converted without them): a
# strategic-merge entry matched by name, a JSON 6902 path by index.
REFERENCES += (
    Reference(
        "Kustomization",
        "patches[*] / patchesStrategicMerge[*]: spec.template.spec.containers[name=NAME]",
        "container",
        "edit",
        "in a run that holds base and overlays, the entry moves to initContainers, keeping what it sets "
        "(the base has restartPolicy and probes); args or command it replaces get the flags the conversion "
        "appended, and a legacy hook it restates goes; for a base already native (converted without this overlay), "
        "check reports the entry and the next migrate with the tree moves it",
        "NC021",
    ),
    Reference(
        "Kustomization",
        "patches[*] / patchesJson6902[*]: /spec/template/spec/containers/N",
        "index",
        "edit",
        "in a run that holds base and overlays, the path becomes initContainers/M, and the indexes of the "
        "containers after it shift; a path that no longer applies (a base converted without this overlay) is "
        "reported at its operation: point it at the container it meant",
        "NC021",
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
        done = f"reports it ({row.rule_id})"
        if row.rule == "edit":
            done = "edits it" + (f", else reports it ({row.rule_id})" if row.rule_id else "")
        lines.append(f"| {kind} | `{row.field}` | {_names(row.names)} | {done} | {row.advice} |")
    return "\n".join(lines) + "\n"


# -- the one edit outside the pod: a Service's named targetPort -----------------------------------


class PodPorts(NamedTuple):
    """What a Service's `targetPort` edit needs to know of one pod template of the run: where it
    is (namespace), its labels, the number each port name stands for in it (None where two
    containers give one name two numbers), and the names its sidecars declare (legacy ones this
    run may convert, and native ones)."""

    namespace: str | None
    labels: dict
    numbers: dict
    sidecar_names: frozenset


def pod_ports(pod: Pod, context: Any) -> PodPorts | None:
    """The `PodPorts` of a pod whose sidecars declare a named port; None for any other pod."""
    numbers: dict[str, int | None] = {}
    sidecar: set[str] = set()
    for where in ("containers", "initContainers"):
        for container in pod.containers(where):
            if not isinstance(container, dict):
                continue
            if where == "initContainers":
                is_sidecar = container.get("restartPolicy") == "Always"
            else:
                is_sidecar = context.recognise(container.get("name"), container.get("image")) is not None
            ports = container.get("ports")
            for port in ports if isinstance(ports, list) else []:
                if not isinstance(port, dict) or not isinstance(port.get("name"), str):
                    continue
                number = port.get("containerPort")
                name = port["name"]
                known = numbers.get(name, number)
                numbers[name] = number if isinstance(number, int) and known == number else None
                if is_sidecar:
                    sidecar.add(name)
    if not sidecar:
        return None
    metadata = pod.workload.get("metadata") if isinstance(pod.workload.get("metadata"), dict) else {}
    namespace = metadata.get("namespace") if isinstance(metadata.get("namespace"), str) else None
    return PodPorts(namespace, dict(pod.metadata_map("labels")), numbers, frozenset(sidecar))


def target_port_edits(service: dict, pods: tuple[PodPorts, ...]) -> list[tuple[dict, str, int]]:
    """The ports of a Service whose `targetPort` names a sidecar's port and can be written as its
    number with the same meaning: (the port mapping, the name, the number). Only when every pod
    of the run the Service selects gives the name one and the same number; a Service that selects
    none of them, or pods that disagree, keeps its name (NC009 reports it)."""
    spec = service.get("spec") if isinstance(service.get("spec"), dict) else {}
    selector = spec.get("selector")
    if not isinstance(selector, dict) or not selector:
        return []
    metadata = service.get("metadata") if isinstance(service.get("metadata"), dict) else {}
    namespace = metadata.get("namespace")
    selected = [
        pod
        for pod in pods
        if (namespace is None or pod.namespace is None or namespace == pod.namespace)
        and all(pod.labels.get(key) == value for key, value in selector.items())
    ]
    edits = []
    ports = spec.get("ports")
    for port in ports if isinstance(ports, list) else []:
        name = port.get("targetPort") if isinstance(port, dict) else None
        if not isinstance(name, str) or not selected or not any(name in pod.sidecar_names for pod in selected):
            continue
        numbers = {pod.numbers.get(name) for pod in selected}
        if len(numbers) == 1 and isinstance(next(iter(numbers)), int):
            edits.append((port, name, next(iter(numbers))))
    return edits
