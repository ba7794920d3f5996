"""A stream is rewritten a document at a time (issue 8, classes 9 to 11): what comes out is what
the whole-input engine makes of it, `--diff` is the diff of the whole input, time and memory
follow the documents that change, not the stream, and what a manifest says never reaches the
terminal as control codes. Each promise is checked against an oracle (the whole-input engine,
difflib over the whole text, GNU patch), not against output written down here."""

from __future__ import annotations

import difflib
import io
import shutil
import subprocess
import sys
import tracemalloc
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nativecar import documents, engine, files, kustomize, runner
from nativecar.diffs import StreamDiff, lines
from nativecar.documents import Source, decode, segments
from nativecar.report import Report
from nativecar.rewrites import Context
from nativecar.runner import Output, run
from nativecar.settings import Settings
from tests.conftest import FIXTURES, corpus_files, in_chart_templates

PROXY = "gcr.io/cloud-sql-connectors/cloud-sql-proxy:2.14.3"
JOB = (
    "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: job-{n}\nspec:\n  template:\n    spec:\n"
    "      restartPolicy: Never\n      containers:\n      - name: app\n        image: app\n"
    f"      - name: cloud-sql-proxy\n        image: {PROXY}\n"
)
CONFIG_MAP = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: config-{n}\ndata:\n  key: value-{n}\n"


def _run(paths: list[str], output: Output | None = None, **report: object) -> tuple[int, bytes, str]:
    """`nativecar migrate` in this process: exit code, stdout and stderr."""
    stdout, stderr = io.BytesIO(), io.StringIO()
    code = run(paths, Settings(), output or Output(), Report(stream=stderr, **report), stdout=stdout)
    return code, stdout.getvalue(), stderr.getvalue()


def _stream(*documents: str) -> str:
    return "---\n".join(documents)


# -- the pieces of a stream ---------------------------------------------------------------------

STREAMS = [
    FIXTURES / "vendors" / "istio-deployment.yaml",
    FIXTURES / "lifecycle" / "failure-policy-and-named-port.yaml",
    *sorted(FIXTURES.rglob("*.yaml")),
]


