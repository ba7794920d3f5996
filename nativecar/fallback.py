"""The safety net: re-emit one document with ruamel.yaml's round-trip emitter.

Used only when a text patch cannot be made or does not verify. The document's original text is
loaded with ruamel.yaml (which keeps comments and most layout), brought in line with the edited
model, and dumped in the document's own indentation. Containers are matched between the two
parsers by their start position, so a container that moved (a sidecar) keeps its comments.
ruamel.yaml is imported here, and only here, because it costs start-up time nothing else pays.
"""

from __future__ import annotations

import io
from typing import Any

from yaml.nodes import MappingNode

from nativecar.edits import same_scalar
from nativecar.render import Style


def reemit(body: str, first_line: int, model: Any, style: Style) -> str:
    """`body` (the document's text, starting at a line start) re-emitted to say `model`."""
    from ruamel.yaml import YAML

    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.width = 4096
    sequence_offset = style.sequence_indent
    yaml.indent(mapping=style.indent, sequence=sequence_offset + style.item_offset, offset=sequence_offset)
    original = yaml.load(body)
    by_position: dict[tuple[int, int], Any] = {}
    _index(original, by_position)
    synced = _sync(original, model, by_position, first_line)
    out = io.StringIO()
    yaml.dump(synced, out)
    text = out.getvalue()
    if style.newline != "\n":
        text = text.replace("\n", style.newline)
    return text


def _index(value: Any, by_position: dict[tuple[int, int], Any]) -> None:
    if isinstance(value, dict | list):
        lc = getattr(value, "lc", None)
        if lc is not None and lc.line is not None:
            by_position.setdefault((lc.line, lc.col), value)
        for child in value.values() if isinstance(value, dict) else value:
            _index(child, by_position)


def _position(node: Any) -> tuple[int, int]:
    """Where ruamel.yaml says a collection starts: a block mapping at its first key (after any
    anchor or tag written before it), anything else where its node starts."""
    if isinstance(node, MappingNode) and not node.flow_style and node.value:
        mark = node.value[0][0].start_mark
    else:
        mark = node.start_mark
    return mark.line, mark.column


def _counterpart(value: Any, by_position: dict[tuple[int, int], Any], first_line: int) -> Any:
    node = getattr(value, "node", None)
    if node is None:
        return None
    line, column = _position(node)
    counterpart = by_position.get((line - first_line, column))
    if isinstance(value, dict) != isinstance(counterpart, dict):
        return None
    return counterpart


def _sync(target: Any, model: Any, by_position: dict[tuple[int, int], Any], first_line: int) -> Any:
    """Make the ruamel value `target` equal to `model`, reusing ruamel objects where possible."""
    if isinstance(model, dict):
        if not isinstance(target, dict):
            target = _counterpart(model, by_position, first_line)
        if target is None:
            return {key: _sync(None, value, by_position, first_line) for key, value in model.items()}
        for key in [key for key in target if key not in model]:
            del target[key]
        for position, (key, value) in enumerate(model.items()):
            current = target.get(key) if key in target else None
            if key in target and not isinstance(value, dict | list) and same_scalar(value, _unwrap(current)):
                continue
            counterpart = _counterpart(value, by_position, first_line) if isinstance(value, dict | list) else None
            synced = _sync(counterpart if counterpart is not None else current, value, by_position, first_line)
            if key in target:
                target[key] = synced
            else:
                target.insert(min(position, len(target)), key, synced)
        return target
    if isinstance(model, list):
        if not isinstance(target, list):
            target = _counterpart(model, by_position, first_line)
        old = list(target) if isinstance(target, list) else []
        items = []
        for index, value in enumerate(model):
            if isinstance(value, dict | list):
                counterpart = _counterpart(value, by_position, first_line)
                items.append(_sync(counterpart, value, by_position, first_line))
            elif index < len(old) and same_scalar(value, _unwrap(old[index])):
                items.append(old[index])
            else:
                items.append(value)
        if target is None:
            return items
        target[:] = items
        return target
    return model


def _unwrap(value: Any) -> Any:
    """ruamel's scalar wrappers (quoted strings, styled ints) as plain Python values."""
    if isinstance(value, bool) or value is None:
        return value
    for kind in (str, int, float):
        if isinstance(value, kind):
            return kind(value)
    return value
