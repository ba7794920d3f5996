"""kustomize trees seen whole: the bases and overlays of one run resolved together.

A `kustomization.yaml` (or `.yml`, or `Kustomization`) found under the paths of a run names its
`resources` (files, and directories holding another kustomization), its `components` and its
patches: `patches` (a file or an inline `patch`, strategic merge or JSON 6902, with an optional
`target`), the older `patchesStrategicMerge` (files or inline documents) and `patchesJson6902`
(`target` + `path` or inline `patch`). A patch names a container of its target: by name under
`containers` (strategic merge), or by index (`/spec/template/spec/containers/1/...`, JSON 6902).
When the run moves that container into `initContainers`, the patch must follow it:

- a strategic-merge entry for a moved container moves to `initContainers`, keeping what it sets
  (no `restartPolicy` nor probes: the converted base has them);
- a JSON 6902 path into `containers/N` for a moved container becomes `initContainers/M` (M its
  place in the converted base), and the paths to the other containers and init containers get
  their new indices.

The edits are the same surgical text patches as a manifest's (`edits.Patcher`) and are verified
by re-parsing. Every kustomization of the run is then built before and after (`build`: this
module's own resolution of resources, components and patches; `kubectl kustomize` is a separate,
optional check in the tests) and each built pod that changed must hold by the lifecycle model
(`lifecycle.verify`) and the API rules of a pod spec (`api_problems`); otherwise the run reports an
`InputError` at the patch (or kustomization) and the files of that tree are not written.

`review` is `check`'s look at the same trees as they stand (NC021): a strategic-merge entry under
`containers` for a sidecar the base already has as a native one (a base converted without its
overlays: `migrate` with the tree moves the entry), a patch that does not apply (a JSON 6902 path
to a container that moved, reported at its operation), and a built pod a patch leaves with a
problem of `api_problems`.

What is not resolved: remote resources (URLs), generators and transformers other than patches
(name prefixes, labels, images): they do not move containers, and a target is matched by the
name its object has in its own file, as kustomize also matches it.

Sources: kustomize's `patches` docs (https://kubectl.docs.kubernetes.io/references/kustomize/kustomization/patches/),
RFC 6902 (JSON Patch), RFC 6901 (JSON Pointer), and the strategic merge patch rules of
`k8s.io/apimachinery/pkg/util/strategicpatch` (lists merged by their `patchMergeKey`).
"""

from __future__ import annotations

import copy
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, NamedTuple

from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from nativecar import workloads
from nativecar.changes import position
from nativecar.documents import InputError, Source, decode, parse
from nativecar.edits import CannotPatchError, Patcher, apply
from nativecar.model import YList, YMap, build, plain, same
from nativecar.render import detect_style

NAMES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
# Lists a strategic merge patch merges item by item, and the key it matches items by
# (`patchMergeKey` in the Kubernetes API types); every other list is replaced whole.
MERGE_KEYS = {
    "containers": "name",
    "initContainers": "name",
    "ephemeralContainers": "name",
    "volumes": "name",
    "env": "name",
    "imagePullSecrets": "name",
    "volumeMounts": "mountPath",
    "ports": "containerPort",
    "tolerations": "key",
    "hostAliases": "ip",
}
POD_LISTS = ("containers", "initContainers")

Read = Callable[[Path], str]


# -- the tree ---------------------------------------------------------------------------------


@dataclass
class Patch:
    """One patch of a kustomization: where it is written and what it is.

    `file`: the patch file (None for an inline patch, whose text lives in the kustomization at
    `node`, a scalar or a mapping); `kind`: "smp" or "json6902", or None until its content says;
    `target`: the `target` selector, if any; `line`/`column`: 1-based, where errors point.
    """

    kustomization: Path
    file: Path | None
    node: Node | None
    kind: Literal["smp", "json6902"] | None
    target: dict | None
    line: int
    column: int

    @property
    def where(self) -> str:
        """The file `line` and `column` count in: the kustomization that lists the patch."""
        return str(self.kustomization)


@dataclass
class Kustomization:
    """One kustomization file: its resources (files and kustomization directories), components
    and patches, in the order kustomize applies them."""

    path: Path
    resources: list[Path] = field(default_factory=list)
    components: list[Path] = field(default_factory=list)
    patches: list[Patch] = field(default_factory=list)

    @property
    def directory(self) -> Path:
        return self.path.parent


def find(paths: list[str]) -> list[Path]:
    """The kustomization files under `paths` (files named as such, and in walked directories,
    hidden directories skipped), in sorted order, each once (by real path)."""
    found: dict[str, Path] = {}
    for raw in paths:
        path = Path(raw)
        if path.is_file() and path.name in NAMES:
            found.setdefault(os.path.realpath(path), path)
        elif path.is_dir():
            for directory, subdirectories, names in os.walk(path):
                subdirectories[:] = sorted(name for name in subdirectories if not name.startswith("."))
                for name in sorted(names):
                    if name in NAMES:
                        file = Path(directory) / name
                        found.setdefault(os.path.realpath(file), file)
    return sorted(found.values())


def kustomization_in(directory: Path) -> Path | None:
    """The kustomization file of a directory, if it has one."""
    for name in NAMES:
        if (directory / name).is_file():
            return directory / name
    return None


