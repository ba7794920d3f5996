"""Shared test helpers: run the engine on text, find fixtures and the shared corpus."""

from __future__ import annotations

from pathlib import Path

import pytest
from syrupy.extensions.single_file import SingleFileSnapshotExtension, WriteMode

from nativecar import engine
from nativecar.documents import Source, decode
from nativecar.rewrites import Context

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
CORPUS = ROOT.parent / "shared" / "corpus"


def migrate(text: str, **context: object) -> engine.Outcome:
    """The engine's outcome for `text` (a whole file), with Context overrides."""
    return engine.process(decode(text.encode("utf-8"), "test.yaml"), Context(**context))


def migrate_text(text: str, **context: object) -> str:
    return migrate(text, **context).text


def fixture_text(relative: str) -> str:
    return (FIXTURES / relative).read_text(encoding="utf-8")


def corpus_files() -> list[Path]:
    """Every YAML file of the shared corpus (empty when the corpus is not there)."""
    if not CORPUS.is_dir():
        return []
    return sorted(path for path in CORPUS.rglob("*") if path.suffix in (".yaml", ".yml") and path.is_file())


def in_chart_templates(path: Path) -> bool:
    """Whether `path` is in a Helm chart's templates/ (a walk passes over those)."""
    from nativecar.files import chart_of

    return chart_of(path) is not None


@pytest.fixture
def corpus() -> list[Path]:
    files = corpus_files()
    if not files:
        pytest.skip("../shared/corpus is not present")
    return files


__all__ = [
    "CORPUS",
    "FIXTURES",
    "ROOT",
    "Source",
    "corpus_files",
    "fixture_text",
    "migrate",
    "migrate_text",
]


# -- snapshots -------------------------------------------------------------------------------


class YAMLSnapshot(SingleFileSnapshotExtension):
    """Reviewed outputs kept as plain .yaml files beside the tests, readable in a diff."""

    _write_mode = WriteMode.TEXT
    file_extension = "yaml"


@pytest.fixture
def yaml_snapshot(snapshot):  # type: ignore[no-untyped-def]
    return snapshot.use_extension(YAMLSnapshot)


# -- real clients ----------------------------------------------------------------------------


def pytest_report_header() -> str:
    """Name the Helm and kpt versions the integration tests drive (tests/clients.py) in every run."""
    from tests.clients import header

    return header()
