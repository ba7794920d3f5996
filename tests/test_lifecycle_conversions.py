"""Every pod nativecar converts, in the test fixtures and in ../shared/corpus, still works by the
lifecycle model: its start gates can pass, a Job's pod completes, and the app keeps the time it
had to shut down. The model of the result is read back from the rewritten text, as a user's
cluster would read it, and compared with the model of the pod as written.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from nativecar import workloads
from nativecar.documents import InputError, decode, documents
from nativecar.lifecycle import analysis
from nativecar.lifecycle.pod import PodModel, read
from nativecar.model import build, plain
from nativecar.rewrites import Context
from tests.conftest import FIXTURES, corpus_files, migrate

GROUPS = ("legacy", "probes", "grace", "styles", "vendors", "lifecycle", "upstream")
CONTEXTS = {
    "sidecar-flag.yaml": {"sidecar_names": ("log-shipper",)},
    "unchanged-probe-on-app-port.yaml": {"sidecar_names": ("metrics-agent",)},
    "unchanged-exec-probe-on-app.yaml": {"sidecar_names": ("envoy",)},
    "unchanged-poststart-waits-app.yaml": {"sidecar_names": ("envoy",)},
}
CASES = sorted(
    [path for group in GROUPS for path in (FIXTURES / group).glob("*.y*ml")] + corpus_files(),
    key=str,
)


def _pods(text: str) -> list[workloads.Pod]:
    source = decode(text.encode(), "x.yaml")
    return [pod for document in documents(source) for pod in workloads.pods(build(document.root))]


def _converted(path: Path) -> list[tuple[PodModel, PodModel]]:
    text = path.read_text(encoding="utf-8")
    settings = CONTEXTS.get(path.name, {})
    try:
        outcome = migrate(text, **settings)
    except InputError:
        return []  # not a manifest (the corpus's Helm templates): nothing is converted
    context = Context(**settings)
    pairs = zip(_pods(text), _pods(outcome.text), strict=True)
    return [
        (read(old, context), read(new, context)) for old, new in pairs if plain(old.template) != plain(new.template)
    ]


def _id(path: Path) -> str:
    return f"{path.parent.name}/{path.name}"


@pytest.mark.parametrize("path", CASES, ids=_id)
def test_every_converted_pod_starts_completes_and_keeps_its_shutdown_time(path: Path) -> None:
    for before, after in _converted(path):
        gates = analysis.start(after)
        assert all(gate.status != "never" for gate in gates), (after.label, gates)
        assert all(gate.status != "other" for gate in gates), (after.label, gates)
        assert not analysis.conflicts(after) or analysis.conflicts(after) == analysis.conflicts(before)
        done = analysis.completion(after)
        if after.runs_to_completion:
            blockers = [why for _, why in done.blockers]
            # only a regular container's own restartPolicy (reported by NC005/NC014) may keep it running
            assert done.status == "completes" or all("restartPolicy" in why for why in blockers), (after.label, done)
        had, has = analysis.app_seconds(before), analysis.app_seconds(after)
        if had is not None:
            assert has is not None and has >= had, (after.label, had, has)


def test_the_cases_include_real_conversions() -> None:
    converted = [path for path in CASES if _converted(path)]
    assert len(converted) >= 30
    jobs = [after for path in converted for _, after in _converted(path) if after.runs_to_completion]
    assert len(jobs) >= 8 and all(analysis.completion(job).status == "completes" for job in jobs[:3])
