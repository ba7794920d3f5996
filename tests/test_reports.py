"""What a user reads on stderr, through the installed entry point (issue 11, part C).

Each test runs `nativecar` as a user does and checks what a user would check: that a workload
can be told from another, that a container has a name, and never `None`.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

EXECUTABLE = Path(sys.executable).with_name("nativecar")

UNNAMED = """\
apiVersion: batch/v1
kind: Job
metadata:
  name: unnamed
spec:
  template:
    spec:
      restartPolicy: Never
      initContainers:
        - image: busybox:1.36
          command: ["true"]
      containers:
        - image: ghcr.io/example/migrate:4.17
          command: ["sh", "-c", "migrate up && curl -s -X POST localhost:9091/quitquitquit"]
        - image: gcr.io/cloud-sql-connectors/cloud-sql-proxy:2.14.3
          args: ["--quitquitquit", "--port=5432", "my-project:europe-west1:orders"]
"""


def nativecar(*args: str, stdin: str | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """One run of the installed command, its output as text."""
    assert EXECUTABLE.exists(), f"the nativecar entry point is not installed beside {sys.executable}"
    return subprocess.run([str(EXECUTABLE), *args], input=stdin, capture_output=True, text=True, cwd=cwd, timeout=120)


def test_a_container_without_a_name_is_named_by_its_place_in_every_message() -> None:
    migrated = nativecar("migrate", stdin=UNNAMED)
    assert migrated.returncode == 0, migrated.stderr
    assert "containers[1] -> native sidecar" in migrated.stderr
    checked = nativecar("check", stdin=UNNAMED)
    assert "containers[1] runs as a regular container" in checked.stdout
    as_json = nativecar("check", "--format", "json", stdin=UNNAMED)
    messages = [finding["message"] for finding in json.loads(as_json.stdout)["findings"]]
    assert any("containers[1]" in message for message in messages)
    explained = nativecar("explain", stdin=UNNAMED)
    assert explained.returncode == 0, explained.stderr
    assert "containers[1]" in explained.stdout and "initContainers[0]" in explained.stdout
    for run in (migrated, checked, as_json, explained):
        assert "None" not in run.stdout + run.stderr, run.args


def job(name: str, namespace: str | None = None) -> str:
    """A Job whose Cloud SQL proxy runs as a regular container and whose app stops it itself."""
    where = f"\n  namespace: {namespace}" if namespace else ""
    return f"""\
apiVersion: batch/v1
kind: Job
metadata:
  name: {name}{where}
spec:
  template:
    spec:
      restartPolicy: Never
      containers:
        - name: migrate
          image: ghcr.io/example/migrate:4.17
          command: ["sh", "-c", "migrate up && curl -s -X POST localhost:9091/quitquitquit"]
        - name: cloud-sql-proxy
          image: gcr.io/cloud-sql-connectors/cloud-sql-proxy:2.14.3
          args: ["--quitquitquit", "--port=5432", "my-project:europe-west1:orders"]
