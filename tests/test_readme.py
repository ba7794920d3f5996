"""README.md shows real output, and .ci/run runs the README's commands."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README, re.DOTALL)


def test_the_readme_opens_with_the_two_commands_ci_runs() -> None:
    setup, tests = blocks("sh")[0].strip().splitlines()
    assert "pip install ." in setup and "nativecar migrate examples/" in setup
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert tests in ci.splitlines()


def test_the_example_diff_and_report_are_what_nativecar_prints() -> None:
    executable = Path(sys.executable).with_name("nativecar")
    result = subprocess.run(
        [str(executable), "migrate", "--diff", "examples/job.yaml"], capture_output=True, cwd=ROOT, timeout=60
    )
    assert result.returncode == 0
    assert blocks("diff")[0] == result.stdout.decode()
    report = result.stderr.decode().splitlines()[:-1]  # all but the closing summary
    assert blocks("text")[0].splitlines() == report


def test_every_command_with_a_diff_below_it_prints_that_diff() -> None:
    """Each ```sh block of one nativecar command followed by a ```diff block: run it, compare."""
    pairs = re.findall(r"```sh\n(nativecar [^\n]*--diff[^\n]*)\n```\n\n```diff\n(.*?)```", README, re.DOTALL)
    assert len(pairs) >= 4
    executable = Path(sys.executable).with_name("nativecar")
    for command, expected in pairs:
        args = command.split()[1:]
        result = subprocess.run([str(executable), *args], capture_output=True, cwd=ROOT, timeout=60)
        assert result.returncode == 0, (command, result.stderr)
        assert result.stdout.decode() == expected, command


def test_every_shown_terminal_session_prints_what_it_shows() -> None:
    """```text blocks that start with `$ nativecar ...`: the rest is that command's stdout."""
    sessions = [block for block in blocks("text") if block.startswith("$ nativecar ")]
    assert sessions
    executable = Path(sys.executable).with_name("nativecar")
    for block in sessions:
        command, _, expected = block.partition("\n")
        args = command.removeprefix("$ nativecar ").split()
        result = subprocess.run([str(executable), *args], capture_output=True, cwd=ROOT, timeout=60)
        assert result.stdout.decode() == expected, command


def test_the_explain_picture_is_what_nativecar_draws() -> None:
    """docs/explain.svg, shown by the README, is the current output of the command it names."""
    assert "![nativecar explain on examples/report-job.yaml](docs/explain.svg)" in README
    executable = Path(sys.executable).with_name("nativecar")
    result = subprocess.run(
        [str(executable), "explain", "--format", "svg", "examples/report-job.yaml"],
        capture_output=True,
        cwd=ROOT,
        timeout=60,
    )
    assert result.returncode == 0
    assert (ROOT / "docs" / "explain.svg").read_bytes() == result.stdout


def test_the_vendor_table_is_the_one_the_profiles_make() -> None:
    """The README's vendor table is `nativecar profiles --table` (issue 9): it changes when a
    profile does, or this fails."""
    from nativecar.profiles import BUILTIN
    from nativecar.profiles.table import END, START

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert START in readme and END in readme
    shown = readme[readme.index(START) + len(START) : readme.index(END)].strip()
    printed = subprocess.run(
        [sys.executable, "-m", "nativecar", "profiles", "--table"], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert shown == printed
    rows = [line for line in printed.splitlines() if line.startswith("| `")]
    assert [row.split("`")[1] for row in rows] == list(BUILTIN)


def test_the_reference_table_is_the_one_nativecar_keeps() -> None:
    """The README's table of references to a moved container is `references.REFERENCES` (issue 10)."""
    from nativecar import references

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    shown = readme[readme.index(references.START) + len(references.START) : readme.index(references.END)].strip()
    assert shown == references.markdown().strip()
    assert len([line for line in shown.splitlines() if line.startswith("| ")]) == len(references.REFERENCES) + 1
