"""A chart and what its values give a template: the values files (and a subchart's parent's),
the named templates, and nativecar's reading of the simple `.Values` expressions and conditions a
template renders with."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import yaml

from nativecar import helm
from nativecar.rewrites import Context

TEMPLATE_SUFFIXES = (".yaml", ".yml")


VALUES_PATTERNS = ("values-*.y*ml", "values.*.y*ml", "*-values.y*ml", "ci/*.y*ml")


MAX_INSTANCES = 200  # renderings checked per template, beyond which a template is left as it is


class Named(NamedTuple):
    """A named template (`{{- define "NAME" }}`) of a chart: where it is defined (file, 1-based
    line) and its body's text."""

    name: str
    file: str
    line: int
    body: str


@dataclass(frozen=True)
class Chart:
    """A chart: its directory, the values each of its values files gives (name, values), and
    its named templates (`define`, in any file of `templates/`, partials included)."""

    root: str
    values: tuple[tuple[str, Any], ...] = ()
    notes: tuple[str, ...] = ()
    named: tuple[Named, ...] = ()


def renders(path: Path) -> bool:
    """Whether Helm renders `path` (a file of `templates/`) as manifests nativecar reads: a YAML
    file whose name does not start with `_` (a partial, such as `_helpers.tpl`)."""
    return path.suffix in TEMPLATE_SUFFIXES and not path.name.startswith("_")


def load(root: Path) -> Chart:
    """The chart in `root` with its values files; a values file that cannot be read is noted
    and left out."""
    notes: list[str] = []

    def read(path: Path) -> Any:
        try:
            return yaml.load(path.read_text(encoding="utf-8"), Loader=yaml.CSafeLoader) or {}
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
            notes.append(f"{path}: not read as values ({str(error).splitlines()[0]})")
            return None

    base_path = next((root / name for name in ("values.yaml", "values.yml") if (root / name).is_file()), None)
    base = read(base_path) if base_path is not None else {}
    base = base if isinstance(base, dict) else {}
    found: list[tuple[str, Any]] = [(base_path.name if base_path else "no values file", base)]
    others = sorted({path for pattern in VALUES_PATTERNS for path in root.glob(pattern) if path.is_file()})
    for path in others:
        if path == base_path:
            continue
        data = read(path)
        if isinstance(data, dict):
            found.append((path.relative_to(root).as_posix(), _merged(base, data)))
    found += _as_subchart(root, base)
    return Chart(str(root), tuple(found), tuple(notes), tuple(_named_templates(root / "templates")))


def _named_templates(directory: Path) -> Iterator[Named]:
    """Every `define` of the files under `directory` (a file that cannot be read or scanned is
    passed over: its own conversion reports it)."""
    for path in sorted(directory.rglob("*")):
        try:
            text = path.read_text(encoding="utf-8") if path.is_file() else ""
            actions = helm.scan(text)
        except (OSError, UnicodeDecodeError, helm.TemplateError):
            continue
        opened: list[helm.Action] = []
        for action in actions:
            if action.role == "open":
                opened.append(action)
            elif action.role == "end" and opened:
                start = opened.pop()
                name = re.match(r'\s*"([^"]+)"', start.argument) if start.keyword == "define" else None
                if name is not None:
                    line = text.count("\n", 0, start.start) + 1
                    yield Named(name.group(1), str(path), line, text[start.end : action.start])


_CONTAINER_FIELD = re.compile(r"""^[ \t-]*(name|image):[ \t]*["']?([^"'\s{}]+)["']?[ \t]*$""")


INCLUDE = re.compile(r'^(?:include|template)\s+"([^"]+)"')


def named_sidecars(named: Named, context: Context) -> list[str]:
    """The sidecars nativecar recognises among the containers a named template writes (by their
    literal `name:` or `image:`)."""
    containers: list[dict[str, str]] = []
    for line in named.body.splitlines():
        field = _CONTAINER_FIELD.match(line)
        if line.lstrip().startswith("- ") or not containers:
            containers.append({})  # a list item starts the next container
        if field is not None:
            containers[-1].setdefault(field.group(1), field.group(2))
    found = []
    for container in containers:
        if context.recognise(container.get("name"), container.get("image")) is not None:
            shown = container.get("name") or container.get("image") or ""
            if shown not in found:
                found.append(shown)
    return found