"""


def stream(*documents: str) -> str:
    return "---\n".join(documents)


FIFTY = stream(*(job(f"migrate-{index // 2:02d}", ("shop", "billing")[index % 2]) for index in range(50)))


def is_note(line: str) -> bool:
    return line.startswith("note")


def test_fifty_workloads_from_stdin_read_as_fifty_short_lines_and_each_explanation_once() -> None:
    result = nativecar("migrate", stdin=FIFTY)
    assert result.returncode == 0, result.stderr
    *lines, summary = result.stderr.splitlines()
    assert summary.startswith("50 workloads converted")
    told = [line for line in lines if not is_note(line)]
    assert all(len(line) < 120 for line in told), max(told, key=len)
    # one line per workload, every one of them different
    converted = [line for line in told if "-> native sidecar" in line]
    assert len(converted) == len(set(converted)) == 50
    # what all of them share is said once, in a note the lines refer to
    stderr = result.stderr
    assert stderr.count("+5s for cloud-sql-proxy to stop after the app") == 1
    assert stderr.count("health server switched on with") == 1
    assert stderr.count("a native sidecar is stopped after the app exits") == 1
    notes = [line for line in lines if is_note(line)]
    assert 1 <= len(notes) <= 3
    assert all(line.endswith(("[1]", "[2]", "[3]")) for line in told)


def test_every_line_about_standard_input_says_so() -> None:
    result = nativecar("migrate", stdin=FIFTY)
    *lines, _ = result.stderr.splitlines()
    about_input = [line for line in lines if not is_note(line)]
    assert len(about_input) == 100  # a line per workload and one per finding (NC008)
    assert all(line.startswith("<stdin>:") for line in about_input)
    checked = nativecar("migrate", "--check", "-", stdin=FIFTY)
    assert all(line.startswith("<stdin>:") for line in checked.stderr.splitlines()[:-1] if not is_note(line))


def test_the_same_job_in_two_namespaces_is_two_workloads_everywhere() -> None:
    both = stream(job("x", "shop"), job("x", "billing"))
    migrated = nativecar("migrate", stdin=both)
    lines = [line for line in migrated.stderr.splitlines() if "-> native sidecar" in line]
    assert len(lines) == 2 and lines[0] != lines[1]
    assert "shop" in lines[0] and "billing" in lines[1]
    assert "2 workloads converted" in migrated.stderr
    findings = json.loads(nativecar("check", "--format", "json", stdin=both).stdout)["findings"]
    named = {finding["workload"] for finding in findings if finding["rule"] == "NC001"}
    assert len(named) == 2 and any("shop" in n for n in named) and any("billing" in n for n in named)
    explained = json.loads(nativecar("explain", "--format", "json", stdin=both).stdout)
    assert len({item["workload"] for item in explained["workloads"]}) == 2
    text = nativecar("check", stdin=both).stdout
    assert sum("shop" in line for line in text.splitlines() if "NC001" in line) == 1
    # a manifest without a namespace keeps the name it had
    plain = nativecar("migrate", stdin=job("x"))
    assert "job/x: " in plain.stderr and "shop" not in plain.stderr and "billing" not in plain.stderr


def test_the_summary_says_what_happened_to_the_files(tmp_path: Path) -> None:
    for name in ("a", "b", "c"):
        (tmp_path / f"{name}.yaml").write_text(job(name))
    (tmp_path / "plain.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: plain\n")
    before = {path.name: path.read_text() for path in tmp_path.iterdir()}

    def summary(*args: str) -> str:
        result = nativecar("migrate", *args, str(tmp_path))
        assert result.returncode == (1 if "--check" in args else 0), result.stderr
        return result.stderr.splitlines()[-1]

    for dry in ("--diff", "--check"):
        said = summary(dry)
        assert "would rewrite 3 files" in said and "rewritten" not in said, said
    to_stdout = summary()
    assert "3 workloads converted (written to standard output)" in to_stdout
    assert "rewritten" not in to_stdout and "would" not in to_stdout
    assert {path.name: path.read_text() for path in tmp_path.iterdir()} == before  # nothing was written so far
    in_place = summary("-i")
    assert "3 files rewritten" in in_place and "standard output" not in in_place
    assert (tmp_path / "a.yaml").read_text() != before["a.yaml"]


def test_in_place_lines_name_their_file_and_the_notes_come_once(tmp_path: Path) -> None:
    """With -i the lines come file by file as they are written; the notes still come once."""
    for index in range(4):
        (tmp_path / f"{index}.yaml").write_text(job(f"j{index}"))
    result = nativecar("migrate", "-i", str(tmp_path))
    assert result.returncode == 0, result.stderr
    *lines, _ = result.stderr.splitlines()
    assert all(line.startswith(str(tmp_path)) for line in lines if not is_note(line))
    assert result.stderr.count("+5s for cloud-sql-proxy to stop after the app") == 1
