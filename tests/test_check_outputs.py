"""`nativecar check` as CI reads it (issue 11): every machine format is one whole document even
when an input is bad, file locations GitHub can match wherever the run started, `--fail-on`, and
rule documentation links. Every test runs the installed entry point, as a CI job does; what a
bad input's line and column must be comes from PyYAML's own error, not from nativecar.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
import yaml

from tests.conftest import FIXTURES, ROOT

EXECUTABLE = Path(sys.executable).with_name("nativecar")
RULES = FIXTURES / "rules"
SCHEMA = json.loads((ROOT / "tests" / "data" / "sarif-schema-2.1.0.json").read_text(encoding="utf-8"))
BROKEN = "apiVersion: v1\nkind: Pod\nmetadata: {name: [unclosed\nspec: {}\n"


def nativecar(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    result = subprocess.run([str(EXECUTABLE), *args], capture_output=True, text=True, cwd=cwd, timeout=120)
    assert "Traceback" not in result.stderr, result.stderr
    return result


def yaml_error_at(text: str) -> tuple[int, int]:
    """The 1-based line and column where PyYAML says `text` stops being YAML."""
    with pytest.raises(yaml.MarkedYAMLError) as caught:
        yaml.safe_load(text)
    mark = caught.value.problem_mark
    return mark.line + 1, mark.column + 1


def validate_sarif(log: dict) -> None:
    import jsonschema

    jsonschema.Draft4Validator(SCHEMA).validate(log)


@pytest.fixture
def mixed(tmp_path: Path) -> Path:
    """A directory with two manifests that have findings and one that is not YAML."""
    (tmp_path / "a-job.yaml").write_bytes((RULES / "NC001-fire.yaml").read_bytes())
    (tmp_path / "b-broken.yaml").write_text(BROKEN)
    (tmp_path / "c-deployment.yaml").write_bytes((RULES / "NC012-fire.yaml").read_bytes())
    return tmp_path


def without_the_bad_file(directory: Path, *args: str) -> subprocess.CompletedProcess:
    """The same check on the good files alone: what a run with the bad file must still say."""
    return nativecar("check", *args, "a-job.yaml", "c-deployment.yaml", cwd=directory)


# -- a bad input among good ones -------------------------------------------------------------------


def test_text_prints_the_good_files_findings_and_names_the_bad_file_on_stderr(mixed: Path) -> None:
    line, column = yaml_error_at(BROKEN)
    result = nativecar("check", ".", cwd=mixed)
    assert result.returncode == 2
    assert result.stdout == without_the_bad_file(mixed).stdout != ""
    assert any(entry.startswith(f"b-broken.yaml:{line}:{column}: ") for entry in result.stderr.splitlines())


def test_json_lists_the_bad_file_in_errors_beside_every_other_finding(mixed: Path) -> None:
    line, column = yaml_error_at(BROKEN)
    result = nativecar("check", "--format", "json", ".", cwd=mixed)
    assert result.returncode == 2
    report = json.loads(result.stdout)
    alone = json.loads(without_the_bad_file(mixed, "--format", "json").stdout)
    assert report["findings"] == alone["findings"] and {item["file"] for item in alone["findings"]} == {
        "a-job.yaml",
        "c-deployment.yaml",
    }
    [error] = report["errors"]
    assert (error["file"], error["line"], error["column"]) == ("b-broken.yaml", line, column)
    assert f"b-broken.yaml:{line}:{column}: {error['message']}" in result.stderr.splitlines()
    assert alone["errors"] == []


def test_sarif_reports_the_bad_file_as_an_nc000_result_and_a_failed_execution(mixed: Path) -> None:
    line, column = yaml_error_at(BROKEN)
    result = nativecar("check", "--format", "sarif", ".", cwd=mixed)
    assert result.returncode == 2
    log = json.loads(result.stdout)
    validate_sarif(log)
    [run] = log["runs"]
    rules = run["tool"]["driver"]["rules"]
    bad = [entry for entry in run["results"] if entry["ruleId"] == "NC000"]
    good = [entry for entry in run["results"] if entry["ruleId"] != "NC000"]
    assert good == json.loads(without_the_bad_file(mixed, "--format", "sarif").stdout)["runs"][0]["results"]
    assert {entry["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for entry in good} == {
        "a-job.yaml",
        "c-deployment.yaml",
    }
    [entry] = bad
    assert rules[entry["ruleIndex"]]["id"] == "NC000" and entry["level"] == "error"
    where = entry["locations"][0]["physicalLocation"]
    assert where["artifactLocation"]["uri"] == "b-broken.yaml"
    assert (where["region"]["startLine"], where["region"]["startColumn"]) == (line, column)
    [invocation] = run["invocations"]
    assert invocation["executionSuccessful"] is False
    [notification] = invocation["toolExecutionNotifications"]
    assert notification["level"] == "error" and notification["message"] == entry["message"]
    assert f"b-broken.yaml:{line}:{column}: {entry['message']['text']}" in result.stderr.splitlines()


def test_sarif_names_an_error_without_a_file_in_a_notification_only() -> None:
    from nativecar import formats

    log = json.loads(formats.sarif([], [formats.BadInput(None, 0, 0, "the spool ran out of room")]))
    validate_sarif(log)
    [run] = log["runs"]
    assert run["results"] == []  # GitHub refuses a result without a location
    [notification] = run["invocations"][0]["toolExecutionNotifications"]
    assert notification["message"]["text"] == "the spool ran out of room"


def test_sarif_of_a_clean_run_says_the_execution_succeeded(tmp_path: Path) -> None:
    (tmp_path / "job.yaml").write_bytes((RULES / "NC001-quiet.yaml").read_bytes())
    result = nativecar("check", "--format", "sarif", "job.yaml", cwd=tmp_path)
    assert result.returncode == 0
    log = json.loads(result.stdout)
    validate_sarif(log)
    assert log["runs"][0]["invocations"] == [{"executionSuccessful": True}] and log["runs"][0]["results"] == []


def test_github_names_the_bad_file_in_an_error_command_and_keeps_every_finding(mixed: Path) -> None:
    line, column = yaml_error_at(BROKEN)
    result = nativecar("check", "--format", "github", ".", cwd=mixed)
    assert result.returncode == 2
    lines = result.stdout.splitlines()
    alone = without_the_bad_file(mixed, "--format", "github").stdout.splitlines()
    assert [entry for entry in lines if "file=b-broken.yaml," not in entry] == alone and alone
    [error] = [entry for entry in lines if "file=b-broken.yaml," in entry]
    assert error.startswith(f"::error file=b-broken.yaml,line={line},col={column},title=NC000")


def test_a_path_that_does_not_exist_is_in_every_machine_format(tmp_path: Path) -> None:
    (tmp_path / "job.yaml").write_bytes((RULES / "NC001-fire.yaml").read_bytes())
    json_run = nativecar("check", "--format", "json", "job.yaml", "missing.yaml", cwd=tmp_path)
    assert json_run.returncode == 2
    report = json.loads(json_run.stdout)
    assert [item["file"] for item in report["errors"]] == ["missing.yaml"]
    assert [item["rule"] for item in report["findings"]] == ["NC001"]
    sarif_run = nativecar("check", "--format", "sarif", "job.yaml", "missing.yaml", cwd=tmp_path)
    log = json.loads(sarif_run.stdout)
    validate_sarif(log)
    assert sorted(entry["ruleId"] for entry in log["runs"][0]["results"]) == ["NC000", "NC001"]


def test_a_kustomization_that_cannot_be_resolved_leaves_the_rest_checked(tmp_path: Path) -> None:
    base = tmp_path / "base"
    base.mkdir()
    (base / "Kustomization").write_text("resources: [\n")  # no .yaml suffix: read only as a kustomization
    (tmp_path / "job.yaml").write_bytes((RULES / "NC001-fire.yaml").read_bytes())
    result = nativecar("check", "--format", "json", ".", cwd=tmp_path)
    assert result.returncode == 2
    report = json.loads(result.stdout)
    assert [item["rule"] for item in report["findings"]] == ["NC001"]
    [error] = report["errors"]
    assert (error["file"], error["line"], error["column"]) == ("base/Kustomization", *yaml_error_at("resources: [\n"))
    assert f"{error['file']}:{error['line']}:{error['column']}: {error['message']}" in result.stderr.splitlines()


def test_rules_explains_nc000_without_listing_it() -> None:
    explained = nativecar("rules", "NC000", cwd=ROOT)
    assert explained.returncode == 0 and explained.stdout.startswith("NC000 invalid-input (error)")
    assert "NC000" not in nativecar("rules", cwd=ROOT).stdout


# -- file locations GitHub can match -----------------------------------------------------------------


def artifact_locations(log: dict) -> list[dict]:
    """Every artifactLocation of a SARIF log's results and notifications."""
    [run] = log["runs"]
    notifications = [
        item for invocation in run["invocations"] for item in invocation.get("toolExecutionNotifications", [])
    ]
    return [
        location["physicalLocation"]["artifactLocation"]
        for entry in [*run["results"], *notifications]
        for location in entry["locations"]
    ]


