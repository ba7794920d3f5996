"""Unified diffs of rewritten inputs, `a/NAME` to `b/NAME`, as `git diff` and black print them.

A stream is diffed a piece (a document) at a time: difflib's `SequenceMatcher` matches the lines
of each piece that changed, and the hunks are cut from those matches the way difflib cuts them
(`CONTEXT` unchanged lines around each change, hunks closer than twice that joined) with line
numbers counted over the whole input. So a diff costs time and memory in proportion to what
changed, not to the stream. Lines end at "\\n" only, as in git.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass, field

CONTEXT = 3  # unchanged lines shown around a change, as in diff -u and git diff


def lines(text: str) -> list[str]:
    """`text` split after each "\\n" (a last line without one kept as it is)."""
    found = text.split("\n")
    last = found.pop()
    result = [line + "\n" for line in found]
    if last:
        result.append(last)
    return result


@dataclass
class _Hunk:
    """A hunk being gathered: its first lines in the input as it was and as it is now (0-based),
    its lines with their `-`, `+` or ` ` prefix, and how many unchanged lines end it."""

    before_start: int
    after_start: int
    body: list[str] = field(default_factory=list)
    before_count: int = 0
    after_count: int = 0
    trailing: int = 0
    removed: list[str] = field(default_factory=list)  # a change's lines not in `body` yet: changes
    added: list[str] = field(default_factory=list)  # side by side print all removals first


class StreamDiff:
    """The unified diff of one input, fed a piece at a time (`add`) and written to `write` a hunk
    at a time; `close` writes the last one. Pieces must end at line ends (but the last)."""

    def __init__(self, name: str, write: Callable[[str], object]) -> None:
        self.name = name
        self.write = write
        self.before_line = 0  # lines fed so far
        self.after_line = 0
        self.lead: list[str] = []  # the last unchanged lines: the context a new hunk starts with
        self.hunk: _Hunk | None = None
        self.started = False

    def add(self, before: str, after: str) -> None:
        """One piece of the input: as it was and as it is now."""
        if before == after:
            self._unchanged(before)
            return
        old, new = lines(before), lines(after)
        for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, old, new).get_opcodes():
            if tag == "equal":
                self._unchanged("".join(old[i1:i2]))
            else:
                self._changed(old[i1:i2], new[j1:j2])

    def _changed(self, old: list[str], new: list[str]) -> None:
        hunk = self.hunk
        if hunk is None:
            hunk = self.hunk = _Hunk(self.before_line - len(self.lead), self.after_line - len(self.lead))
            self._context(self.lead)
        hunk.removed.extend("-" + line for line in old)
        hunk.added.extend("+" + line for line in new)
        hunk.before_count += len(old)
        hunk.after_count += len(new)
        hunk.trailing = 0
        self.before_line += len(old)
        self.after_line += len(new)
        self.lead = []

    def _context(self, found: list[str]) -> None:
        assert self.hunk is not None
        self._settle(self.hunk)
        self.hunk.body.extend(" " + line for line in found)
        self.hunk.before_count += len(found)
        self.hunk.after_count += len(found)
        self.hunk.trailing += len(found)

    def _unchanged(self, text: str) -> None:
        """Unchanged lines: after an open hunk they are kept while a change might still join it,
        and once there are more than twice the context of them the hunk is written; the last few
        are the context the next hunk starts with."""
        if self.hunk is not None:
            self._context(lines(_head(text, 2 * CONTEXT + 1 - self.hunk.trailing)))
            if self.hunk.trailing > 2 * CONTEXT:
                self._flush()
        self.lead = (self.lead + lines(_tail(text, CONTEXT)))[-CONTEXT:]
        count = text.count("\n") + (1 if text and not text.endswith("\n") else 0)
        self.before_line += count
        self.after_line += count

    @staticmethod
    def _settle(hunk: _Hunk) -> None:
        hunk.body.extend(hunk.removed)
        hunk.body.extend(hunk.added)
        hunk.removed.clear()
        hunk.added.clear()

    def _flush(self) -> None:
        hunk, self.hunk = self.hunk, None
        if hunk is None:
            return
        self._settle(hunk)
        extra = max(0, hunk.trailing - CONTEXT)
        if extra:
            del hunk.body[-extra:]
        pieces = [] if self.started else [f"--- a/{self.name}\n", f"+++ b/{self.name}\n"]
        self.started = True
        before = _range(hunk.before_start, hunk.before_count - extra)
        after = _range(hunk.after_start, hunk.after_count - extra)
        pieces.append(f"@@ -{before} +{after} @@\n")
        pieces.extend(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n" for line in hunk.body)
        self.write("".join(pieces))

    def close(self) -> None:
        """Write what is left."""
        self._flush()


def _range(start: int, count: int) -> str:
    """A hunk's range as diff -u writes it: `LINE,COUNT` from 1, `LINE` for one line, and the
    line before for none."""
    if count == 1:
        return f"{start + 1}"
    return f"{start + 1 if count else start},{count}"


def _head(text: str, count: int) -> str:
    """The first `count` lines of `text`."""
    end = 0
    for _ in range(count):
        found = text.find("\n", end)
        if found < 0:
            return text
        end = found + 1
    return text[:end]


def _tail(text: str, count: int) -> str:
    """The last `count` lines of `text`."""
    start = len(text) - 1 if text.endswith("\n") else len(text)
    for _ in range(count):
        found = text.rfind("\n", 0, start)
        if found < 0:
            return text
        start = found
    return text[start + 1 :]


def unified_diff(name: str, before: str, after: str) -> str:
    """The unified diff of one whole input (empty when nothing changed)."""
    written: list[str] = []
    diff = StreamDiff(name, written.append)
    diff.add(before, after)
    diff.close()
    return "".join(written)
