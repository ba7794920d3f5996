"""One run over many inputs, with the exit code it ends with.

To stdout (and for `--check`, `--diff` and `explain`) every input is read and rewritten first,
and bad input anywhere (an unreadable path, a YAML error, a duplicate key) means nothing at all is
written, so a pipeline such as `nativecar migrate k8s/ | kubectl apply -f -` never applies half a
stream. `check` writes a report, not manifests: it reports the good inputs' findings and names the
bad inputs in the same report (`run_check`). With `-i` each file stands alone, as in black and ruff: it is read,
rewritten, verified and written before the next is read, a bad file is named and left byte for
byte as it was, the others are converted, and the exit code is 2.
"""

from __future__ import annotations

import gc
import mmap
import os
import re
import shutil
import stat
import sys
import tempfile
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import IO, Any, BinaryIO, NamedTuple, TypeVar

from yaml.nodes import ScalarNode

from nativecar import engine, files, kustomize, workloads
from nativecar.changes import Change, Severity
from nativecar.diffs import StreamDiff
from nativecar.documents import BOM, InputError, Source, decode, documents, encode, segments
from nativecar.model import build
from nativecar.profiles import builtins
from nativecar.references import PodPorts, pod_ports
from nativecar.report import PATCH, Report, printable
from nativecar.rewrites import Context, Injection
from nativecar.settings import Settings

T = TypeVar("T")


class Output(NamedTuple):
    """Where results go: stdout (default), back into the files, or nowhere but the report."""

    in_place: bool = False
    check: bool = False
    diff: bool = False


def context_for(settings: Settings, injection: Injection | None = None) -> Context:
    """The rewrites' context; a user's profile joins the built-in ones, so `legacy` knows it too."""
    profiles = builtins()
    if injection is not None:
        others = tuple(profile for profile in profiles if profile.name != injection.profile.name)
        profiles = (*others, injection.profile)
    return Context(
        kube_version=settings.kube_version,
        sidecar_gate=settings.sidecar_gate,
        restart_rules_gate=settings.restart_rules_gate,
        sidecar_names=settings.sidecars,
        profiles=profiles,
        injection=injection,
        vendor_versions=dict(settings.vendor_versions),
    )


def run(
    paths: list[str],
    settings: Settings,
    output: Output,
    report: Report,
    stdout: BinaryIO | None = None,
    injection: Injection | None = None,
) -> int:
    """Process `paths` and write the results; returns the exit code."""
    stdout = stdout or sys.stdout.buffer
    if output.in_place and (not paths or files.STDIN in paths):
        report.error("--in-place needs files; standard input can only be written to stdout")
        return report.exit_code
    report.diff = output.diff
    # A chart's templates are converted at their source when the run writes files or only
    # reports (never into a stream of manifests, where Go template text must not go).
    at_source = output.in_place or output.check or output.diff
    inputs = _expand(paths, settings, report, "convert" if at_source else "stdout")
    context = context_for(settings, injection)
    templates = _Templates(inputs, context, report)
    # Findings point into the file as the user will find it: rewritten with -i, as it is otherwise;
    # with --quiet nobody reads them, so they are not looked for.
    positions: engine.Positions | None = "output" if output.in_place else "input"
    if report.quiet:
        positions = None

    plan = _kustomize(_kustomizations(paths, settings), inputs, context, report)
    context = replace(context, pod_ports=scan_ports(inputs, context))

    if output.in_place:
        report.in_place = True

        def work(source: Source) -> engine.Outcome:
            if source.path in templates.charts:
                return templates.convert(source, positions)
            return engine.process(source, context, positions)

        _rewrite_in_place(inputs, work, report, plan)
        report.summary()
        return report.exit_code
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY) as spool:
        results: list[tuple[files.Input, engine.Records]] = []
        previous_ended = True
        for index, item in enumerate(inputs):
            sink = _Sink(spool, output, item.name, first=index == 0, previous_ended=previous_ended)
            try:
                if plan is not None and _planned(item, plan):
                    records = _patch_file(item, plan, sink)
                elif item.chart is not None:
                    records = _template_file(item, templates, positions, sink)
                else:
                    with files.opened(item) as stream:
                        records = _unhurried(_stream, stream, item.name, context, positions, sink)
            except InputError as error:
                report.error(error)
                continue
            except OSError as error:  # the spool: no room left for the output in the temporary directory
                report.error(f"cannot hold the output until the run ends: {error.strerror or error}")
                break
            previous_ended = sink.ended
            results.append((item, records))
        if report.errors:
            report.summary()
            return report.exit_code
        for item, records in results:
            report.outcome(item.name, records)
        spool.seek(0)
        shutil.copyfileobj(spool, stdout)
        stdout.flush()
    report.summary()
    return report.exit_code