def assert_uris_resolve(log: dict) -> None:
    """SARIF §3.4.4 and the Multitool's SARIF1004: a uriBaseId only with a relative URI, naming a
    base in originalUriBaseIds whose URI is absolute and ends with a slash."""
    bases = log["runs"][0].get("originalUriBaseIds", {})
    for base in bases.values():
        assert base["uri"].startswith("file:///") and base["uri"].endswith("/"), base
    for location in artifact_locations(log):
        if "uriBaseId" in location:
            assert urlsplit(location["uri"]).scheme == "" and not location["uri"].startswith("/"), location
            assert location["uriBaseId"] in bases, location


def sarif_files(log: dict) -> set[str]:
    return {unquote(location["uri"]) for location in artifact_locations(log)}


def github_files(output: str) -> set[str]:
    return {re.match(r"::\w+ file=([^,]*),", line)[1] for line in output.splitlines()}


@pytest.fixture
def repository(tmp_path: Path) -> Path:
    """A repository (its `.git` is all a run looks at) with a manifest that has findings and one
    that is not YAML, under a directory whose name needs percent-encoding in a URI."""
    repo = tmp_path / "repo"
    manifests = repo / "k8s" / "prod ü"
    manifests.mkdir(parents=True)
    (repo / ".git").mkdir()
    (manifests / "job.yaml").write_bytes((RULES / "NC001-fire.yaml").read_bytes())
    (manifests / "broken.yaml").write_text(BROKEN)
    (tmp_path / "elsewhere").mkdir()
    return repo


