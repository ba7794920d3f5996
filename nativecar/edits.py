"""Patch a document's original text so it says what the rewritten model says, and nothing more.

`Patcher.diff` walks the edited model (`model.YMap`/`YList`) beside the node tree it was built
from and records `Edit`s: a scalar replaced in its own quoting, a key or list item deleted with
its lines, new keys and items rendered in the document's own style (`render`), and a moved
container's original lines copied to its new place, re-indented, with its own inner edits
applied. Everything else keeps its bytes: comments, blank lines, quoting, key order.

Where a change cannot be patched safely (merge keys or aliases under a change, unusual layout)
`CannotPatchError` is raised and the caller re-emits that document with ruamel.yaml instead
(`fallback`). `apply` checks that edits never overlap.
"""

from __future__ import annotations

import difflib
import json
import weakref
from collections.abc import Callable
from typing import Any, NamedTuple

from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from nativecar.documents import json_key
from nativecar.model import YList, YMap, build, plain, scalar
from nativecar.render import Renderer, Style, is_plain_safe, quote, scalar_text

_BLANK = " \t\r\n"


class CannotPatchError(Exception):
    """A change the text patcher will not make; the document needs the fallback emitter."""


class Edit(NamedTuple):
    """Replace `text[start:end]` with `replacement` (an insertion when start == end)."""

    start: int
    end: int
    replacement: str


def apply(text: str, edits: list[Edit], start: int = 0, end: int | None = None) -> str:
    """`text[start:end]` with `edits` (absolute positions inside that range) applied."""
    end = len(text) if end is None else end
    pieces: list[str] = []
    position = start
    for edit in sorted(edits):
        if edit.start < position or edit.end > end:
            raise CannotPatchError("overlapping edits")
        pieces.append(text[position : edit.start])
        pieces.append(edit.replacement)
        position = edit.end
    pieces.append(text[position:end])
    return "".join(pieces)


def same_scalar(new: Any, old: Any) -> bool:
    """Equal and of the same type (so `1`, `1.0`, `True` and `"1"` all differ)."""
    return type(new) is type(old) and new == old


def _is_container(value: Any) -> bool:
    return isinstance(value, dict | list)


def _weakly(method: Callable[[Any, int], list[str] | None]) -> Callable[[Any, int], list[str] | None]:
    """`method` of a patcher, for its renderer, without a reference cycle between the two: the
    cyclic collector is off while documents are rewritten (runner), so a cycle would keep each
    document's patcher, and its text, until the end of the run."""
    reference = weakref.WeakMethod(method)

    def call(value: Any, column: int) -> list[str] | None:
        bound = reference()
        return bound(value, column) if bound is not None else None

    return call


class _RenderAnewError(CannotPatchError):
    """Raised inside a collection's diff when the collection must be re-rendered whole."""


