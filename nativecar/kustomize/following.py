"""A patch follows the containers a run moved: strategic-merge entries move to `initContainers`,
JSON 6902 paths get their new indices; each edit is a surgical text patch, verified by re-parsing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, NamedTuple

from yaml.nodes import ScalarNode

from nativecar import workloads
from nativecar.documents import InputError, Source, parse
from nativecar.edits import CannotPatchError, Patcher, apply
from nativecar.kustomize.patching import (
    POD_LISTS,
    PatchFailedError,
    json_patch,
    matches,
    pointer,
    self_target,
    unpointer,
)
from nativecar.kustomize.tree import Built, Content, Patch, Read, load_patches
from nativecar.model import YList, YMap, plain, same
from nativecar.render import detect_style


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
    target = patch.target or self_target(document)
    return [index for index, item in enumerate(objects) if matches(target, item.value)]


def pod_spec(value: Any) -> dict | None:
    found = next(workloads.pods(value), None) if isinstance(value, dict) else None
    return found.spec if found is not None else None


def container_names(spec: dict | None, where: str) -> list[str]:
    if not isinstance(spec, dict) or not isinstance(spec.get(where), list):
        return []
    return [str(item.get("name")) if isinstance(item, dict) else "" for item in spec[where]]


def _moved(before: dict | None, after: dict | None) -> set[str]:
    """Names of the containers the run moved from `containers` to `initContainers`."""
    return {
        name
        for name in container_names(before, "containers")
        if name in container_names(after, "initContainers") and name not in container_names(after, "containers")
    }


def native_sidecars(spec: dict | None) -> set[str]:
    """Names of a pod spec's native sidecars (init containers with `restartPolicy: Always`) that
    no regular container shares: a strategic-merge entry under `containers` naming one of these
    can only mean it (names are unique across both lists in a valid pod)."""
    if not isinstance(spec, dict) or not isinstance(spec.get("initContainers"), list):
        return set()
    regular = set(container_names(spec, "containers"))
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


def edit_smp(models: list[Any], before: list[Built], after: list[Built], patch: Patch) -> list[Moved]:
    """Move each strategic-merge entry under `containers` that names a native sidecar of its
    target (as the run leaves the target, before this patch) to `initContainers`, in place, on
    the editable `models`; the entries moved.

    The sidecar may have been moved by this run or by an earlier one (a base converted without
    its overlays): either way the entry would build a second, image-less container of the same
    name, which the API rejects. A moved entry also follows what the run changed in the base
    container under the values it overrides (`_follow`)."""
    moved_entries: list[Moved] = []
    for document in models:
        if not isinstance(document, dict):
            continue
        indices = _targets(patch, plain(document), after)
        sidecars: set[str] = set()
        for index in indices:
            sidecars |= native_sidecars(pod_spec(after[index].value))
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
            for entry in entries:
                _follow(entry, _container(before, indices, entry), _container(after, indices, entry))
            moved_entries.extend(Moved(entry, label) for entry in entries)
    return moved_entries


def _container(objects: list[Built], indices: list[int], entry: dict) -> dict | None:
    """The container of the first target named as `entry` is, in either list."""
    spec = pod_spec(objects[indices[0]].value) if indices else None
    for where in POD_LISTS:
        for item in (spec or {}).get(where) or []:
            if isinstance(item, dict) and item.get("name") == entry.get("name"):
                return item
    return None


def _follow(entry: Any, base_before: dict | None, base_after: dict | None) -> None:
    """Make a moved patch entry carry what the run changed in the base container under the
    values the entry replaces (a strategic merge replaces `args` and `command` whole, and each
    lifecycle hook): flags the run appended to the base's list are appended to the entry's (the
    health server a startup probe asks), and a hook the entry restates as the base had it takes
    the base's new hook, or goes with it (Istio's `pilot-agent wait`)."""
    if not isinstance(entry, dict) or base_before is None or base_after is None:
        return
    for key in ("args", "command"):
        old, new, own = base_before.get(key), base_after.get(key), entry.get(key)
        if isinstance(old, list) and isinstance(new, list) and isinstance(own, list) and new[: len(old)] == old:
            own.extend(item for item in new[len(old) :] if item not in plain(own))
    lifecycle = entry.get("lifecycle")
    if not isinstance(lifecycle, dict):
        return
    old_hooks = base_before.get("lifecycle") if isinstance(base_before.get("lifecycle"), dict) else {}
    new_hooks = base_after.get("lifecycle") if isinstance(base_after.get("lifecycle"), dict) else {}
    for hook in ("postStart", "preStop"):
        if hook in lifecycle and plain(lifecycle[hook]) == old_hooks.get(hook) != new_hooks.get(hook):
            if hook in new_hooks:
                lifecycle[hook] = new_hooks[hook]
            else:
                del lifecycle[hook]
    if not lifecycle:
        del entry["lifecycle"]


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


def edit_json6902(models: list[Any], before: list[Built], after: list[Built], patch: Patch) -> bool:
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
    if prefix is None or not _moved(pod_spec(state_before), pod_spec(state_after)):
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
    spec_before, spec_after = pod_spec(before), pod_spec(after)
    moved = _moved(spec_before, spec_after)
    if not rest:
        if moved:
            raise InputError(
                patch.where, patch.line, patch.column, f"this patch replaces all of {where}, which this run changed"
            )
        return path
    index = rest[0]
    names = container_names(spec_before, where)
    if not index.isdigit() or int(index) >= len(names):
        if index == "-" or (index.isdigit() and int(index) == len(names)):
            new_index = "-" if index == "-" else str(len(container_names(spec_after, where)))
            return unpointer([*prefix, where, new_index, *rest[1:]])
        return path
    name = names[int(index)]
    for new_where in (where, *[other for other in POD_LISTS if other != where]):
        new_names = container_names(spec_after, new_where)
        if name in new_names:
            return unpointer([*prefix, new_where, str(new_names.index(name)), *rest[1:]])
    return path


def inline_text(path: Path, read: Read, entries: list[tuple[Patch, Content, str]]) -> str:
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