@pytest.mark.parametrize("path", STREAMS[:60], ids=lambda path: str(path.relative_to(FIXTURES)))
def test_segments_join_to_the_input_and_say_what_the_whole_input_says(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Read in chunks of a few characters (so every boundary is crossed), the segments are the
    input's text, in order, with the same documents the whole-input parser finds."""
    monkeypatch.setattr(documents, "CHUNK", 7)
    data = path.read_bytes()
    try:
        whole = documents.parse(decode(data, path.name))
    except documents.InputError as error:
        with pytest.raises(documents.InputError) as raised:
            list(segments(io.BytesIO(data), path.name))
        assert (raised.value.line, raised.value.column) == (error.line, error.column)
        return
    found = list(segments(io.BytesIO(data), path.name))
    assert "".join(segment.source.text for segment in found) == decode(data, path.name).text
    assert [segment.document.root.start_mark.line for segment in found if segment.document] == [
        document.root.start_mark.line for document in whole
    ]
    for segment in found:
        assert segment.line == documents.line_breaks(decode(data, path.name).text[: segment.source.origin])


def _inputs() -> list[Path]:
    # A kustomization is a tree (its run edits patch files it names): tests/test_kustomize.py.
    # A Helm chart's templates are passed over by design on stdout (tests/test_helm_charts.py).
    files = [
        path
        for path in sorted(FIXTURES.rglob("*.yaml"))
        if "invalid" not in path.parts and path.name not in kustomize.NAMES and not in_chart_templates(path)
    ]
    corpus = [path for path in corpus_files() if not in_chart_templates(path)]
    return files + corpus[:150]


@pytest.mark.parametrize("path", _inputs(), ids=str)
def test_stdout_is_what_the_whole_input_engine_makes_of_it(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The streamed run (small chunks) writes exactly the text `engine.process` gives for the
    whole input, with the same records, or refuses the same input at the same place."""
    monkeypatch.setattr(documents, "CHUNK", 64)
    data = path.read_bytes()
    context = runner.context_for(Settings())
    context = replace(context, pod_ports=runner.scan_ports([files.Input(str(path), path)], context))
    try:
        outcome = engine.process(decode(data, str(path)), context, "input")
    except documents.InputError as error:
        code, out, err = _run([str(path)])
        assert (code, out) == (2, b"")
        assert err.startswith(str(error))
        return
    code, out, _ = _run([str(path)])
    assert code == 0
    assert out == documents.encode(outcome.source, outcome.text)


def test_a_multibyte_character_split_between_two_chunks_is_read_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(documents, "CHUNK", 3)
    text = "# ünïcödé ✓ 😀\n" + JOB.format(n="ü")
    found = list(segments(io.BytesIO(("\ufeff" + text).encode()), "t.yaml"))
    assert "".join(segment.source.text for segment in found) == text
    assert found[0].source.bom


@pytest.mark.parametrize(
    ("tail", "where", "message"),
    [
        (b"  bad: \xff\n", (3, 8), "not UTF-8 (byte 0xff)"),
        (b"  bad: a\x1bb\n", (3, 9), "control characters are not allowed"),
        (b"  bad: [\n", (4, 1), "did not find expected node content"),
    ],
)
def test_bad_input_far_into_a_stream_is_reported_where_it_is_and_nothing_is_written(
    tail: bytes, where: tuple[int, int], message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(documents, "CHUNK", 256)
    good = _stream(*(JOB.format(n=n) for n in range(200))).encode()
    path = tmp_path / "stream.yaml"
    path.write_bytes(good + b"---\nkind: ConfigMap\ndata:\n" + tail)
    line = good.count(b"\n") + where[0] + 1
    code, out, err = _run([str(path)])
    assert (code, out) == (2, b"")
    assert err.splitlines()[0].startswith(f"{path}:{line}:{where[1]}: ")
    assert message in err.splitlines()[0]


# -- --diff -------------------------------------------------------------------------------------


def _whole_diff(before: str, after: str) -> str:
    found = difflib.unified_diff(lines(before), lines(after), "a/x", "b/x", n=3)
    return "".join(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n" for line in found)


@st.composite
def _pieces(draw: st.DrawFn) -> list[tuple[str, str]]:
    """A text of numbered lines cut in pieces, some of them with lines changed, added or gone."""
    count = draw(st.integers(1, 60))
    text = [f"line {n}\n" for n in range(count)]
    if draw(st.booleans()):
        text[-1] = text[-1].rstrip("\n")
    cuts = sorted(draw(st.sets(st.integers(1, max(1, count - 1)), max_size=8)) - {count})
    pieces = []
    for start, end in zip([0, *cuts], [*cuts, count], strict=True):
        before = text[start:end]
        after = list(before)
        if draw(st.booleans()):
            for index in draw(st.sets(st.integers(0, len(after) - 1), max_size=3)):
                after[index] = "changed " + after[index]
            if draw(st.booleans()):
                after.insert(draw(st.integers(0, len(after))), "added\n")
            if len(after) > 1 and draw(st.booleans()):
                del after[draw(st.integers(0, len(after) - 2))]
        pieces.append(("".join(before), "".join(after)))
    return pieces


@settings(max_examples=300, deadline=None)
@given(_pieces())
def test_a_diff_fed_piece_by_piece_is_difflibs_diff_of_the_whole(pieces: list[tuple[str, str]]) -> None:
    written: list[str] = []
    diff = StreamDiff("x", written.append)
    for before, after in pieces:
        diff.add(before, after)
    diff.close()
    whole_before = "".join(before for before, _ in pieces)
    whole_after = "".join(after for _, after in pieces)
    assert "".join(written) == _whole_diff(whole_before, whole_after)


@pytest.mark.skipif(shutil.which("patch") is None, reason="GNU patch is not installed")
def test_the_diff_of_a_stream_applies_with_patch_to_give_the_rewritten_stream(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    stream = Path("stream.yaml")
    stream.write_text(_stream(*(JOB.format(n=n) if n % 3 else CONFIG_MAP.format(n=n) for n in range(60))))
    code, diff, _ = _run([str(stream)], Output(diff=True))
    assert code == 0
    _, rewritten, _ = _run([str(stream)])
    Path("stream.diff").write_bytes(diff)
    subprocess.run(["patch", "-s", "-p1", "-i", "stream.diff"], check=True, capture_output=True)
    assert stream.read_bytes() == rewritten


def test_diff_matches_the_lines_of_each_document_not_of_the_stream(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Class 9: matching the whole stream's lines is quadratic; each document's are few."""
    sizes: list[int] = []
    original = difflib.SequenceMatcher.set_seqs

    def recorded(self: difflib.SequenceMatcher, a: list[str], b: list[str]) -> None:
        sizes.append(max(len(a), len(b)))
        original(self, a, b)

    monkeypatch.setattr(difflib.SequenceMatcher, "set_seqs", recorded)
    stream = tmp_path / "stream.yaml"
    stream.write_text(_stream(*(JOB.format(n=n) for n in range(300))))
    code, diff, _ = _run([str(stream)], Output(diff=True))
    assert code == 0 and diff.count(b"\n@@ ") + diff.startswith(b"@@ ") >= 300
    document_lines = len(JOB.splitlines()) + 30  # one rewritten Job, with room for what is added
    assert sizes and max(sizes) <= document_lines


# -- memory ---------------------------------------------------------------------------------------


def test_memory_follows_the_largest_document_not_the_stream(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Class 10: a 4 MB stream is read, rewritten and written in a small part of its size."""
    monkeypatch.setattr(documents, "CHUNK", 1 << 14)
    monkeypatch.setattr(runner, "SPOOL_IN_MEMORY", 1 << 14)
    documents_ = [CONFIG_MAP.format(n=n) for n in range(60_000)] + [JOB.format(n=0)]
    stream = tmp_path / "stream.yaml"
    stream.write_text(_stream(*documents_))
    size = stream.stat().st_size
    assert size > 4_000_000
    with (tmp_path / "out.yaml").open("wb") as out:
        tracemalloc.start()
        try:
            code = run([str(stream)], Settings(), Output(), Report(stream=io.StringIO()), stdout=out)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert code == 0
    assert peak < size / 4, f"peak {peak} bytes for a stream of {size}"
    assert (tmp_path / "out.yaml").read_text().count("restartPolicy: Always") == 1


# -- what the terminal is shown --------------------------------------------------------------------

NAMED = JOB.replace("name: job-{n}", 'name: "x\\e]0;retitled\\a\\e[2J\\x9b1m"')
EXECUTABLE = shutil.which("nativecar", path=str(Path(sys.executable).parent)) or shutil.which("nativecar")


@pytest.mark.parametrize("command", [["migrate"], ["check"], ["explain"], ["migrate", "-i"]])
def test_control_characters_from_a_manifest_never_reach_the_terminal(command: list[str], tmp_path: Path) -> None:
    """Class 11: a name that would retitle the window or clear the screen is shown escaped."""
    path = tmp_path / "job.yaml"
    path.write_text(NAMED)
    result = subprocess.run(
        [str(EXECUTABLE), *command, str(path)],
        capture_output=True,
        check=False,
    )
    shown = result.stderr + (result.stdout if command[0] != "migrate" else b"")
    assert b"job/x" in shown, shown
    for control in (b"\x1b", b"\x07", "\x9b".encode()):
        assert control not in shown
    assert b"job/x\\x1b]0;retitled\\x07\\x1b[2J\\x9b1m" in shown


# -- findings across documents ---------------------------------------------------------------------

DEPLOYMENT = f"""\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  selector: {{matchLabels: {{app: web}}}}
  template:
    metadata:
      labels: {{app: web}}
    spec:
      containers:
      - name: app
        image: nginx
      - name: cloud-sql-proxy
        image: {PROXY}
        ports:
        - name: proxy-metrics
          containerPort: 9090
"""
SERVICE = """\
apiVersion: v1
kind: Service
metadata:
  name: web-{n}
spec:
  selector: {{app: web}}
  ports:
  - port: 9090
    targetPort: proxy-metrics
"""


@pytest.mark.parametrize("order", ["service first", "service last", "both"])
def test_a_service_before_or_after_the_pod_gives_its_finding_once(order: str) -> None:
    parts = {
        "service first": [SERVICE.format(n=1), DEPLOYMENT],
        "service last": [DEPLOYMENT, SERVICE.format(n=1)],
        "both": [SERVICE.format(n=1), DEPLOYMENT, SERVICE.format(n=2)],
    }[order]
    text = _stream(*parts)
    for positions in ("input", "output"):
        outcome = engine.process(Source("t.yaml", text), Context(), positions)
        shown = outcome.text if positions == "output" else text
        found = [change for change in outcome.changes if change.rule == "NC009"]
        assert len(found) == len(parts) - 1
        for finding in found:
            assert shown.splitlines()[finding.line - 1][finding.column - 1 :].startswith("targetPort: proxy-metrics")


def test_a_long_stream_keeps_only_what_a_later_service_could_need(monkeypatch: pytest.MonkeyPatch) -> None:
    """A pod waiting for Services keeps its labels and sidecar ports, not its document."""
    session = engine.Session(Context(), "input")
    text = _stream(*(DEPLOYMENT.replace("name: web\n", f"name: web-{n}\n", 1) for n in range(5)))
    for segment in segments(text, "t.yaml"):
        session.rewrite(segment)
    assert {part.label for _, part, _, _ in session.waiting} == {f"deployment/web-{n}" for n in range(5)}
    for _, part, _, _ in session.waiting:
        assert not _holds_nodes(part.workload) and not _holds_nodes(part.template)


def _holds_nodes(value: object) -> bool:
    if getattr(value, "node", None) is not None:
        return True
    if isinstance(value, dict):
        return any(_holds_nodes(item) for item in value.values())
    if isinstance(value, list):
        return any(_holds_nodes(item) for item in value)
    return False


# -- what a new user's tries found (helper, issue 8) -------------------------------------------------


@pytest.mark.parametrize("newline", ["\r", "\x85", "\u2028", "\u2029", "\r\n"])
@pytest.mark.parametrize("chunk", [3, 1 << 20])
def test_documents_split_at_any_yaml_line_break(newline: str, chunk: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """libyaml breaks lines at CR, NEL, LS and PS too: a document ends at such a break, so the next
    one is never swallowed (this crashed with an IndexError)."""
    monkeypatch.setattr(documents, "CHUNK", chunk)
    text = f"a: 1{newline}---{newline}b: 2{newline}---\n" + JOB.format(n=1)
    found = list(segments(io.BytesIO(text.encode()), "t.yaml"))
    assert "".join(segment.source.text for segment in found) == text
    # lines counted as libyaml counts them: each segment starts on its `---` line
    assert [segment.line for segment in found if segment.document] == [0, 1, 3]
    assert [segment.document.root.start_mark.line for segment in found if segment.document] == [0, 2, 4]
    assert [segment.document.number for segment in found if segment.document] == [0, 1, 2]
    outcome = engine.process(Source("t.yaml", text), runner.context_for(Settings()), "input")
    assert outcome.text.startswith(f"a: 1{newline}---{newline}b: 2{newline}---\n")
    assert outcome.text.count("restartPolicy: Always") == 1


@pytest.mark.skipif(shutil.which("patch") is None, reason="GNU patch is not installed")
def test_the_diff_of_a_file_with_a_bom_keeps_it_on_line_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    job = (
        '{"apiVersion":"batch/v1","kind":"Job","metadata":{"name":"j"},"spec":{"template":{"spec":'
        '{"restartPolicy":"Never","containers":[{"name":"app","image":"app"},'
        f'{{"name":"cloud-sql-proxy","image":"{PROXY}"}}]}}}}}}}}\n'
    )
    path = Path("job.yaml")
    path.write_bytes(b"\xef\xbb\xbf" + job.encode())
    _, diff, _ = _run([str(path)], Output(diff=True))
    _, rewritten, _ = _run([str(path)])
    Path("job.diff").write_bytes(diff)
    subprocess.run(["patch", "-s", "-p1", "-i", "job.diff"], check=True, capture_output=True)
    assert path.read_bytes() == rewritten


@pytest.mark.parametrize("newline", ["\r", "\u2028"])
def test_a_bad_byte_after_other_line_breaks_is_at_libyamls_line(newline: str, tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_bytes(f"a: 1{newline}---{newline}b: x".encode() + b"\xff\n")
    code, _, err = _run([str(path)])
    assert code == 2 and err.startswith(f"{path}:3:5: not UTF-8")


def test_a_bom_is_no_column_of_an_undecodable_byte(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_bytes(b"\xef\xbb\xbfk: \xff\n")
    code, out, err = _run([str(path)])
    assert (code, out) == (2, b"")
    assert err.startswith(f"{path}:1:4: not UTF-8")
