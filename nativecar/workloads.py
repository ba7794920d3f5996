"""Where each kind keeps its pod template: one table, and handles on the pods it finds.

`TEMPLATE_PATHS` maps a kind (with the API groups it may come from) to the path of the object
holding the pod's `metadata` and `spec`. `List` and typed lists (`ConfigMapList` ...) are
searched item by item, recursively. Every other kind (CRDs, Argo Workflows and their own
"sidecars") is not a workload and passes through untouched.

Two views: `pod_spec_nodes` finds pod specs on the composed node tree, cheaply, to decide
whether a document needs the editable model at all; `pods` finds them on the model, as `Pod`
handles the rewrites work on.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from nativecar.model import YMap


class Kind(NamedTuple):
    """A workload kind: API groups it is served from and the path to its pod template."""

    groups: tuple[str, ...]
    template: tuple[str, ...]


TEMPLATE_PATHS: dict[str, Kind] = {
    "Pod": Kind(("",), ()),
    "PodTemplate": Kind(("",), ("template",)),
    "ReplicationController": Kind(("",), ("spec", "template")),
    "Deployment": Kind(("apps", "extensions"), ("spec", "template")),
    "StatefulSet": Kind(("apps",), ("spec", "template")),
    "DaemonSet": Kind(("apps", "extensions"), ("spec", "template")),
    "ReplicaSet": Kind(("apps", "extensions"), ("spec", "template")),
    "Job": Kind(("batch",), ("spec", "template")),
    "CronJob": Kind(("batch",), ("spec", "jobTemplate", "spec", "template")),
    "DeploymentConfig": Kind(("apps.openshift.io", ""), ("spec", "template")),
}


def api_group(api_version: Any) -> str:
    """`apps/v1` -> `apps`; `v1` -> `` (the core group)."""
    text = str(api_version or "")
    return text.split("/", 1)[0] if "/" in text else ""


def is_list(kind: Any) -> bool:
    return isinstance(kind, str) and kind.endswith("List")


def workload_kind(kind: Any, api_version: Any) -> Kind | None:
    """The table entry for a kind, if it is a workload of a group we know."""
    entry = TEMPLATE_PATHS.get(kind) if isinstance(kind, str) else None
    if entry is None or api_group(api_version) not in entry.groups:
        return None
    return entry


# -- the node view ---------------------------------------------------------------------------


def node_get(node: Node | None, key: str) -> Node | None:
    """The value node under `key` of a mapping node (None if absent or not a mapping)."""
    if not isinstance(node, MappingNode):
        return None
    for key_node, value in node.value:
        if isinstance(key_node, ScalarNode) and key_node.value == key:
            return value
    return None


def node_path(node: Node | None, path: tuple[str, ...]) -> Node | None:
    for key in path:
        node = node_get(node, key)
    return node


def _scalar_value(node: Node | None) -> str | None:
    return node.value if isinstance(node, ScalarNode) else None


def pod_spec_nodes(root: Node) -> Iterator[MappingNode]:
    """Pod spec nodes of a document, through lists, without building anything."""
    for _, spec in pod_template_nodes(root):
        yield spec


def pod_template_nodes(root: Node) -> Iterator[tuple[MappingNode, MappingNode]]:
    """Pod templates of a document (the node holding `metadata` and `spec`; for a Pod, the
    document) with their spec nodes, through lists, without building anything."""
    if not isinstance(root, MappingNode):
        return
    kind = _scalar_value(node_get(root, "kind"))
    if is_list(kind):
        items = node_get(root, "items")
        if isinstance(items, SequenceNode):
            for item in items.value:
                yield from pod_template_nodes(item)
        return
    entry = workload_kind(kind, _scalar_value(node_get(root, "apiVersion")))
    if entry is None:
        return
    template = node_path(root, entry.template)
    spec = node_get(template, "spec")
    if isinstance(template, MappingNode) and isinstance(spec, MappingNode):
        yield template, spec


# -- the model view --------------------------------------------------------------------------


@dataclass(eq=False)
class Pod:
    """One pod template found in a document, and what this run has done to it so far.

    `template` holds `metadata` and `spec` (for a Pod, the document itself); `workload` is the
    top-level object it belongs to; `label` names it as kubectl does, `job/db-migrate -n shop`.
    `outer_metadata` holds the metadata of templates around it (a CronJob's `jobTemplate`),
    where some tools (istioctl kube-inject) write what belongs to the pod.
    `new_sidecars` lists the sidecars that became native sidecars of this pod in this run
    (converted by `legacy`, added by `inject`; None for one the cluster's injector will add),
    with their profiles, for the rewrites after them.
    """

    workload: YMap
    template: YMap
    label: str
    outer_metadata: list[dict] = field(default_factory=list)
    new_sidecars: list[tuple[dict | None, Any]] = field(default_factory=list)
    # The names given to unnamed containers, by id: a moved one keeps the place it had.
    _places: dict[int, str] = field(default_factory=dict, repr=False)

    @property
    def spec(self) -> YMap:
        return self.template["spec"]

    @property
    def kind(self) -> str:
        return str(self.workload.get("kind"))

    @property
    def annotations(self) -> dict:
        """The pod template's annotations (read-only view; empty when there are none)."""
        return self.metadata_map("annotations")

    def metadata_map(self, where: str) -> dict:
        """The pod template's `labels` or `annotations` (read-only view; empty when absent)."""
        metadata = self.template.get("metadata")
        found = metadata.get(where) if isinstance(metadata, dict) else None
        return found if isinstance(found, dict) else {}

    def set_metadata(self, where: str, key: str, value: str, overwrite: bool = True) -> bool:
        """Set one pod-template label or annotation, creating what holds it as needed."""
        metadata = self.template.get("metadata")
        if not isinstance(metadata, dict):
            metadata = {}
            rest = [(key, value) for key, value in self.template.items() if key != "metadata"]
            if self.template is self.workload:  # a Pod: metadata after apiVersion and kind
                rest.insert(min(2, len(rest)), ("metadata", metadata))
            else:  # a template: metadata first, then spec, as Kubernetes writes it
                rest.insert(0, ("metadata", metadata))
            self.template.clear()
            self.template.update(rest)
        entries = metadata.get(where)
        if not isinstance(entries, dict):
            entries = metadata[where] = {}
        if entries.get(key) == value or (key in entries and not overwrite):
            return False
        entries[key] = value
        return True

    def set_annotation(self, key: str, value: str) -> bool:
        return self.set_metadata("annotations", key, value)

    def put_after(self, anchor: str, key: str, value: Any) -> None:
        """Add `key` to the pod spec right after `anchor` (at the end if `anchor` is absent),
        which is where the text patch will write it when the keys are not sorted."""
        spec = self.spec
        if anchor not in spec:
            spec[key] = value
            return
        tail = list(spec.items())[list(spec).index(anchor) + 1 :]
        for name, _ in tail:
            del spec[name]
        spec[key] = value
        spec.update(tail)

    def container_name(self, container: Any) -> str:
        """How messages name a container: its `name`, else its place in the pod spec
        (`containers[1]`, `initContainers[0]`; the API requires a name, a manifest may lack one).

        The place is the one the container had when it was first named, so a sidecar that a
        rewrite then moves is still known by the place the user finds it at in the source."""
        name = container.get("name") if isinstance(container, dict) else None
        if isinstance(name, str) and name:
            return name
        known = self._places.get(id(container))
        if known is not None:
            return known
        for where in ("containers", "initContainers", "ephemeralContainers"):
            for index, item in enumerate(self.containers(where)):
                if item is container:
                    self._places[id(container)] = place = f"{where}[{index}]"
                    return place
        return "<unnamed container>"

    def containers(self, field_name: str = "containers") -> list:
        """The list under `containers`/`initContainers` (empty if absent or not a list)."""
        value = self.spec.get(field_name)
        return value if isinstance(value, list) else []


def label(workload: dict) -> str:
    """An object's name as kubectl takes it: `deployment/web`, with `-n shop` when its manifest
    sets `metadata.namespace` (two `job/migrate` in two namespaces are two workloads)."""
    metadata = workload.get("metadata")
    if not isinstance(metadata, dict):
        metadata = {}
    return named(workload.get("kind"), metadata.get("name"), metadata.get("namespace"))


def named(kind: Any, name: Any, namespace: Any = None) -> str:
    """`kind/name -n namespace` (`kubectl get job/migrate -n shop` names it so), the namespace
    left out when there is none; `<unnamed>` for an object without a name."""
    text = f"{str(kind or '').lower()}/{name or '<unnamed>'}"
    return f"{text} -n {namespace}" if namespace not in (None, "") else text


def pods(document: Any) -> Iterator[Pod]:
    """Pod templates of a document's model, through lists, in document order."""
    if not isinstance(document, dict):
        return
    kind = document.get("kind")
    if is_list(kind):
        items = document.get("items")
        if isinstance(items, list):
            for item in items:
                yield from pods(item)
        return
    entry = workload_kind(kind, document.get("apiVersion"))
    if entry is None:
        return
    template: Any = document
    outer: list[dict] = []
    for key in entry.template:
        if isinstance(template, dict) and template is not document and isinstance(template.get("metadata"), dict):
            outer.append(template["metadata"])
        template = template.get(key) if isinstance(template, dict) else None
    if isinstance(template, dict) and isinstance(template.get("spec"), dict):
        yield Pod(workload=document, template=template, label=label(document), outer_metadata=outer)