def test_sarif_and_github_name_files_from_their_repository_wherever_the_run_starts(repository: Path) -> None:
    expected = {"k8s/prod ü/job.yaml", "k8s/prod ü/broken.yaml"}
    runs = [
        (repository, "k8s"),
        (repository / "k8s" / "prod ü", "."),
        (repository.parent / "elsewhere", "../repo/k8s"),
        (repository.parent / "elsewhere", str(repository / "k8s")),
    ]
    for cwd, path in runs:
        sarif = nativecar("check", "--format", "sarif", path, cwd=cwd)
        assert sarif.returncode == 2, sarif.stderr
        log = json.loads(sarif.stdout)
        validate_sarif(log)
        assert_uris_resolve(log)
        assert sarif_files(log) == expected, (cwd, path)
        assert {location["uriBaseId"] for location in artifact_locations(log)} == {"%SRCROOT%"}
        assert log["runs"][0]["originalUriBaseIds"]["%SRCROOT%"]["uri"] == repository.as_uri() + "/"
        github = nativecar("check", "--format", "github", path, cwd=cwd)
        assert github.returncode == 2 and github_files(github.stdout) == expected, (cwd, path)


def test_each_file_is_relative_to_its_own_repository(repository: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"  # a worktree or submodule: `.git` is a file
    other.mkdir()
    (other / ".git").write_text("gitdir: /somewhere/else\n")
    (other / "pod.yaml").write_bytes((RULES / "NC001-fire.yaml").read_bytes())
    result = nativecar("check", "--format", "sarif", "k8s", str(other / "pod.yaml"), cwd=repository)
    log = json.loads(result.stdout)
    validate_sarif(log)
    assert_uris_resolve(log)
    bases = {base: entry["uri"] for base, entry in log["runs"][0]["originalUriBaseIds"].items()}
    placed = {(unquote(location["uri"]), bases[location["uriBaseId"]]) for location in artifact_locations(log)}
    assert placed == {
        ("k8s/prod ü/job.yaml", repository.as_uri() + "/"),
        ("k8s/prod ü/broken.yaml", repository.as_uri() + "/"),
        ("pod.yaml", other.as_uri() + "/"),
    }
    github = nativecar("check", "--format", "github", "k8s", str(other / "pod.yaml"), cwd=repository)
    assert "pod.yaml" in github_files(github.stdout)


def outside_any_repository(path: Path) -> bool:
    return not any((directory / ".git").exists() for directory in (path, *path.parents))


def test_outside_any_repository_files_are_relative_to_the_working_directory_or_absolute(tmp_path: Path) -> None:
    if not outside_any_repository(tmp_path):
        pytest.skip(f"{tmp_path} is inside a repository")
    (tmp_path / "here").mkdir()
    (tmp_path / "there").mkdir()
    (tmp_path / "here" / "job.yaml").write_bytes((RULES / "NC001-fire.yaml").read_bytes())
    (tmp_path / "there" / "job.yaml").write_bytes((RULES / "NC001-fire.yaml").read_bytes())
    result = nativecar("check", "--format", "sarif", "job.yaml", "../there/job.yaml", cwd=tmp_path / "here")
    log = json.loads(result.stdout)
    validate_sarif(log)
    assert_uris_resolve(log)
    locations = sorted(artifact_locations(log), key=lambda location: location["uri"])
    assert locations == [
        {"uri": (tmp_path / "there" / "job.yaml").as_uri()},  # an absolute URI and no uriBaseId
        {"uri": "job.yaml", "uriBaseId": "%SRCROOT%"},
    ]
    assert log["runs"][0]["originalUriBaseIds"] == {"%SRCROOT%": {"uri": (tmp_path / "here").as_uri() + "/"}}
    github = nativecar("check", "--format", "github", "job.yaml", "../there/job.yaml", cwd=tmp_path / "here")
    assert github_files(github.stdout) == {"job.yaml", str(tmp_path / "there" / "job.yaml")}


@pytest.mark.skipif(
    not os.environ.get("SARIF_MULTITOOL"),
    reason="set SARIF_MULTITOOL to a Sarif.Multitool executable (npm: @microsoft/sarif-multitool)",
)
def test_sarif_multitool_finds_nothing_to_say(repository: Path, tmp_path: Path) -> None:
    """Microsoft's validator, with GitHub's ingestion rules (Gh) beside the SARIF ones: the run that
    wrote SARIF1004 before (from another directory) and a run with a bad file."""
    logs = {
        "from elsewhere": nativecar("check", "--format", "sarif", "../repo/k8s", cwd=repository.parent / "elsewhere"),
        "from the root": nativecar("check", "--format", "sarif", "k8s", cwd=repository),
    }
    for name, result in logs.items():
        path = tmp_path / f"{name}.sarif"
        path.write_text(result.stdout)
        command = [os.environ["SARIF_MULTITOOL"], "validate", "--rule-kind", "Sarif;Gh", "-o", f"{path}.out", str(path)]
        checked = subprocess.run(command, capture_output=True, text=True, timeout=300)
        said = [line for line in checked.stdout.splitlines() if re.search(r": (error|warning|note) [A-Z]+\d+:", line)]
        assert checked.returncode == 0 and said == [], (name, checked.stdout)


# -- --fail-on --------------------------------------------------------------------------------------

ORDER = ["info", "warning", "error"]


@pytest.mark.parametrize("threshold", ["error", "Warning", "INFO"])
def test_fail_on_sets_the_least_severity_that_fails_the_run(threshold: str) -> None:
    cases = ["NC001-fire.yaml", "NC002-fire.yaml", "NC013-fire.yaml", "NC001-quiet.yaml"]
    seen = set()
    for name in cases:
        result = nativecar("check", "--format", "json", "--fail-on", threshold, str(RULES / name), cwd=ROOT)
        severities = {finding["severity"] for finding in json.loads(result.stdout)["findings"]}
        seen |= severities
        failing = any(ORDER.index(severity) >= ORDER.index(threshold.lower()) for severity in severities)
        assert result.returncode == (1 if failing else 0), (name, severities, result.stderr)
    assert seen == set(ORDER)  # the cases hold every severity, so each threshold is tested both ways


def test_fail_on_applies_to_text_and_never_hides_a_bad_input(mixed: Path) -> None:
    warnings_only = str(RULES / "NC002-fire.yaml")
    assert nativecar("check", warnings_only, cwd=ROOT).returncode == 0
    assert nativecar("check", "--fail-on", "warning", warnings_only, cwd=ROOT).returncode == 1
    assert nativecar("check", "--fail-on", "info", ".", cwd=mixed).returncode == 2


def test_fail_on_refuses_an_unknown_severity() -> None:
    result = nativecar("check", "--fail-on", "fatal", str(RULES / "NC001-fire.yaml"), cwd=ROOT)
    assert result.returncode == 2 and result.stdout == ""
    assert "--fail-on must be error, warning or info, not 'fatal'" in result.stderr


# -- where a rule is explained ---------------------------------------------------------------------


def test_sarif_rules_link_their_section_of_docs_rules_md() -> None:
    import tomllib

    urls = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["urls"]
    result = nativecar("check", "--format", "sarif", str(RULES / "NC001-fire.yaml"), cwd=ROOT)
    log = json.loads(result.stdout)
    validate_sarif(log)
    driver = log["runs"][0]["tool"]["driver"]
    assert driver["informationUri"] == urls["Repository"]
    assert urls["Rules"].startswith(urls["Repository"] + "/") and urls["Rules"].endswith("/docs/rules.md")
    headings = set(re.findall(r"^## (NC\d{3})$", (ROOT / "docs" / "rules.md").read_text(encoding="utf-8"), re.M))
    ids = [rule["id"] for rule in driver["rules"]]
    assert set(ids) == headings and "NC000" in ids
    for rule in driver["rules"]:
        assert rule["helpUri"] == f"{urls['Rules']}#{rule['id'].lower()}"  # GitHub's anchor of `## NC001`


def test_docs_rules_md_is_what_nativecar_rules_prints() -> None:
    printed = nativecar("rules", "--markdown", cwd=ROOT)
    assert printed.returncode == 0
    assert (ROOT / "docs" / "rules.md").read_text(encoding="utf-8") == printed.stdout, (
        "docs/rules.md is stale: nativecar rules --markdown > docs/rules.md"
    )
    for line in nativecar("rules", cwd=ROOT).stdout.splitlines():
        rule = line.split()[0]
        explained = nativecar("rules", rule, cwd=ROOT).stdout.split("\n", 2)[2].strip()
        assert f"## {rule}\n" in printed.stdout and explained in printed.stdout


# -- GitHub: workflow commands and the README's workflow -------------------------------------------

# A workflow command as @actions/core writes one (toCommandValue, escapeData, escapeProperty): in a
# property value `%`, CR, LF, `:` and `,` are escaped; in the message `%`, CR and LF.
PROPERTY = r"(?:[^%,:\r\n]|%25|%0D|%0A|%3A|%2C)*"
DATA = r"(?:[^%\r\n]|%25|%0D|%0A)*"
COMMAND = re.compile(rf"::(error|warning|notice) file=({PROPERTY}),line=(\d+),col=(\d+),title=({PROPERTY})::({DATA})")


def unescape(value: str) -> str:
    for escaped, raw in (("%0D", "\r"), ("%0A", "\n"), ("%3A", ":"), ("%2C", ","), ("%25", "%")):
        value = value.replace(escaped, raw)
    return value


def test_github_lines_are_workflow_commands_with_what_they_hold_escaped(tmp_path: Path) -> None:
    job = (RULES / "NC001-fire.yaml").read_text(encoding="utf-8")
    named = re.sub(r"(?m)^  name: .*$", '  name: "a,b: 100%"', job, count=1)
    assert named != job
    (tmp_path / "job, 100%: v2.yaml").write_text(named)
    (tmp_path / "broken, 50%.yaml").write_text(BROKEN)
    result = nativecar("check", "--format", "github", ".", cwd=tmp_path)
    assert result.returncode == 2 and result.stdout.endswith("\n")
    commands = [COMMAND.fullmatch(line) for line in result.stdout.splitlines()]
    assert commands and all(commands), result.stdout
    seen = {unescape(command[2]): command for command in commands}
    assert set(seen) == {"job, 100%: v2.yaml", "broken, 50%.yaml"}
    bad = seen["broken, 50%.yaml"]
    assert (bad[1], int(bad[3]), int(bad[4]), unescape(bad[5])) == (
        "error",
        *yaml_error_at(BROKEN),
        "NC000 invalid-input",
    )
    finding = seen["job, 100%: v2.yaml"]
    assert unescape(finding[5]).startswith("NC001 job/a,b: 100%") and unescape(finding[6]).startswith("job/a,b: 100%: ")


def readme_workflow() -> dict:
    section = (ROOT / "README.md").read_text(encoding="utf-8").split("### GitHub Actions\n", 1)[1]
    return yaml.safe_load(re.search(r"```yaml\n(.*?)```", section, re.DOTALL)[1])


def run_step(script: str, workspace: Path, output: Path, env: dict[str, str] | None = None) -> int:
    """A `run:` step as GitHub runs it on Linux: `bash --noprofile --norc -eo pipefail {0}`."""
    (workspace / ".step.sh").write_text(script)
    environment = {"PATH": f"{EXECUTABLE.parent}:/usr/bin:/bin", "GITHUB_OUTPUT": str(output), **(env or {})}
    done = subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", ".step.sh"], cwd=workspace, env=environment, timeout=120
    )
    return done.returncode


