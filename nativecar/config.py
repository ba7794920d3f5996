"""Read a config file (`.nativecar.yaml`, or `[tool.nativecar]` of `pyproject.toml`) into values
that remember where they are written, so every complaint about one names its FILE:LINE:COL.

Scalars are kept as the text the file holds: `kube-version: 1.30` is the text `1.30`, not the
float 1.3 (PyYAML's composed nodes keep a plain scalar's text; tomllib hands its floats' text to
`parse_float`). Booleans stay booleans and nulls None, because a scalar's type is what decides
whether `quiet: yes` means anything. What the keys and values mean is `settings`' business.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nativecar.documents import InputError

_TABLE = ("tool", "nativecar")
_HEADER = re.compile(r"^\s*\[\s*([^\[\]]+?)\s*\]")  # [table], not [[array of tables]]
_KEY = re.compile(r"""^(\s*)(?:"([^"]*)"|'([^']*)'|([A-Za-z0-9_-]+))\s*=\s*""")


class Pairs(list):
    """A mapping's `(key Entry, value Entry)` pairs in file order; a repeated key stays repeated."""


@dataclass(frozen=True)
class Entry:
    """One key or value of a config file and where it starts (1-based line and column, in characters).

    `data` is a str (a scalar as written, numbers included), a bool, None, a list of Entry, or
    Pairs for a mapping.
    """

    data: Any
    line: int
    column: int


def read_config(path: Path) -> Entry:
    """The settings table of a config file as an Entry whose data is Pairs (empty when the file is).

    Raises InputError when the file cannot be read, is not UTF-8, is not YAML (or TOML), or is
    not a mapping.
    """
    from nativecar.documents import decode

    try:
        data = path.read_bytes()
    except OSError as error:
        raise InputError(str(path), 1, 1, f"cannot read config file: {error.strerror or error}") from None
    text = decode(data, str(path), "config files").text
    table = _read_toml(path, text) if path.name == "pyproject.toml" else _read_yaml(path, text)
    if not isinstance(table.data, Pairs):
        raise InputError(
            str(path), table.line, table.column, "a config file is a mapping of settings, such as `kube-version: 1.30`"
        )
    return table


def _read_yaml(path: Path, text: str) -> Entry:
    import yaml

    from nativecar.documents import unmarked_error

    try:
        node = yaml.compose(text, Loader=yaml.CSafeLoader)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark
        raise InputError(
            str(path), mark.line + 1 if mark else 1, mark.column + 1 if mark else 1, str(error.problem)
        ) from None
    except yaml.YAMLError as error:  # a character YAML does not allow, such as a control character
        raise unmarked_error(error, str(path), text) from None
    return Entry(Pairs(), 1, 1) if node is None else _from_node(node)


def _from_node(node: Any) -> Entry:
    """A composed YAML node as an Entry; a scalar keeps its text unless it is a bool or a null."""
    import yaml
    from yaml.constructor import SafeConstructor

    line, column = node.start_mark.line + 1, node.start_mark.column + 1
    if isinstance(node, yaml.SequenceNode):
        return Entry([_from_node(item) for item in node.value], line, column)
    if isinstance(node, yaml.MappingNode):
        return Entry(Pairs((_from_node(key), _from_node(value)) for key, value in node.value), line, column)
    if node.tag == "tag:yaml.org,2002:null":
        return Entry(None, line, column)
    if node.tag == "tag:yaml.org,2002:bool":
        return Entry(SafeConstructor.bool_values[node.value.lower()], line, column)
    return Entry(node.value, line, column)


def _read_toml(path: Path, text: str) -> Entry:
    import tomllib

    try:
        document = tomllib.loads(text, parse_float=str)  # the text of 1.30, not the float 1.3
    except tomllib.TOMLDecodeError as error:
        # Python 3.14 gives lineno and colno; earlier ones only say them in the message.
        found = re.search(r"\(at line (\d+), column (\d+)\)", str(error))
        line = getattr(error, "lineno", None) or (int(found.group(1)) if found else 1)
        column = getattr(error, "colno", None) or (int(found.group(2)) if found else 1)
        message = getattr(error, "msg", None) or re.sub(r"\s*\(at line \d+, column \d+\)$", "", str(error))
        raise InputError(str(path), line, column, message + _quote_hint(text, line)) from None
    marks = _toml_marks(text)
    line, column, _ = marks.get((), (1, 1, 1))
    table = document.get("tool", {}).get("nativecar", {}) if isinstance(document.get("tool"), dict) else {}
    return _from_toml(table, (), marks, (line, column))


def _quote_hint(text: str, line: int) -> str:
    """A hint for the TOML error on `line` when it is a version written bare (`1.30.1`, `v1.30`),
    which TOML has no type for."""
    written = text.split("\n")[line - 1] if 0 < line <= text.count("\n") + 1 else ""
    key = _KEY.match(written)
    value = written[key.end() :].split("#")[0].strip() if key else ""
    if not re.fullmatch(r"v?\d+(\.\d+)+\S*", value):
        return ""
    return f'; quote a version: {written[: key.end()].strip()} "{value}"'


def _from_toml(value: Any, path: tuple[str, ...], marks: dict, where: tuple[int, int]) -> Entry:
    """A value tomllib read as an Entry at `where`; a table's keys at the lines `marks` found them on."""
    if isinstance(value, dict):
        pairs = Pairs()
        for key, item in value.items():
            line, column, value_column = marks.get((*path, key), (*where, where[1]))
            key_entry = Entry(key, line, column)
            pairs.append((key_entry, _from_toml(item, (*path, key), marks, (line, value_column))))
        return Entry(pairs, *where)
    if isinstance(value, list):
        return Entry([_from_toml(item, path, marks, where) for item in value], *where)
    if isinstance(value, bool):
        return Entry(value, *where)
    return Entry(str(value), *where)


def _toml_marks(text: str) -> dict[tuple[str, ...], tuple[int, int, int]]:
    """Where the keys of `[tool.nativecar]` and its sub-tables are written: key path -> (line,
    key column, value column); `()` is the table's header. tomllib gives no positions, so this
    reads the lines the way TOML lays them out (a key per line); what it misses is reported at
    the table's header."""
    marks: dict[tuple[str, ...], tuple[int, int, int]] = {}
    table: tuple[str, ...] | None = None
    for number, line in enumerate(text.split("\n"), start=1):
        header = _HEADER.match(line)
        if header and not line.lstrip().startswith("[["):
            names = tuple(re.sub(r"""[\s"']""", "", header.group(1)).split("."))
            table = names[len(_TABLE) :] if names[: len(_TABLE)] == _TABLE else None
            if table is not None:
                column = line.index("[") + 1
                marks.setdefault(table, (number, column, column))
            continue
        if line.lstrip().startswith("[["):
            table = None
            continue
        key = _KEY.match(line) if table is not None else None
        if key:
            name = next(group for group in key.groups()[1:] if group is not None)
            marks.setdefault((*table, name), (number, len(key.group(1)) + 1, key.end() + 1))
    return marks
