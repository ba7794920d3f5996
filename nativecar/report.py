"""What a run tells the user on stderr, and the exit code it ends with.

The `Report` owns both, like black's: it hears about every input (changed, unchanged, bad)
and turns that into one line per changed or skipped workload, a line per warning or finding at
its place, the notes, a closing summary, and 0 (done), 1 (`--check` found work) or 2 (bad usage
or bad input). Colour is used only when stderr is a terminal, and rich is imported only then.

Every line about an input starts with its name (`<stdin>` for standard input). A line says
what happened, short; why is said once, in a numbered note printed before the summary, however
many workloads it concerns (`changes.Change` says how a message separates the two).
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TextIO

from nativecar.changes import SEVERITIES, Change, Severity
from nativecar.documents import InputError

if TYPE_CHECKING:
    from nativecar.engine import Records


PATCH = "kustomize patch"  # what the records of an edited kustomize patch are about


@dataclass
class Report:
    """Collects a run's results and writes its messages to `stream` (stderr)."""

    stream: TextIO = field(default_factory=lambda: sys.stderr)
    quiet: bool = False
    check: bool = False
    in_place: bool = False
    diff: bool = False
    destination: str = "standard output"  # where the stream goes: `-o FILE` names its file
    colour: bool | None = None
    errors: int = 0
    changed_files: int = 0
    unchanged_files: int = 0
    converted: int = 0
    skipped: int = 0
    warnings: int = 0
    left: int = 0
    patches: int = 0
    bad: list[InputError | str] = field(default_factory=list)  # what `error` was told, for machine formats

    def __post_init__(self) -> None:
        if self.colour is None:
            self.colour = self.stream.isatty()
        self._console = None
        self._notes: dict[str, int] = {}  # each note's text, with its number

    # -- output --------------------------------------------------------------------------------

    def _print(self, text: str, style: str | None = None) -> None:
        text = visible(text)
        if self.colour and style:
            if self._console is None:
                from rich.console import Console

                self._console = Console(file=self.stream, highlight=False, soft_wrap=True)
            self._console.print(text, style=style, markup=False)
        else:
            print(text, file=self.stream)

    # -- events --------------------------------------------------------------------------------

    def error(self, error: InputError | str) -> None:
        """Bad input or usage: always shown, even with --quiet."""
        self.errors += 1
        self.bad.append(error)
        self._print(f"{error}" if isinstance(error, InputError) else f"error: {error}", "bold red")

    def warning(self, message: str) -> None:
        """Something the user most likely did not mean (not with --quiet)."""
        self.warnings += 1
        if not self.quiet:
            self._print(f"warning: {message}", "yellow")

    def note(self, message: str) -> None:
        """Something passed over that is no error (a FIFO in a walked directory); not with --quiet."""
        if not self.quiet:
            self._print(message, "yellow")

    def outcome(self, name: str, outcome: Records) -> None:
        """The records of one processed input."""
        if outcome.changed:
            self.changed_files += 1
        else:
            self.unchanged_files += 1
        for workload, changes in _by_workload(outcome.changes):
            self._workload(name, workload, changes)
        for index in outcome.reemitted:
            self.warnings += 1
            if not self.quiet:
                self._print(
                    f"{name}: warning: document {index + 1} was re-emitted by ruamel.yaml because its text "
                    "could not be patched exactly; review its layout",
                    "yellow",
                )

    def _workload(self, name: str, workload: str, changes: list[Change]) -> None:
        """One line for what became of a workload, then one per warning or finding, at its place."""
        edits = [change for change in changes if change.action == "changed"]
        skips = [change for change in changes if change.action == "skipped"]
        if edits and workload == PATCH:
            self.patches += 1  # a kustomize patch that follows a moved sidecar is no workload
        elif edits:
            self.converted += 1
        self.skipped += len(skips)
        self.warnings += sum(1 for change in changes if change.action == "warning")
        self.left += sum(1 for change in changes if change.action == "finding")
        if self.quiet:
            return
        said = []
        if edits:
            said.append(("would change: " if self.check else "") + self._said(edits))
        if skips:
            said.append("skipped: " + "; ".join(self._said([change]) for change in skips))
        if said:
            self._print(f"{name}: {workload}: {'; '.join(said)}", "green" if edits else "yellow")
        for change in changes:
            if change.action == "warning":
                where = f":{change.line}" + (f":{change.column}" if change.column else "") if change.line else ""
                kind = f"warning {change.rule}" if change.rule else "warning"
                self._print(f"{name}{where}: {kind}: {workload}: {self._said([change])}", "yellow")
            elif change.action == "finding":
                where = f":{change.line}:{change.column}" if change.line else ""
                style = {"error": "red", "warning": "yellow"}.get(change.severity, "cyan")
                said = self._said([change])
                self._print(f"{name}{where}: {change.severity} {change.rule}: {workload}: {said}", style)

    def _said(self, changes: list[Change]) -> str:
        """What a line says of `changes` (`brief`), and the number of the note that tells the rest."""
        what, rest = brief(changes)
        return f"{what} [{self._note(rest)}]" if rest else what

    def _note(self, text: str) -> int:
        return self._notes.setdefault(text, len(self._notes) + 1)

    def findings(self, found: list[Change], files: int, fail_on: Severity = "error") -> int:
        """The closing line of `check`, and its exit code: 2 when an input was bad (its findings
        are missing), else 1 when any finding is at or above the severity `fail_on`."""
        counts = {
            severity: sum(1 for f in found if f.severity == severity) for severity in ("error", "warning", "info")
        }
        if not self.quiet:
            parts = [_count(counts[severity], severity) for severity in counts if counts[severity]]
            bad = f"; {_count(self.errors, 'bad input')}, named above" if self.errors else ""
            self._print(f"{', '.join(parts) or 'no findings'} in {_count(files, 'file')}{bad}.", "bold")
        if self.errors:
            return 2
        threshold = SEVERITIES.index(fail_on)
        return 1 if any(SEVERITIES.index(f.severity) >= threshold for f in found) else 0

    def summary(self) -> None:
        """The closing line, black-style.

        With errors it says what was written: nothing at all, or with `-i` everything but what
        the errors name, since each file stands alone there.
        """
        if self.errors and not self.in_place:
            self._print(f"{_count(self.errors, 'error')}; nothing was written.", "bold red")
            return
        left = ""
        if self.errors:
            named = "what it names was" if self.errors == 1 else "what they name was"
            left = f"{_count(self.errors, 'error')}: {named} left as it was."
        if self.quiet:
            if left:
                self._print(left, "bold red")
            return
        for text, number in self._notes.items():
            self._print(f"note [{number}]: {text}", "dim")
        files = self.changed_files + self.unchanged_files
        unchanged = f"{self.unchanged_files} of {files} unchanged"
        if self.in_place:
            converted, written = "converted", f"; {_count(self.changed_files, 'file')} rewritten, {unchanged}"
        elif self.check or self.diff:
            converted, written = "to convert", f"; would rewrite {_count(self.changed_files, 'file')}, {unchanged}"
        else:  # to standard output: no file was touched, whatever the inputs were
            converted, written = f"converted (written to {self.destination})", ""
        parts = [f"{_count(self.converted, 'workload')} {converted}"]
        if self.patches:
            parts.append(f"{_count(self.patches, 'kustomize patch', 'kustomize patches')} edited")
        if self.skipped:
            parts.append(f"{self.skipped} skipped")
        if self.warnings:
            parts.append(_count(self.warnings, "warning"))
        if self.left:
            parts.append(f"{_count(self.left, 'finding')} left (nativecar rules ID explains one)")
        line = f"{', '.join(parts)}{written}."
        if left:
            line = f"{line[:-1]}; {left}"
        self._print(line, "bold red" if left else "bold")

    @property
    def exit_code(self) -> int:
        if self.errors:
            return 2
        if self.check and self.changed_files:
            return 1
        return 0


