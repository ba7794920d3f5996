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