def load(path: Path, read: Read) -> Kustomization:
    """Parse one kustomization file (raises `InputError` when it is not a mapping)."""
    source = Source(str(path), read(path))
    documents = parse(source)
    if not documents or not isinstance(documents[0].root, MappingNode):
        raise InputError(str(path), 1, 1, "a kustomization must be a mapping")
    root = documents[0].root
    result = Kustomization(path)
    for key in ("resources", "bases"):
        for node in _items(root, key):
            if isinstance(node, ScalarNode) and not _remote(node.value):
                result.resources.append(path.parent / node.value)
    for node in _items(root, "components"):
        if isinstance(node, ScalarNode) and not _remote(node.value):
            result.components.append(path.parent / node.value)
    for node in _items(root, "patches"):
        if isinstance(node, MappingNode):
            result.patches.append(_patch_entry(path, node, None))
    for node in _items(root, "patchesStrategicMerge"):
        if isinstance(node, ScalarNode):
            inline = "\n" in node.value or ":" in node.value
            file = None if inline else path.parent / node.value
            mark = node.start_mark
            result.patches.append(
                Patch(path, file, node if inline else None, "smp", None, mark.line + 1, mark.column + 1)
            )
    for node in _items(root, "patchesJson6902"):
        if isinstance(node, MappingNode):
            result.patches.append(_patch_entry(path, node, "json6902"))
    return result


def _patch_entry(path: Path, node: MappingNode, kind: Literal["smp", "json6902"] | None) -> Patch:
    target_node = workloads.node_get(node, "target")
    target = plain(build(target_node)) if isinstance(target_node, MappingNode) else None
    file_node = workloads.node_get(node, "path")
    inline = workloads.node_get(node, "patch")
    mark = node.start_mark
    if isinstance(file_node, ScalarNode):
        return Patch(path, path.parent / file_node.value, None, kind, target, mark.line + 1, mark.column + 1)
    return Patch(path, None, inline, kind, target, mark.line + 1, mark.column + 1)


def _items(root: MappingNode, key: str) -> list[Node]:
    found = workloads.node_get(root, key)
    return list(found.value) if isinstance(found, SequenceNode) else []


def _remote(value: str) -> bool:
    return "://" in value or value.startswith(("github.com/", "git@"))


# -- patch contents ---------------------------------------------------------------------------


class Content(NamedTuple):
    """A patch's text as written (its file's, or an inline scalar's value) and its documents:
    `models` are the editable values (`model.build`), one per document."""

    source: Source
    roots: list[Node]
    models: list[Any]


def content(patch: Patch, read: Read) -> Content:
    """The documents of a patch (raises `InputError`)."""
    if patch.file is not None:
        source = Source(str(patch.file), read(patch.file))
    elif isinstance(patch.node, ScalarNode):
        source = Source(str(patch.kustomization), patch.node.value)
    else:
        raise InputError(str(patch.kustomization), patch.line, patch.column, "a patch needs `path` or `patch`")
    roots = [document.root for document in parse(source)]
    return Content(source, roots, [build(root) for root in roots])


def kind_of(patch: Patch, models: list[Any]) -> Literal["smp", "json6902"]:
    """Strategic merge or JSON 6902: a list of operations is the latter (as kustomize decides)."""
    if patch.kind is not None:
        return patch.kind
    return "json6902" if len(models) == 1 and isinstance(models[0], list) else "smp"


# -- building ---------------------------------------------------------------------------------


class Built(NamedTuple):
    """An object of a build: its value (plain dicts and lists), and the key it is matched by."""

    value: dict

    @property
    def key(self) -> tuple[str, str, str]:
        metadata = self.value.get("metadata") or {}
        return (str(self.value.get("kind")), str(metadata.get("name")), str(metadata.get("namespace") or ""))


def matches(target: dict, value: dict) -> bool:
    """Whether an object is selected by a patch `target` (kind, name and namespace as regular
    expressions anchored at both ends, as kustomize does; group, version and label selectors)."""
    metadata = value.get("metadata") or {}
    group, _, version = str(value.get("apiVersion", "")).rpartition("/")
    checks = (
        ("kind", str(value.get("kind", ""))),
        ("name", str(metadata.get("name", ""))),
        ("namespace", str(metadata.get("namespace", ""))),
        ("group", group),
        ("version", version),
    )
    for key, actual in checks:
        wanted = target.get(key)
        if wanted not in (None, "") and not re.fullmatch(str(wanted), actual):
            return False
    selector = target.get("labelSelector")
    if isinstance(selector, str) and selector:
        labels = metadata.get("labels") or {}
        for term in selector.split(","):
            name, _, expected = term.partition("=")
            if labels.get(name.strip()) != expected.strip().lstrip("="):
                return False
    return True


