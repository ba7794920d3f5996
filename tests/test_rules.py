"""`nativecar check`: every rule fires where it must, stays quiet where it must, and points at
the very line and column of the offending node. Fixtures: tests/fixtures/rules/NCxxx-{fire,quiet}.yaml,
with `# expect: NCxxx @token` on each line a finding must point at (`token` is the text found there);
a rule about kustomize trees (NC021) has a directory, NCxxx-{fire,quiet}/, checked whole by the
installed `nativecar check`, with the same comments in any of its files.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from nativecar import checker, formats
from nativecar.changes import Change
from nativecar.documents import InputError, decode
from nativecar.rewrites import Context
from nativecar.rules import rules
from tests.conftest import CORPUS, FIXTURES, corpus_files, in_chart_templates

RULES = FIXTURES / "rules"
EXPECT = re.compile(r"#\s*expect:\s*(NC\d{3})\s*@(\S+)")
EXECUTABLE = Path(sys.executable).with_name("nativecar")


def findings(path: Path) -> list[Change]:
    text = path.read_text(encoding="utf-8")
    header = re.search(r"^# kube-version: (\d+)\.(\d+)(.*)$", text, re.MULTILINE)
    context = Context()
    if header:
        gates = dict(re.findall(r"(\w+)=(true|false)", header[3]))
        context = Context(
            kube_version=(int(header[1]), int(header[2])),
            sidecar_gate={"true": True, "false": False}.get(gates.get("SidecarContainers", "")),
            restart_rules_gate={"true": True, "false": False}.get(gates.get("ContainerRestartRules", "")),
        )
    return checker.check(decode(text.encode(), str(path)), context)


def tree_findings(directory: Path) -> list[tuple[Path, Change]]:
    """`nativecar check --format json` on a whole fixture directory, each finding with its file."""
    result = subprocess.run(
        [str(EXECUTABLE), "check", "--format", "json", "."], capture_output=True, cwd=directory, timeout=60
    )
    assert result.returncode in (0, 1), result.stderr
    records = json.loads(result.stdout)["findings"]
    return [
        (
            directory / record["file"],
            Change(
                record["workload"],
                record["message"],
                "finding",
                record["line"],
                record["column"],
                rule=record["rule"],
                severity=record["severity"],
            ),
        )
        for record in records
    ]


def test_every_rule_has_a_must_fire_and_a_must_not_fire_fixture() -> None:
    ids = sorted(rule.id for rule in rules())
    assert sorted({path.name.split("-")[0] for path in RULES.glob("NC*-*")}) == ids
    for rule in ids:
        for case in ("fire", "quiet"):
            assert (RULES / f"{rule}-{case}.yaml").is_file() or (RULES / f"{rule}-{case}").is_dir()


FIRE = sorted(RULES.glob("*-fire.yaml")) + sorted(RULES.glob("*-fire/"))


@pytest.mark.parametrize("path", FIRE, ids=lambda p: p.stem)
def test_a_rule_fires_at_the_offending_node(path: Path) -> None:
    texts = {
        file.resolve(): file.read_text(encoding="utf-8").splitlines()
        for file in ([path] if path.is_file() else sorted(path.rglob("*.yaml")))
    }
    expected = {
        (file, number, match[1], match[2])
        for file, lines in texts.items()
        for number, line in enumerate(lines, start=1)
        for match in EXPECT.finditer(line)
    }
    found = [(path, finding) for finding in findings(path)] if path.is_file() else tree_findings(path)
    assert {(file.resolve(), f.line, f.rule) for file, f in found} == {
        (file.resolve(), line, rule) for file, line, rule, _ in expected
    }
    tokens = {(file, line, rule): token for file, line, rule, token in expected}
    for file, finding in found:
        at = texts[file.resolve()][finding.line - 1][finding.column - 1 :]
        assert at.startswith(tokens[(file.resolve(), finding.line, finding.rule)]), (finding, at)
        assert finding.severity == next(rule.severity for rule in rules() if rule.id == finding.rule)


@pytest.mark.parametrize(
    "path", sorted(RULES.glob("*-quiet.yaml")) + sorted(RULES.glob("*-quiet/")), ids=lambda p: p.stem
)
def test_a_rule_stays_quiet_on_the_fixed_manifest(path: Path) -> None:
    assert (findings(path) if path.is_file() else tree_findings(path)) == []


def test_the_ignore_annotation_silences_a_rule() -> None:
    text = (RULES / "NC012-quiet.yaml").read_text(encoding="utf-8")
    unignored = text.replace("nativecar.io/ignore: NC002", "nativecar.io/other: NC002")
    assert [f.rule for f in checker.check(decode(unignored.encode(), "x.yaml"), Context())] == ["NC002"]
    everything = text.replace("nativecar.io/ignore: NC002", "nativecar.io/ignore: all")
    assert checker.check(decode(everything.encode(), "x.yaml"), Context()) == []


def test_migrate_fixes_what_it_claims_to() -> None:
    """After `migrate`, the findings its rewrites fix are gone."""
    from tests.conftest import migrate

    cases = {
        "NC001": RULES / "NC001-fire.yaml",
        "NC002": RULES / "NC002-fire.yaml",
        "NC003": FIXTURES / "probes" / "derive-readiness.yaml",
    }
    for name, path in cases.items():
        before = checker.check(decode(path.read_bytes(), "x.yaml"), Context())
        fixed = migrate(path.read_text(encoding="utf-8")).text
        after = checker.check(decode(fixed.encode(), "x.yaml"), Context())
        assert name in {f.rule for f in before} and name not in {f.rule for f in after}


@pytest.mark.skipif(not corpus_files(), reason="../shared/corpus is not present")
def test_check_over_the_corpus_points_into_the_source() -> None:
    seen = 0
    bad = set()
    for path in corpus_files():
        if in_chart_templates(path):  # a walk passes over a Helm chart's templates
            continue
        text = path.read_text(encoding="utf-8")
        try:
            found = checker.check(decode(text.encode(), str(path)), Context())
        except InputError:
            bad.add(str(path))
            continue
        lines = text.splitlines()
        for finding in found:
            seen += 1
            assert 1 <= finding.line <= len(lines), (path, finding)
            at = lines[finding.line - 1][finding.column - 1 :]
            assert re.match(r"[-\w\"']", at), (path, finding, at)
    assert seen >= 1
    # The corpus holds files that are not manifests (Helm templates...): they are named, and the
    # findings of all the others are still reported.
    result = subprocess.run(
        [str(EXECUTABLE), "check", "--format", "json", str(CORPUS)], capture_output=True, timeout=120
    )
    assert result.returncode == 2 and b"Traceback" not in result.stderr
    report = json.loads(result.stdout)
    assert bad and {error["file"] for error in report["errors"]} == bad
    assert len(report["findings"]) == seen


def test_check_exit_codes_and_formats(tmp_path: Path) -> None:
    fire = RULES / "NC001-fire.yaml"
    quiet = RULES / "NC001-quiet.yaml"
    assert subprocess.run([str(EXECUTABLE), "check", str(quiet)], capture_output=True).returncode == 0
    warnings_only = subprocess.run([str(EXECUTABLE), "check", str(RULES / "NC002-fire.yaml")], capture_output=True)
    assert warnings_only.returncode == 0
    result = subprocess.run([str(EXECUTABLE), "check", "--format", "json", str(fire)], capture_output=True)
    assert result.returncode == 1
    record = json.loads(result.stdout)["findings"][0]
    assert (record["rule"], record["line"], record["column"], record["severity"]) == ("NC001", 12, 9, "error")
    text = subprocess.run([str(EXECUTABLE), "check", str(fire)], capture_output=True).stdout.decode()
    assert text.splitlines()[0] == str(fire) and "12:9" in text and "NC001" in text


def test_rules_command_lists_and_explains() -> None:
    listing = subprocess.run([str(EXECUTABLE), "rules"], capture_output=True).stdout.decode().splitlines()
    assert [line.split()[0] for line in listing] == [rule.id for rule in rules()]
    explained = subprocess.run([str(EXECUTABLE), "rules", "job-never-completes"], capture_output=True).stdout.decode()
    assert explained.startswith("NC001 job-never-completes (error)") and "nativecar migrate" in explained
    for rule in rules():
        assert rule.summary and len(rule.doc) > 80
        assert "Fix" in rule.doc or "Nothing to fix" in rule.doc


def test_github_annotations_escape_what_they_must() -> None:
    finding = Change("job/a,b", "50% done\r\nnext: x, y", "finding", 3, 7, rule="NC001", severity="error")
    line = formats.github([("dir/a:b,c.yaml", [finding])])
    assert line == (
        "::error file=dir/a%3Ab%2Cc.yaml,line=3,col=7,title=NC001 job/a%2Cb::job/a,b: 50%25 done%0D%0Anext: x, y"
    )
    info = Change("pod/p", "m", "finding", 1, 1, rule="NC012", severity="info")
    assert formats.github([("f.yaml", [info])]).startswith("::notice ")
