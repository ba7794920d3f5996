"""Render new YAML text for values a rewrite adds, in the style of the document around them.

`Style` is what a document's own text says about indentation, sequence indentation and quoting
(`detect_style`); `Renderer` turns values into lines in that style, block or flow. Scalars are
written plain when they read back as the same string under both YAML 1.1 (PyYAML, go-yaml v2)
and YAML 1.2 (go-yaml v3) rules, and quoted otherwise, so a rendered `"true"` or `"0755"` stays
a string for every consumer.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any, NamedTuple

from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.resolver import Resolver

_resolver = Resolver()
_STR_TAG = "tag:yaml.org,2002:str"
# Numbers YAML 1.2 reads that YAML 1.1 reads as strings (1e3, 0o17, .5E2 ...).
# Regular expressions are kept as text: `re` compiles each on first use, not at every start-up.
_YAML12_NUMBER = (
    r"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$|^0o[0-7]+$|^[-+]?\.(inf|Inf|INF)$|^\.(nan|NaN|NAN)$"
)
_INDICATORS = set("-?:,[]{}#&*!|>'\"%@`")
_FLOW_INDICATORS = set(",[]{}")
_SPECIAL = r"[\x00-\x1f\x7f-\x9f\u2028\u2029\ufeff]"


class Style(NamedTuple):
    """How a document lays out block collections and quotes strings."""

    indent: int = 2  # columns from a key to the keys of its block-mapping value
    sequence_indent: int = 0  # columns from a key to the dashes of its block-sequence value
    item_offset: int = 2  # columns from a dash to its item's content
    quote: str = '"'  # the quote character the document prefers
    newline: str = "\n"
    sorted_keys: bool = False  # the document's mappings keep their keys sorted (kubectl, kube-inject)


def is_plain_safe(text: str, flow: bool = False) -> bool:
    """Whether `text` can be written unquoted and read back as this same string."""
    if not text or text != text.strip() or re.search(_SPECIAL, text) or "\t" in text:
        return False
    first = text[0]
    if first in _INDICATORS and not (first in "-?:" and len(text) > 1 and text[1] not in " ,[]{}"):
        return False
    if ": " in text or " #" in text or text.endswith(":") or text.startswith(("---", "...")):
        return False
    if flow and (_FLOW_INDICATORS & set(text) or ":" in text):
        return False
    if re.match(_YAML12_NUMBER, text) or text.lower() in ("null", "true", "false", "~"):
        return False
    return _resolver.resolve(ScalarNode, text, (True, False)) == _STR_TAG


def quote(text: str, quote_char: str = '"') -> str:
    """`text` as a quoted YAML scalar in the preferred quotes, or the other kind where that
    needs fewer escapes (JSON in an annotation reads best single-quoted, as Istio writes it)."""
    single_ok = not re.search(_SPECIAL, text) and "\n" not in text
    if single_ok and (quote_char == "'" or ('"' in text and "'" not in text)):
        return "'" + text.replace("'", "''") + "'"
    escaped = json.dumps(text, ensure_ascii=bool(re.search(_SPECIAL, text)))
    return escaped


def scalar_text(value: Any, style: Style, flow: bool = False, quote_char: str | None = None) -> str:
    """One scalar as YAML text."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value != value:
            return ".nan"
        if value in (float("inf"), float("-inf")):
            return ".inf" if value > 0 else "-.inf"
        return repr(value)
    text = str(value)
    if quote_char is None and is_plain_safe(text, flow):
        return text
    return quote(text, quote_char or style.quote)