class Patcher:
    """Collects the edits that turn a document's text into its edited model."""

    def __init__(self, text: str, root: Node, style: Style, origin: int = 0) -> None:
        self.text = text
        self.origin = origin
        self.style = style
        self.edits: list[Edit] = []
        self.visited: set[int] = set()
        self.flow_depth = 0  # > 0 while inside a flow collection
        self._touched: dict[int, bool] = {}
        self.alias_slots: set[tuple[int, int]] = set()
        self.aliased: set[int] = set()
        if text.find("&", self.at(root.start_mark), self.at(root.end_mark)) >= 0:  # anchors, so maybe aliases
            survey = _Survey(root)
            self.alias_slots = survey.alias_slots
            self.aliased = survey.aliased
        self.render = Renderer(style, copy=_weakly(self._copy_item))

    # -- text geometry ---------------------------------------------------------------------

    def at(self, mark: Any) -> int:
        """Where a node's mark (an index into the whole stream) falls in `text`."""
        return mark.index - self.origin

    def line_start(self, index: int) -> int:
        return self.text.rfind("\n", 0, index) + 1

    def line_end(self, index: int) -> int:
        """Index just past the newline of the line holding `index` (or the end of text)."""
        found = self.text.find("\n", index)
        return len(self.text) if found < 0 else found + 1

    def on_own_line(self, index: int) -> bool:
        return not self.text[self.line_start(index) : index].strip()

    def content_end(self, node: Node) -> int:
        """Where a node's own text ends: no trailing blank lines or comments of a block."""
        if isinstance(node, ScalarNode):
            end = self.at(node.end_mark)
            if node.style in ("|", ">"):
                while end > self.at(node.start_mark) and self.text[end - 1] in _BLANK:
                    end -= 1
            return end
        if node.flow_style or not node.value:
            return self.at(node.end_mark)
        last = len(node.value) - 1
        if (id(node), last) in self.alias_slots:
            raise CannotPatchError("an alias ends a changed collection")
        child = node.value[last][1] if isinstance(node, MappingNode) else node.value[last]
        return self.content_end(child)

    def region_start(self, line_start: int, column: int) -> int:
        """Extend a line upwards over the comment lines directly above it at `column`."""
        start = line_start
        while start > 0:
            above = self.line_start(start - 1)
            line = self.text[above : start - 1].rstrip("\r")
            stripped = line.lstrip(" ")
            if not stripped.startswith("#") or len(line) - len(stripped) != column:
                break
            start = above
        return start

    def dash(self, item: Node) -> int:
        """Index of the `-` that introduces a block-sequence item."""
        index = self.at(item.start_mark) - 1
        while index >= 0 and self.text[index] in _BLANK:
            index -= 1
        if index < 0 or self.text[index] != "-" or not self.on_own_line(index):
            raise CannotPatchError("unusual block-sequence layout")
        return index

    def region_end(self, line_end: int, column: int) -> int:
        """Extend past a line over the comment lines directly below it indented deeper than
        `column`: at an item's key indent, a comment after its last key is the item's own."""
        end = line_end
        while end < len(self.text):
            below = self.line_end(end)
            line = self.text[end:below].rstrip("\r\n")
            stripped = line.lstrip(" ")
            if not stripped.startswith("#") or len(line) - len(stripped) <= column:
                break
            end = below
        return end

    def after_last(self, last: Node, column: int) -> int:
        """Where lines appended to a block collection go: after its last entry's content and the
        comment lines below it indented deeper than `column`, which are the last entry's own: a
        list item's below its dash (they move with it, see `item_region`), a mapping's last key's
        below its keys."""
        return self.region_end(self.line_end(self.content_end(last)), column)

    def item_region(self, item: Node) -> tuple[int, int]:
        """The lines of a block-sequence item: comments above it at its dash's column, its dash,
        its content, and comments below it at its keys' indent."""
        dash = self.dash(item)
        column = dash - self.line_start(dash)
        start = self.region_start(self.line_start(dash), column)
        return start, self.region_end(self.line_end(self.content_end(item)), column)

    def colon_after(self, key: ScalarNode) -> int:
        index = self.at(key.end_mark)
        while index < len(self.text) and self.text[index] in " \t":
            index += 1
        if index >= len(self.text) or self.text[index] != ":":
            raise CannotPatchError("unusual mapping-key layout")
        return index

    # -- the walk --------------------------------------------------------------------------

    def diff(self, value: Any, node: Node) -> None:
        """Record the edits that make `node`'s text say `value` (same kind of node assumed)."""
        if isinstance(node, ScalarNode):
            if not same_scalar(value, scalar(node)):
                self.replace_scalar(node, value)
            return
        if id(node) in self.visited:
            return
        self.visited.add(id(node))
        if not self.touched(value):
            return
        self.flow_depth += bool(node.flow_style)
        try:
            if isinstance(node, MappingNode):
                self.diff_mapping(value, node)
            else:
                self.diff_sequence(value, node)
        finally:
            self.flow_depth -= bool(node.flow_style)

    def touched(self, value: Any) -> bool:
        """Whether a rewrite changed anything in `value` or below (memoised per container)."""
        known = self._touched.get(id(value))
        if known is None:
            children = value.values() if isinstance(value, dict) else value
            known = not isinstance(value, YMap | YList) or value.changed
            known = known or any(self.touched(child) for child in children if isinstance(child, dict | list))
            self._touched[id(value)] = known
        return known

    def fits(self, value: Any, node: Node) -> bool:
        """Whether `value` can be reached from `node` by edits inside it."""
        if isinstance(node, ScalarNode):
            # An empty value (`key:` alone) has no text of its own to replace: it is written anew.
            return not _is_container(value) and not (value is not None and node.value == "" and not node.style)
        if isinstance(value, YMap | YList) and value.node is node:
            return len(value) > 0
        return False

    def diff_child(self, value: Any, node: Node, replace: Any) -> None:
        """Diff a child in place, or call `replace()` when it has to be rendered anew."""
        if self.fits(value, node):
            mark = len(self.edits)
            try:
                self.diff(value, node)
                return
            except _RenderAnewError:
                del self.edits[mark:]
        replace()

    def diff_mapping(self, mapping: YMap, node: MappingNode) -> None:
        pairs = node.value
        if mapping.merged:
            if build(node) != mapping:
                raise CannotPatchError("a change under a `<<` merge key")
            return
        original = [json_key(key) for key, _ in pairs]
        kept = [key for key in original if key in mapping]
        if not kept:
            raise _RenderAnewError
        for index, (_, value_node) in enumerate(pairs):
            key = original[index]
            if key not in mapping:
                self.delete_pair(node, index)
                continue
            self.diff_child(
                mapping[key], value_node, lambda i=index, v=mapping[key]: self.replace_pair_value(node, i, v)
            )
        present = set(original)
        if len(mapping) > len(kept):
            self.insert_pairs(node, mapping, [key for key in mapping if key not in present])

    def diff_sequence(self, items: YList, node: SequenceNode) -> None:
        originals = node.value
        old_keys = [_item_key(item, True) for item in originals]
        new_keys = [_item_key(item, False) for item in items]
        matcher = difflib.SequenceMatcher(None, old_keys, new_keys, autojunk=False)
        opcodes = matcher.get_opcodes()
        if not any(tag == "equal" for tag, *_ in opcodes):
            raise _RenderAnewError
        for tag, i1, i2, j1, j2 in opcodes:
            if tag == "equal":
                for offset in range(i2 - i1):
                    self.diff(items[j1 + offset], originals[i1 + offset])
                continue
            # Scalars replaced one for one keep their place and style.
            while i1 < i2 and j1 < j2 and isinstance(originals[i1], ScalarNode) and not _is_container(items[j1]):
                self.replace_scalar(originals[i1], items[j1])
                i1 += 1
                j1 += 1
            for index in range(i1, i2):
                self.delete_item(node, index)
            if j1 < j2:
                self.insert_items(node, i1 if i1 < len(originals) else None, items[j1:j2])

    # -- scalar edits ----------------------------------------------------------------------

    def replace_scalar(self, node: ScalarNode, value: Any) -> None:
        self.check_not_alias_target(node)
        if _is_container(value):
            raise CannotPatchError("a scalar became a collection inside a sequence")
        flow = self.flow_depth > 0
        if isinstance(value, str) and node.style in ("'", '"'):
            text = quote(value, node.style)
        elif isinstance(value, str) and node.style in ("|", ">"):
            text = quote(value, '"') if not is_plain_safe(value, flow) else value
        else:
            text = scalar_text(value, self.style, flow=flow)
        self.edits.append(Edit(self.at(node.start_mark), self.content_end(node), text))

    def check_not_alias_target(self, node: Node) -> None:
        if id(node) in self.aliased:
            raise CannotPatchError("a change to a value that is also used through an alias")

    # -- mapping edits ---------------------------------------------------------------------

    def delete_pair(self, node: MappingNode, index: int) -> None:
        pairs = node.value
        key, value = pairs[index][0], self.real(node, index)
        if node.flow_style:
            self.edits.append(self._flow_delete(node, index, key))
            return
        if self.on_own_line(self.at(key.start_mark)):
            start = self.region_start(self.line_start(self.at(key.start_mark)), key.start_mark.column)
            self.edits.append(self._delete_lines(start, self.line_end(self.content_end(value))))
        elif index + 1 < len(pairs):  # first key on a `- ` line: pull the next key up
            self.edits.append(Edit(self.at(key.start_mark), self.at(pairs[index + 1][0].start_mark), ""))
        else:
            raise _RenderAnewError

    def replace_pair_value(self, node: MappingNode, index: int, value: Any) -> None:
        key, old = node.value[index][0], self.real(node, index)
        start = self.colon_after(key) + 1
        end = max(self.content_end(old), start)
        if node.flow_style or not (_is_container(value) and value):
            text = " " + self.flow_text(value, node)
        elif isinstance(value, dict):
            lines = self.render.mapping(value, key.start_mark.column + self.style.indent)
            text = self.style.newline + self.style.newline.join(lines)
        else:
            lines = self.render.sequence(value, key.start_mark.column + self.style.sequence_indent)
            text = self.style.newline + self.style.newline.join(lines)
        self.edits.append(Edit(start, end, text))

    def insert_pairs(self, node: MappingNode, mapping: dict, new_keys: list[Any]) -> None:
        """Insert new keys: in sorted place when the keys are sorted, else where the model puts them."""
        pairs = node.value
        original = [json_key(key) for key, _ in pairs]
        groups: dict[int | None, list[Any]] = {}
        sorted_keys = _sorted_keys(original, self.style.sorted_keys)
        order = list(mapping)
        for key in new_keys:
            anchor: int | None = None
            if sorted_keys is not None and isinstance(key, str):
                later = [i for i in sorted_keys if str(original[i]) > key]
                anchor = later[0] if later else None
            else:
                for following in order[order.index(key) + 1 :]:
                    if following in original:
                        anchor = original.index(following)
                        break
            groups.setdefault(anchor, []).append(key)
        for anchor, keys in groups.items():
            self.edits.append(self._pair_insertion(node, mapping, keys, anchor))

    def _pair_insertion(self, node: MappingNode, mapping: dict, keys: list[Any], anchor: int | None) -> Edit:
        pairs = node.value
        newline = self.style.newline
        if node.flow_style:
            rendered = ", ".join(f"{self.flow_key(key, node)}: {self.flow_text(mapping[key], node)}" for key in keys)
            if anchor is None:
                at = self.content_end(self.real(node, len(pairs) - 1))
                return Edit(at, at, ", " + rendered)
            at = self.at(pairs[anchor][0].start_mark)
            return Edit(at, at, rendered + ", ")
        column = pairs[0][0].start_mark.column
        lines: list[str] = []
        for key in keys:
            lines.extend(self.render.pair(key, mapping[key], column))
        if anchor is None:  # a comment at the keys' column below the last key stays below: it reads
            # as the comment above a key (`region_start`), and a new key must not take it over
            return self._append_lines(self.after_last(self.real(node, len(pairs) - 1), column), lines)
        key = pairs[anchor][0]
        if self.on_own_line(self.at(key.start_mark)):
            at = self.region_start(self.line_start(self.at(key.start_mark)), column)
            return Edit(at, at, newline.join(lines) + newline)
        first = lines[0][column:]
        text = newline.join([first, *lines[1:]]) + newline + " " * column
        return Edit(self.at(key.start_mark), self.at(key.start_mark), text)

    def _delete_lines(self, start: int, end: int) -> Edit:
        """Delete whole lines; the last lines of a text without a final newline take the
        newline before them, so the text still ends without one."""
        if end == len(self.text) and not self.text.endswith("\n") and start > 0:
            start -= 2 if self.text[start - 2 : start] == "\r\n" else 1
        return Edit(start, end, "")

    def _append_lines(self, at: int, lines: list[str]) -> Edit:
        """Whole lines inserted at a line start; at the very end of a text that does not end
        with a newline, the text keeps not ending with one."""
        newline = self.style.newline
        if at == len(self.text) and not self.text.endswith("\n"):
            return Edit(at, at, newline + newline.join(lines))
        return Edit(at, at, newline.join(lines) + newline)

    # -- sequence edits --------------------------------------------------------------------

    def delete_item(self, node: SequenceNode, index: int) -> None:
        item = self.real(node, index)
        if node.flow_style:
            self.edits.append(self._flow_delete(node, index, item))
            return
        start, end = self.item_region(item)
        self.edits.append(self._delete_lines(start, end))

    def insert_items(self, node: SequenceNode, before: int | None, values: list[Any]) -> None:
        """Insert `values` before original item `before` (None: at the end)."""
        items = node.value
        newline = self.style.newline
        quote_char = _sibling_quote(items)
        values_text = [quote(value, quote_char) if quote_char and isinstance(value, str) else None for value in values]
        if node.flow_style:
            rendered = ", ".join(
                text or self.flow_text(value, node) for text, value in zip(values_text, values, strict=True)
            )
            if before is None:
                at = self.content_end(self.real(node, len(items) - 1))
                return self.edits.append(Edit(at, at, ", " + rendered))
            at = self.at(self.real(node, before).start_mark)
            return self.edits.append(Edit(at, at, rendered + ", "))
        dash = self.dash(next(item for i, item in enumerate(items) if (id(node), i) not in self.alias_slots))
        dash_column = dash - self.line_start(dash)
        lines: list[str] = []
        for text, value in zip(values_text, values, strict=True):
            lines.extend([" " * dash_column + "- " + text] if text else self.render.item(value, dash_column))
        if before is None:
            self.edits.append(self._append_lines(self.after_last(self.real(node, len(items) - 1), dash_column), lines))
        else:
            at, _ = self.item_region(self.real(node, before))
            self.edits.append(Edit(at, at, newline.join(lines) + newline))

    # -- flow collections ------------------------------------------------------------------

    def _flow_delete(self, node: Node, index: int, start_node: Node) -> Edit:
        children = node.value
        if len(children) < 2:
            raise _RenderAnewError
        start = self.at(start_node.start_mark)
        if index + 1 < len(children):
            following = children[index + 1]
            following = following[0] if isinstance(following, tuple) else self.real(node, index + 1)
            return Edit(start, self.at(following.start_mark), "")
        return Edit(self.content_end(self.real(node, index - 1)), self.content_end(self.real(node, index)), "")

    def is_json(self, node: Node) -> bool:
        """A flow mapping whose keys are double-quoted: render new entries as JSON."""
        return isinstance(node, MappingNode) and all(key.style == '"' for key, _ in node.value)

    def flow_key(self, key: Any, node: Node) -> str:
        return json.dumps(key) if self.is_json(node) else self.render.scalar(key, True)

    def flow_text(self, value: Any, node: Node) -> str:
        copied = self._copy_flow(value)
        if copied is not None:
            return copied
        if self.is_json(node):
            return json.dumps(plain(value), ensure_ascii=False)
        return self.render.flow(value)

    # -- moved containers ------------------------------------------------------------------

    def _child(self) -> Patcher:
        child = Patcher.__new__(Patcher)
        child.__dict__.update(self.__dict__)
        child.edits = []
        child.render = Renderer(self.style, copy=_weakly(child._copy_item))
        return child

    def _moved(self, value: Any) -> Node | None:
        node = getattr(value, "node", None)
        if node is None or id(node) in self.visited or not len(value):
            return None
        return node

    def _copy_item(self, value: Any, dash_column: int) -> list[str] | None:
        """The original lines of a moved list item, re-indented to `dash_column`, with inner edits."""
        node = self._moved(value)
        if node is None:
            return None
        if node.flow_style:
            text = self._copy_flow(value)
            return None if text is None else [" " * dash_column + "- " + text]
        start, end = self.item_region(node)
        child = self._child()
        child.diff(value, node)
        text = apply(self.text, child.edits, start, end)
        dash = self.dash(node)
        shift = dash_column - (dash - self.line_start(dash))
        lines = text.split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        if self.style.newline == "\r\n":
            lines = [line.removesuffix("\r") for line in lines]
        return [_shift(line, shift) for line in lines]

    def _copy_flow(self, value: Any) -> str | None:
        node = self._moved(value)
        if node is None or not node.flow_style:
            return None
        child = self._child()
        child.diff(value, node)
        text = apply(self.text, child.edits, self.at(node.start_mark), self.content_end(node))
        if "\n" in text:
            raise CannotPatchError("a moved flow collection spans lines")
        return text

    # -- guards ----------------------------------------------------------------------------

    def real(self, node: Node, index: int) -> Node:
        """Child `index` of a collection (a mapping's value), whose marks are where it is written.

        An alias child shares the node of its anchor, so its marks point at the anchor; an edit
        that needs the alias's own position cannot be made.
        """
        if (id(node), index) in self.alias_slots:
            raise CannotPatchError("an edit next to an alias, whose position is not known")
        child = node.value[index]
        return child[1] if isinstance(node, MappingNode) else child


