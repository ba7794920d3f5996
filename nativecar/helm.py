"""Go template text, set aside so that the YAML around it can be read and patched, and put back.

A Helm template is YAML with Go template actions (`{{ ... }}`) in it. `mask` replaces every action
with a placeholder that keeps the text valid YAML, line for line, so the engine can parse and patch
it like a manifest; `Mask.restore` puts the actions back. The placeholders:

- a line (or lines) holding only actions and blanks becomes a comment line, `#<prefix>L<n>x`, at an
  indentation chosen so that the engine's patcher moves it with the list item it belongs to
  (`edits.Patcher.item_region`: comments right above an item at its dash's column, and right
  below it indented deeper, are the item's): the `{{- if }}` and `{{- end }}` that wrap exactly one
  list item go with that item;
- the lines of every branch but the first of an `if`/`else` (and the body of a `define`) become
  comment lines `#<prefix>H<n>x` too ("hidden"), so the masked text shows one branch of each
  condition and never holds the same key twice;
- an action inside a line (in a value, a key, a quoted string) becomes a word, `<prefix>T<n>x`, a
  plain scalar that means nothing to any rewrite; an action that spans lines keeps its line breaks.

The prefix is one the template does not contain, so restoring is a substitution. `restore` checks
that each placeholder line is there once and whole, and says so (`TemplateError`) when a rewrite
lost, split or re-indented one it cannot re-indent (a `nindent` in a moved line).

`Blocks` reads the control flow (`if`/`else`/`with`/`range`/`define`/`block` ... `end`) of a masked
text, placeholders only, and `instance` renders a masked text for one choice of branches: the
lines of the chosen branches, hidden lines shown again, control lines dropped. That is how
`nativecar.charts` checks a conversion against the template for each way its conditions can go.

Go template and Helm facts this relies on (text/template, Go 1.23: `parse/lex.go`; Helm 3.17 and
4.1 `pkg/engine`, checked with both binaries):
- An action is `{{ ... }}`. `{{- ` trims all white space (newlines too) before it and ` -}}` all
  after it; the marker needs the space. A comment is `{{/* ... */}}`, `/*` right after the
  delimiter (and trim marker) and `*/` right before the closing one. Inside an action, `}}` in a
  "string", a `raw string` (which may span lines) or a 'c' character does not close it.
- Control flow: `if`/`with`/`range` pipelines, `else` (`else if`, `else with`), `end`; `define`
  declares a template and renders nothing in place; `block` is `define` plus `template` in place.
  Go's truth: false, 0, nil and empty strings, lists and maps are false.
- Helm renders every file of `templates/` but those whose name starts with `_` (partials such as
  `_helpers.tpl`); `NOTES.txt` is printed, not applied. A missing value renders as nothing (Helm
  replaces "<no value>"); numbers from values files are float64 and render with Go's `%v`
  (`30`, `0.5`, but `1e+06` from a million on).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal, NamedTuple

Role = Literal["open", "else", "end"]
Kind = Literal["control", "content", "quiet", "hidden"]

OPENERS = ("if", "with", "range", "define", "block")
SCOPES = ("with", "range")  # blocks that change `.`
_SPACE = " \t\r\n"


class TemplateError(Exception):
    """A template that cannot be set aside (or put back) exactly: 1-based line and column."""

    def __init__(self, line: int, column: int, message: str) -> None:
        super().__init__(f"{line}:{column}: {message}")
        self.line = line
        self.column = column
        self.message = message


class Action(NamedTuple):
    """One `{{ ... }}`: where it is in the text, its trim markers, and what it does.

    `keyword`: `if`, `with`, `range`, `define`, `block`, `else`, `end`, `comment`, `assign` (a
    `$x := ...` that renders nothing) or `output` (anything that renders text: a value, `include`,
    `toYaml`, `template`). `argument`: the pipeline after the keyword (`.Values.proxy.enabled` of
    `{{- if .Values.proxy.enabled }}`; for `else if X`, X).
    """

    start: int
    end: int
    trim_left: bool
    trim_right: bool
    keyword: str
    argument: str

    @property
    def role(self) -> Role | None:
        if self.keyword in OPENERS:
            return "open"
        if self.keyword in ("else", "end"):
            return self.keyword  # type: ignore[return-value]
        return None


def scan(text: str) -> list[Action]:
    """Every action of `text`, in order (raises `TemplateError` at one that never closes)."""
    found: list[Action] = []
    index = text.find("{{")
    while index >= 0:
        action = _action(text, index)
        found.append(action)
        index = text.find("{{", action.end)
    return found


def _action(text: str, start: int) -> Action:
    position = start + 2
    trim_left = text.startswith("-", position) and position + 1 < len(text) and text[position + 1] in _SPACE
    if trim_left:
        position += 2
    if text.startswith("/*", position):
        close = text.find("*/", position + 2)
        if close < 0:
            raise _error(text, start, "a template comment that never ends")
        after = close + 2
        trim_right = after + 3 <= len(text) and text[after] in _SPACE and text.startswith("-}}", after + 1)
        if trim_right:
            return Action(start, after + 4, trim_left, True, "comment", "")
        if not text.startswith("}}", after):
            raise _error(text, start, "a template comment must end right before }}")
        return Action(start, after + 2, trim_left, False, "comment", "")
    body_start = position
    while position < len(text):
        char = text[position]
        if char == '"' or char == "'":
            position = _quoted(text, position, char, start)
            continue
        if char == "`":
            close = text.find("`", position + 1)
            if close < 0:
                raise _error(text, start, "a raw string that never ends in a template action")
            position = close + 1
            continue
        if char in _SPACE and text.startswith("-}}", position + 1):
            return _classified(text, start, position + 4, trim_left, True, text[body_start:position])
        if text.startswith("}}", position):
            return _classified(text, start, position + 2, trim_left, False, text[body_start:position])
        position += 1
    raise _error(text, start, "a template action that never ends ({{ without }})")


def _quoted(text: str, position: int, quote: str, start: int) -> int:
    """The index after the string or character constant that starts at `position`."""
    index = position + 1
    while index < len(text):
        char = text[index]
        if char == "\\":
            index += 2
            continue
        if char == "\n":
            break
        if char == quote:
            return index + 1
        index += 1
    raise _error(text, start, "a quoted string that never ends in a template action")


_ASSIGN = re.compile(r"\$[\w]*\s*(?:,\s*\$[\w]*\s*)?:?=")
_KEYWORD = re.compile(r"[a-z]+\b")


def _classified(text: str, start: int, end: int, trim_left: bool, trim_right: bool, body: str) -> Action:
    words = body.strip()
    match = _KEYWORD.match(words)
    keyword = match.group(0) if match else ""
    argument = words[len(keyword) :].strip()
    if keyword == "else":
        inner = _KEYWORD.match(argument)
        if inner and inner.group(0) in ("if", "with"):
            argument = argument[len(inner.group(0)) :].strip()
    elif keyword in ("break", "continue"):
        keyword = "quiet"
    elif keyword not in (*OPENERS, "end"):
        keyword = "assign" if _ASSIGN.match(words) else "output"
        argument = words
    return Action(start, end, trim_left, trim_right, keyword, argument)


def _error(text: str, index: int, message: str) -> TemplateError:
    line = text.count("\n", 0, index) + 1
    return TemplateError(line, index - (text.rfind("\n", 0, index) + 1) + 1, message)


# -- masking ---------------------------------------------------------------------------------


@dataclass
class Token:
    """An action inside a line, masked as a word: its text, where it stood (0-based line and
    column in the template), and whether it is inside a `with` or `range` (where `.` is not the
    chart's root)."""

    id: int
    text: str
    line: int
    column: int
    scoped: bool
    breaks: str  # the line breaks inside the action, kept after its word in the masked text
    quoted: str  # '"' or "'" when the action is the whole of a quoted scalar, else ""


@dataclass
class Control:
    """One control action of a control line: its role in its block, the block's keyword, the
    condition it tests (None for a plain `else` and `end`), its text and position, and the
    block and branch it belongs to (set by `Blocks`)."""

    role: Role
    keyword: str
    condition: str | None
    text: str
    line: int
    scoped: bool = False  # inside a `with`/`range` (of another block)
    chain: int = -1
    branch: int = 0


@dataclass
class Placeholder:
    """Lines masked as comment lines: actions alone on their lines (`control`, `content` when they
    render text, `quiet` when they render nothing), or hidden branch lines (`hidden`)."""

    id: int
    kind: Kind
    original: str  # the lines' text, without the last line break
    line: int  # 0-based first line
    count: int  # lines
    indent: int  # the masked comment's indentation
    controls: list[Control] = field(default_factory=list)
    shown: str = ""  # hidden lines: their masked text (actions as words), shown again by `instance`
    actions: list[Action] = field(default_factory=list)  # content and quiet lines: what they hold


@dataclass
class Mask:
    """A template with its actions set aside: `masked` is YAML with placeholders, `restore`
    turns a patched masked text back into a template."""

    original: str
    masked: str
    prefix: str
    tokens: dict[int, Token]
    lines: dict[int, Placeholder]
    wrappers: set[int] = field(default_factory=set)  # blocks that wrap exactly one list item
    chains_seen: set[int] = field(default_factory=set)  # block numbers given out (`Blocks.read`)

    @functools.cached_property
    def line_pattern(self) -> re.Pattern[str]:
        """A placeholder line: (indentation, L or H, id, part)."""
        return re.compile(r"( *)#" + re.escape(self.prefix) + r"([LH])(\d+)x(?:(\d+)x)?")

    @functools.cached_property
    def token_pattern(self) -> re.Pattern[str]:
        """An inline placeholder word: (id)."""
        return re.compile(re.escape(self.prefix) + r"T(\d+)x")

    def placeholder_lines(self, text: str) -> Iterator[tuple[int, Placeholder, int, int]]:
        """The placeholder lines of a masked text: (0-based line, placeholder, part, indent)."""
        pattern = self.line_pattern
        for number, line in enumerate(text.split("\n")):
            if "#" not in line:
                continue
            match = pattern.fullmatch(line.rstrip("\r"))
            if match:
                part = int(match.group(4)) if match.group(4) else 0
                yield number, self.lines[int(match.group(3))], part, len(match.group(1))

    def restore(self, text: str) -> str:
        """The template a patched masked text stands for (raises `TemplateError` when a
        placeholder is missing, doubled, split, or moved where its action cannot go)."""
        lines = text.split("\n")
        pieces: list[str] = []
        seen: set[int] = set()
        index = 0
        pattern = self.line_pattern
        while index < len(lines):
            line = lines[index]
            match = pattern.fullmatch(line.rstrip("\r")) if "#" in line else None
            if match is None:
                pieces.append(line)
                index += 1
                continue
            placeholder = self.lines[int(match.group(3))]
            if placeholder.id in seen or match.group(4):
                raise TemplateError(
                    placeholder.line + 1, 1, "a rewrite split or doubled the lines of a template action"
                )
            seen.add(placeholder.id)
            group = lines[index : index + placeholder.count]
            expected = [_placeholder_text(self.prefix, placeholder, part) for part in range(placeholder.count)]
            if [item.rstrip("\r").lstrip(" ") for item in group] != expected:
                raise TemplateError(placeholder.line + 1, 1, "a rewrite split the lines of a template action")
            shift = len(match.group(1)) - placeholder.indent
            if shift and placeholder.kind == "content":
                raise TemplateError(
                    placeholder.line + 1,
                    placeholder.indent + 1,
                    "a rewrite would move a template action that renders text to another indentation",
                )
            ending = "\r" if group[-1].endswith("\r") and not placeholder.original.endswith("\r") else ""
            pieces.append(_reindent(placeholder.original, shift, placeholder.line) + ending)
            index += placeholder.count
        missing = sorted(set(self.lines) - seen, key=lambda key: self.lines[key].line)
        if missing:
            first = self.lines[missing[0]]
            raise TemplateError(first.line + 1, 1, "a rewrite dropped a line of template text")
        return self._restore_tokens("\n".join(pieces))

    def _restore_tokens(self, text: str) -> str:
        """Each placeholder word as its action again. A word a rewrite copied (a probe made from
        another) is fine where it renders the same; one that stood as a whole quoted value must
        stay a whole quoted value, or the copy would change type (`"8080"` to 8080)."""
        pieces: list[str] = []
        position = 0
        counts: dict[int, int] = {}
        unquoted: set[int] = set()
        for match in self.token_pattern.finditer(text):
            token = self.tokens.get(int(match.group(1)))
            if token is None:
                raise TemplateError(1, 1, "an unknown template placeholder")
            if not text.startswith(token.breaks, match.end()):
                raise TemplateError(token.line + 1, token.column + 1, "a rewrite split a template action")
            if token.quoted and not _whole_quoted(text, match, token.quoted):
                unquoted.add(token.id)
            counts[token.id] = counts.get(token.id, 0) + 1
            pieces.append(text[position : match.start()])
            pieces.append(token.text)
            position = match.end() + len(token.breaks)
        pieces.append(text[position:])
        for token_id in unquoted:
            token = self.tokens[token_id]
            raise TemplateError(
                token.line + 1, token.column + 1, "a rewrite copied a quoted template value out of its quotes"
            )
        lost = self.lost_tokens(text, counts)
        if lost:
            token = lost[0]
            raise TemplateError(token.line + 1, token.column + 1, f"a rewrite replaced the template value {token.text}")
        return "".join(pieces)

    @functools.cached_property
    def _hidden_tokens(self) -> set[int]:
        """The inline actions on hidden lines (not in the masked text until `instance` shows them)."""
        found: set[int] = set()
        pattern = self.token_pattern
        for placeholder in self.lines.values():
            if placeholder.kind == "hidden":
                found.update(int(match.group(1)) for match in pattern.finditer(placeholder.shown))
        return found

    def lost_tokens(self, text: str, present: dict[int, int] | None = None) -> list[Token]:
        """The inline actions of the template that a masked text no longer holds (`present`: the
        ids it holds, when they are counted already)."""
        if present is None:
            present = {int(match.group(1)): 1 for match in self.token_pattern.finditer(text)}
        hidden = self._hidden_tokens
        return sorted(
            (token for token in self.tokens.values() if token.id not in present and token.id not in hidden),
            key=lambda token: (token.line, token.column),
        )

    def unmask(self, text: str) -> str:
        """A message's text with each inline placeholder word as the action it stands for."""
        if self.prefix not in text:
            return text
        return self.token_pattern.sub(
            lambda match: (
                self.tokens[int(match.group(1))].text if int(match.group(1)) in self.tokens else match.group(0)
            ),
            text,
        )

    def column(self, masked: str, line: int, column: int) -> int:
        """The template's 1-based column of 1-based (`line`, `column`) in a masked text."""
        if line < 1 or column < 1:
            return column
        lines = masked.split("\n")
        if line > len(lines):
            return column
        text = lines[line - 1]
        shift = 0
        for match in self.token_pattern.finditer(text):
            if match.end() >= column:
                break
            token = self.tokens.get(int(match.group(1)))
            if token is not None and not token.breaks:
                shift += len(token.text) - len(match.group(0))
        return column + shift


def _whole_quoted(text: str, match: re.Match[str], quote: str) -> bool:
    return text[match.start() - 1 : match.start()] == quote and text[match.end() : match.end() + 1] == quote


def _placeholder_text(prefix: str, placeholder: Placeholder, part: int) -> str:
    letter = "H" if placeholder.kind == "hidden" else "L"
    return f"#{prefix}{letter}{placeholder.id}x" + (f"{part}x" if part else "")


def _reindent(text: str, shift: int, line: int) -> str:
    """`text`'s lines moved right by `shift` columns (left when negative, through blanks only)."""
    if not shift:
        return text
    out = []
    for item in text.split("\n"):
        if not item.strip():
            out.append(item)
        elif shift > 0:
            out.append(" " * shift + item)
        elif item[:-shift].strip(" "):
            raise TemplateError(line + 1, 1, "a rewrite would move template text left of its indentation")
        else:
            out.append(item[-shift:])
    return "\n".join(out)


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


class _Group(NamedTuple):
    """Lines of a template read as one: a line, or more when an action spans line breaks."""

    first: int  # 0-based line
    last: int
    start: int  # text offsets: start of the first line, end of the last (before its line break)
    end: int
    actions: list[Action]
    only_actions: bool


def _groups(text: str, actions: list[Action]) -> list[_Group]:
    starts = [0]
    starts.extend(index + 1 for index, char in enumerate(text) if char == "\n")
    groups: list[_Group] = []
    pending = 0
    line = 0
    total = len(starts)
    while line < total:
        start = starts[line]
        last = line
        end = _line_end(text, starts, last)
        mine: list[Action] = []
        while pending < len(actions) and actions[pending].start < end:
            action = actions[pending]
            mine.append(action)
            pending += 1
            if action.end > end:
                last = text.count("\n", 0, action.end)
                end = _line_end(text, starts, last)
        rest = text[start:end]
        for action in reversed(mine):
            rest = rest[: action.start - start] + rest[action.end - start :]
        groups.append(_Group(line, last, start, end, mine, bool(mine) and not rest.strip(" \t\r")))
        line = last + 1
    return groups


def _line_end(text: str, starts: list[int], line: int) -> int:
    if line + 1 < len(starts):
        return starts[line + 1] - 1
    return len(text)


def mask(text: str) -> Mask:
    """`text` with its actions set aside (see the module's docstring); raises `TemplateError`
    for a template whose actions cannot be set aside exactly: an unclosed action or block,
    control flow that opens in one line's text and closes in another, a line that both renders
    text and opens or closes a block, or a trim marker that joins two lines of YAML."""
    actions = scan(text)
    prefix = _prefix(text)
    lines = text.split("\n")
    groups = _groups(text, actions)
    roles = [_role(text, group, lines) for group in groups]
    hidden = _hidden_groups(groups, roles, lines)
    scopes = _scopes(roles)
    layout = _Layout(groups, roles, lines, hidden)
    wrappers = layout.wrappers()
    tokens: dict[int, Token] = {}
    placeholders: dict[int, Placeholder] = {}
    opening: dict[int, Placeholder] = {}  # wrapper's opening group -> its placeholder
    pieces: list[str] = []
    for index, group in enumerate(groups):
        body = text[group.start : group.end]
        role = roles[index]
        if role is None:
            shown = _inline(text, group, prefix, tokens, scopes[index]) if group.actions else body
            if index not in hidden:
                pieces.append(shown)
                continue
            placeholder = Placeholder(len(placeholders), "hidden", body, group.first, _count(group), _indent(body))
            placeholder.shown = shown
        else:
            kind, controls = role
            indent = wrappers[index] if index in wrappers else layout.indent(index)
            placeholder = Placeholder(len(placeholders), kind, body, group.first, _count(group), indent, controls)
            placeholder.actions = [action for action in group.actions if action.role is None]
            for control in controls:
                control.scoped = scopes[index]
            if index in wrappers and controls[0].role == "open":
                opening[index] = placeholder
        placeholders[placeholder.id] = placeholder
        ending = "\r" if body.endswith("\r") else ""
        pieces.append(
            "\n".join(
                " " * placeholder.indent + _placeholder_text(prefix, placeholder, part) + ending
                for part in range(placeholder.count)
            )
        )
    result = Mask(text, "\n".join(pieces), prefix, tokens, placeholders)
    Blocks.read(result, result.masked)  # numbers the blocks; raises on control flow that does not nest
    result.wrappers = {placeholder.controls[0].chain for placeholder in opening.values()}
    return result


def _count(group: _Group) -> int:
    return group.last - group.first + 1


def _prefix(text: str) -> str:
    """A placeholder prefix the template does not contain."""
    prefix = "NCxTPL"
    while prefix in text:
        prefix += "x"
    return prefix


_RoleOf = tuple[Kind, list[Control]] | None


def _role(text: str, group: _Group, lines: list[str]) -> _RoleOf:
    """What a group of lines becomes: None (YAML text, maybe with actions inside it), or a
    placeholder line: `control` with its control actions, `content` (renders text), or `quiet`."""
    if not group.only_actions:
        _check_inline(text, group)
        return None
    controls = [action for action in group.actions if action.role is not None]
    output = any(action.keyword == "output" for action in group.actions)
    if output:
        if not _balanced(controls):
            raise TemplateError(
                group.first + 1,
                _column(text, controls[0].start),
                "a line that both renders text and opens or closes a block",
            )
        return ("content", [])
    _check_trims(text, group, lines)
    if not controls or (len(controls) > 1 and _balanced(controls)):
        return ("quiet", [])
    return ("control", [_control(text, action, group.first) for action in controls])


def _control(text: str, action: Action, line: int) -> Control:
    role = action.role
    assert role is not None
    condition = action.argument if role == "open" or (role == "else" and action.argument) else None
    return Control(role, action.keyword, condition, text[action.start : action.end], line)


def _balanced(controls: list[Action]) -> bool:
    depth = 0
    for action in controls:
        if action.role == "open":
            depth += 1
        elif action.role == "end":
            depth -= 1
        elif depth == 0:
            return False
        if depth < 0:
            return False
    return depth == 0


def _column(text: str, index: int) -> int:
    return index - (text.rfind("\n", 0, index) + 1) + 1


def _check_inline(text: str, group: _Group) -> None:
    """Actions in a line of YAML: their control flow must close in the line, and no trim marker
    may eat the white space YAML reads (`key: {{- .Values.x }}` renders `key:value`)."""
    controls = [action for action in group.actions if action.role is not None]
    if controls and not _balanced(controls):
        raise TemplateError(
            group.first + 1, _column(text, controls[0].start), "control flow that opens inside a line of YAML"
        )
    for action in group.actions:
        before = text[action.start - 1] if action.start > 0 else ""
        after = text[action.end] if action.end < len(text) else ""
        if (action.trim_left and before and before in _SPACE) or (action.trim_right and after and after in _SPACE):
            raise TemplateError(
                group.first + 1, _column(text, action.start), "a trim marker (- in {{- or -}}) that joins YAML text"
            )


def _check_trims(text: str, group: _Group, lines: list[str]) -> None:
    """Lines of actions that render nothing read as if they were not there, which holds unless a
    `-}}` eats the line break after them and the text before them then runs into what follows."""
    last = group.actions[-1]
    if not last.trim_right:
        return
    following = next((line for line in lines[group.last + 1 :] if line.strip()), None)
    if following is None:
        return
    first = group.actions[0]
    previous = next((line for line in reversed(lines[: group.first]) if line.strip()), None)
    if first.trim_left:  # joins what comes before to what follows, unless nothing comes before
        same = previous is None and following.lstrip(_SPACE) == following
    else:
        same = text[group.start : first.start] + following.lstrip(_SPACE) == following
    if not same:
        raise TemplateError(
            group.first + 1, _column(text, last.start), "a trim marker (-}}) that joins two lines of YAML"
        )


def _hidden_groups(groups: list[_Group], roles: list[_RoleOf], lines: list[str]) -> set[int]:
    """The groups of YAML text in a branch other than the first of its block, or in a `define`."""
    hidden: set[int] = set()
    stack: list[bool] = []  # per open block: whether its current branch is hidden
    for index, role in enumerate(roles):
        if role is not None:
            for control in role[1]:
                if control.role == "open":
                    stack.append(control.keyword == "define")
                elif control.role == "else" and stack:
                    stack[-1] = True
                elif control.role == "end" and stack:
                    stack.pop()
            continue
        if any(stack) and any(line.strip() for line in lines[groups[index].first : groups[index].last + 1]):
            hidden.add(index)
    return hidden


def _scopes(roles: list[_RoleOf]) -> list[bool]:
    """For each group: whether it is inside a `with` or `range` (where `.` is not the root)."""
    result: list[bool] = []
    stack: list[str] = []
    for role in roles:
        result.append(any(keyword in SCOPES for keyword in stack))
        for control in role[1] if role is not None else []:
            if control.role == "open":
                stack.append(control.keyword)
            elif control.role == "end" and stack:
                stack.pop()
    return result


class _Layout:
    """Where the comment of each placeholder line goes, so that the patcher moves it with the
    list item it belongs to and with no other (`edits.Patcher.item_region` takes the comment
    lines right above an item at its dash's column and those right below it indented deeper)."""

    def __init__(self, groups: list[_Group], roles: list[_RoleOf], lines: list[str], hidden: set[int]) -> None:
        self.groups = groups
        self.roles = roles
        self.lines = lines
        self.hidden = hidden

    def text(self, index: int) -> str:
        return self.lines[self.groups[index].first]

    def is_yaml(self, index: int) -> bool:
        """A group of YAML the masked text shows, not a comment or a blank line."""
        if self.roles[index] is not None or index in self.hidden:
            return False
        stripped = self.text(index).strip()
        return bool(stripped) and not stripped.startswith("#")

    def neighbour(self, index: int, step: int) -> int | None:
        index += step
        while 0 <= index < len(self.groups):
            if self.is_yaml(index):
                return index
            index += step
        return None

    def indent(self, index: int) -> int:
        """A placeholder line's own indentation, deeper when the YAML on both sides is deeper (a
        comment must not end a block scalar), and left of a list item's dash that follows it
        when it is not inside the item before (so it travels with neither)."""
        own = _indent(self.text(index))
        before, after = self.neighbour(index, -1), self.neighbour(index, 1)
        if before is not None and after is not None:
            own = max(own, min(_indent(self.text(before)), _indent(self.text(after))))
        if after is not None and _is_item(self.text(after)):
            dash = _indent(self.text(after))
            if own <= dash:
                own = max(dash - 1, 0)
        return own

    def wrappers(self) -> dict[int, int]:
        """The control lines of the blocks that wrap exactly one list item (`{{- if ... }}`, the
        item's lines, `{{- end }}`), each with its comment's indentation: the opening at the
        item's dash, so it goes with the item as a comment above it, and the closing one column
        deeper, as a comment below it that keys added to the item go above."""
        found: dict[int, int] = {}
        for index, role in enumerate(self.roles):
            if role is None or role[0] != "control" or len(role[1]) != 1:
                continue
            control = role[1][0]
            if control.role != "open" or control.keyword not in ("if", "with"):
                continue
            item = index + 1
            if item >= len(self.groups) or not self.is_yaml(item) or not _is_item(self.text(item)):
                continue
            close = self._close(item, _indent(self.text(item)))
            if close is not None:
                dash = _indent(self.text(item))
                found[index] = dash
                found[close] = dash + 1  # below the dash: the item's; left of its keys: after them
        return found

    def _close(self, item: int, dash: int) -> int | None:
        """The `end` of the block whose body starts with the list item at `item`, when nothing
        but that item's lines (and blocks inside it) come before it."""
        depth = 0
        for later in range(item + 1, len(self.groups)):
            role = self.roles[later]
            if role is None:
                if self.is_yaml(later) and _indent(self.text(later)) <= dash:
                    return None
                continue
            if role[0] != "control":
                continue
            for control in role[1]:
                if control.role == "open":
                    depth += 1
                elif control.role == "else" and depth == 0:
                    return None
                elif control.role == "end":
                    if depth == 0:
                        if len(role[1]) != 1:
                            return None
                        following = self.neighbour(later, 1)
                        if following is not None and _indent(self.text(following)) > dash:
                            return None
                        return later
                    depth -= 1
        return None


def _is_item(line: str) -> bool:
    stripped = line.strip(" \r")
    return stripped == "-" or stripped.startswith("- ")


def _inline(text: str, group: _Group, prefix: str, tokens: dict[int, Token], scoped: bool) -> str:
    """A group's text with each action as a placeholder word (its line breaks kept after it)."""
    pieces: list[str] = []
    position = group.start
    for action in group.actions:
        pieces.append(text[position : action.start])
        body = text[action.start : action.end]
        breaks = "".join(re.findall(r"\r?\n", body))
        quoted = ""
        before = text[action.start - 1 : action.start]
        if before in ("'", '"') and text[action.end : action.end + 1] == before:
            quoted = before
        token = Token(
            len(tokens),
            body,
            text.count("\n", 0, action.start),
            _column(text, action.start) - 1,
            scoped,
            breaks,
            quoted,
        )
        tokens[token.id] = token
        pieces.append(f"{prefix}T{token.id}x{breaks}")
        position = action.end
    pieces.append(text[position : group.end])
    return "".join(pieces)


# -- control flow ----------------------------------------------------------------------------


@dataclass
class Chain:
    """One block: `if`/`with`/`range`/`define`/`block`, its branches' conditions (None for a
    plain `else`), its control actions, and (chain, branch) of the block around it."""

    id: int
    keyword: str
    conditions: list[str | None]
    controls: list[Control]
    parent: tuple[int, int] | None


@dataclass
class Blocks:
    """The blocks of a masked text, read from its control placeholder lines."""

    chains: dict[int, Chain]

    @classmethod
    def read(cls, mask: Mask, text: str) -> Blocks:
        """The blocks of `text`, a masked text of `mask`, patched or not. The first reading (of
        the masked template) numbers the blocks; a later one checks that they still nest as they
        did, and raises `TemplateError` when not (an `end` before its `if`, a block cut in two)."""
        chains: dict[int, Chain] = {}
        stack: list[tuple[Chain, int]] = []
        for _, placeholder, part, _ in mask.placeholder_lines(text):
            if placeholder.kind != "control" or part:
                continue
            for control in placeholder.controls:
                if control.role == "open":
                    if control.chain < 0:
                        control.chain = len(mask.chains_seen)
                        mask.chains_seen.add(control.chain)
                    elif control.chain in chains:
                        raise TemplateError(control.line + 1, 1, "a block appears twice")
                    parent = (stack[-1][0].id, stack[-1][1]) if stack else None
                    chain = Chain(control.chain, control.keyword, [control.condition], [control], parent)
                    chains[chain.id] = chain
                    stack.append((chain, 0))
                    continue
                if not stack:
                    raise TemplateError(control.line + 1, 1, f"{{{{ {control.role} }}}} outside any block")
                chain, branch = stack[-1]
                if control.chain >= 0 and control.chain != chain.id:
                    raise TemplateError(control.line + 1, 1, "blocks that no longer nest as they did")
                control.chain = chain.id
                chain.controls.append(control)
                if control.role == "else":
                    chain.conditions.append(control.condition)
                    control.branch = branch + 1
                    stack[-1] = (chain, branch + 1)
                else:
                    control.branch = branch
                    stack.pop()
        if stack:
            raise TemplateError(stack[-1][0].controls[0].line + 1, 1, "a block without its {{ end }}")
        return cls(chains)


Selection = dict[int, "int | None"]  # chain id -> the branch rendered (None: none)


def instance(mask: Mask, text: str, selection: Selection, words: dict[int, str] | None = None) -> str:
    """A masked text as it renders when each block takes the branch `selection` gives it (a
    block it does not name takes its first; a `define` none): control lines dropped, the hidden
    lines of the chosen branches shown (where the patched text moved them to), the lines of the
    other branches dropped; `words` replaces inline placeholders by the values they render."""
    out: list[str] = []
    stack: list[bool] = []  # whether the text around each open block renders
    active = True
    pattern = mask.line_pattern
    for line in text.split("\n"):
        match = pattern.fullmatch(line.rstrip("\r")) if "#" in line else None
        if match is None:
            if active:
                out.append(line)
            continue
        placeholder = mask.lines[int(match.group(3))]
        if match.group(4):  # the further lines of a placeholder that spans several
            if active and placeholder.kind in ("content", "quiet"):
                out.append(line)
            continue
        if placeholder.kind == "control":
            for control in placeholder.controls:
                chosen = None if control.keyword == "define" else selection.get(control.chain, 0)
                if control.role == "open":
                    stack.append(active)
                    active = active and chosen == 0
                elif control.role == "else":
                    active = stack[-1] and chosen == control.branch
                else:
                    active = stack.pop()
        elif active:
            if placeholder.kind == "hidden":
                out.append(_reindent(placeholder.shown, len(match.group(1)) - placeholder.indent, placeholder.line))
            else:
                out.append(line)
    result = "\n".join(out)
    if words:
        result = mask.token_pattern.sub(lambda found: words.get(int(found.group(1)), found.group(0)), result)
    return result