def _as_subchart(root: Path, base: dict) -> list[tuple[str, Any]]:
    """The values a chart gets as a subchart (`PARENT/charts/NAME/`) under each values file of
    its parent: its own `values.yaml` with the parent's section for it (its alias, else its name)
    merged over, and the parent's `global` (Helm's subchart values:
    https://helm.sh/docs/chart_template_guide/subcharts_and_globals/)."""
    parent = root.parent.parent
    if root.parent.name != "charts" or not (parent / "Chart.yaml").is_file():
        return []
    key = _dependency_key(root, parent)
    found = []
    for name, values in load(parent).values:
        if not isinstance(values, dict):
            continue
        section = values.get(key)
        merged = _merged(base, section if isinstance(section, dict) else {})
        if isinstance(values.get("global"), dict):
            merged = {**merged, "global": _merged(merged.get("global") or {}, values["global"])}
        found.append((f"{parent.name}/{name} (as its subchart {key})", merged))
    return found


def _dependency_key(root: Path, parent: Path) -> str:
    """The key of a subchart's values in its parent's: the dependency's alias, else the chart's name."""

    def metadata(path: Path) -> dict:
        try:
            data = yaml.load(path.read_text(encoding="utf-8"), Loader=yaml.CSafeLoader)
        except (OSError, UnicodeDecodeError, yaml.YAMLError):
            return {}
        return data if isinstance(data, dict) else {}

    name = str(metadata(root / "Chart.yaml").get("name") or root.name)
    for dependency in metadata(parent / "Chart.yaml").get("dependencies") or []:
        if isinstance(dependency, dict) and dependency.get("name") == name and dependency.get("alias"):
            return str(dependency["alias"])
    return name


def _merged(base: Any, over: Any) -> Any:
    """`over` merged into `base` as Helm merges a values file into the chart's values."""
    if isinstance(base, dict) and isinstance(over, dict):
        merged = dict(base)
        for key, value in over.items():
            merged[key] = _merged(base.get(key), value) if value is not None else None
        return merged
    return over


REFERENCE = re.compile(r"(\$?)\.Values((?:\.[A-Za-z_][\w-]*)+)")


_MISSING = object()


def lookup(values: Any, path: str) -> Any:
    """The value at `.a.b` of `values`; None for a missing last key (Helm renders nothing),
    `_MISSING` when a key before it is missing (Helm fails there)."""
    keys = path.strip(".").split(".")
    current = values
    for position, key in enumerate(keys):
        if not isinstance(current, dict):
            return _MISSING
        if key not in current:
            return None if position == len(keys) - 1 else _MISSING
        current = current[key]
    return current


_SAFE = re.compile(r"[A-Za-z0-9./][A-Za-z0-9._/@:+=,~-]*")


def _rendered(value: Any) -> str | None:
    """A value as `{{ }}` renders it (Go's `%v`), when that text is safe to put anywhere in YAML
    (no space, quote or YAML indicator); None otherwise."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        number = float(value)
        if number.is_integer() and abs(number) < 1e6:
            return str(int(number))
        if 1e-4 <= abs(number) < 1e6:
            return repr(number)
        return None
    if isinstance(value, str) and (value == "" or _SAFE.fullmatch(value)):
        return value
    return None


def _body(action: str) -> str:
    """What is inside an action's delimiters and trim markers."""
    body = action[2:-2]
    if body[:1] == "-" and body[1:2].isspace():
        body = body[1:]
    if body[-1:] == "-" and body[-2:-1].isspace():
        body = body[:-1]
    return body.strip()


