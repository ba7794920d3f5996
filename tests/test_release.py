"""Release habits (issue 11): every entry point says its version, `kubectl nativecar` calls
itself that, and the README pins pre-commit to the tag of the current version.

Run through the installed entry points, as users and CI run them.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from importlib.metadata import version
from pathlib import Path

import pytest
import yaml

import nativecar
from tests.conftest import ROOT

BIN = Path(sys.executable).parent


def run(command: list[str], **options: object) -> subprocess.CompletedProcess:
    return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False, **options)


@pytest.mark.parametrize(
    "command",
    [
        [str(BIN / "nativecar")],
        [str(BIN / "kubectl-nativecar")],
        [str(BIN / "nativecar-krm")],
        [sys.executable, "-m", "nativecar"],
    ],
    ids=["nativecar", "kubectl-nativecar", "nativecar-krm", "python -m nativecar"],
)
def test_every_entry_point_prints_the_installed_version(command: list[str]) -> None:
    result = run([*command, "--version"])
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["nativecar", version("nativecar")]
    assert result.stderr == ""


def test_the_version_is_one_number_everywhere() -> None:
    """pyproject.toml, nativecar.__version__ and what pip installed: a release bumps them together."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["version"] == nativecar.__version__ == version("nativecar")
    assert re.fullmatch(r"\d+\.\d+\.\d+", nativecar.__version__)  # the X.Y.Z of a vX.Y.Z tag


def test_the_readme_pins_pre_commit_to_the_tag_of_this_version() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    pinned = [
        config
        for block in re.findall(r"```yaml\n(.*?)```", readme.split("### pre-commit\n", 1)[1], re.DOTALL)
        if isinstance(config := yaml.safe_load(block), dict) and "repos" in config
    ]
    revisions = [repo["rev"] for config in pinned for repo in config["repos"] if "rev" in repo]
    assert revisions == [f"v{nativecar.__version__}"]
    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
    remote = next(repo for config in pinned for repo in config["repos"] if "rev" in repo)
    assert [hook["id"] for hook in remote["hooks"]] == [hook["id"] for hook in hooks]
    # One address for the project: pyproject's [project.urls], which SARIF links to as well.
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert remote["repo"] == project["urls"]["Repository"]


def test_kubectl_nativecar_calls_itself_kubectl_nativecar() -> None:
    plugin = str(BIN / "kubectl-nativecar")
    top = run([plugin, "--help"])
    assert top.returncode == 0 and top.stdout.startswith("Usage: kubectl nativecar [OPTIONS] COMMAND")
    sub = run([plugin, "migrate", "--help"])
    assert sub.returncode == 0 and sub.stdout.startswith("Usage: kubectl nativecar migrate ")
    wrong = run([plugin, "migrate", "--no-such-flag"])
    assert wrong.returncode == 2 and "Try 'kubectl nativecar migrate -h' for help." in wrong.stderr
    assert "kubectl-nativecar" not in top.stdout + sub.stdout + wrong.stderr
    assert run([str(BIN / "nativecar"), "--help"]).stdout.startswith("Usage: nativecar [OPTIONS] COMMAND")


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="needs kubectl")
def test_kubectl_runs_the_plugin_under_its_own_name() -> None:
    environment = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    result = run(["kubectl", "nativecar", "check", "--help"], env=environment)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Usage: kubectl nativecar check ")


def test_nativecar_krm_has_help_and_still_reads_its_config_argument(tmp_path: Path) -> None:
    krm = str(BIN / "nativecar-krm")
    helped = run([krm, "--help"])
    assert helped.returncode == 0 and helped.stdout.startswith("Usage: nativecar-krm")
    missing = run([krm, str(tmp_path / "--version")], input="")
    assert missing.returncode == 2 and "cannot read plugin config" in missing.stderr
