"""A run over kustomize trees: every kustomization resolved before and after the run's
conversions (`plan`, for `migrate`) or as it stands (`review`, for `check`), and the pods it
builds checked against the lifecycle model and the API rules.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from yaml.nodes import ScalarNode

from nativecar import workloads
from nativecar.changes import position
from nativecar.documents import InputError
from nativecar.kustomize.following import (
    Moved,
    container_names,
    edit_json6902,
    edit_smp,
    inline_text,
    native_sidecars,
    patched_text,
    pod_spec,
)
from nativecar.kustomize.patching import PatchFailedError, apply_patch, matches, self_target
from nativecar.kustomize.tree import (
    Built,
    Content,
    Kustomization,
    Patch,
    Read,
    content,
    kind_of,
    kustomization_in,
    load,
    objects_of,
    real,
)
from nativecar.model import build, plain


class Finding(NamedTuple):
    """What `nativecar check` reports about a kustomize tree: where (`path`, 1-based `line` and
    `column`), the label of the built object it is about, and what."""

    path: str
    line: int
    column: int
    label: str
    message: str


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
            moved = edit_smp(new_models, before, after, patch) if kind == "smp" else []
            edited = bool(moved)
            if kind == "json6902":
                edited = edit_json6902(new_models, before, after, patch)
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
        # Said of the file the edit is in: the patch file, or the kustomization holding it inline.
        where, line = (str(patch.file), 1) if patch.file is not None else (patch.where, patch.line)
        self.notes.append((where, "patch follows the containers that became native sidecars", line))


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
    sidecars = sorted(set().union(*(native_sidecars(pod_spec(value)) for value in targets)))
    if isinstance(path, str) and "/containers/" in path and sidecars:
        spec = pod_spec(targets[0])
        message += (
            f"; the pod's containers are now {', '.join(container_names(spec, 'containers'))} and its native sidecars "
            f"{', '.join(sidecars)} are in initContainers (was the base converted without this overlay?): "
            "point the path at the container it meant"
        )
    line, column = _located(patch, operation, read, "path")
    return Finding(_where(patch), line, column, label, message)


def _touches(patch: Patch, found: Content, item: Built) -> bool:
    """Whether `patch` targets the object `item`."""
    if patch.target is not None:
        return matches(patch.target, item.value)
    return any(isinstance(model, dict) and matches(self_target(plain(model)), item.value) for model in found.models)


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
            result.texts[key] = inline_text(Path(key), original, entries)
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
