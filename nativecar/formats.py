"""How `nativecar check` writes its findings: text, json, sarif (2.1.0) or github annotations.

Each formatter takes the findings of every file (`(file name, findings)` pairs) and returns the
text for stdout. SARIF gives file URIs relative to the repository root (the nearest directory
with `.git`, else the working directory), as GitHub code scanning wants them.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from nativecar import __version__
from nativecar.changes import Change
from nativecar.report import visible
from nativecar.rules import Rule, rules

Findings = list[tuple[str, list[Change]]]
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


def as_json(findings: Findings) -> str:
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
    return json.dumps({"findings": records}, indent=2)


def sarif(findings: Findings, root: Path | None = None) -> str:
    """A SARIF 2.1.0 log that GitHub code scanning accepts."""
    root = (root or repository_root()).resolve()
    catalogue = rules()
    index = {rule.id: position for position, rule in enumerate(catalogue)}
    results = []
    for name, items in findings:
        uri = _relative_uri(name, root)
        for finding in items:
            region = {"startLine": max(finding.line, 1)}
            if finding.column:
                region["startColumn"] = finding.column
            results.append(
                {
                    "ruleId": finding.rule,
                    "ruleIndex": index[finding.rule],
                    "level": SARIF_LEVEL[finding.severity],
                    "message": {"text": f"{finding.workload}: {finding.message}"},
                    "locations": [
                        {
                            "physicalLocation": {
                                "artifactLocation": {"uri": uri, "uriBaseId": "%SRCROOT%"},
                                "region": region,
                            }
                        }
                    ],
                }
            )
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


def github(findings: Findings, root: Path | None = None) -> str:
    """GitHub Actions workflow commands: `::error file=F,line=L,col=C,title=T::message`, with
    F relative to the repository root, where GitHub looks for it."""
    root = (root or repository_root()).resolve()
    lines = []
    for name, items in findings:
        relative = _relative_uri(name, root)
        for finding in items:
            properties = ",".join(
                f"{key}={escape_property(str(value))}"
                for key, value in (
                    ("file", relative),
                    ("line", finding.line),
                    ("col", finding.column),
                    ("title", f"{finding.rule} {finding.workload}"),
                )
            )
            message = escape_data(f"{finding.workload}: {finding.message}")
            lines.append(f"::{GITHUB_LEVEL[finding.severity]} {properties}::{message}")
    return "\n".join(lines)


def escape_data(value: str) -> str:
    """Escaping of a workflow command's message, as @actions/core does it."""
    return value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(value: str) -> str:
    """Escaping of a workflow command's property value: the message's, plus `:` and `,`."""
    return escape_data(value).replace(":", "%3A").replace(",", "%2C")


FORMATS: dict[str, Callable[[Findings], str]] = {"json": as_json, "sarif": sarif, "github": github}