def strategic_merge(base: Any, patch: Any, key: str = "") -> Any:
    """`patch` merged into `base` as a strategic merge patch does: mappings key by key (`null`
    deletes), the lists of `MERGE_KEYS` item by item (`$patch: delete` removes one), other
    values replaced. Returns a new value; `base` is not changed."""
    if isinstance(patch, dict) and isinstance(base, dict):
        if patch.get("$patch") == "replace":
            return {k: copy.deepcopy(v) for k, v in patch.items() if k != "$patch"}
        merged = copy.deepcopy(base)
        for name, value in patch.items():
            if name.startswith("$"):
                continue
            if value is None:
                merged.pop(name, None)
            elif name in merged:
                merged[name] = strategic_merge(merged[name], value, name)
            else:
                merged[name] = strategic_merge(None, value, name)
        return merged
    if isinstance(patch, list) and key in MERGE_KEYS and isinstance(base, list):
        merge_key = MERGE_KEYS[key]
        merged_list = copy.deepcopy(base)
        for item in patch:
            if not isinstance(item, dict) or merge_key not in item:
                merged_list.append(copy.deepcopy(item))
                continue
            at = next(
                (
                    i
                    for i, old in enumerate(merged_list)
                    if isinstance(old, dict) and old.get(merge_key) == item[merge_key]
                ),
                None,
            )
            if item.get("$patch") == "delete":
                if at is not None:
                    del merged_list[at]
            elif at is None:
                merged_list.append(strategic_merge(None, item))
            else:
                merged_list[at] = strategic_merge(merged_list[at], item)
        return merged_list
    if isinstance(patch, dict):
        return strategic_merge({}, patch, key)
    if isinstance(patch, list):
        return [strategic_merge(None, item) if isinstance(item, dict) else copy.deepcopy(item) for item in patch]
    return copy.deepcopy(patch)


class PatchFailedError(Exception):
    """A patch that does not apply; `operation`: the index of the JSON 6902 operation that failed."""

    operation: int | None = None


def pointer(path: str) -> list[str]:
    """An RFC 6901 JSON pointer's tokens (`~1` is `/`, `~0` is `~`)."""
    if path == "":
        return []
    if not path.startswith("/"):
        raise PatchFailedError(f"{path!r} is not a JSON pointer")
    return [token.replace("~1", "/").replace("~0", "~") for token in path[1:].split("/")]


def unpointer(tokens: list[str]) -> str:
    return "".join("/" + token.replace("~", "~0").replace("/", "~1") for token in tokens)


def _walk(document: Any, tokens: list[str]) -> Any:
    for token in tokens:
        if isinstance(document, list):
            if not token.isdigit() or int(token) >= len(document):
                raise PatchFailedError(f"no index {token}")
            document = document[int(token)]
        elif isinstance(document, dict):
            if token not in document:
                raise PatchFailedError(f"no key {token!r}")
            document = document[token]
        else:
            raise PatchFailedError(f"cannot go into {token!r}")
    return document


def json_patch(document: Any, operations: list) -> Any:
    """RFC 6902 `operations` applied to a copy of `document` (raises `PatchFailedError`)."""
    document = copy.deepcopy(document)
    for index, operation in enumerate(operations):
        try:
            document = _operate(document, operation)
        except PatchFailedError as error:
            error.operation = index
            raise
    return document


def _operate(document: Any, operation: Any) -> Any:
    """One RFC 6902 operation applied to `document` (which it may change in place)."""
    if not isinstance(operation, dict):
        raise PatchFailedError("an operation must be a mapping")
    op, tokens = operation.get("op"), pointer(str(operation.get("path", "")))
    if op in ("move", "copy"):
        source_tokens = pointer(str(operation.get("from", "")))
        value = copy.deepcopy(_walk(document, source_tokens))
        if op == "move":
            document = _remove(document, source_tokens)
        return _add(document, tokens, value)
    if op == "add":
        return _add(document, tokens, copy.deepcopy(operation.get("value")))
    if op == "remove":
        return _remove(document, tokens)
    if op == "replace":
        return _add(_remove(document, tokens), tokens, copy.deepcopy(operation.get("value")))
    if op == "test":
        if _walk(document, tokens) != operation.get("value"):
            raise PatchFailedError(f"test failed at {operation.get('path')}")
        return document
    raise PatchFailedError(f"unknown op {op!r}")


def _add(document: Any, tokens: list[str], value: Any) -> Any:
    if not tokens:
        return value
    parent, last = _walk(document, tokens[:-1]), tokens[-1]
    if isinstance(parent, list):
        index = len(parent) if last == "-" else int(last) if last.isdigit() else -1
        if not 0 <= index <= len(parent):
            raise PatchFailedError(f"no index {last}")
        parent.insert(index, value)
    elif isinstance(parent, dict):
        parent[last] = value
    else:
        raise PatchFailedError(f"cannot add into {last!r}")
    return document


def _remove(document: Any, tokens: list[str]) -> Any:
    if not tokens:
        return None
    parent, last = _walk(document, tokens[:-1]), tokens[-1]
    _walk(parent, [last])
    if isinstance(parent, list):
        del parent[int(last)]
    else:
        del parent[last]
    return document


def apply_patch(objects: list[Built], patch: Patch, models: list[Any]) -> tuple[list[Built], list[int]]:
    """`objects` with one patch applied (its documents `models`, plain values), and the indices
    of the objects it touched (raises `PatchFailedError`)."""
    result = list(objects)
    touched: list[int] = []
    if kind_of(patch, models) == "json6902":
        operations = models[0] if models and isinstance(models[0], list) else []
        for index, item in enumerate(result):
            if patch.target is not None and matches(patch.target, item.value):
                result[index] = Built(json_patch(item.value, operations))
                touched.append(index)
        return result, touched
    for document in models:
        if not isinstance(document, dict):
            continue
        target = patch.target or _self_target(document)
        for index, item in enumerate(result):
            if matches(target, item.value):
                result[index] = Built(strategic_merge(item.value, document))
                touched.append(index)
    return result, touched


def _self_target(document: dict) -> dict:
    """The target a strategic-merge patch names by itself: its kind, name and namespace."""
    metadata = document.get("metadata") or {}
    target = {"kind": re.escape(str(document.get("kind", ""))), "name": re.escape(str(metadata.get("name", "")))}
    if metadata.get("namespace"):
        target["namespace"] = re.escape(str(metadata["namespace"]))
    return target


