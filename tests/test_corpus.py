"""The real-world manifests of ../shared/corpus: what a platform team would run nativecar on.

Skipped (not failed) when the corpus is not beside the project.
"""

from __future__ import annotations

import functools
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from nativecar import engine
from nativecar.documents import InputError, decode, encode
from nativecar.runner import context_for
from nativecar.settings import Settings
from tests import oracle
from tests.conftest import CORPUS, corpus_files, in_chart_templates, migrate

FILES = corpus_files()
pytestmark = pytest.mark.skipif(not FILES, reason="../shared/corpus is not present")


def _rel(path: Path) -> str:
    return str(path.relative_to(CORPUS))


@functools.cache
def _is_manifest_yaml(text: str) -> bool:
    """An independent opinion (ruamel.yaml's safe loader): valid YAML without duplicate keys."""
    try:
        for _ in YAML(typ="safe", pure=True).load_all(text):
            pass
    except Exception:  # noqa: BLE001 - any ruamel error means "not a manifest we should accept"
        return False
    return True


@pytest.mark.parametrize("path", FILES, ids=_rel)
def test_every_file(path: Path) -> None:
    """Valid files: no error, byte-identical unless a sidecar was converted, idempotent, no stray
    lines. Invalid ones: `FILE:LINE:COL: message` pointing into the file."""
    text = path.read_text(encoding="utf-8")
    try:
        outcome = migrate(text)
    except InputError as error:
        assert _should_reject(path), str(error)
        assert error.line >= 1 and error.column >= 1
        assert error.line <= text.count("\n") + 1
        assert str(error).startswith(f"test.yaml:{error.line}:{error.column}: ")
        return
    converted = [c for c in outcome.changes if c.action == "changed"]
    if not converted:
        assert outcome.text == text
        return
    assert oracle.stray_lines(text, outcome.text) == []
    assert migrate(outcome.text).text == outcome.text


_VALUE_SCALAR = re.compile(r"^\s*(- )?=$|: =$", re.MULTILINE)


def _should_reject(path: Path) -> bool:
    """Not valid YAML for ruamel's safe loader either, except for the `=` plain scalar, which
    ruamel refuses as YAML 1.1's "value" type but which is a plain string to Kubernetes."""
    text = path.read_text(encoding="utf-8")
    return not _is_manifest_yaml(text) and not _VALUE_SCALAR.search(text)


def test_the_bad_files_are_exactly_the_non_yaml_ones() -> None:
    rejected = []
    for path in FILES:
        try:
            migrate(path.read_text(encoding="utf-8"))
        except InputError:
            rejected.append(path)
    assert rejected == [path for path in FILES if _should_reject(path)]


def test_the_cli_on_the_whole_corpus_reports_every_bad_file_and_rewrites_only_the_good(tmp_path: Path) -> None:
    copy = tmp_path / "corpus"
    shutil.copytree(CORPUS, copy)
    before = {p: p.read_bytes() for p in copy.rglob("*") if p.is_file()}
    charts = sorted(path.parent for path in copy.rglob("Chart.yaml"))
    walked_files = [path for path in FILES if not in_chart_templates(copy / path.relative_to(CORPUS))]
    bad = sorted(copy / path.relative_to(CORPUS) for path in walked_files if _should_reject(path))
    executable = Path(sys.executable).with_name("nativecar")
    # To stdout: every bad file named once, and nothing at all written; a Helm chart's templates
    # are passed over, with one note per chart.
    streamed = subprocess.run([str(executable), "migrate", str(copy)], capture_output=True, timeout=300)
    assert streamed.returncode == 2 and streamed.stdout == b""
    lines = streamed.stderr.decode().splitlines()
    notes = [line for line in lines if "skipped the Helm chart's templates/" in line]
    assert sorted(Path(line.split(": ", 1)[0]) for line in notes) == charts and charts
    lines = [line for line in lines if line not in notes]
    errors, summary = lines[:-1], lines[-1]
    assert summary == f"{len(errors)} errors; nothing was written."
    named = []
    for line in errors:
        location, _, message = line.partition(": ")
        file, row, column = location.rsplit(":", 2)
        assert Path(file).is_file() and row.isdigit() and column.isdigit() and message
        named.append(Path(file))
    assert sorted(named) == bad
    assert {p: p.read_bytes() for p in copy.rglob("*") if p.is_file()} == before
    # In place: each file stands alone; the bad ones are named and left, the others converted.
    result = subprocess.run([str(executable), "migrate", "-q", "-i", str(copy)], capture_output=True, timeout=300)
    assert result.returncode == 2
    lines = [line for line in result.stderr.decode().splitlines() if "skipped the Helm chart's" not in line]
    assert lines[:-1] == errors
    assert lines[-1] == f"{len(bad)} errors: what they name was left as it was."
    context = context_for(Settings())
    walked = {copy / path.relative_to(CORPUS) for path in walked_files}
    for path, data in before.items():
        if path in walked and path not in bad:
            source = decode(data, str(path))
            data = encode(source, engine.process(source, context, None).text)
        assert path.read_bytes() == data, path
    assert b"Traceback" not in streamed.stderr + result.stderr
