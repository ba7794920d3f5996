"""How `nativecar check` writes its findings: text, json, sarif (2.1.0) or github annotations.

Each formatter takes the findings of every file (`(file name, findings)` pairs) and returns the
text for stdout; the machine formats (`FORMATS`) also take the inputs that could not be checked
(`BadInput`) and name them in the same document: json in its `errors`, sarif as results of the
pseudo-rule NC000 (`rules.INVALID_INPUT`) and as tool execution notifications, github as `::error`
lines. SARIF gives file URIs relative to the repository root (the nearest directory with `.git`,
else the working directory), as GitHub code scanning wants them.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

from nativecar import __version__
from nativecar.changes import Change
from nativecar.documents import InputError
from nativecar.report import visible
from nativecar.rules import INVALID_INPUT, Rule, rules

Findings = list[tuple[str, list[Change]]]


class BadInput(NamedTuple):
    """An input that could not be checked, as `FILE:LINE:COL: message` names it on stderr; `file`
    is None (and `line`, `column` 0) for an error that names no file."""

    file: str | None
    line: int
    column: int
    message: str

    @classmethod
    def of(cls, error: InputError | str) -> BadInput:
        """What the report was told (`Report.bad`), as a record."""
        if isinstance(error, InputError):
            return cls(error.path, error.line, error.column, error.message)
        return cls(None, 0, 0, str(error))


SARIF_LEVEL = {"error": "error", "warning": "warning", "info": "note"}
GITHUB_LEVEL = {"error": "error", "warning": "warning", "info": "notice"}
SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"


def text(findings: Findings, colour: bool = False) -> str:
    """Findings grouped by file: `  14:9  error    NC001  job/x: message` (control characters
    from the manifests escaped, `report.visible`)."""
    lines: list[str] = []
    for name, items in findings:
        if not items:
            continue
        lines.append(visible(name))
        for finding in items:
            where = f"{finding.line}:{finding.column}"
            said = visible(f"{finding.workload}: {finding.message}")
            lines.append(f"  {where:<8} {finding.severity:<8} {finding.rule}  {said}")
        lines.append("")
    while lines and not lines[-1]:
        lines.pop()
    if colour and lines:
        return _coloured(lines)
    return "\n".join(lines)


def _coloured(lines: list[str]) -> str:
    from io import StringIO

    from rich.console import Console

    buffer = StringIO()
    console = Console(file=buffer, force_terminal=True, highlight=False, soft_wrap=True)
    styles = {"error": "red", "warning": "yellow", "info": "cyan"}
    for line in lines:
        if line and not line.startswith(" "):
            console.print(line, style="bold underline", markup=False)
            continue
        style = next((colour for word, colour in styles.items() if f" {word} " in line[:20]), None)
        console.print(line, style=style, markup=False)
    return buffer.getvalue().rstrip("\n")


def as_json(findings: Findings, bad: list[BadInput] | None = None) -> str:
    """`{"findings": [...], "errors": [...]}`: every finding with its file, line, column, rule,
    severity, workload and message; every input that could not be checked with its file, line,
    column and message (`file` null for an error that names no file)."""
    records = [
        {
            "file": name,
            "line": finding.line,
            "column": finding.column,
            "rule": finding.rule,
            "severity": finding.severity,
            "workload": finding.workload,
            "message": finding.message,
        }
        for name, items in findings
        for finding in items
    ]
    errors = [item._asdict() for item in bad or []]
    return json.dumps({"findings": records, "errors": errors}, indent=2)


def sarif(findings: Findings, bad: list[BadInput] | None = None, root: Path | None = None) -> str:
    """A SARIF 2.1.0 log that GitHub code scanning accepts: a result per finding, and per input
    that could not be checked a result of NC000 and a tool execution notification
    (`executionSuccessful` is then false)."""
    root = (root or repository_root()).resolve()
    bad = bad or []
    catalogue = [INVALID_INPUT, *rules()]
    index = {rule.id: position for position, rule in enumerate(catalogue)}

    def location(name: str, line: int, column: int) -> dict:
        region = {"startLine": max(line, 1)}
        if column:
            region["startColumn"] = column
        return {
            "physicalLocation": {
                "artifactLocation": {"uri": _relative_uri(name, root), "uriBaseId": "%SRCROOT%"},
                "region": region,
            }
        }

    results = []
    for name, items in findings:
        for finding in items:
            results.append(
                {
                    "ruleId": finding.rule,
                    "ruleIndex": index[finding.rule],
                    "level": SARIF_LEVEL[finding.severity],
                    "message": {"text": f"{finding.workload}: {finding.message}"},
                    "locations": [location(name, finding.line, finding.column)],
                }
            )
    notifications = []
    for item in bad:
        where = [location(item.file, item.line, item.column)] if item.file is not None else []
        results.append(
            {
                "ruleId": INVALID_INPUT.id,
                "ruleIndex": index[INVALID_INPUT.id],
                "level": "error",
                "message": {"text": item.message},
                "locations": where,
            }
        )
        notifications.append(
            {
                "level": "error",
                "message": {"text": item.message},
                "locations": where,
                "associatedRule": {"id": INVALID_INPUT.id, "index": index[INVALID_INPUT.id]},
            }
        )
    invocation: dict = {"executionSuccessful": not bad}
    if notifications:
        invocation["toolExecutionNotifications"] = notifications
    log = {
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "nativecar",
                        "version": __version__,
                        "rules": [_sarif_rule(rule) for rule in catalogue],
                    }
                },
                "invocations": [invocation],
                "originalUriBaseIds": {"%SRCROOT%": {"uri": root.as_uri() + "/"}},
                "results": results,
            }
        ],
    }
    return json.dumps(log, indent=2)


def _sarif_rule(rule: Rule) -> dict:
    return {
        "id": rule.id,
        "name": "".join(part.title() for part in rule.name.split("-")),
        "shortDescription": {"text": rule.summary},
        "fullDescription": {"text": rule.doc},
        "help": {"text": rule.doc},
        "defaultConfiguration": {"level": SARIF_LEVEL[rule.severity]},
        "properties": {"tags": ["kubernetes", "sidecar"]},
    }


def _relative_uri(name: str, root: Path) -> str:
    if name == "<stdin>":
        return "stdin"
    path = Path(name).resolve()
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.as_posix()


def repository_root(start: Path | None = None) -> Path:
    """The nearest directory upwards with `.git`, else the working directory."""
    here = (start or Path.cwd()).resolve()
    for directory in (here, *here.parents):
        if (directory / ".git").exists():
            return directory
    return here


def github(findings: Findings, bad: list[BadInput] | None = None, root: Path | None = None) -> str:
    """GitHub Actions workflow commands: `::error file=F,line=L,col=C,title=T::message`, with
    F relative to the repository root, where GitHub looks for it. The inputs that could not be
    checked come first (GitHub shows only the first ten errors of a step), titled NC000."""
    root = (root or repository_root()).resolve()
    lines = []
    for item in bad or []:
        where = (("file", _relative_uri(item.file, root)), ("line", item.line), ("col", item.column))
        title = ("title", f"{INVALID_INPUT.id} {INVALID_INPUT.name}")
        lines.append(_command("error", (*where, title) if item.file is not None else (title,), item.message))
    for name, items in findings:
        relative = _relative_uri(name, root)
        for finding in items:
            properties = (
                ("file", relative),
                ("line", finding.line),
                ("col", finding.column),
                ("title", f"{finding.rule} {finding.workload}"),
            )
            message = f"{finding.workload}: {finding.message}"
            lines.append(_command(GITHUB_LEVEL[finding.severity], properties, message))
    return "\n".join(lines)


def _command(level: str, properties: tuple[tuple[str, object], ...], message: str) -> str:
    """One workflow command, its property values and message escaped."""
    joined = ",".join(f"{key}={escape_property(str(value))}" for key, value in properties)
    return f"::{level} {joined}::{escape_data(message)}"


def escape_data(value: str) -> str:
    """Escaping of a workflow command's message, as @actions/core does it."""
    return value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(value: str) -> str:
    """Escaping of a workflow command's property value: the message's, plus `:` and `,`."""
    return escape_data(value).replace(":", "%3A").replace(",", "%2C")


FORMATS: dict[str, Callable[[Findings, list[BadInput]], str]] = {"json": as_json, "sarif": sarif, "github": github}
