"""Fuzzing: mutated real manifests never get a traceback, and nothing wrong is written.

Hypothesis takes a fixture or a `../shared/corpus` file and mutates it the way broken manifests
are broken: lines deleted, duplicated or re-indented, scalars retyped (`5`, `true`, `null`, `[]`,
`{}`), aliases and anchors added, odd keys added (`1:`, `true:`, `<<: x`, a key that is a list).
For every mutant, `migrate`, `check` and `explain` either work or report bad input as one
`InputError` (exit code 2, nothing written); nothing else may be raised. When `migrate` works,
documents it did not change are byte for byte the same, and a second run changes nothing.

300 examples run in CI (`NATIVECAR_FUZZ_EXAMPLES` raises it for a long local run).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from nativecar import checker, engine
from nativecar.documents import InputError, decode
from nativecar.rewrites import Context
from tests.conftest import FIXTURES, corpus_files

EXAMPLES = int(os.environ.get("NATIVECAR_FUZZ_EXAMPLES", "300"))
FIXTURE_SEEDS = sorted(FIXTURES.glob("*/*.yaml"))  # most hold a sidecar to convert: drawn three times as often
SEEDS = FIXTURE_SEEDS * 3 + [
    path for path in corpus_files() if path.stat().st_size < 40_000 and b"kind:" in path.read_bytes()
]
# what breaks the meaning more often than the syntax, so that most mutants are still converted
ACTIONS = ["retype"] * 4 + ["key"] * 3 + ["alias"] * 2 + ["delete", "duplicate", "indent", "dedent"]
RETYPED = ["5", "true", "null", "[]", "{}", "-1", "9223372036854775807", "'x'", "*a", "!!str 5", "1.5e3"]
ODD_KEYS = ["1: one", "true: two", "<<: x", "<<: [1]", "? [a]\n  : b", "null: n", "0: zero", "false: f"]


@st.composite
def mutant(draw: st.DrawFn) -> str:
    path: Path = draw(st.sampled_from(SEEDS))
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True) or ["\n"]
    for _ in range(draw(st.integers(1, 3))):
        index = draw(st.integers(0, len(lines) - 1))
        line = lines[index]
        indent = line[: len(line) - len(line.lstrip())]
        action = draw(st.sampled_from(ACTIONS))
        if action == "delete" and len(lines) > 1:
            del lines[index]
        elif action == "duplicate":
            lines.insert(index, line)
        elif action == "indent":
            lines[index] = "  " + line
        elif action == "dedent":
            lines[index] = line[2:] if line.startswith("  ") else line
        elif action == "retype" and ":" in line:
            head = line.split(":", 1)[0]
            lines[index] = f"{head}: {draw(st.sampled_from(RETYPED))}\n"
        elif action == "alias" and ":" in line and not line.rstrip().endswith(":"):
            head, value = line.rstrip("\n").split(":", 1)
            lines[index] = f"{head}: &a {value.strip() or 'x'}\n"
        elif action == "key":
            odd = draw(st.sampled_from(ODD_KEYS)).replace("\n", "\n" + indent)
            lines.insert(index, f"{indent}{odd}\n")
    return "".join(lines)


def _survives(run: object, *args: object) -> object:
    """Call `run`; bad input may raise InputError, nothing else may be raised."""
    try:
        return run(*args)  # type: ignore[operator]
    except InputError as error:
        assert error.line >= 1 and error.column >= 1
        return None


@pytest.mark.skipif(not SEEDS, reason="no seeds")
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=EXAMPLES <= 300,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(mutant(), st.sampled_from([(1, 29), (1, 31), (1, 35)]))
def test_a_mutated_manifest_is_converted_or_refused_never_crashes(text: str, version: tuple[int, int]) -> None:
    context = Context(kube_version=version, sidecar_names=("log-shipper", "envoy"))
    source = decode(text.encode("utf-8"), "fuzz.yaml")
    outcome = _survives(engine.process, source, context)
    _survives(checker.check, source, context)
    _survives(engine.explain, source, context)
    if outcome is None:
        event("refused as bad input")
        return
    assert isinstance(outcome, engine.Outcome)
    if not any(change.action == "changed" for change in outcome.changes):
        event("left as it was")
        assert outcome.text == text
        return
    event("converted")
    again = engine.process(decode(outcome.text.encode("utf-8"), "fuzz.yaml"), context)
    assert again.text == outcome.text