def objects_of(path: Path, read: Read) -> list[Built]:
    """The objects of a resource file (List items taken out)."""
    found: list[Built] = []
    for document in parse(Source(str(path), read(path))):
        value = plain(build(document.root))
        if isinstance(value, dict) and workloads.is_list(value.get("kind")) and isinstance(value.get("items"), list):
            found.extend(Built(item) for item in value["items"] if isinstance(item, dict))
        elif isinstance(value, dict):
            found.append(Built(value))
    return found


# -- one run over a tree ----------------------------------------------------------------------


@dataclass
class Plan:
    """What a run does to the kustomize trees among its inputs.

    `texts`: the new text of each patch file and kustomization whose patches were edited (by real
    path); `patch_files`: the real paths of every patch file of the trees (the manifest rewrites
    must leave them alone: a patch is not a pod); `held`: real paths of files not to write, for
    the trees that failed; `errors`: what failed, each at its patch (FILE:LINE:COL); `notes`: one
    line per edited patch, for the report.
    """

    texts: dict[str, str] = field(default_factory=dict)
    patch_files: set[str] = field(default_factory=set)
    held: set[str] = field(default_factory=set)
    errors: list[InputError] = field(default_factory=list)
    notes: list[tuple[str, str, int]] = field(default_factory=list)
    kustomizations: list[Path] = field(default_factory=list)


def real(path: Path) -> str:
    return os.path.realpath(path)


class Finding(NamedTuple):
    """What `nativecar check` reports about a kustomize tree: where (`path`, 1-based `line` and
    `column`), the label of the built object it is about, and what."""

    path: str
    line: int
    column: int
    label: str
    message: str


class _Tree:
    """The kustomizations of one run, resolved before and after the run's conversions.

    `reviewing` (for `check`): a patch that does not apply, or builds a pod the API would reject,
    is a `Finding` (and the patch is passed over) rather than an `InputError`."""

    def __init__(self, original: Read, converted: Read, reviewing: bool = False) -> None:
        self.reviewing = reviewing
        self.findings: list[Finding] = []
        self.original = original
        self.converted = converted
        self.loaded: dict[str, Kustomization] = {}
        self.states: dict[str, tuple[list[Built], list[Built], list[tuple[Patch, list[int]]]]] = {}
        self.edited: dict[str, tuple[Content, str]] = {}  # patch source (real path + inline id) -> new text
        self.files: dict[str, set[str]] = {}  # kustomization -> the real paths of its tree
        self.inline: dict[str, list[tuple[Patch, Content, str]]] = {}
        self.notes: list[tuple[str, str, int]] = []

    def kustomization(self, path: Path) -> Kustomization:
        key = real(path)
        if key not in self.loaded:
            self.loaded[key] = load(path, self.original)
        return self.loaded[key]

    def resolve(self, path: Path, stack: tuple[str, ...] = ()) -> tuple[list[Built], list[Built]]:
        """The objects a kustomization builds, before and after the run (memoized); edits its
        patches on the way (`self.edited`)."""
        key = real(path)
        if key in self.states:
            before, after, _ = self.states[key]
            return before, after
        if key in stack:
            raise InputError(str(path), 1, 1, "kustomizations include each other in a cycle")
        kustomization = self.kustomization(path)
        tree = self.files.setdefault(key, {key})
        before: list[Built] = []
        after: list[Built] = []
        applied: list[tuple[Patch, list[int]]] = []
        for resource in kustomization.resources:
            if resource.is_dir():
                inner = kustomization_in(resource)
                if inner is None:
                    continue
                more_before, more_after = self.resolve(inner, (*stack, key))
                tree |= self.files.get(real(inner), set())
                before += more_before
                after += more_after
            elif resource.is_file():
                tree.add(real(resource))
                before += objects_of(resource, self.original)
                after += objects_of(resource, self.converted)
        for component in kustomization.components:
            inner = kustomization_in(component) if component.is_dir() else None
            if inner is None:
                continue
            part = self.kustomization(inner)
            tree.add(real(inner))
            for resource in part.resources:
                if resource.is_file():
                    tree.add(real(resource))
                    before += objects_of(resource, self.original)
                    after += objects_of(resource, self.converted)
            before, after = self._patches(part, before, after, applied, tree)
        before, after = self._patches(kustomization, before, after, applied, tree)
        self.states[key] = (before, after, applied)
        return before, after

    def _patches(
        self,
        kustomization: Kustomization,
        before: list[Built],
        after: list[Built],
        applied: list[tuple[Patch, list[int]]],
        tree: set[str],
    ) -> tuple[list[Built], list[Built]]:
        for patch in kustomization.patches:
            if patch.file is not None:
                tree.add(real(patch.file))
            found = content(patch, self.original)
            kind = kind_of(patch, found.models)
            new_models = [build(root) for root in found.roots]  # editable copies of the patch
            moved = _edit_smp(new_models, after, patch) if kind == "smp" else []
            edited = bool(moved)
            if kind == "json6902":
                edited = _edit_json6902(new_models, before, after, patch)
            try:
                patched, touched = apply_patch(before, patch, [plain(model) for model in found.models])
                after, touched = apply_patch(after, patch, [plain(model) for model in new_models])
            except PatchFailedError as error:
                failed = _failed(patch, found, before, error, self.original)
                if not self.reviewing:
                    raise InputError(failed.path, failed.line, failed.column, failed.message) from None
                self.findings.append(failed)
                continue
            if self.reviewing:
                self._review(patch, moved, before, patched, touched)
            before = patched
            applied.append((patch, touched))
            if edited:
                self._record(patch, found, new_models)
        return before, after

    def _review(
        self, patch: Patch, moved: list[Moved], before: list[Built], patched: list[Built], touched: list[int]
    ) -> None:
        """The findings of one patch as the tree stands: each entry under `containers` for a native
        sidecar, or else each pod the patch leaves with a problem the API would reject."""
        for item in moved:
            line, column = _located(patch, item.entry, self.original)
            name = item.entry.get("name")
            message = (
                f"{name} is a native sidecar of {item.label} (in initContainers), but this patch sets it under "
                f"containers: kustomize builds a second {name} with no image, which the API rejects; the entry "
                "belongs under initContainers (nativecar migrate with the base and this overlay moves it)"
            )
            self.findings.append(Finding(_where(patch), line, column, item.label, message))
        if moved:
            return
        for index in touched:
            new = _pods_problems(patched[index].value)
            old = _pods_problems(before[index].value)
            problems = [problem for problem in new if problem not in old]
            if problems:
                label = workloads.label(patched[index].value)
                message = f"kustomize builds {label} with {'; '.join(problems)}, which the API rejects"
                self.findings.append(Finding(patch.where, patch.line, patch.column, label, message))

    def _record(self, patch: Patch, found: Content, models: list[Any]) -> None:
        """Turn an edited patch into text, verified, and keep it for its file."""
        text = patched_text(found, models)
        if patch.file is not None:
            key = real(patch.file)
            previous = self.edited.get(key)
            if previous is not None and previous[1] != text:
                raise InputError(
                    patch.where, 1, 1, "this patch is used by kustomizations that need it edited differently"
                )
            self.edited[key] = (found, text)
        else:
            self.inline.setdefault(real(patch.kustomization), []).append((patch, found, text))
        self.notes.append((patch.where, "patch follows the containers that became native sidecars", patch.line))