def scan_ports(inputs: list[files.Input], context: Context) -> tuple[PodPorts, ...]:
    """The pods of the run's files whose sidecars declare named ports, when a Service of the run
    may name one as its `targetPort` below Kubernetes 1.32 (`engine.Session` then writes the
    number): a first, read-only pass, made only when a file's text holds a named targetPort.
    Files are searched through a memory map and read a document at a time; a file that cannot
    be read or parsed is passed over here (the run itself reports it). Standard input and pipes
    cannot be read twice, so their pods are not looked at."""
    if context.kube_version >= (1, 32):
        return ()
    regular = [item for item in inputs if item.path is not None and _regular(item.path)]
    if not any(_names_a_target_port(item.path) for item in regular if item.path is not None):
        return ()
    found: list[PodPorts] = []
    for item in regular:
        try:
            with files.opened(item) as stream:
                for segment in segments(stream, item.name):
                    document = segment.document
                    if document is None or next(workloads.pod_spec_nodes(document.root), None) is None:
                        continue
                    for pod in workloads.pods(build(document.root)):
                        ports = pod_ports(pod, context)
                        if ports is not None:
                            found.append(ports)
        except (InputError, RecursionError):
            continue
    return tuple(found)


_NAMED_TARGET_PORT = re.compile(rb"targetPort[\"']?\s*:\s*[\"']?[A-Za-z]")


def _regular(path: Path) -> bool:
    """Whether `path` is a regular file: a pipe (`<(cat f)`) can be read only once, and opening a
    FIFO nobody writes to would block."""
    try:
        return stat.S_ISREG(path.stat().st_mode)
    except OSError:
        return False