def _shift(line: str, shift: int) -> str:
    if shift >= 0 or not line.strip():
        return " " * shift + line if line.strip() else line
    if line[:-shift].strip():
        raise CannotPatchError("cannot move a container to a shallower indentation")
    return line[-shift:]


def _sibling_quote(items: list[Node]) -> str | None:
    """The quote character every string item of a sequence uses, if they all use the same one."""
    styles = {item.style for item in items if isinstance(item, ScalarNode) and item.tag == "tag:yaml.org,2002:str"}
    return styles.pop() if len(styles) == 1 and styles <= {"'", '"'} else None


def _sorted_keys(keys: list[Any], document_sorted: bool) -> list[int] | None:
    """Indices of the keys that are kept in sorted order (all, or all but a leading `name`).

    Two keys say little about a habit, so a short mapping counts as sorted only in a document
    whose mappings are sorted throughout.
    """
    if not all(isinstance(key, str) for key in keys) or (len(keys) < 3 and not document_sorted):
        return None
    if keys == sorted(keys):
        return list(range(len(keys)))
    if keys and keys[0] == "name" and keys[1:] == sorted(keys[1:]):
        return list(range(1, len(keys)))
    return None


def _item_key(item: Any, original: bool) -> Any:
    """What identifies a sequence item across the edit: its node, or a scalar's typed value."""
    if original:
        if isinstance(item, ScalarNode):
            value = scalar(item)
            return ("scalar", type(value).__name__, value)
        return ("node", id(item))
    if isinstance(item, YMap | YList) and item.node is not None:
        return ("node", id(item.node))
    if _is_container(item):
        return ("new", id(item))
    return ("scalar", type(item).__name__, item)


class _Survey:
    """One document-order walk: where aliases occur, and which nodes they refer to."""

    def __init__(self, root: Node) -> None:
        self.alias_slots: set[tuple[int, int]] = set()  # (collection id, child position)
        self.aliased: set[int] = set()  # nodes that an alias refers to
        self.seen: set[int] = set()
        self.visit(root)

    def visit(self, node: Node) -> None:
        self.seen.add(id(node))
        if isinstance(node, MappingNode):
            children = [child for pair in node.value for child in pair]
        elif isinstance(node, SequenceNode):
            children = node.value
        else:
            return
        for position, child in enumerate(children):
            if id(child) in self.seen:
                self.aliased.add(id(child))
                slot = position // 2 if isinstance(node, MappingNode) else position
                self.alias_slots.add((id(node), slot))
            else:
                self.visit(child)