def _failed(patch: Patch, found: Content, objects: list[Built], error: PatchFailedError, read: Read) -> Finding:
    """The finding for a patch that does not apply: at the operation that failed (JSON 6902) or
    the patch, saying which sidecars moved when the operation went into `containers`."""
    targets = [item.value for item in objects if _touches(patch, found, item)]
    label = ", ".join(workloads.label(value) for value in targets) or "this overlay"
    operations = found.models[0] if found.models and isinstance(found.models[0], list) else []
    operation = operations[error.operation] if error.operation is not None else None
    if not isinstance(operation, dict):
        message = f"kustomize cannot build {label}: the patch does not apply ({error})"
        return Finding(patch.where, patch.line, patch.column, label, message)
    path = operation.get("path")
    message = f"kustomize cannot build {label}: {operation.get('op')} {path}: {error}"
    sidecars = sorted(set().union(*(_native_sidecars(_pod_spec(value)) for value in targets)))
    if isinstance(path, str) and "/containers/" in path and sidecars:
        spec = _pod_spec(targets[0])
        message += (
            f"; the pod's containers are now {', '.join(_names(spec, 'containers'))} and its native sidecars "
            f"{', '.join(sidecars)} are in initContainers (was the base converted without this overlay?): "
            "point the path at the container it meant"
        )
    line, column = _located(patch, operation, read, "path")
    return Finding(_where(patch), line, column, label, message)


def _touches(patch: Patch, found: Content, item: Built) -> bool:
    """Whether `patch` targets the object `item`."""
    if patch.target is not None:
        return matches(patch.target, item.value)
    return any(isinstance(model, dict) and matches(_self_target(plain(model)), item.value) for model in found.models)


def _pods_problems(value: dict) -> list[str]:
    return [problem for pod in workloads.pods(value) for problem in api_problems(pod.spec)]


def _where(patch: Patch) -> str:
    """The file a position in the patch's text counts in: the patch file, or the kustomization
    that holds it inline."""
    return str(patch.file) if patch.file is not None else patch.where


def _located(patch: Patch, value: Any, read: Read, key: str | None = None) -> tuple[int, int]:
    """(line, column) of a value of a patch (or of its `key`), in its file (an inline literal
    block's lines counted in the kustomization; the patch entry itself for another inline scalar)."""
    line, column = position(value, key)
    if patch.file is not None:
        return (line, column) if line else (patch.line, patch.column)
    node = patch.node
    if not line or not isinstance(node, ScalarNode) or node.style != "|":
        return patch.line, patch.column
    # The block's text starts on the line after its `|`, each line indented by the block's indent.
    lines = read(patch.kustomization).splitlines()[node.start_mark.line + 1 : node.end_mark.line + 1]
    indent = min((len(text) - len(text.lstrip(" ")) for text in lines if text.strip()), default=0)
    return node.start_mark.line + 1 + line, column + indent


