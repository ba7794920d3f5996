"""What a rewrite did or declined to do, and what a rule found: the records reports are made of.

Rewrites return `Change`s and never print. `action` says what kind of record it is: `changed`
(the manifest was edited), `skipped` (the workload was left alone on purpose), `warning`
(something the user should look at, nothing edited) or `finding` (a `check` rule fired; `rule`
and `severity` say which and how bad). `line` and `column` are 1-based in the source file, 0
when the record is about something that is not in the source.

A message says what first, and why after: a `changed` message is clauses joined by `; `, each
`what` or `what (why)`; a skip or a rewrite's warning gives its reason after its first `: ` or
`; `, a finding after its first `; ` or in a closing parenthesis. The stderr report shows the
what on the workload's line and prints the rest once, as a note (`report.brief`). `detail`
marks a change that completes another one of the same workload (the startup probe and the grace
period a converted sidecar needs): the report tells it in the note, not on the line.
"""

from __future__ import annotations

from typing import Any, Literal, NamedTuple

Action = Literal["changed", "skipped", "warning", "finding"]
Severity = Literal["error", "warning", "info"]
SEVERITIES: tuple[Severity, ...] = ("info", "warning", "error")  # from the least to the most severe


class Change(NamedTuple):
    """One record: `job/db-migrate` · `cloud-sql-proxy -> native sidecar` · line 31."""

    workload: str
    message: str
    action: Action = "changed"
    line: int = 0
    column: int = 0
    rule: str = ""
    severity: Severity = "info"
    detail: bool = False


def line_of(value: Any) -> int:
    """1-based source line of a model value that came from the text, else 0."""
    node = getattr(value, "node", None)
    return node.start_mark.line + 1 if node is not None else 0


def position(value: Any, key: Any = None) -> tuple[int, int]:
    """1-based (line, column) of a model value, or of `key` (its key node) inside a mapping
    value; (0, 0) for what did not come from the text."""
    node = getattr(value, "node", None)
    if node is None:
        return 0, 0
    if key is not None and hasattr(node, "value") and isinstance(node.value, list):
        for pair in node.value:
            if isinstance(pair, tuple) and getattr(pair[0], "value", None) == key:
                return pair[0].start_mark.line + 1, pair[0].start_mark.column + 1
    return node.start_mark.line + 1, node.start_mark.column + 1
