"""How `nativecar check` writes its findings: text, json, sarif (2.1.0) or github annotations.

Each formatter takes the findings of every file (`(file name, findings)` pairs) and returns the
text for stdout; the machine formats (`FORMATS`) also take the inputs that could not be checked
(`BadInput`) and name them in the same document: json in its `errors`, sarif as results of the
pseudo-rule NC000 (`rules.INVALID_INPUT`) and as tool execution notifications, github as `::error`
lines. SARIF and github name each file relative to the root of the repository that holds it (the
nearest directory upwards with `.git`), else to the working directory, wherever the run started,
as GitHub code scanning and workflow annotations match them (`Places`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple
from urllib.parse import quote

from nativecar import __version__
from nativecar.changes import Change
from nativecar.documents import InputError
from nativecar.files import STDIN_NAME
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


def sarif(findings: Findings, bad: list[BadInput] | None = None, cwd: Path | None = None) -> str:
    """A SARIF 2.1.0 log that GitHub code scanning accepts: a result per finding, and per input
    that could not be checked a tool execution notification (`executionSuccessful` is then false)
    and, when it names a file, a result of NC000 there.

    A file's URI is relative (percent-encoded), with the `uriBaseId` of the root it is relative to
    (`Places`; `originalUriBaseIds` gives each root's absolute URI): `%SRCROOT%` for the first root
    met, `%SRCROOT2%`... for the others. A file outside every repository and the working directory
    gets an absolute `file:` URI and no `uriBaseId` (SARIF §3.4.4 allows a base only for a relative
    URI); standard input is `stdin`."""
    bad = bad or []
    catalogue = [INVALID_INPUT, *rules()]
    index = {rule.id: position for position, rule in enumerate(catalogue)}
    places = Places(cwd)
    bases: dict[Path, str] = {}

    def artifact(name: str) -> dict:
        place = places(name)
        if place.root is None:
            path = Path(place.path)
            return {"uri": path.as_uri() if path.is_absolute() else quote(os.fsencode(place.path))}
        base = bases.setdefault(place.root, f"%SRCROOT{len(bases) + 1 if bases else ''}%")
        return {"uri": quote(os.fsencode(place.path)), "uriBaseId": base}

    def location(name: str, line: int, column: int) -> dict:
        region = {"startLine": max(line, 1)}
        if column:
            region["startColumn"] = column
        return {"physicalLocation": {"artifactLocation": artifact(name), "region": region}}

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
        if where:  # GitHub code scanning refuses a result without a location (its rule GH1015)
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
    urls = project_urls()
    driver: dict = {"name": "nativecar", "version": __version__}
    if "Repository" in urls:
        driver["informationUri"] = urls["Repository"]
    driver["rules"] = [_sarif_rule(rule, urls) for rule in catalogue]
    invocation: dict = {"executionSuccessful": not bad}
    if notifications:
        invocation["toolExecutionNotifications"] = notifications
    log = {
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {"driver": driver},
                "invocations": [invocation],
                "originalUriBaseIds": {base: {"uri": _directory_uri(root)} for root, base in bases.items()},
                "columnKind": "unicodeCodePoints",  # libyaml counts characters, not UTF-16 units
                "results": results,
            }
        ],
    }
    if not bases:
        del log["runs"][0]["originalUriBaseIds"]
    return json.dumps(log, indent=2)


def _directory_uri(directory: Path) -> str:
    """A directory's absolute `file:` URI, ending in `/` as a base URI must (SARIF §3.14.14)."""
    uri = directory.as_uri()
    return uri if uri.endswith("/") else uri + "/"


def _sarif_rule(rule: Rule, urls: dict[str, str]) -> dict:
    described = {
        "id": rule.id,
        "name": "".join(part.title() for part in rule.name.split("-")),
        "shortDescription": {"text": rule.summary},
        "fullDescription": {"text": rule.doc},
        "help": {"text": rule.doc},
        "defaultConfiguration": {"level": SARIF_LEVEL[rule.severity]},
        "properties": {"tags": ["kubernetes", "sidecar"]},
    }
    if "Rules" in urls:
        described["helpUri"] = f"{urls['Rules']}#{rule.id.lower()}"  # docs/rules.md's heading `## NC001`
    return described


def project_urls() -> dict[str, str]:
    """The `[project.urls]` of pyproject.toml (label -> URL) as the installed package's metadata
    holds them: `Repository` is the driver's `informationUri`, `Rules` (docs/rules.md, made by
    `nativecar rules --markdown`) the base of each rule's `helpUri`. Empty when nativecar runs
    from a source tree that was never installed; the log then goes without them."""
    from importlib import metadata

    try:
        entries = metadata.metadata("nativecar").get_all("Project-URL") or []
    except metadata.PackageNotFoundError:
        return {}
    return dict(entry.split(", ", 1) for entry in entries if ", " in entry)


class Place(NamedTuple):
    """Where a file is for GitHub: `path` (POSIX separators) relative to `root`, the root of the
    repository that holds the file, else the working directory if that holds it; else `root` is
    None and `path` absolute (or `stdin`)."""

    root: Path | None
    path: str


class Places:
    """Each file's `Place`, found from the file, not from where the run started: a run from
    another directory names the files of a repository as a run from its root does.

    A repository's root is the nearest directory upwards with `.git` (a directory, or the file
    a worktree or submodule has there), looked for on the path as it was named, not with
    symbolic links resolved: a linked directory of the repository is where the repository has it.
    """

    def __init__(self, cwd: Path | None = None) -> None:
        self.cwd = Path(os.path.normpath(Path.cwd() / (cwd or "")))
        self._roots: dict[Path, Path | None] = {}

    def __call__(self, name: str) -> Place:
        if name == STDIN_NAME:
            return Place(None, "stdin")
        path = Path(os.path.normpath(self.cwd / name))  # `..` taken away lexically, links kept
        root = self._repository(path)
        if root is None and path.is_relative_to(self.cwd):
            root = self.cwd
        if root is None:
            return Place(None, path.as_posix())
        return Place(root, path.relative_to(root).as_posix())

    def _repository(self, path: Path) -> Path | None:
        walked: list[Path] = []
        found: Path | None = None
        for directory in (path, *path.parents):
            if directory in self._roots:
                found = self._roots[directory]
                break
            walked.append(directory)
            if (directory / ".git").exists():
                found = directory
                break
        for directory in walked:
            self._roots[directory] = found
        return found


def github(findings: Findings, bad: list[BadInput] | None = None, cwd: Path | None = None) -> str:
    """GitHub Actions workflow commands: `::error file=F,line=L,col=C,title=T::message`, with
    F relative to the root of the repository that holds the file (`Places`), where GitHub looks
    for it. The inputs that could not be checked come first (GitHub shows only the first ten
    errors of a step), titled NC000."""
    places = Places(cwd)
    lines = []
    for item in bad or []:
        where = (("file", places(item.file).path), ("line", item.line), ("col", item.column))
        title = ("title", f"{INVALID_INPUT.id} {INVALID_INPUT.name}")
        lines.append(_command("error", (*where, title) if item.file is not None else (title,), item.message))
    for name, items in findings:
        relative = places(name).path
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