def patched_text(found: Content, models: list[Any]) -> str:
    """The patch's text with each document patched to say its edited model (raises `InputError`
    when the text patch cannot be made or does not verify)."""
    source = found.source
    edits = []
    for root, model in zip(found.roots, models, strict=True):
        style = detect_style(root, source.text, source.newline, source.origin)
        patcher = Patcher(source.text, root, style, source.origin)
        try:
            patcher.diff(model, root)
        except CannotPatchError as error:
            mark = root.start_mark
            raise InputError(source.path, mark.line + 1, mark.column + 1, f"cannot edit this patch: {error}") from None
        edits.extend(patcher.edits)
    try:
        text = apply(source.text, edits)
    except CannotPatchError as error:
        raise InputError(source.path, 1, 1, f"cannot edit this patch: {error}") from None
    roots = [document.root for document in parse(Source(source.path, text, newline=source.newline), check=False)]
    if len(roots) != len(models) or not all(same(root, model) for root, model in zip(roots, models, strict=True)):
        raise InputError(source.path, 1, 1, "the edited patch did not verify")
    return text


def _targets(patch: Patch, document: dict, objects: list[Built]) -> list[int]:
    target = patch.target or _self_target(document)
    return [index for index, item in enumerate(objects) if matches(target, item.value)]


def _pod_spec(value: Any) -> dict | None:
    found = next(workloads.pods(value), None) if isinstance(value, dict) else None
    return found.spec if found is not None else None


def _names(spec: dict | None, where: str) -> list[str]:
    if not isinstance(spec, dict) or not isinstance(spec.get(where), list):
        return []
    return [str(item.get("name")) if isinstance(item, dict) else "" for item in spec[where]]


def _moved(before: dict | None, after: dict | None) -> set[str]:
    """Names of the containers the run moved from `containers` to `initContainers`."""
    return {
        name
        for name in _names(before, "containers")
        if name in _names(after, "initContainers") and name not in _names(after, "containers")
    }


def _native_sidecars(spec: dict | None) -> set[str]:
    """Names of a pod spec's native sidecars (init containers with `restartPolicy: Always`) that
    no regular container shares: a strategic-merge entry under `containers` naming one of these
    can only mean it (names are unique across both lists in a valid pod)."""
    if not isinstance(spec, dict) or not isinstance(spec.get("initContainers"), list):
        return set()
    regular = set(_names(spec, "containers"))
    return {
        str(item.get("name"))
        for item in spec["initContainers"]
        if isinstance(item, dict) and item.get("restartPolicy") == "Always" and str(item.get("name")) not in regular
    }


class Moved(NamedTuple):
    """A strategic-merge entry moved from `containers` to `initContainers`: the entry (an editable
    value that still knows its place in the patch's text), and the label of the object it targets."""

    entry: Any
    label: str


def _edit_smp(models: list[Any], after: list[Built], patch: Patch) -> list[Moved]:
    """Move each strategic-merge entry under `containers` that names a native sidecar of its
    target (as the run leaves the target, before this patch) to `initContainers`, in place, on
    the editable `models`; the entries moved.

    The sidecar may have been moved by this run or by an earlier one (a base converted without
    its overlays): either way the entry would build a second, image-less container of the same
    name, which the API rejects."""
    moved_entries: list[Moved] = []
    for document in models:
        if not isinstance(document, dict):
            continue
        indices = _targets(patch, plain(document), after)
        sidecars: set[str] = set()
        for index in indices:
            sidecars |= _native_sidecars(_pod_spec(after[index].value))
        if not sidecars:
            continue
        label = workloads.label(after[indices[0]].value)
        for pod in workloads.pods(_with_kind(document, after, indices)):
            containers = pod.spec.get("containers")
            if not isinstance(containers, list):
                continue
            entries = [item for item in containers if isinstance(item, dict) and str(item.get("name")) in sidecars]
            if not entries:
                continue
            for entry in entries:
                containers.remove(entry)
            init = pod.spec.get("initContainers")
            if isinstance(init, list):
                init.extend(entries)
            else:
                new = YList()
                new.extend(entries)
                if containers:
                    pod.put_after("containers", "initContainers", new)
                else:
                    _replace_key(pod.spec, "containers", "initContainers", new)
            if not containers and "containers" in pod.spec:
                del pod.spec["containers"]
            moved_entries.extend(Moved(entry, label) for entry in entries)
    return moved_entries


def _with_kind(document: Any, objects: list[Built], indices: list[int]) -> Any:
    """The patch document, which `workloads.pods` reads by its kind (a patch with a `target`
    may leave its kind out: the target's is taken)."""
    if isinstance(document, dict) and "kind" not in document and indices:
        shadow = YMap()
        shadow.update(document)
        shadow["kind"] = objects[indices[0]].value.get("kind")
        shadow["apiVersion"] = objects[indices[0]].value.get("apiVersion")
        return shadow
    return document


def _replace_key(mapping: dict, old: str, new: str, value: Any) -> None:
    """Put `new: value` where `old` is in `mapping` (key order kept)."""
    items = list(mapping.items())
    mapping.clear()
    for key, item in items:
        if key == old:
            mapping[new] = value
        mapping[key] = item


def _edit_json6902(models: list[Any], before: list[Built], after: list[Built], patch: Patch) -> bool:
    """Point each operation into a container at that container's index after the run (in place,
    on the editable `models`); whether anything changed. Raises `InputError` for an operation
    that replaces a whole container list of a pod the run changed (its meaning would change)."""
    if patch.target is None or not models or not isinstance(models[0], list):
        return False
    indices = [index for index, item in enumerate(before) if matches(patch.target, item.value)]
    if not indices:
        return False
    state_before = before[indices[0]].value
    state_after = after[indices[0]].value
    prefix = _spec_prefix(state_before)
    if prefix is None or not _moved(_pod_spec(state_before), _pod_spec(state_after)):
        return False
    edited = False
    for operation in models[0]:
        if not isinstance(operation, dict):
            continue
        for key in ("path", "from"):
            value = operation.get(key)
            if not isinstance(value, str):
                continue
            new = _repoint(value, prefix, state_before, state_after, patch)
            if new != value:
                operation[key] = new
                edited = True
        try:
            state_before = json_patch(state_before, [plain(operation)])
            state_after = json_patch(state_after, [plain(operation)])
        except PatchFailedError:
            break  # the build reports it
    return edited


