"""The files of a kustomize tree: kustomizations, their resources, components and patches, read
from text (nothing here builds or edits).

Sources: kustomize's kustomization reference
(https://kubectl.docs.kubernetes.io/references/kustomize/kustomization/).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, NamedTuple

from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from nativecar import workloads
from nativecar.documents import InputError, Source, decode, parse
from nativecar.model import build, plain

NAMES = ("kustomization.yaml", "kustomization.yml", "Kustomization")


Read = Callable[[Path], str]


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


class Built(NamedTuple):
    """An object of a build: its value (plain dicts and lists), and the key it is matched by."""

    value: dict

    @property
    def key(self) -> tuple[str, str, str]:
        metadata = self.value.get("metadata") or {}
        return (str(self.value.get("kind")), str(metadata.get("name")), str(metadata.get("namespace") or ""))


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


def real(path: Path) -> str:
    return os.path.realpath(path)


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