def _count(number: int, noun: str, plural: str | None = None) -> str:
    return f"{number} {noun if number == 1 else plural or noun + 's'}"


def _by_workload(changes: Iterable[Change]) -> list[tuple[str, list[Change]]]:
    grouped: dict[str, list[Change]] = {}
    for change in changes:
        grouped.setdefault(change.workload, []).append(change)
    return list(grouped.items())


def brief(changes: list[Change]) -> tuple[str, str]:
    """What a line says of `changes` (all of a workload's edits, or one skip, warning or finding),
    and what it leaves to a note ("" when the line says it all).

    Of edits, the line says the first clause of each change that is no `detail` of another
    (`cloud-sql-proxy -> native sidecar`, without a closing `(why)`); the note holds every other
    clause, and a shortened one whole. Of a skip or a rewrite's warning, the line says what comes
    before its first `: ` or `; `, a finding before its first `; `, and either without a closing
    `(why)`; the note holds the rest (the whole message when a `(why)` was cut). Separators
    inside brackets do not count.
    """
    first = changes[0]
    if first.action == "changed":
        main = [change for change in changes if not change.detail] or changes[:1]
        said: list[str] = []
        rest: list[str] = []
        for change in changes:
            clauses = _split(change.message, "; ")
            if any(change is other for other in main):
                what, why = _parenthesised(clauses[0])
                said.append(what)
                rest.extend(clauses if why else clauses[1:])
            else:
                rest.extend(clauses)
        return "; ".join(said), "; ".join(rest)
    message = first.message
    separators = ("; ",) if first.action == "finding" else (": ", "; ")
    cut = min((index for separator in separators if (index := _top_level(message, separator)) >= 0), default=-1)
    head, tail = (message[:cut], message[cut + 2 :]) if cut > 0 else (message, "")
    what, why = _parenthesised(head)
    return what, message if why else tail