@pytest.mark.parametrize(("manifests", "status"), [(["NC001-quiet.yaml"], 0), (["NC001-fire.yaml"], 1), ([], 2)])
def test_readme_workflow_uploads_the_sarif_whatever_check_found_then_fails_as_check_did(
    tmp_path: Path, manifests: list[str], status: int
) -> None:
    [job] = readme_workflow()["jobs"].values()
    steps = job["steps"]
    [check] = [step for step in steps if "nativecar check --format sarif" in step.get("run", "")]
    [upload] = [step for step in steps if step.get("uses", "").startswith("github/codeql-action/upload-sarif@")]
    last = steps[-1]
    assert steps.index(check) < steps.index(upload) < steps.index(last) and "run" in last
    assert job["permissions"]["security-events"] == "write"
    # The upload runs after a failed step too, though here no step fails before it.
    assert re.fullmatch(r"\$\{\{ *(!cancelled\(\)|always\(\)) *\}\}", upload["if"])

    workspace = tmp_path / "repo"
    (workspace / "k8s").mkdir(parents=True)
    (workspace / ".git").mkdir()
    for name in manifests:
        (workspace / "k8s" / name).write_bytes((RULES / name).read_bytes())
    if status == 2:
        (workspace / "k8s" / "broken.yaml").write_text(BROKEN)
    output = tmp_path / "github_output"
    output.write_text("")
    assert run_step(check["run"], workspace, output) == 0  # the step passes: the upload still runs
    outputs = dict(line.split("=", 1) for line in output.read_text().splitlines())
    sarif = json.loads((workspace / upload["with"]["sarif_file"]).read_text(encoding="utf-8"))
    validate_sarif(sarif)
    assert {entry["ruleId"] for entry in sarif["runs"][0]["results"]} == [set(), {"NC001"}, {"NC000"}][status]

    condition = re.fullmatch(rf"\$\{{\{{ *steps\.{check['id']}\.outputs\.(\w+) != '0' *\}}\}}", last["if"])
    assert condition, last["if"]
    saved = outputs[condition[1]]
    assert saved == str(status)
    if saved != "0":  # the step's `if` holds, so it runs with its env filled in
        env = {
            key: re.sub(r"\$\{\{ *steps\.\w+\.outputs\.(\w+) *\}\}", lambda found: outputs[found[1]], value)
            for key, value in last.get("env", {}).items()
        }
        assert run_step(last["run"], workspace, output, env) == status
