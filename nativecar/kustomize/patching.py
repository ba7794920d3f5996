"""Applying a patch as kustomize does: strategic merge (lists merged by their `patchMergeKey`,
`k8s.io/apimachinery/pkg/util/strategicpatch`) and JSON 6902 (RFC 6902, pointers per RFC 6901),
and which objects a patch `target` selects.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from nativecar.kustomize.tree import Built, Patch, kind_of

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
        target = patch.target or self_target(document)
        for index, item in enumerate(result):
            if matches(target, item.value):
                result[index] = Built(strategic_merge(item.value, document))
                touched.append(index)
    return result, touched


def self_target(document: dict) -> dict:
    """The target a strategic-merge patch names by itself: its kind, name and namespace."""
    metadata = document.get("metadata") or {}
    target = {"kind": re.escape(str(document.get("kind", ""))), "name": re.escape(str(metadata.get("name", "")))}
    if metadata.get("namespace"):
        target["namespace"] = re.escape(str(metadata["namespace"]))
    return target