_OPENING, _CLOSING = "([{", ")]}"


def _top_level(text: str, separator: str) -> int:
    """Where `separator` first stands outside all brackets in `text`, else -1."""
    depth = 0
    for index, character in enumerate(text):
        if character in _OPENING:
            depth += 1
        elif character in _CLOSING:
            depth = max(depth - 1, 0)
        elif depth == 0 and text.startswith(separator, index):
            return index
    return -1


def _split(text: str, separator: str) -> list[str]:
    parts = []
    while (index := _top_level(text, separator)) >= 0:
        parts.append(text[:index])
        text = text[index + len(separator) :]
    return [*parts, text]


def _parenthesised(clause: str) -> tuple[str, str]:
    """`what (why)` -> (`what`, `why`); a clause that does not end so -> (clause, ``)."""
    if not clause.endswith(")"):
        return clause, ""
    depth = 0
    for index in range(len(clause) - 1, -1, -1):
        depth += {")": 1, "(": -1}.get(clause[index], 0)
        if depth == 0:
            if index > 1 and clause[index - 1] == " ":
                return clause[: index - 1], clause[index + 1 : -1]
            return clause, ""
    return clause, ""


def printable(text: str) -> bytes:
    """`text` as UTF-8 for stdout; what cannot be encoded (a file name's undecodable bytes, kept
    by Python as surrogate escapes) is written as a backslash escape, as Python writes it to stderr."""
    return text.encode("utf-8", errors="backslashreplace")


_CONTROLS = {code: f"\\x{code:02x}" for code in (*range(0x20), 0x7F, *range(0x80, 0xA0)) if code != 0x09}
_CONTROLS.update({0x0A: "\\n", 0x0D: "\\r"})


def visible(text: str) -> str:
    """`text` for a terminal: the control characters a manifest may carry (ESC, BEL, CR, the C1
    codes such as CSI) written as `\\xNN`, `\\n` or `\\r`, so that a workload's name cannot
    retitle the window, clear the screen or start a new line; tab stays as it is."""
    return text.translate(_CONTROLS)