def _names_a_target_port(path: Path) -> bool:
    """Whether a file's text holds a `targetPort:` whose value starts with a letter (cheap, and
    without reading the file into memory)."""
    try:
        with path.open("rb") as stream, mmap.mmap(stream.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
            return _NAMED_TARGET_PORT.search(mapped) is not None
    except (OSError, ValueError):  # unreadable, or empty (mmap refuses a size of 0)
        return False


SPOOL_IN_MEMORY = 8 << 20  # bytes of output held in memory before the spool moves to a temporary file


def _stream(
    stream: BinaryIO, name: str, context: Context, positions: engine.Positions | None, sink: _Sink
) -> engine.Records:
    """One input rewritten a document at a time, each piece handed to `sink` as it is done."""
    session = engine.Session(context, positions)
    manifests = False
    for segment in segments(stream, name):
        manifests = manifests or _holds_manifest(segment.document)
        sink.piece(segment.source, session.rewrite(segment))
    if not manifests and name == files.STDIN_NAME and (sink.output.check or sink.output.diff):
        raise _NO_MANIFESTS
    sink.close()
    return session.finish()


# An empty standard input given to a check (`check`, `explain`, `--check`, `--diff`) is most often
# a mistake upstream (`nativecar check $DIR` with DIR unset): "no findings" would hide it. As a
# filter, `migrate` passes an empty stream through: Helm runs its post-renderer on a chart that
# renders nothing (all disabled, or only hooks on Helm 3), and an error there fails the install.
_NO_MANIFESTS = InputError(files.STDIN_NAME, 1, 1, "no manifests on standard input")


def _holds_manifest(document: Any) -> bool:
    """Whether a parsed document holds anything (`---` alone, or only comments, does not)."""
    if document is None:
        return False
    root = document.root
    empty = isinstance(root, ScalarNode) and not root.style and root.value in ("", "~", "null", "Null", "NULL")
    return not empty


class _Sink:
    """Where the pieces of one input go: the output stream (joined to the inputs before it by a
    `---`, with one byte-order mark, at the start of the stream), its diff, or nowhere (`--check`)."""

    def __init__(self, spool: IO[bytes], output: Output, name: str, first: bool, previous_ended: bool) -> None:
        self.spool = spool
        self.output = output
        self.first = first
        self.previous_ended = previous_ended
        self.started = False
        self.ended = True
        self.diff = StreamDiff(name, lambda text: spool.write(printable(text))) if output.diff else None

    def piece(self, source: Source, text: str) -> None:
        if self.diff is not None:
            mark = BOM if source.bom else ""  # the file's first line holds it: a patch must too
            self.diff.add(mark + source.text, mark + text)
            return
        if self.output.check:
            return
        if not self.started:
            self.started = True
            if not self.first:
                separator = "" if self.previous_ended else "\n"
                if not text.startswith("---"):
                    separator += "---\n"
                self.spool.write(separator.encode())
            elif source.bom:
                self.spool.write(BOM.encode())
        if text:
            self.spool.write(text.encode("utf-8"))
            self.ended = text.endswith("\n")

    def close(self) -> None:
        if self.diff is not None:
            self.diff.close()


def _expand(paths: list[str], settings: Settings, report: Report, charts: files.Charts = "skip") -> list[files.Input]:
    """The inputs `paths` name, less what the settings leave out (`--exclude`, `.gitignore`, Helm
    templates unless `charts` converts them); the paths that name nothing readable are reported
    as errors, and the names a walk passed over as notes."""
    found = files.expand(paths, _walk(settings)._replace(charts=charts))
    for error in found.errors:
        report.error(error)
    for note in found.skipped:
        report.note(note)
    return found.inputs


def _walk(settings: Settings) -> files.Walk:
    return files.Walk(settings.exclude, settings.gitignore)


def _kustomizations(paths: list[str], settings: Settings) -> list[Path]:
    """The kustomization files under `paths`, less those the settings leave out."""
    found = kustomize.find([path for path in paths if path != files.STDIN])
    if not found:
        return []
    left_out = set(files.left_out(found, _walk(settings)))
    return [path for path in found if path not in left_out]


def _gather(
    inputs: list[files.Input], work: Callable[[Source], T], report: Report
) -> list[tuple[files.Input, T]] | None:
    """`work` done on every input, in order; None (nothing to write) when any input or path was
    bad, each of them reported."""
    results = _each(inputs, work, report)
    if report.errors:
        report.summary()
        return None
    return results


def _each(inputs: list[files.Input], work: Callable[[Source], T], report: Report) -> list[tuple[files.Input, T]]:
    """`work` done on every input that can be read and parsed, in order; the others reported."""
    results: list[tuple[files.Input, T]] = []
    for item in inputs:
        try:
            source = decode(files.read(item), item.name)
            if item.path is None and not any(_holds_manifest(document) for document in documents(source)):
                raise _NO_MANIFESTS
            results.append((item, _unhurried(work, source)))
        except InputError as error:
            report.error(error)
    return results


def _unhurried(work: Callable[..., T], *arguments: Any) -> T:
    """`work(*arguments)` with the cyclic garbage collector off."""
    # Parsing allocates millions of short-lived, acyclic objects that reference counting frees;
    # the cyclic collector would only re-scan them, at about a quarter of the run time.
    gc.disable()
    try:
        return work(*arguments)
    finally:
        gc.enable()


def _rewrite_in_place(
    inputs: list[files.Input],
    work: Callable[[Source], engine.Outcome],
    report: Report,
    plan: kustomize.Plan | None = None,
) -> None:
    """Read, rewrite, verify and write each file before the next is read; a bad one is reported
    and left as it was. A stop signal ends the run between two files or removes the temporary
    file of the one being written, so no file is ever left half rewritten.

    `plan`: what the run does to its kustomize trees: the files of a tree that failed are left as
    they are (its errors were reported already), and a patch file gets the text the plan made."""
    with files.signals_raise():
        try:
            for item in inputs:
                key = _real(item)
                if plan is not None and key in plan.held:
                    continue
                try:
                    original = files.read_original(item)
                    source = decode(original.data, item.name)
                    if plan is not None and _planned(item, plan):
                        text = plan.texts.get(key, source.text)
                        outcome = engine.Outcome(
                            changes=_notes(item, plan), changed=text != source.text, source=source, text=text
                        )
                    else:
                        outcome = _unhurried(work, source)
                    if outcome.changed:
                        files.write_atomic(original, encode(outcome.source, outcome.text))
                except InputError as error:
                    report.error(error)
                    continue
                report.outcome(item.name, outcome)
        except files.Interrupted as stop:
            report.error(f"interrupted by {stop}; the files not rewritten yet were left as they are")
            raise


def _real(item: files.Input) -> str | None:
    return os.path.realpath(item.path) if item.path is not None else None


def _planned(item: files.Input, plan: kustomize.Plan) -> bool:
    """Whether the kustomize plan, not the manifest rewrites, says what becomes of this input:
    a patch file (a patch is not a pod), or a kustomization whose inline patches were edited."""
    key = _real(item)
    return key is not None and (key in plan.patch_files or key in plan.texts)


def _notes(item: files.Input, plan: kustomize.Plan) -> list[Change]:
    key = _real(item)
    return [
        Change(PATCH, message, "changed", line) for where, message, line in plan.notes if os.path.realpath(where) == key
    ]


class _Templates:
    """The Helm templates of a run converted at their source (`nativecar.charts`): their charts,
    each read once with its values files (a values file that cannot be read is noted)."""

    def __init__(self, inputs: list[files.Input], context: Context, report: Report) -> None:
        self.context = context
        self.report = report
        self.charts = {item.name: item.chart for item in inputs if item.chart is not None}
        self.loaded: dict[Path, Any] = {}

    def convert(self, source: Source, positions: engine.Positions | None) -> engine.Outcome:
        from nativecar import charts

        root = self.charts[source.path]
        assert root is not None
        if root not in self.loaded:
            self.loaded[root] = charts.load(root)
            for note in self.loaded[root].notes:
                self.report.note(note)
        return _unhurried(charts.convert, source, self.context, self.loaded[root], positions)


def _template_file(
    item: files.Input, templates: _Templates, positions: engine.Positions | None, sink: _Sink
) -> engine.Records:
    """A Helm template converted at its source, to the output (its diff, or nowhere)."""
    source = decode(files.read(item), item.name, "Helm templates")
    outcome = templates.convert(source, positions)
    sink.piece(source, outcome.text)
    sink.close()
    return outcome


def _patch_file(item: files.Input, plan: kustomize.Plan, sink: _Sink) -> engine.Records:
    """A patch file (or kustomization) to the output as the plan made it."""
    source = decode(files.read(item), item.name)
    text = plan.texts.get(_real(item) or "", source.text)
    sink.piece(source, text)
    sink.close()
    return engine.Records(changes=_notes(item, plan), changed=text != source.text)


def _kustomize(found: list[Path], inputs: list[files.Input], context: Context, report: Report) -> kustomize.Plan | None:
    """The plan for the kustomize trees of the kustomizations `found` (None when there are none): every
    kustomization resolved before and after the manifest rewrites of this run's inputs, its patches
    edited to follow the moved containers, and its built pods checked; its errors reported.

    A kustomization file without a YAML suffix (`Kustomization`) whose inline patches were edited
    joins `inputs`, so that it is written too."""
    from nativecar.lifecycle.pod import read
    from nativecar.lifecycle.verify import verify

    if not found:
        return None
    in_run = {key for item in inputs if (key := _real(item)) is not None}
    originals: dict[str, str] = {}
    converted: dict[str, str] = {}

    def original(path: os.PathLike[str]) -> str:
        key = os.path.realpath(path)
        if key not in originals:
            originals[key] = kustomize.read_file(Path(path))
        return originals[key]

    def convert(path: os.PathLike[str]) -> str:
        key = os.path.realpath(path)
        if key not in in_run:
            return original(path)
        if key not in converted:
            source = Source(str(path), original(path))
            converted[key] = _unhurried(engine.process, source, context, None).text
        return converted[key]

    def check_pods(before: Any, after: Any) -> list[str]:
        return list(verify(read(before, context), read(after, context)).problems)

    plan = kustomize.plan(found, original, convert, check_pods)
    for error in plan.errors:
        report.error(error)
    for key in plan.texts:
        if key not in in_run:
            inputs.append(files.Input(os.path.relpath(key), Path(key)))
    return plan


def run_check(
    paths: list[str],
    settings: Settings,
    output_format: str,
    report: Report,
    stdout: BinaryIO | None = None,
    fail_on: Severity = "error",
) -> int:
    """`nativecar check`: findings to stdout in `output_format`; the exit code is 2 when an input
    was bad, else 1 when a finding is at or above `fail_on`.

    A bad input (unreadable, not YAML, a kustomization that cannot be resolved) does not stop the
    run: every other input is checked, and the output is a whole document that names the bad ones
    too (the text format names them on stderr only), so that CI still has a report to upload."""
    from nativecar import checker, formats

    stdout = stdout or sys.stdout.buffer
    inputs = _expand(paths, settings, report)
    context = context_for(settings)
    checked = _each(inputs, lambda source: checker.check(source, context), report)
    in_trees, patch_files = _kustomize_findings(_kustomizations(paths, settings), report)
    found: formats.Findings = []
    for item, findings in checked:
        key = _real(item)
        own = [] if key in patch_files else findings
        found.append((item.name, sorted(own + in_trees.pop(key or "", []), key=lambda f: (f.line, f.column))))
    found += [(os.path.relpath(key), findings) for key, findings in sorted(in_trees.items())]
    if output_format == "text":
        text = formats.text(found, colour=stdout.isatty() if hasattr(stdout, "isatty") else False)
    else:
        text = formats.FORMATS[output_format](found, [formats.BadInput.of(error) for error in report.bad])
    if text:
        stdout.write(printable(text + "\n"))
        stdout.flush()
    return report.findings([finding for _, items in found for finding in items], len(checked), fail_on)


def _kustomize_findings(found: list[Path], report: Report) -> tuple[dict[str, list[Change]], set[str]]:
    """NC021's findings on the kustomize trees of the kustomizations `found`, by the real path of
    their file, and the real paths of the trees' patch files; a kustomization that cannot be
    resolved is reported."""
    from nativecar.rules import kustomize_overlays

    if not found:
        return {}, set()
    by_path, patch_files, errors = kustomize_overlays.findings(found, lambda path: kustomize.read_file(Path(path)))
    told = {str(error) for error in report.bad}
    for error in errors:
        if str(error) not in told:  # a kustomization.yaml is an input too: its YAML error was reported
            report.error(error)
    return {os.path.realpath(path): items for path, items in by_path.items()}, patch_files


def run_explain(
    paths: list[str],
    settings: Settings,
    output_format: str,
    report: Report,
    stdout: BinaryIO | None = None,
    injection: Injection | None = None,
) -> int:
    """`nativecar explain`: each workload's timeline before and after the conversion, to stdout
    as text, json or svg; nothing at all when an input is bad (exit code 2)."""
    from nativecar import explain

    stdout = stdout or sys.stdout.buffer
    inputs = _expand(paths, settings, report)
    context = context_for(settings, injection)
    gathered = _gather(inputs, lambda source: engine.explain(source, context), report)
    if gathered is None:
        return report.exit_code
    found: explain.Explained = [(item.name, items) for item, items in gathered]
    verb = f"inject -p {injection.profile.name}" if injection is not None else "migrate"
    if output_format == "json":
        text = explain.as_json(found) + "\n"
    elif output_format == "svg":
        text = explain.svg(found, verb)
    else:
        text = explain.text(found, verb, colour=stdout.isatty() if hasattr(stdout, "isatty") else False)
    stdout.write(printable(text))
    stdout.flush()
    return report.exit_code