def _spec_prefix(value: dict) -> list[str] | None:
    """The JSON pointer tokens to a workload's pod spec (`spec/template/spec` for a Deployment)."""
    entry = workloads.workload_kind(value.get("kind"), value.get("apiVersion"))
    return [*entry.template, "spec"] if entry is not None else None


def _repoint(path: str, prefix: list[str], before: dict, after: dict, patch: Patch) -> str:
    """`path` into the pod spec of `before`, pointing at the same container in `after`."""
    try:
        tokens = pointer(path)
    except PatchFailedError:
        return path
    if tokens[: len(prefix)] != prefix or len(tokens) <= len(prefix):
        return path
    where = tokens[len(prefix)]
    if where not in POD_LISTS:
        return path
    rest = tokens[len(prefix) + 1 :]
    spec_before, spec_after = _pod_spec(before), _pod_spec(after)
    moved = _moved(spec_before, spec_after)
    if not rest:
        if moved:
            raise InputError(
                patch.where, patch.line, patch.column, f"this patch replaces all of {where}, which this run changed"
            )
        return path
    index = rest[0]
    names = _names(spec_before, where)
    if not index.isdigit() or int(index) >= len(names):
        if index == "-" or (index.isdigit() and int(index) == len(names)):
            new_index = "-" if index == "-" else str(len(_names(spec_after, where)))
            return unpointer([*prefix, where, new_index, *rest[1:]])
        return path
    name = names[int(index)]
    for new_where in (where, *[other for other in POD_LISTS if other != where]):
        new_names = _names(spec_after, new_where)
        if name in new_names:
            return unpointer([*prefix, new_where, str(new_names.index(name)), *rest[1:]])
    return path


# -- the API rules of a built pod -------------------------------------------------------------


def api_problems(spec: dict) -> list[str]:
    """What the API server would reject in a pod spec, of what a patch can break: a container
    without a name or image, a name used twice across `containers` and `initContainers`, no
    regular container, and an init container `restartPolicy` other than `Always`."""
    problems: list[str] = []
    seen: set[str] = set()
    for where in ("initContainers", "containers"):
        items = spec.get(where)
        if items is None:
            continue
        if not isinstance(items, list):
            problems.append(f"{where} is not a list")
            continue
        for item in items:
            if not isinstance(item, dict):
                problems.append(f"an item of {where} is not a mapping")
                continue
            name = item.get("name")
            if not name:
                problems.append(f"a container in {where} has no name")
            elif name in seen:
                problems.append(f"two containers are named {name}")
            seen.add(str(name))
            if not item.get("image"):
                problems.append(f"{where} {name}: no image")
            if where == "initContainers" and item.get("restartPolicy") not in (None, "Always"):
                problems.append(f"init container {name}: restartPolicy must be Always")
            if where == "containers" and "restartPolicy" in item:
                problems.append(f"container {name}: restartPolicy is only for init containers")
    if not spec.get("containers"):
        problems.append("no regular container")
    return problems


def built_pods(objects: list[Built]) -> Iterator[tuple[tuple[str, str, str], workloads.Pod]]:
    """Each built object's pod templates, with the object's key."""
    for item in objects:
        for pod in workloads.pods(item.value):
            yield item.key, pod


# -- the run ----------------------------------------------------------------------------------


class Review(NamedTuple):
    """`review`'s answer: the findings, and the real paths of the trees' patch files (whose
    documents are patches, not pods: the per-file rules leave them alone)."""

    findings: list[Finding]
    patch_files: set[str]
    errors: list[InputError]


def review(kustomizations: list[Path], read: Read) -> Review:
    """What `nativecar check` reports about the kustomize trees of its inputs, as they are: each
    strategic-merge entry that sets a native sidecar under `containers` (`migrate` with the tree
    moves it), each patch that does not apply, and each pod a patch leaves with a problem the API
    rejects (`api_problems`), at the patch. A kustomization that cannot be resolved is an error in
    `Review.errors` (each once, though several overlays share its base); the others are reviewed.
    """
    tree = _Tree(read, read, reviewing=True)
    errors: dict[str, InputError] = {}
    for path in kustomizations:
        try:
            tree.resolve(path)
        except InputError as error:
            errors.setdefault(str(error), error)
    findings = sorted(set(tree.findings), key=lambda finding: (finding.path, finding.line, finding.column))
    return Review(findings, _patch_files(tree), list(errors.values()))


def _patch_files(tree: _Tree) -> set[str]:
    return {real(patch.file) for item in tree.loaded.values() for patch in item.patches if patch.file is not None}


