"""nativecar as a KRM function under the real kpt, with the commands README.md gives.

The package (tests/fixtures/clients/kpt/shop) has a Deployment and a migration Job with the Cloud
SQL Auth Proxy as a legacy sidecar, the Job's app still stopping the proxy itself (a finding), a
Kptfile whose pipeline runs `nativecar krm`, and the function config. What a user checks: the files
come back converted with their comments, and kpt's results name each object (`resourceRef`) and
the field (`field.path`) they are about; a result's field must resolve in the written files.
The test ids name kpt's version.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests import clients
from tests.conftest import FIXTURES, ROOT

BIN = Path(sys.executable).parent
PACKAGE = FIXTURES / "clients" / "kpt" / "shop"
README = (ROOT / "README.md").read_text(encoding="utf-8")
SECTION = README.split("### kustomize and kpt\n", 1)[1].split("\n### ", 1)[0]
KPT = clients.kpt()
HOW = "kpt is not on the PATH (the machine image has it: Debian package google-cloud-cli-kpt)"
BROKEN_POD = """apiVersion: v1
kind: Pod
metadata:
  name: broken
  namespace: shop
spec:
  containers:
    - name: app
      image: ghcr.io/example/app:1
    - name: app
      image: ghcr.io/example/app:2
"""


def readme_command(start: str) -> list[str]:
    """The README's command line starting with `start` (kustomize and kpt section), split as sh would."""
    (line,) = [line for line in re.findall(r"^kpt fn [^\n]*", SECTION, re.MULTILINE) if line.startswith(start)]
    return shlex.split(line)


def kpt_run(command: list[str], package: Path, results: Path) -> subprocess.CompletedProcess:
    """Run a README kpt command in `package`, its results written to `results` instead of /tmp."""
    binary = clients.require(KPT, HOW)
    args = [str(results) if word == "/tmp/results" else word for word in command[1:]]
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    return subprocess.run([str(binary), *args], capture_output=True, text=True, cwd=package, env=env, timeout=300)


def package_copy(tmp_path: Path) -> Path:
    package = tmp_path / "shop"
    shutil.copytree(PACKAGE, package)
    return package


def objects(package: Path) -> dict[tuple[str, str], tuple[str, dict]]:
    """(kind, name) -> (file relative to the package, object) of every manifest of the package."""
    found = {}
    for path in sorted(package.rglob("*.yaml")):
        for document in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            if document:
                found[document["kind"], document["metadata"]["name"]] = (path.relative_to(package).as_posix(), document)
    return found


def resolve(value: Any, path: str) -> Any:
    """The value at a KRM field path (`spec.template.spec.initContainers[0]`)."""
    for name, index in re.findall(r"([^.\[\]]+)|\[(\d+)\]", path):
        value = value[int(index)] if index else value[name]
    return value


def assert_converted(package: Path) -> None:
    """Both workloads run the proxy as a native sidecar, and the comments of the files are there."""
    found = objects(package)
    for kind, name, app in (("Deployment", "web", "web"), ("Job", "db-migrate", "migrate")):
        spec = found[kind, name][1]["spec"]["template"]["spec"]
        assert [c["name"] for c in spec["containers"]] == [app]
        assert [(c["name"], c["restartPolicy"]) for c in spec["initContainers"]] == [("cloud-sql-proxy", "Always")]
    for path in ("deployment.yaml", "jobs/db-migrate.yaml"):
        comments = [line.split("#", 1)[1] for line in (PACKAGE / path).read_text().splitlines() if "#" in line]
        text = (package / path).read_text()
        assert all(comment in text for comment in comments), path


def function_results(results: Path) -> list[dict]:
    (item,) = yaml.safe_load((results / "results.yaml").read_text())["items"]
    assert item["exec"] == "nativecar krm"
    return item["results"]