class Renderer:
    """Lines of YAML for new values; `copy` may supply the original lines of a moved value.

    `copy(value, column)` is asked first for every mapping or list: it returns the lines of a
    value that still has source text elsewhere (already re-indented to `column`), or None.
    """

    def __init__(self, style: Style, copy: Callable[[Any, int], list[str] | None] | None = None):
        self.style = style
        self.copy = copy

    def scalar(self, value: Any, flow: bool = False) -> str:
        return scalar_text(value, self.style, flow)

    def entries(self, value: dict) -> list[tuple[Any, Any]]:
        """A new mapping's entries, sorted when the document sorts its keys."""
        items = list(value.items())
        if self.style.sorted_keys and all(isinstance(key, str) for key, _ in items):
            items.sort(key=lambda item: item[0])
        return items

    def flow(self, value: Any) -> str:
        """`value` on one line in flow style: `{name: a, ports: [80, 443]}`."""
        if isinstance(value, dict):
            inner = ", ".join(f"{self.scalar(k, True)}: {self.flow(v)}" for k, v in self.entries(value))
            return "{" + inner + "}"
        if isinstance(value, list):
            return "[" + ", ".join(self.flow(item) for item in value) + "]"
        return self.scalar(value, True)

    def pair(self, key: Any, value: Any, column: int) -> list[str]:
        """Lines for `key: value` with the key at `column`."""
        head = " " * column + self.scalar(key) + ":"
        if isinstance(value, dict) and value:
            return [head, *self.mapping(value, column + self.style.indent)]
        if isinstance(value, list) and value:
            return [head, *self.sequence(value, column + self.style.sequence_indent)]
        return [f"{head} {self.flow(value) if isinstance(value, dict | list) else self.scalar(value)}"]

    def mapping(self, value: dict, column: int) -> list[str]:
        """Lines for the entries of a block mapping whose keys sit at `column`."""
        lines: list[str] = []
        for key, item in self.entries(value):
            lines.extend(self.pair(key, item, column))
        return lines

    def sequence(self, items: list, dash_column: int) -> list[str]:
        """Lines for a block sequence whose dashes sit at `dash_column`."""
        lines: list[str] = []
        for item in items:
            lines.extend(self.item(item, dash_column))
        return lines

    def item(self, value: Any, dash_column: int) -> list[str]:
        """Lines for one block-sequence item, its dash at `dash_column`."""
        if self.copy is not None and isinstance(value, dict | list):
            copied = self.copy(value, dash_column)
            if copied is not None:
                return copied
        content = dash_column + self.style.item_offset
        if isinstance(value, dict) and value:
            body = self.mapping(value, content)
        elif isinstance(value, list) and value:
            body = self.sequence(value, content)
        else:
            text = self.flow(value) if isinstance(value, dict | list) else self.scalar(value)
            return [" " * dash_column + "- " + text]
        first = body[0]
        body[0] = " " * dash_column + "-" + " " * (self.style.item_offset - 1) + first[content:]
        return body


def detect_style(root: Node, text: str, newline: str, origin: int = 0) -> Style:
    """Read a document's indentation and quoting habits from its own nodes (`text` holds the
    document; its marks index the stream, whose index `origin` is `text[0]`)."""
    indent = sequence_indent = item_offset = None
    quotes = {"'": 0, '"': 0}
    ordered = unordered = 0
    stack = [root]
    visited = 0
    while stack and visited < 4000:
        node = stack.pop()
        visited += 1
        if isinstance(node, MappingNode):
            if len(node.value) >= 3:
                keys = [key.value for key, _ in node.value]
                if keys == sorted(keys):
                    ordered += 1
                else:
                    unordered += 1
            for key, value in node.value:
                if isinstance(value, ScalarNode):
                    if value.style in quotes:
                        quotes[value.style] += 1
                    continue
                if not value.flow_style and value.value:
                    key_column = key.start_mark.column
                    if isinstance(value, MappingNode) and indent is None:
                        if value.start_mark.line > key.start_mark.line:
                            indent = value.start_mark.column - key_column
                    elif isinstance(value, SequenceNode) and sequence_indent is None:
                        dash = _dash_column(text, value.value[0], origin)
                        if dash is not None and value.start_mark.line > key.start_mark.line:
                            sequence_indent = dash - key_column
                            first = value.value[0]
                            if first.start_mark.line == value.start_mark.line:
                                item_offset = first.start_mark.column - dash
                stack.append(value)
        elif isinstance(node, SequenceNode):
            stack.extend(item for item in node.value if not isinstance(item, ScalarNode))
    return Style(
        indent=indent if indent and indent > 0 else 2,
        sequence_indent=sequence_indent if sequence_indent is not None and sequence_indent >= 0 else 0,
        item_offset=item_offset if item_offset and item_offset >= 2 else 2,
        quote="'" if quotes["'"] > quotes['"'] else '"',
        newline=newline,
        sorted_keys=ordered >= 3 and unordered <= ordered // 10,
    )


def _dash_column(text: str, item: Node, origin: int) -> int | None:
    """Column of the `-` that introduces a block-sequence item, found left of the item."""
    start = item.start_mark.index - origin
    index = start - 1
    while index >= 0 and text[index] == " ":
        index -= 1
    if index >= 0 and text[index] == "-":
        return item.start_mark.column - (start - index)
    return None