def plan(
    kustomizations: list[Path],
    original: Read,
    converted: Read,
    check_pods: Callable[[workloads.Pod, workloads.Pod], list[str]],
) -> Plan:
    """Resolve every kustomization of a run before and after its conversions, edit the patches
    that name a moved container, and check each built pod that changed.

    `original(path)` reads a file as it is; `converted(path)` as the run will write it (the
    manifest rewrites applied to the run's inputs). `check_pods(before, after)` gives the lifecycle
    problems of a built pod that changed. Errors are collected in `Plan.errors`, never raised.
    """
    result = Plan(kustomizations=list(kustomizations))
    tree = _Tree(original, converted)
    failed: set[str] = set()
    for path in kustomizations:
        try:
            tree.resolve(path)
        except InputError as error:
            result.errors.append(error)
            failed.add(real(path))
            continue
    for key, (_, text) in tree.edited.items():
        result.texts[key] = text
    for key, entries in tree.inline.items():
        try:
            result.texts[key] = _inline_text(Path(key), original, entries)
        except InputError as error:
            result.errors.append(error)
            failed.add(key)
    result.patch_files = _patch_files(tree)

    def edited_read(path: Path) -> str:
        key = real(path)
        return result.texts[key] if key in result.texts else converted(path)

    final = _Tree(edited_read, edited_read)  # the texts the run will write, patches as edited
    for path in kustomizations:
        if real(path) in failed:
            continue
        try:
            before, _ = tree.resolve(path)
            _, after = final.resolve(path)
        except InputError as error:
            result.errors.append(error)
            failed.add(real(path))
            continue
        error = _check(path, before, after, tree, check_pods)
        if error is not None:
            result.errors.append(error)
            failed.add(real(path))
    # A tree that failed keeps all its files; a tree sharing a file with it (an overlay of the
    # same base) is held too, so a base and its patches are never written one without the other.
    result.held = set().union(*(tree.files.get(key, {key}) for key in failed)) if failed else set()
    growing = bool(failed)
    while growing:
        growing = False
        for files in tree.files.values():
            if files & result.held and not files <= result.held:
                result.held |= files
                growing = True
    result.notes = tree.notes
    return result


def _check(
    path: Path,
    before: list[Built],
    after: list[Built],
    tree: _Tree,
    check_pods: Callable[[workloads.Pod, workloads.Pod], list[str]],
) -> InputError | None:
    """The first problem of a built pod the run changed, at the patch that last touched it."""
    old = dict(built_pods(before))
    _, _, applied = tree.states[real(path)]
    for index, item in enumerate(after):
        for pod in workloads.pods(item.value):
            previous = old.get(item.key)
            if previous is None or previous.spec == pod.spec:
                continue
            problems = [p for p in api_problems(pod.spec) if p not in api_problems(previous.spec)]
            problems += check_pods(previous, pod)
            if problems:
                patch = next((patch for patch, touched in reversed(applied) if index in touched), None)
                where, line, column = (patch.where, patch.line, patch.column) if patch else (str(path), 1, 1)
                label = workloads.label(item.value)
                return InputError(where, line, column, f"{label} as built by {path}: {'; '.join(problems)}")
    return None


def _inline_text(path: Path, read: Read, entries: list[tuple[Patch, Content, str]]) -> str:
    """The kustomization's text with its edited inline patches written back: each patch's block
    scalar (`|` or `|-`) gets its new lines, in its own indentation (raises `InputError`)."""
    text = read(path)
    lines = text.splitlines(keepends=True)
    for patch, _, new in sorted(entries, key=lambda entry: -entry[0].line):
        node = patch.node
        if not isinstance(node, ScalarNode) or node.style != "|":
            raise InputError(
                str(path), patch.line, patch.column, "cannot edit an inline patch that is not a literal block (|)"
            )
        first, last = node.start_mark.line + 1, node.end_mark.line
        if node.end_mark.column > 0:
            last += 1
        body = [line for line in lines[first:last] if line.strip()]
        indent = min((len(line) - len(line.lstrip(" ")) for line in body), default=0)
        replacement = [(" " * indent + line if line.strip() else line) for line in new.splitlines(keepends=True)]
        if replacement and not replacement[-1].endswith("\n"):
            replacement[-1] += "\n"
        old_lines = lines[first:last]
        while old_lines and not old_lines[-1].strip():
            old_lines.pop()
            last -= 1
        lines[first:last] = replacement
    result = "".join(lines)
    old = parse(Source(str(path), text), check=False)
    new = parse(Source(str(path), result), check=False)
    edited = {entry[0].line: entry[2] for entry in entries}
    expected = [edited.get(line, value) for line, value in load_patches(old[0].root if old else None)]
    written = [value for _, value in load_patches(new[0].root if new else None)]
    if [value.rstrip("\n") for value in expected] != [value.rstrip("\n") for value in written]:
        raise InputError(str(path), entries[0][0].line, 1, "the edited inline patch did not verify")
    return result


def load_patches(root: Node | None) -> Iterator[tuple[int, str]]:
    """(line, inline text) of each inline patch of a kustomization's root node."""
    if not isinstance(root, MappingNode):
        return
    for node in _items(root, "patches") + _items(root, "patchesJson6902"):
        inline = workloads.node_get(node, "patch") if isinstance(node, MappingNode) else None
        if isinstance(inline, ScalarNode):
            yield node.start_mark.line + 1, inline.value
    for node in _items(root, "patchesStrategicMerge"):
        if isinstance(node, ScalarNode) and "\n" in node.value:
            yield node.start_mark.line + 1, node.value


def read_file(path: Path) -> str:
    """A file's text as the run reads it (raises `InputError`)."""
    try:
        data = path.read_bytes()
    except OSError as error:
        raise InputError(str(path), 1, 1, f"cannot read: {error.strerror or error}") from None
    return decode(data, str(path)).text
