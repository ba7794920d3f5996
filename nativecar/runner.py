"""One run over many inputs, with the exit code it ends with.

To stdout (and for `--check`, `--diff`, `check` and `explain`) every input is read and
rewritten first, and bad input anywhere (an unreadable path, a YAML error, a duplicate key)
means nothing at all is written, so a pipeline such as `nativecar migrate k8s/ | kubectl apply -f -`
never applies half a stream. With `-i` each file stands alone, as in black and ruff: it is read,
rewritten, verified and written before the next is read, a bad file is named and left byte for
byte as it was, the others are converted, and the exit code is 2.
"""

from __future__ import annotations

import gc
import shutil
import sys
import tempfile
from collections.abc import Callable
from typing import IO, Any, BinaryIO, NamedTuple, TypeVar

from nativecar import engine, files
from nativecar.diffs import StreamDiff
from nativecar.documents import BOM, InputError, Source, decode, encode, segments
from nativecar.profiles import builtins
from nativecar.report import Report, printable
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
    inputs = _expand(paths, report)
    context = context_for(settings, injection)
    # Findings point into the file as the user will find it: rewritten with -i, as it is otherwise;
    # with --quiet nobody reads them, so they are not looked for.
    positions: engine.Positions | None = "output" if output.in_place else "input"
    if report.quiet:
        positions = None

    if output.in_place:
        report.in_place = True

        def work(source: Source) -> engine.Outcome:
            return engine.process(source, context, positions)

        _rewrite_in_place(inputs, work, report)
        report.summary()
        return report.exit_code
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY) as spool:
        results: list[tuple[files.Input, engine.Records]] = []
        previous_ended = True
        for index, item in enumerate(inputs):
            sink = _Sink(spool, output, item.name, first=index == 0, previous_ended=previous_ended)
            try:
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


SPOOL_IN_MEMORY = 8 << 20  # bytes of output held in memory before the spool moves to a temporary file


def _stream(
    stream: BinaryIO, name: str, context: Context, positions: engine.Positions | None, sink: _Sink
) -> engine.Records:
    """One input rewritten a document at a time, each piece handed to `sink` as it is done."""
    session = engine.Session(context, positions)
    for segment in segments(stream, name):
        sink.piece(segment.source, session.rewrite(segment))
    sink.close()
    return session.finish()


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


def _expand(paths: list[str], report: Report) -> list[files.Input]:
    """The inputs `paths` name; the paths that name nothing readable are reported as errors,
    and the names a walk passed over as notes."""
    found = files.expand(paths)
    for error in found.errors:
        report.error(error)
    for note in found.skipped:
        report.note(note)
    return found.inputs


def _gather(
    inputs: list[files.Input], work: Callable[[Source], T], report: Report
) -> list[tuple[files.Input, T]] | None:
    """`work` done on every input, in order; None (nothing to write) when any input or path was
    bad, each of them reported."""
    results: list[tuple[files.Input, T]] = []
    for item in inputs:
        try:
            source = decode(files.read(item), item.name)
            results.append((item, _unhurried(work, source)))
        except InputError as error:
            report.error(error)
    if report.errors:
        report.summary()
        return None
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


def _rewrite_in_place(inputs: list[files.Input], work: Callable[[Source], engine.Outcome], report: Report) -> None:
    """Read, rewrite, verify and write each file before the next is read; a bad one is reported
    and left as it was. A stop signal ends the run between two files or removes the temporary
    file of the one being written, so no file is ever left half rewritten."""
    with files.signals_raise():
        try:
            for item in inputs:
                try:
                    original = files.read_original(item)
                    source = decode(original.data, item.name)
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


def run_check(
    paths: list[str], settings: Settings, output_format: str, report: Report, stdout: BinaryIO | None = None
) -> int:
    """`nativecar check`: findings to stdout in `output_format`; 1 if any is an error."""
    from nativecar import checker, formats

    stdout = stdout or sys.stdout.buffer
    inputs = _expand(paths, report)
    context = context_for(settings)
    gathered = _gather(inputs, lambda source: checker.check(source, context), report)
    if gathered is None:
        return report.exit_code
    found: formats.Findings = [(item.name, findings) for item, findings in gathered]
    if output_format == "text":
        text = formats.text(found, colour=stdout.isatty() if hasattr(stdout, "isatty") else False)
    else:
        text = formats.FORMATS[output_format](found)
    if text:
        stdout.write(printable(text + "\n"))
        stdout.flush()
    return report.findings([finding for _, items in found for finding in items], len(inputs))


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
    inputs = _expand(paths, report)
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
