"""What a rewrite did or declined to do to one workload: the records the report is made of.

Rewrites return `Change`s and never print. `action` says what kind of record it is: `changed`
(the manifest was edited), `skipped` (the workload was left alone on purpose) or `warning`
(something the user should look at, nothing edited). `line` is 1-based in the source file,
0 when the change is about something that did not exist in the source.
"""

from __future__ import annotations

from typing import Any, Literal, NamedTuple

Action = Literal["changed", "skipped", "warning"]


class Change(NamedTuple):
    """One record: `job/db-migrate` · `cloud-sql-proxy -> native sidecar` · line 31."""

    workload: str
    message: str
    action: Action = "changed"
    line: int = 0


def line_of(value: Any) -> int:
    """1-based source line of a model value that came from the text, else 0."""
    node = getattr(value, "node", None)
    return node.start_mark.line + 1 if node is not None else 0