def _value_of(action: str, values: Any, scoped: bool) -> tuple[Any, bool]:
    """The value a plain `{{ .Values.x }}` renders with `values` (also with `| default LITERAL`
    or `default LITERAL .Values.x`), and whether it is piped to `quote`; `_MISSING` for any
    other action, and for `.Values` inside a `with` or `range` (where `.` is something else)."""
    body = _body(action)
    quoted = False
    if re.search(r"\|\s*quote$", body):
        body, quoted = re.sub(r"\s*\|\s*quote$", "", body), True
    default: Any = _MISSING
    piped = re.fullmatch(r"(.+?)\s*\|\s*default\s+(\S+)", body)
    prefixed = re.fullmatch(r"default\s+(\S+)\s+(\S+)", body)
    if piped or prefixed:
        reference, literal = (piped.group(1), piped.group(2)) if piped else (prefixed.group(2), prefixed.group(1))  # type: ignore[union-attr]
        default = _literal(literal)
        if default is _MISSING:
            return _MISSING, quoted
        body = reference.strip()
    found = REFERENCE.fullmatch(body)
    if found is None or (scoped and not found.group(1)):
        return _MISSING, quoted
    value = lookup(values, found.group(2))
    if value is not _MISSING and default is not _MISSING and not _truth(value):
        value = default
    return value, quoted


def _literal(text: str) -> Any:
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] == '"' and "\\" not in text:
        return text[1:-1]
    if text in ("true", "false"):
        return text == "true"
    if re.fullmatch(r"-?\d+", text):
        return int(text)
    return _MISSING


def _truth(value: Any) -> bool:
    """Go template truth: false, 0, nil and empty strings, lists and maps are false."""
    return not (value is None or value is False or value == 0 or (isinstance(value, str | list | dict) and not value))


def words(mask: helm.Mask, values: Any) -> dict[int, str]:
    """The inline actions of `mask` that render plainly with `values`: their text, by token."""
    found: dict[int, str] = {}
    for token in mask.tokens.values():
        value, quoted = _value_of(token.text, values, token.scoped)
        if value is _MISSING or (quoted and token.quoted):
            continue
        text = _rendered(value)
        if text is not None:
            found[token.id] = f'"{text}"' if quoted else text
    return found


_TERM = re.compile(r'\s*(\(|\)|"(?:[^"\\]|\\.)*"|[^\s()]+)')


def condition_truth(condition: str, values: Any, scoped: bool) -> bool | None:
    """Whether a block's condition holds with `values`, for the conditions that are plain values:
    `.Values.x`, `not`, `and`, `or`, `eq`/`ne` with a literal, `empty`; None for anything else."""
    terms = [match.group(1) for match in _TERM.finditer(condition)]
    terms = terms[_declaration(terms) :]
    try:
        value, rest = _expression(terms, values, scoped)
    except (IndexError, ValueError):
        return None
    if rest or value is _MISSING:
        return None
    return _truth(value)


def _declaration(terms: list[str]) -> int:
    """How many terms a `$x :=` (or `$i, $x :=`) declaration at the start takes."""
    for index, term in enumerate(terms[:4]):
        if term in (":=", "="):
            return index + 1
    return 0


def _expression(terms: list[str], values: Any, scoped: bool) -> tuple[Any, list[str]]:
    head, rest = terms[0], terms[1:]
    if head == "(":
        value, rest = _expression(rest, values, scoped)
        if not rest or rest[0] != ")":
            raise ValueError("unbalanced")
        return value, rest[1:]
    if head in ("not", "empty"):
        value, rest = _expression(rest, values, scoped)
        return (_MISSING if value is _MISSING else not _truth(value)), rest
    if head in ("and", "or", "eq", "ne"):
        operands: list[Any] = []
        while rest and rest[0] != ")":
            value, rest = _expression(rest, values, scoped)
            operands.append(value)
        if len(operands) < 2 or any(value is _MISSING for value in operands):
            return _MISSING, rest
        if head == "and":
            return all(_truth(value) for value in operands), rest
        if head == "or":
            return any(_truth(value) for value in operands), rest
        same = all(value == operands[0] for value in operands[1:])
        return (same if head == "eq" else not same), rest
    found = REFERENCE.fullmatch(head)
    if found is not None:
        if scoped and not found.group(1):
            return _MISSING, rest
        return lookup(values, found.group(2)), rest
    literal = _literal(head)
    return literal, rest
