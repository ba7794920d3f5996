"""The editable view of a document: plain dicts and lists that remember the node they came from.

Rewrites read and change a document through `YMap` and `YList`, which behave exactly like
`dict` and `list`. Each one keeps `node`, the composed node it was built from, so that after
the rewrites `edits` can compare what a container holds now with what its source text says and
patch only the difference. A container a rewrite moves (a sidecar taken out of `containers` and
put in `initContainers`) keeps its node, which is how its original lines travel with it.
New containers a rewrite creates are plain `dict`/`list` and are rendered fresh.

Scalars are constructed as Kubernetes reads them: timestamps and other exotic YAML 1.1 types
stay strings; `=` (PyYAML's "value" tag) is a string.
"""

from __future__ import annotations

from typing import Any

from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from nativecar.documents import MERGE_TAG

Scalar = str | int | float | bool | None


class YMap(dict):
    """A mapping read from YAML; `node` is its source node, `merged` marks `<<` merge keys."""

    __slots__ = ("node", "merged")

    def __init__(self, node: MappingNode | None = None) -> None:
        super().__init__()
        self.node = node
        self.merged = False


class YList(list):
    """A sequence read from YAML; `node` is its source node."""

    __slots__ = ("node",)

    def __init__(self, node: SequenceNode | None = None) -> None:
        super().__init__()
        self.node = node


_constructor = SafeConstructor()
_STR = "tag:yaml.org,2002:str"
_SCALARS = {
    "tag:yaml.org,2002:null": lambda node: None,
    "tag:yaml.org,2002:bool": _constructor.construct_yaml_bool,
    "tag:yaml.org,2002:int": _constructor.construct_yaml_int,
    "tag:yaml.org,2002:float": _constructor.construct_yaml_float,
}


def scalar(node: ScalarNode) -> Scalar:
    """The value Kubernetes gives a scalar node; anything not null/bool/int/float is a string."""
    tag = node.tag
    if tag == _STR:
        return node.value
    construct = _SCALARS.get(tag)
    return construct(node) if construct else node.value


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
        items.extend(build(item, memo) for item in node.value)
        return items
    assert isinstance(node, MappingNode)
    mapping = YMap(node)
    memo[id(node)] = mapping
    merges: list[Any] = []
    for key, value in node.value:
        if key.tag == MERGE_TAG:
            mapping.merged = True
            merges.append(build(value, memo))
        else:
            mapping[scalar(key)] = build(value, memo)
    for merge in merges:  # the first merged mapping wins, and explicit keys win over all
        for source in merge if isinstance(merge, list) else [merge]:
            for key, value in source.items():
                mapping.setdefault(key, value)
    return mapping


def plain(value: Any) -> Any:
    """A deep copy of `value` as plain dicts and lists (what a verifying re-parse yields)."""
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain(item) for item in value]
    return value
