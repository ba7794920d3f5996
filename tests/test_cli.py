"""The command line through the installed `nativecar` entry point, as users and CI run it."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import FIXTURES

EXECUTABLE = shutil.which("nativecar", path=str(Path(sys.executable).parent)) or shutil.which("nativecar")
JOB = (FIXTURES / "legacy" / "first-container.yaml").read_text(encoding="utf-8")
PLAIN = (FIXTURES / "legacy" / "unchanged-no-sidecar.yaml").read_text(encoding="utf-8")


def run(*args: str, stdin: str | bytes | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    assert EXECUTABLE, "the nativecar entry point is not installed"
    data = stdin.encode() if isinstance(stdin, str) else stdin
    return subprocess.run([EXECUTABLE, *args], input=data, capture_output=True, cwd=cwd, timeout=60)


def test_stdin_to_stdout_with_a_report_on_stderr() -> None:
    result = run("migrate", stdin=JOB)
    assert result.returncode == 0
    assert b"initContainers:" in result.stdout
    first = result.stderr.decode().splitlines()[0]
    assert first.startswith("<stdin>: job/db-migrate: cloud-sql-proxy -> native sidecar")
    assert b"Traceback" not in result.stderr


def test_dash_means_stdin_and_quiet_silences_the_report() -> None:
    result = run("migrate", "-q", "-", stdin=JOB)
    assert result.returncode == 0 and result.stderr == b""


def test_check_exits_1_when_work_remains_and_writes_nothing(tmp_path: Path) -> None:
    target = tmp_path / "job.yaml"
    target.write_text(JOB)
    result = run("migrate", "--check", str(target))
    assert result.returncode == 1
    assert result.stdout == b""
    assert target.read_text() == JOB
    assert "would change" in result.stderr.decode()
    assert run("migrate", "--check", str(FIXTURES / "legacy" / "unchanged-no-sidecar.yaml")).returncode == 0


def test_diff_prints_a_unified_diff(tmp_path: Path) -> None:
    target = tmp_path / "job.yaml"
    target.write_text(JOB)
    result = run("migrate", "--diff", str(target))
    assert result.returncode == 0
    out = result.stdout.decode()
    assert out.startswith(f"--- a/{target}\n+++ b/{target}\n")
    assert "+      initContainers:\n" in out
    assert target.read_text() == JOB


def test_in_place_rewrites_atomically_and_keeps_the_mode(tmp_path: Path) -> None:
    target = tmp_path / "job.yaml"
    target.write_text(JOB)
    target.chmod(0o640)
    untouched = tmp_path / "plain.yaml"
    untouched.write_text(PLAIN)
    before = untouched.stat().st_mtime_ns
    result = run("migrate", "-i", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert result.stdout == b""
    assert "initContainers:" in target.read_text()
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert untouched.stat().st_mtime_ns == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["job.yaml", "plain.yaml"]
    assert run("migrate", "--check", str(tmp_path)).returncode == 0


def test_bad_input_means_exit_2_nothing_on_stdout_and_with_i_only_the_bad_file_left(tmp_path: Path) -> None:
    good = tmp_path / "a-good.yaml"
    good.write_text(JOB)
    bad = tmp_path / "b-bad.yaml"
    bad_text = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: x\n  name: y\n"
    bad.write_text(bad_text)
    streamed = run("migrate", str(good), str(bad))
    assert streamed.returncode == 2 and streamed.stdout == b""
    assert streamed.stderr.decode().splitlines()[0] == f"{bad}:5:3: duplicate key 'name' (first on line 4)"
    # With -i each file stands alone: the bad one is named and left as it was, the good one converted.
    result = run("migrate", "-i", str(tmp_path))
    assert result.returncode == 2
    assert f"{bad}:5:3: duplicate key 'name' (first on line 4)" in result.stderr.decode().splitlines()
    assert bad.read_text() == bad_text
    assert "initContainers:" in good.read_text()
    assert b"Traceback" not in result.stderr + streamed.stderr


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["migrate", "/does/not/exist.yaml"], "/does/not/exist.yaml:1:1: no such file or directory"),
        (["migrate", "--kube-version", "latest", "-"], "--kube-version must look like 1.29"),
        (["migrate", "--feature-gates", "Nope=true", "-"], "unknown feature gate 'Nope'"),
        (["migrate", "--kube-version", "1.27", "--feature-gates", "SidecarContainers=true", "-"], "exists from"),
        (["migrate", "-i", "-"], "--in-place needs files"),
        (["migrate", "-i", "--check", "x.yaml"], "choose one"),
    ],
)
def test_bad_usage_is_exit_2_with_a_message(args: list[str], words: str) -> None:
    result = run(*args, stdin=JOB)
    assert result.returncode == 2
    assert words in result.stderr.decode()
    assert result.stdout == b"" and b"Traceback" not in result.stderr


def test_non_utf8_and_templates_are_exit_2(tmp_path: Path) -> None:
    latin = tmp_path / "latin.yaml"
    latin.write_bytes(b"a: caf\xe9\n")
    template = tmp_path / "chart.yaml"
    template.write_text("metadata:\n  name: {{ .Release.Name }}\n")
    for path, words in ((latin, ":1:7: not UTF-8"), (template, "looks like a template")):
        result = run("migrate", str(path))
        assert result.returncode == 2 and words in result.stderr.decode() and result.stdout == b""


def test_bom_and_crlf_survive(tmp_path: Path) -> None:
    data = ("\ufeff" + JOB).replace("\n", "\r\n").encode()
    result = run("migrate", "-", stdin=data)
    assert result.returncode == 0
    assert result.stdout.startswith(b"\xef\xbb\xbf# The proxy")
    assert b"\n" not in result.stdout.replace(b"\r\n", b"")
    assert run("migrate", "-", stdin=result.stdout).stdout == result.stdout


def test_several_files_to_stdout_form_one_stream(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(PLAIN)
    (tmp_path / "b.yaml").write_text(JOB)
    result = run("migrate", "-q", str(tmp_path))
    import yaml

    documents = list(yaml.safe_load_all(result.stdout))
    assert [d["metadata"]["name"] for d in documents] == ["plain", "db-migrate"]


def test_sidecar_flag_and_config_file(tmp_path: Path) -> None:
    text = (FIXTURES / "legacy" / "sidecar-flag.yaml").read_text()
    assert run("migrate", "-", stdin=text).stdout.decode() == text
    assert b"log-shipper -> native sidecar" in run("migrate", "--sidecar", "log-shipper", "-", stdin=text).stderr
    (tmp_path / "pyproject.toml").write_text('[tool.nativecar]\nsidecar = ["log-shipper"]\n')
    nested = tmp_path / "deploy"
    nested.mkdir()
    assert b"log-shipper -> native sidecar" in run("migrate", "-", stdin=text, cwd=nested).stderr
    (tmp_path / ".nativecar.yaml").write_text("kube-version: '1.27'\nsidecar: [log-shipper]\n")
    assert b"skipped" in run("migrate", "-", stdin=text, cwd=nested).stderr
    assert b"-> native sidecar" in run("migrate", "--kube-version", "1.30", "-", stdin=JOB, cwd=nested).stderr
    (tmp_path / ".nativecar.yaml").write_text("kube-versoin: '1.27'\n")
    result = run("migrate", "-", stdin=text, cwd=nested)
    assert result.returncode == 2 and b"kube-versoin" in result.stderr


def test_help_and_version_and_module_entry() -> None:
    assert b"Usage: nativecar migrate" in run("migrate", "--help").stdout
    assert run("--version").stdout.startswith(b"nativecar ")
    module = subprocess.run(
        [sys.executable, "-m", "nativecar", "migrate", "-q", "-"], input=JOB.encode(), capture_output=True, timeout=60
    )
    assert module.returncode == 0 and b"initContainers:" in module.stdout


def test_profiles_lists_and_prints() -> None:
    listing = run("profiles").stdout.decode()
    assert [line.split()[0] for line in listing.splitlines()] == [
        "istio",
        "linkerd",
        "cloud-sql-proxy",
        "kuma",
        "consul",
        "opentelemetry",
        "dapr",
        "azure-workload-identity",
        "gcsfuse",
        "cloud-sql-proxy-operator",
    ]
    assert b"name: istio" in run("profiles", "istio").stdout
    assert run("profiles", "nope").returncode == 2


def test_kubectl_plugin_name_is_installed() -> None:
    plugin = Path(EXECUTABLE).with_name("kubectl-nativecar")
    assert plugin.exists() and os.access(plugin, os.X_OK)
