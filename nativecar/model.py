"""The editable view of a document: plain dicts and lists that remember the node they came from.

Rewrites read and change a document through `YMap` and `YList`, which behave exactly like
`dict` and `list`. Each one keeps `node`, the composed node it was built from, so that after
the rewrites `edits` can compare what a container holds now with what its source text says and
patch only the difference. A container a rewrite moves (a sidecar taken out of `containers` and
put in `initContainers`) keeps its node, which is how its original lines travel with it.
New containers a rewrite creates are plain `dict`/`list` and are rendered fresh.

Scalars are constructed by `documents.scalar`, as Kubernetes reads them.
"""

from __future__ import annotations

from typing import Any

from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from nativecar.documents import is_merge_key, json_key, scalar

__all__ = ["Scalar", "YList", "YMap", "build", "dig", "plain", "same", "scalar"]

Scalar = str | int | float | bool | None


def _marking(base: type, name: str) -> Any:
    """`base.name`, also setting `changed` on the container it is called on."""
    method = getattr(base, name)

    def mutate(self: Any, *args: Any, **kwargs: Any) -> Any:
        self.changed = True
        return method(self, *args, **kwargs)

    mutate.__name__ = name
    mutate.__doc__ = method.__doc__
    return mutate


class YMap(dict):
    """A mapping read from YAML.

    `node` is its source node, `merged` marks `<<` merge keys, and `changed` is set by every
    mutating method, so that `edits` can skip the subtrees nobody touched.
    """

    __slots__ = ("changed", "merged", "node")

    def __init__(self, node: MappingNode | None = None) -> None:
        super().__init__()
        self.node = node
        self.merged = False
        self.changed = False


class YList(list):
    """A sequence read from YAML; `node` is its source node, `changed` as for `YMap`."""

    __slots__ = ("changed", "node")

    def __init__(self, node: SequenceNode | None = None) -> None:
        super().__init__()
        self.node = node
        self.changed = False


for _name in ("__setitem__", "__delitem__", "__ior__", "clear", "pop", "popitem", "setdefault", "update"):
    setattr(YMap, _name, _marking(dict, _name))
for _name in ("__setitem__", "__delitem__", "__iadd__", "__imul__", "append", "clear", "extend", "insert", "pop"):
    setattr(YList, _name, _marking(list, _name))
for _name in ("remove", "reverse", "sort"):
    setattr(YList, _name, _marking(list, _name))


def build(node: Node, memo: dict[int, Any] | None = None) -> Any:
    """Build the editable value of `node` (aliases share one object, as in PyYAML)."""
    if isinstance(node, ScalarNode):
        return scalar(node)
    if memo is None:
        memo = {}
    known = memo.get(id(node))
    if known is not None:
        return known
    if isinstance(node, SequenceNode):
        items = YList(node)
        memo[id(node)] = items
        list.extend(items, [build(item, memo) for item in node.value])
        return items
    assert isinstance(node, MappingNode)
    mapping = YMap(node)
    memo[id(node)] = mapping
    merges: list[Any] = []
    for key, value in node.value:
        if is_merge_key(key):
            mapping.merged = True
            merges.append(build(value, memo))
        else:
            dict.__setitem__(mapping, json_key(key), build(value, memo))
    for merge in merges:  # the first merged mapping wins, and explicit keys win over all
        for source in merge if isinstance(merge, list) else [merge]:
            for key, value in source.items():
                if key not in mapping:
                    dict.__setitem__(mapping, key, value)
    return mapping


def dig(value: Any, *keys: str) -> Any:
    """`value[k1][k2]...`, or None as soon as a step is not a mapping or lacks the key: how a
    rewrite reads a field a user may have written with the wrong type."""
    for key in keys:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def plain(value: Any, memo: dict[int, Any] | None = None) -> Any:
    """A deep copy of `value` as plain dicts and lists (what a verifying re-parse yields); what
    aliases share stays shared, so a document of aliases is copied once, not expanded."""
    if not isinstance(value, dict | list):
        return value
    memo = {} if memo is None else memo
    known = memo.get(id(value))
    if known is not None:
        return known
    copy: Any = {} if isinstance(value, dict) else []
    memo[id(value)] = copy
    if isinstance(value, dict):
        copy.update((key, plain(item, memo)) for key, item in value.items())
    else:
        copy.extend(plain(item, memo) for item in value)
    return copy


def same(node: Node, value: Any, memo: set[tuple[int, int]] | None = None) -> bool:
    """Whether `node` says exactly `value` (types included), without building it. A node an
    alias reaches again is compared with the same value once (`memo`), so aliases cost nothing
    more than their anchor."""
    if isinstance(node, ScalarNode):
        if isinstance(value, dict | list):
            return False
        original = scalar(node)
        return type(original) is type(value) and original == value
    memo = set() if memo is None else memo
    pair = (id(node), id(value))
    if pair in memo:
        return True  # compared before (or being compared: a cycle holds if the rest does)
    memo.add(pair)
    if isinstance(node, SequenceNode):
        return (
            isinstance(value, list)
            and len(node.value) == len(value)
            and all(same(item, part, memo) for item, part in zip(node.value, value, strict=True))
        )
    if not isinstance(value, dict):
        return False
    if any(is_merge_key(key) for key, _ in node.value):
        return build(node) == value
    if len(node.value) != len(value):
        return False
    for key, item in node.value:
        name = json_key(key)
        if name not in value or not same(item, value[name], memo):
            return False
    return True
