"""Repository-scale runs and the command-line habits of CI tools, through the installed entry point.

A platform team meets nativecar on a whole repository: under pre-commit (which names every file
and splits them between processes), with `.gitignore`d build output, Helm charts whose templates
are not YAML, and the flags kubectl and istioctl taught them (`-f`, `-o`).
"""

from __future__ import annotations

import os
import pty
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import FIXTURES
from tests.test_integrations import environment, readme_block

BIN = Path(sys.executable).parent
KUSTOMIZE = Path(__file__).parent.parent / "examples" / "kustomize"
EXECUTABLE = BIN / "nativecar"
JOB = (FIXTURES / "legacy" / "first-container.yaml").read_text(encoding="utf-8")
PLAIN = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: plain-{n}
spec:
  selector:
    matchLabels: {{app: plain-{n}}}
  template:
    metadata:
      labels: {{app: plain-{n}}}
    spec:
      containers:
        - name: app
          image: nginx:1.27
"""
TEMPLATE = """\
{{- if .Values.enabled }}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include "chart.fullname" . }}
spec:
  template:
    spec:
      containers:
        - name: app
          image: "{{ .Values.image }}"
{{- end }}
"""
BAD = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  name: b\n"


def nativecar(*args: str, cwd: Path | None = None, stdin: bytes | None = b"") -> subprocess.CompletedProcess:
    return subprocess.run([str(EXECUTABLE), *args], input=stdin, capture_output=True, cwd=cwd, timeout=120)


def job(name: str) -> str:
    """The legacy Cloud SQL proxy Job fixture, named `name`."""
    document = JOB.replace("name: db-migrate", f"name: {name}", 1)
    assert document != JOB
    return document


def converted(path: Path) -> bool:
    """Whether the Job in `path` runs its proxy as a native sidecar."""
    spec = yaml.safe_load(path.read_text())["spec"]["template"]["spec"]
    return any(item.get("restartPolicy") == "Always" for item in spec.get("initContainers", []))


def repository(root: Path) -> Path:
    """A GitOps repository: 20 legacy Jobs, 20 plain Deployments, a bad file and a Helm chart."""
    root.mkdir()
    for n in range(20):
        (root / "jobs").mkdir(exist_ok=True)
        (root / "jobs" / f"job-{n:02}.yaml").write_text(job(f"export-{n}"))
        (root / "apps").mkdir(exist_ok=True)
        (root / "apps" / f"app-{n:02}.yaml").write_text(PLAIN.format(n=n))
    (root / "broken.yaml").write_text(BAD)
    chart = root / "charts" / "web"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: web\nversion: 0.1.0\n")
    (chart / "values.yaml").write_text("enabled: true\nimage: nginx:1.27\n")
    (chart / "templates" / "deployment.yaml").write_text(TEMPLATE)
    shutil.copytree(KUSTOMIZE, root / "kustomize")
    return root


# -- pre-commit, with the README's block as it is ------------------------------------------------


@pytest.mark.skipif(
    shutil.which("pre-commit", path=str(BIN)) is None or shutil.which("git") is None, reason="needs pre-commit and git"
)
def test_pre_commit_converts_the_same_files_with_one_process_or_two(tmp_path: Path) -> None:
    results = {}
    for processes in (1, 2):
        work = repository(tmp_path / f"repo-{processes}")
        (work / ".pre-commit-config.yaml").write_text(readme_block("pre-commit", "yaml"))
        subprocess.run(["git", "init", "-q"], cwd=work, check=True)
        subprocess.run(["git", "add", "."], cwd=work, check=True)
        env = environment()
        if processes == 1:
            env["PRE_COMMIT_NO_CONCURRENCY"] = "1"
        done = subprocess.run(
            [str(BIN / "pre-commit"), "run", "--all-files", "--verbose"],
            cwd=work,
            capture_output=True,
            text=True,
            env=env,
            timeout=300,
        )
        assert done.returncode == 1, done.stdout + done.stderr  # the bad file fails the hooks
        assert "broken.yaml:5:3: duplicate key 'name'" in done.stdout, done.stdout
        assert "skipped the Helm chart's templates/" in done.stdout
        assert (work / "broken.yaml").read_text() == BAD
        assert (work / "charts" / "web" / "templates" / "deployment.yaml").read_text() == TEMPLATE
        results[processes] = {
            path.relative_to(work): path.read_bytes()
            for path in sorted(work.rglob("*.yaml"))
            if ".git" not in path.parts
        }
        assert all(converted(path) for path in (work / "jobs").glob("*.yaml"))
        # The kustomize tree came out whole: the overlay's patch follows the converted proxy.
        patch = yaml.safe_load((work / "kustomize" / "overlays" / "prod" / "proxy-resources.yaml").read_text())
        assert [entry["name"] for entry in patch["spec"]["template"]["spec"]["initContainers"]] == ["cloud-sql-proxy"]
    assert results[1] == results[2]


# -- what a walk leaves out --------------------------------------------------------------------------


def test_exclude_leaves_out_walked_and_named_files_alike(tmp_path: Path) -> None:
    work = repository(tmp_path / "repo")
    (work / "broken.yaml").unlink()
    shutil.rmtree(work / "kustomize")
    done = nativecar("migrate", "--check", "--exclude", "jobs/job-1*.yaml", "--exclude", "apps/", ".", cwd=work)
    assert done.returncode == 1
    mentioned = {line.split(":")[0] for line in done.stderr.decode().splitlines() if line.startswith("jobs/")}
    assert mentioned == {f"jobs/job-0{n}.yaml" for n in range(10)}
    named = nativecar("migrate", "--exclude", "jobs/", "jobs/job-00.yaml", cwd=work)
    assert named.returncode == 0 and named.stdout == b""


def test_the_config_file_excludes_relative_to_its_own_directory(tmp_path: Path) -> None:
    work = repository(tmp_path / "repo")
    (work / ".nativecar.yaml").write_text("exclude:\n  - /broken.yaml\n  - jobs/job-1*.yaml\n")
    inside = nativecar("migrate", "-i", "-q", ".", cwd=work / "jobs")  # run from a subdirectory
    assert inside.returncode == 0, inside.stderr
    assert [converted(work / "jobs" / f"job-{n:02}.yaml") for n in (0, 9, 10, 19)] == [True, True, False, False]
    whole = nativecar("migrate", "-i", "-q", ".", cwd=work)
    assert whole.returncode == 0, whole.stderr  # broken.yaml is excluded, so nothing is bad


def test_gitignore_is_respected_in_walks_unless_turned_off(tmp_path: Path) -> None:
    work = tmp_path / "repo"
    (work / "build").mkdir(parents=True)
    (work / "deploy" / "generated").mkdir(parents=True)
    subprocess.run(["git", "init", "-q"], cwd=work, check=True)
    (work / ".gitignore").write_text("build/\n*.out.yaml\n")
    (work / "deploy" / ".gitignore").write_text("generated/*\n!generated/keep.yaml\n")
    for path in ("build/a.yaml", "deploy/b.out.yaml", "deploy/generated/c.yaml", "deploy/generated/keep.yaml"):
        (work / path).write_text(job(Path(path).stem.replace(".", "-")))
    (work / "deploy" / "real.yaml").write_text(job("real"))
    done = nativecar("migrate", "--check", ".", cwd=work)
    names = {line.split(":")[0] for line in done.stderr.decode().splitlines() if ".yaml:" in line}
    assert names == {"deploy/real.yaml", "deploy/generated/keep.yaml"}
    everything = nativecar("migrate", "--check", "--no-gitignore", ".", cwd=work)
    names = {line.split(":")[0] for line in everything.stderr.decode().splitlines() if ".yaml:" in line}
    assert len(names) == 5
    named = nativecar("migrate", "build/a.yaml", cwd=work)  # named on the command line: read
    assert named.returncode == 0 and b"initContainers" in named.stdout


def test_helm_templates_are_passed_over_with_one_note_per_chart(tmp_path: Path) -> None:
    work = repository(tmp_path / "repo")
    (work / "broken.yaml").unlink()
    (work / "charts" / "web" / "templates" / "service.yaml").write_text('{{ include "svc" . }}\n')
    walked = nativecar("migrate", ".", cwd=work)  # to the stream of manifests: never a template
    notes = [line for line in walked.stderr.decode().splitlines() if "Helm chart" in line]
    assert notes == [notes[0]] and notes[0].startswith("charts/web: ") and "at their source with -i" in notes[0]
    assert walked.returncode == 0 and b"{{" not in walked.stdout
    checked = nativecar("migrate", "--check", ".", cwd=work)  # templates are read at their source
    assert "Helm chart" not in checked.stderr.decode()
    assert checked.returncode == 1  # the legacy Jobs; no template is an error
    assert "charts/web/templates" not in checked.stderr.decode()  # nothing in them to convert
    named = nativecar("check", "charts/web/templates/deployment.yaml", "charts/web/templates/service.yaml", cwd=work)
    assert named.returncode == 0, named.stderr
    assert named.stderr.decode().count("Helm chart") == 1


# -- standard input ------------------------------------------------------------------------------


@pytest.mark.parametrize("command", [["check"], ["explain"], ["migrate", "--check"], ["migrate", "--diff"]])
def test_empty_standard_input_to_a_check_is_an_error(command: list[str]) -> None:
    for data in (b"", b"# only a comment\n---\n"):
        done = nativecar(*command, stdin=data)
        assert done.returncode == 2
        assert b"<stdin>:1:1: no manifests on standard input" in done.stderr
        assert done.stdout == b""


@pytest.mark.parametrize("command", ["migrate", "inject"])
def test_as_a_filter_an_empty_stream_passes_through(command: str) -> None:
    """Helm runs a post-renderer on charts that render nothing (all disabled, or hooks only on
    Helm 3): the filter must not fail the install."""
    arguments = [command] if command == "migrate" else [command, "-p", "istio"]
    for data in (b"", b"# only a comment\n"):
        done = nativecar(*arguments, stdin=data)
        assert done.returncode == 0, done.stderr
        assert done.stdout == data


@pytest.mark.parametrize("command", ["migrate", "check"])
def test_a_terminal_on_standard_input_without_a_path_is_a_usage_error(command: str) -> None:
    leader, follower = pty.openpty()
    try:
        done = subprocess.run(
            [str(EXECUTABLE), command], stdin=follower, capture_output=True, timeout=30
        )  # waits forever if it reads the terminal
    finally:
        os.close(leader)
        os.close(follower)
    assert done.returncode == 2
    assert b"standard input is a terminal" in done.stderr and b"-" in done.stderr


# -- kubectl's and istioctl's flags ------------------------------------------------------------


def test_filename_flags_read_like_paths(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(job("a"))
    (tmp_path / "b.yaml").write_text(job("b"))
    by_flag = nativecar("migrate", "-f", "a.yaml", "--filename", "b.yaml", cwd=tmp_path)
    by_path = nativecar("migrate", "a.yaml", "b.yaml", cwd=tmp_path)
    assert by_flag.returncode == 0 and by_flag.stdout == by_path.stdout and b"name: b" in by_flag.stdout
    checked = nativecar("check", "-f", "a.yaml", cwd=tmp_path)
    assert checked.returncode == 1 and b"NC001" in checked.stdout


def test_output_file_gets_the_stream_in_one_piece_and_only_when_the_run_succeeds(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(job("a"))
    done = nativecar("migrate", "a.yaml", "-o", "out.yaml", cwd=tmp_path)
    assert done.returncode == 0 and done.stdout == b""
    assert b"(written to out.yaml)" in done.stderr and b"standard output" not in done.stderr
    assert (tmp_path / "out.yaml").read_bytes() == nativecar("migrate", "a.yaml", cwd=tmp_path).stdout
    (tmp_path / "bad.yaml").write_text(BAD)
    failed = nativecar("migrate", "a.yaml", "bad.yaml", "-o", "out2.yaml", cwd=tmp_path)
    assert failed.returncode == 2 and not (tmp_path / "out2.yaml").exists()
    assert [path.name for path in tmp_path.iterdir() if path.name.startswith(".")] == []  # no temporary left
    sarif = nativecar("check", "a.yaml", "--format", "sarif", "-o", "report.sarif", cwd=tmp_path)
    assert sarif.returncode == 1 and sarif.stdout == b"" and b'"NC001"' in (tmp_path / "report.sarif").read_bytes()
    usage = nativecar("migrate", "-i", "a.yaml", "-o", "x.yaml", cwd=tmp_path)
    assert usage.returncode == 2 and b"-o/--output" in usage.stderr and not (tmp_path / "x.yaml").exists()


def test_choices_are_case_insensitive(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(job("a"))
    assert nativecar("check", "--format", "JSON", "a.yaml", cwd=tmp_path).stdout.startswith(b"{")
    assert nativecar("explain", "--format", "Json", "a.yaml", cwd=tmp_path).returncode == 0
    plain = (FIXTURES / "rules" / "NC001-quiet.yaml").read_text()
    (tmp_path / "p.yaml").write_text(plain)
    upper = nativecar("inject", "-p", "Istio", "--mode", "Manual", "p.yaml", cwd=tmp_path)
    lower = nativecar("inject", "-p", "istio", "--mode", "manual", "p.yaml", cwd=tmp_path)
    assert upper.returncode == 0 and upper.stdout == lower.stdout
    assert nativecar("profiles", "LINKERD").returncode == 0


def test_help_says_the_form_of_each_value() -> None:
    migrate = nativecar("migrate", "--help").stdout.decode()
    for form in (
        "--kube-version X.Y",
        "--vendor-version VENDOR=RELEASE",
        "--feature-gates GATE=BOOL",
        "-f, --filename FILE",
        "-o, --output FILE",
        "--exclude GLOB",
        "--sidecar NAME",
    ):
        assert form in migrate, form
    inject = nativecar("inject", "--help").stdout.decode()
    assert "--set KEY=VALUE" in inject and "NAME|FILE" in inject


def test_a_sidecar_value_that_names_a_file_is_warned_about(tmp_path: Path) -> None:
    (tmp_path / "job.yaml").write_text(job("a"))
    done = nativecar("migrate", "--sidecar", "job.yaml", cwd=tmp_path, stdin=b"")
    assert b"warning: --sidecar job.yaml" in done.stderr and b"-f job.yaml" in done.stderr
    assert done.returncode == 0 and done.stdout == b""  # the (empty) standard input was read instead


def test_the_sidecar_gate_switched_off_or_locked_on(tmp_path: Path) -> None:
    """SidecarContainers is beta and on by default in 1.29-1.32, where a cluster may switch it
    off (the API server then drops restartPolicy: the pod never leaves Init); from 1.33 it is GA
    and cannot be switched off."""
    (tmp_path / "job.yaml").write_text(job("a"))
    off = nativecar(
        "migrate", "--kube-version", "1.30", "--feature-gates", "SidecarContainers=false", "job.yaml", cwd=tmp_path
    )
    assert off.returncode == 0 and b"initContainers" not in off.stdout and b"feature gate is off" in off.stderr
    locked = nativecar(
        "migrate", "--kube-version", "1.33", "--feature-gates", "SidecarContainers=false", "job.yaml", cwd=tmp_path
    )
    assert locked.returncode == 2 and b"locked on from Kubernetes 1.33" in locked.stderr and locked.stdout == b""