def assert_results_point_into_the_package(entries: list[dict], package: Path) -> None:
    """Every result names an object of the package; each field path resolves in it: the finding to the
    command that stops the proxy, each conversion to the proxy where it now is, a native sidecar."""
    found = objects(package)
    for entry in entries:
        reference = entry["resourceRef"]
        file, workload = found[reference["kind"], reference["name"]]
        assert (reference["apiVersion"], reference["namespace"]) == (workload["apiVersion"], "shop")
        assert entry["file"]["path"] == file
        if "field" in entry:
            entry["target"] = resolve(workload, entry["field"]["path"])
    (finding,) = [entry for entry in entries if entry["severity"] != "info"]
    assert finding["severity"] == "warning" and finding["tags"]["rule"] == "NC008"
    assert "quitquitquit" in " ".join(finding["target"])
    moved = [entry for entry in entries if entry["message"].endswith("cloud-sql-proxy -> native sidecar")]
    assert {entry["resourceRef"]["kind"] for entry in moved} == {"Deployment", "Job"}
    for entry in moved:
        assert entry["target"]["name"] == "cloud-sql-proxy" and entry["target"]["restartPolicy"] == "Always"


@pytest.mark.parametrize("kpt", [KPT], ids=lambda client: client.title)
def test_kpt_fn_eval_exec_converts_the_package(kpt: clients.Client, tmp_path: Path) -> None:
    package = package_copy(tmp_path)
    result = kpt_run(readme_command("kpt fn eval"), package, tmp_path / "results")
    assert result.returncode == 0, result.stderr
    assert_converted(package)
    assert_results_point_into_the_package(function_results(tmp_path / "results"), package)
    assert "[PASS]" in result.stderr and "spec.template.spec.initContainers[0]" in result.stderr  # kpt shows paths


@pytest.mark.parametrize("kpt", [KPT], ids=lambda client: client.title)
def test_kpt_fn_render_runs_the_kptfile_pipeline(kpt: clients.Client, tmp_path: Path) -> None:
    (kptfile,) = re.findall(r"```yaml\n(apiVersion: kpt.dev/v1\n.*?)```", SECTION, re.DOTALL)
    assert yaml.safe_load((PACKAGE / "Kptfile").read_text()) == yaml.safe_load(kptfile)
    package = package_copy(tmp_path)
    command = readme_command("kpt fn render")
    refused = kpt_run([word for word in command if word != "--allow-exec"], package, tmp_path / "refused")
    assert refused.returncode != 0 and "--allow-exec" in refused.stderr
    assert objects(package) == objects(PACKAGE)

    result = kpt_run(command, package, tmp_path / "results")
    assert result.returncode == 0, result.stderr
    assert_converted(package)
    assert_results_point_into_the_package(function_results(tmp_path / "results"), package)

    rendered = {path: path.read_bytes() for path in package.rglob("*") if path.is_file()}
    again = kpt_run(command, package, tmp_path / "again")
    assert again.returncode == 0, again.stderr
    assert {path: path.read_bytes() for path in package.rglob("*") if path.is_file()} == rendered
    assert not [entry for entry in function_results(tmp_path / "again") if entry["severity"] == "info"]


@pytest.mark.parametrize("kpt", [KPT], ids=lambda client: client.title)
def test_kpt_stops_on_an_error_finding_and_writes_nothing(kpt: clients.Client, tmp_path: Path) -> None:
    package = package_copy(tmp_path)
    (package / "broken.yaml").write_text(BROKEN_POD)
    before = {path: path.read_bytes() for path in package.rglob("*") if path.is_file()}
    result = kpt_run(readme_command("kpt fn eval"), package, tmp_path / "results")
    assert result.returncode != 0
    assert {path: path.read_bytes() for path in package.rglob("*") if path.is_file()} == before
    (error,) = [entry for entry in function_results(tmp_path / "results") if entry["severity"] == "error"]
    assert (error["resourceRef"]["kind"], error["resourceRef"]["name"]) == ("Pod", "broken")
    assert error["file"]["path"] == "broken.yaml"
    broken = yaml.safe_load(BROKEN_POD)
    assert resolve(broken, error["field"]["path"]) == "app"
    assert error["field"]["path"] != "spec.containers[0].name"  # the second `app`, the duplicate
