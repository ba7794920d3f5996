"""Time ``nativecar migrate`` against ``kubectl kustomize`` and a plain ruamel.yaml round trip.

Three inputs are built into a work directory (default ``benchmarks/.work/``):

* (A) every ``*.yaml`` under the kube-prometheus ``manifests`` directory of the shared corpus, joined into one stream;
* (B) 1,000 renamed copies of a legacy Istio-injected Deployment, joined into one stream;
* (C) the small Cloud SQL Auth Proxy Job in ``benchmarks/job.yaml``;
* (D), only when asked for (``--only D``): the documents of B repeated into a 20 MB and a 200 MB stream.

For D nativecar runs alone, ``migrate`` and ``migrate --diff`` on both streams; the script reports the time on
200 MB against ten times the time on 20 MB (linear time gives 1, the target is under 3) and the peak RSS on
200 MB (the target is under 300 MiB: memory follows the largest document, not the stream).

Every tool runs on every input as a child process, interleaved (nativecar, kustomize, ruamel, nativecar, ...) so
that machine load affects all of them alike, after one untimed warm-up run each. The script reports median wall
times, the ratios nativecar / kustomize and nativecar / ruamel, and nativecar's peak RSS (from ``os.wait4``), then
checks them against the acceptance targets. It exits 0 unless a tool fails; the targets are reported, not enforced.

Only the standard library is used here; the ruamel round trip needs ``ruamel.yaml`` importable by this interpreter.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
CORPUS_DIR = REPO_ROOT / ".." / "shared" / "corpus" / "prometheus-operator+kube-prometheus" / "manifests"
ISTIO_FIXTURE = REPO_ROOT / "tests" / "fixtures" / "vendors" / "istio-deployment.yaml"
JOB_FILE = BENCH_DIR / "job.yaml"
ISTIO_COPIES = 1000
DEFAULT_REPEAT = {"A": 5, "B": 3, "C": 21, "D": 1}
SCALE_MEGABYTES = (20, 200)  # D: the small stream, and the large one ten times its size
SCALE_MODES = {"migrate": ["migrate", "-q"], "migrate --diff": ["migrate", "-q", "--diff"]}
TOOLS = ("nativecar", "kustomize", "ruamel")
KIB_PER_MIB = 1024

RUAMEL_SNIPPET = """\
import sys
from ruamel.yaml import YAML

yaml = YAML(typ="rt")
with open(sys.argv[1], "rb") as stream:
    documents = list(yaml.load_all(stream))
yaml.dump_all(documents, sys.stdout)
"""

FIRST_NAME_LINE = re.compile(r"\n  name: ([^\n]*)")


class ToolFailedError(RuntimeError):
    """A benchmarked command exited non-zero or produced wrong output."""


@dataclass
class Input:
    """One benchmark input: a directory holding ``stream.yaml`` and a ``kustomization.yaml`` that lists it."""

    key: str
    title: str
    directory: Path
    repeat: int

    @property
    def stream(self) -> Path:
        """Return the path of the joined YAML stream."""
        return self.directory / "stream.yaml"

    @property
    def megabytes(self) -> float:
        """Return the stream's size in MB (10**6 bytes)."""
        return self.stream.stat().st_size / 1e6


@dataclass
class Run:
    """The outcome of one child process: wall time, peak RSS and exit code."""

    seconds: float
    max_rss_kib: int
    returncode: int


@dataclass
class Result:
    """All timed runs of every tool on one input, plus the byte-identity check."""

    item: Input
    runs: dict[str, list[Run]] = field(default_factory=lambda: {tool: [] for tool in TOOLS})
    identical: bool | None = None

    def median(self, tool: str) -> float:
        """Return the median wall time of ``tool`` in seconds."""
        return statistics.median(run.seconds for run in self.runs[tool])

    def ratio(self, tool: str) -> float:
        """Return nativecar's median time divided by ``tool``'s."""
        return self.median("nativecar") / self.median(tool)

    def peak_mib(self) -> float:
        """Return the highest peak RSS of any nativecar run, in MiB."""
        return max(run.max_rss_kib for run in self.runs["nativecar"]) / KIB_PER_MIB


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", default="A,B,C", help="comma-separated inputs to run, of A,B,C,D (default: A,B,C)")
    parser.add_argument("--repeat", type=int, help="timed runs per tool and input (default: A 5, B 3, C 21, D 1)")
    parser.add_argument("--work", type=Path, default=BENCH_DIR / ".work", help="work directory (created if absent)")
    parser.add_argument("--nativecar", type=Path, help="nativecar executable (default: next to python, else PATH)")
    parser.add_argument("--kubectl", type=Path, help="kubectl executable (default: from PATH)")
    parser.add_argument("--istio-fixture", type=Path, help=f"legacy Istio Deployment (default: {ISTIO_FIXTURE})")
    args = parser.parse_args(argv)
    args.only = parse_only(parser, args.only)
    if args.repeat is not None and args.repeat < 1:
        parser.error("--repeat must be at least 1")
    return args


def parse_only(parser: argparse.ArgumentParser, value: str) -> list[str]:
    """Turn ``--only`` into a sorted list of input keys, rejecting unknown ones."""
    keys = {part.strip().upper() for part in value.split(",") if part.strip()}
    unknown = keys - set(DEFAULT_REPEAT)
    if unknown or not keys:
        parser.error(f"--only takes a comma-separated subset of A,B,C,D, not {value!r}")
    return sorted(keys)


def find_executable(explicit: Path | None, name: str, preferred: Path | None = None) -> Path:
    """Return ``explicit`` if given, else ``preferred`` if it exists, else ``name`` from PATH."""
    if explicit is not None:
        candidate: Path | None = explicit
    elif preferred is not None and preferred.is_file():
        candidate = preferred
    else:
        found = shutil.which(name)
        candidate = Path(found) if found else None
    if candidate is None or not os.access(candidate, os.X_OK):
        sys.exit(f"bench: cannot find an executable {name} ({candidate or 'not on PATH'})")
    return candidate


def istio_fixture(explicit: Path | None) -> Path:
    """Return the Istio fixture to copy (``explicit`` or the test fixture), exiting if it does not exist."""
    fixture = explicit or ISTIO_FIXTURE
    if not fixture.is_file():
        sys.exit(f"bench: Istio fixture {fixture} not found; pass --istio-fixture PATH")
    return fixture


def join_documents(documents: list[str]) -> str:
    """Join YAML documents with ``---`` separators, giving each a trailing newline."""
    return "---\n".join(text if text.endswith("\n") else text + "\n" for text in documents)


def write_input(directory: Path, stream: str) -> None:
    """Write ``stream.yaml`` and a plain ``kustomization.yaml`` listing it into ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "stream.yaml").write_bytes(stream.encode("utf-8"))
    (directory / "kustomization.yaml").write_text("resources:\n- stream.yaml\n", encoding="utf-8")


def build_prometheus_stream() -> str:
    """Return every kube-prometheus manifest (recursively, sorted by relative path) joined into one stream."""
    corpus = CORPUS_DIR.resolve()
    files = sorted(corpus.rglob("*.yaml"), key=lambda path: path.relative_to(corpus).as_posix())
    if not files:
        sys.exit(f"bench: no *.yaml files under {corpus}")
    return join_documents([path.read_text(encoding="utf-8") for path in files])


def clean_fixture(text: str) -> str:
    """Strip leading comment (and blank) lines and a trailing ``---`` line from a single-document fixture."""
    lines = text.splitlines(keepends=True)
    while lines and (lines[0].lstrip().startswith("#") or not lines[0].strip()):
        lines.pop(0)
    while lines and lines[-1].strip() in ("", "---"):
        lines.pop()
    return "".join(lines)


def rename(document: str, index: int) -> str:
    """Append ``-index`` to the document's first ``\\n  name: `` value (its ``metadata.name``)."""
    match = FIRST_NAME_LINE.search(document)
    if match is None:
        sys.exit("bench: the Istio fixture has no '  name: ' line under metadata")
    return f"{document[: match.end()]}-{index}{document[match.end() :]}"


def build_istio_stream(fixture: Path) -> str:
    """Return ``ISTIO_COPIES`` renamed copies of the Istio fixture joined into one stream."""
    document = clean_fixture(fixture.read_text(encoding="utf-8"))
    return join_documents([rename(document, index) for index in range(ISTIO_COPIES)])


def build_inputs(args: argparse.Namespace) -> list[Input]:
    """Write the requested inputs into the work directory and describe them."""
    builders = {
        "A": ("kube-prometheus manifests", build_prometheus_stream),
        "B": (
            f"{ISTIO_COPIES} x legacy Istio Deployment",
            lambda: build_istio_stream(istio_fixture(args.istio_fixture)),
        ),
        "C": ("Cloud SQL proxy Job (benchmarks/job.yaml)", lambda: JOB_FILE.read_text(encoding="utf-8")),
    }
    inputs = []
    for key in args.only:
        if key == "D":
            continue
        title, build = builders[key]
        directory = args.work.resolve() / key
        write_input(directory, build())
        inputs.append(Input(key, title, directory, args.repeat or DEFAULT_REPEAT[key]))
    return inputs


def child_environment() -> dict[str, str]:
    """Return the environment for children: ours, minus PYTHONDONTWRITEBYTECODE so bytecode caches are used."""
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def commands(item: Input, nativecar: Path, kubectl: Path) -> dict[str, list[str]]:
    """Return the command line of each tool for ``item``."""
    return {
        "nativecar": [str(nativecar), "migrate", "-q", str(item.stream)],
        "kustomize": [str(kubectl), "kustomize", str(item.directory)],
        "ruamel": [sys.executable, "-c", RUAMEL_SNIPPET, str(item.stream)],
    }


def run_once(command: list[str], output: Path, env: dict[str, str], cwd: Path) -> Run:
    """Run ``command`` with stdout to ``output`` and return its wall time, peak RSS (KiB) and exit code."""
    with output.open("wb") as stdout, output.with_suffix(".err").open("wb") as stderr:
        start = time.perf_counter()
        process = subprocess.Popen(command, stdout=stdout, stderr=stderr, env=env, cwd=cwd)
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    return Run(seconds, usage.ru_maxrss, process.returncode)


def check_run(tool: str, run: Run, output: Path) -> None:
    """Raise ToolFailedError, quoting the tool's stderr, if ``run`` exited non-zero."""
    if run.returncode != 0:
        stderr = output.with_suffix(".err").read_text(errors="replace")[-2000:]
        raise ToolFailedError(f"{tool} exited {run.returncode} on {output.parent}:\n{stderr}")


def measure(item: Input, nativecar: Path, kubectl: Path) -> Result:
    """Warm up each tool once, then run them interleaved ``item.repeat`` times and collect the runs."""
    result = Result(item)
    env = child_environment()
    cmds = commands(item, nativecar, kubectl)
    outputs = {tool: item.directory / f"out-{tool}.yaml" for tool in TOOLS}
    print(f"({item.key}) {item.title}: {item.megabytes:.3f} MB, {item.repeat} runs per tool", file=sys.stderr)
    for tool in TOOLS:
        check_run(tool, run_once(cmds[tool], outputs[tool], env, item.directory), outputs[tool])
    if item.key == "A":
        result.identical = outputs["nativecar"].read_bytes() == item.stream.read_bytes()
    for _ in range(item.repeat):
        for tool in TOOLS:
            run = run_once(cmds[tool], outputs[tool], env, item.directory)
            check_run(tool, run, outputs[tool])
            result.runs[tool].append(run)
    return result


def format_table(results: list[Result]) -> str:
    """Return the results table, one row per input."""
    header = (
        f"{'input':<6}{'MB':>8}{'nativecar s':>13}{'kustomize s':>13}{'ruamel s':>10}"
        f"{'nc/kust':>9}{'nc/ruamel':>11}{'nc peak MiB':>13}{'runs':>6}"
    )
    rows = [header, "-" * len(header)]
    for result in results:
        rows.append(
            f"{result.item.key:<6}{result.item.megabytes:>8.3f}{result.median('nativecar'):>13.3f}"
            f"{result.median('kustomize'):>13.3f}{result.median('ruamel'):>10.3f}{result.ratio('kustomize'):>9.2f}"
            f"{result.ratio('ruamel'):>11.2f}{result.peak_mib():>13.1f}{result.item.repeat:>6}"
        )
    for result in results:
        rows.append(f"({result.item.key}) {result.item.title}")
    for result in results:
        if result.identical is not None:
            rows.append(
                f"(A) nativecar output vs input, byte for byte: identical: {'yes' if result.identical else 'no'}"
            )
    return "\n".join(rows)


def verdict(passed: bool) -> str:
    """Return PASS or FAIL."""
    return "PASS" if passed else "FAIL"


def format_targets(results: list[Result]) -> str:
    """Return the acceptance-target block with PASS/FAIL per target."""
    lines = ["Acceptance targets (reported, not enforced):"]
    for result in results:
        key, ratio, peak = result.item.key, result.ratio("kustomize"), result.peak_mib()
        if key in ("A", "B"):
            goal = "goal met" if ratio <= 0.5 else "goal 0.5 not met"
            lines.append(
                f"  ({key}) nativecar/kustomize <= 1.5 (goal 0.5): {ratio:.2f}  {verdict(ratio <= 1.5)} ({goal})"
            )
        else:
            lines.append(f"  ({key}) nativecar/kustomize <= 3: {ratio:.2f}  {verdict(ratio <= 3)}")
        lines.append(f"  ({key}) nativecar peak memory < 200 MiB: {peak:.1f} MiB  {verdict(peak < 200)}")
        if result.identical is not None:
            lines.append(f"  ({key}) nativecar output byte-identical to input: {verdict(result.identical)}")
    return "\n".join(lines)


@dataclass
class Scale:
    """D: nativecar's runs on the 20 MB and the 200 MB stream, by mode."""

    paths: dict[int, Path]
    runs: dict[tuple[str, int], list[Run]] = field(default_factory=dict)

    def median(self, mode: str, megabytes: int) -> float:
        """Return the median wall time of ``mode`` on the stream of ``megabytes``."""
        return statistics.median(run.seconds for run in self.runs[mode, megabytes])

    def ratio(self, mode: str) -> float:
        """Return the time on the large stream over ten times the time on the small one."""
        small, large = SCALE_MEGABYTES
        return self.median(mode, large) / (large // small * self.median(mode, small))

    def peak_mib(self, mode: str) -> float:
        """Return the highest peak RSS of ``mode`` on the large stream, in MiB."""
        return max(run.max_rss_kib for run in self.runs[mode, SCALE_MEGABYTES[1]]) / KIB_PER_MIB


def build_scale(args: argparse.Namespace) -> dict[int, Path]:
    """Write the D streams (B's renamed documents, repeated to 20 MB and 200 MB) and return their paths."""
    document = clean_fixture(istio_fixture(args.istio_fixture).read_text(encoding="utf-8"))
    directory = args.work.resolve() / "D"
    directory.mkdir(parents=True, exist_ok=True)
    paths = {}
    for megabytes in SCALE_MEGABYTES:
        path = directory / f"stream-{megabytes}mb.yaml"
        with path.open("w", encoding="utf-8") as stream:
            written, index = 0, 0
            while written < megabytes * 1_000_000:
                text = ("---\n" if index else "") + rename(document, index)
                written += len(text.encode("utf-8"))
                stream.write(text)
                index += 1
        paths[megabytes] = path
    return paths


def measure_scale(args: argparse.Namespace, nativecar: Path) -> Scale:
    """Run each mode on the small stream ten times as often as on the large one (at least three times)."""
    scale = Scale(build_scale(args))
    env = child_environment()
    repeat = args.repeat or DEFAULT_REPEAT["D"]
    for mode, words in SCALE_MODES.items():
        for megabytes, path in scale.paths.items():
            runs = repeat if megabytes == SCALE_MEGABYTES[1] else max(3, repeat)
            print(f"(D) {mode} on {megabytes} MB: {runs} runs", file=sys.stderr)
            output = path.with_name(f"out-{megabytes}mb.txt")
            for _ in range(runs):
                run = run_once([str(nativecar), *words, str(path)], output, env, path.parent)
                check_run(f"nativecar {mode}", run, output)
                scale.runs.setdefault((mode, megabytes), []).append(run)
    return scale


def format_scale(scale: Scale) -> str:
    """Return the D table and its targets."""
    small, large = SCALE_MEGABYTES
    header = (
        f"{'(D) mode':<18}{f'{small} MB s':>10}{f'{large} MB s':>11}{f'{large}MB/(10x{small}MB)':>20}{'peak MiB':>10}"
    )
    rows = [header, "-" * len(header)]
    for mode in SCALE_MODES:
        rows.append(
            f"{mode:<18}{scale.median(mode, small):>10.2f}{scale.median(mode, large):>11.2f}"
            f"{scale.ratio(mode):>20.2f}{scale.peak_mib(mode):>10.1f}"
        )
    rows.append("Acceptance targets (reported, not enforced):")
    for mode in SCALE_MODES:
        ratio, peak = scale.ratio(mode), scale.peak_mib(mode)
        rows.append(f"  (D) {mode}: {large} MB under 3x the time of {small} MB x10: {ratio:.2f}  {verdict(ratio < 3)}")
        rows.append(f"  (D) {mode}: peak memory on {large} MB < 300 MiB: {peak:.1f} MiB  {verdict(peak < 300)}")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    """Build the inputs, measure every tool on each, and print the table and targets."""
    args = parse_args(argv)
    nativecar = find_executable(args.nativecar, "nativecar", Path(sys.executable).parent / "nativecar")
    kubectl = find_executable(args.kubectl, "kubectl")
    inputs = build_inputs(args)
    try:
        results = [measure(item, nativecar, kubectl) for item in inputs]
        scale = measure_scale(args, nativecar) if "D" in args.only else None
    except ToolFailedError as error:
        print(f"bench: FAILED: {error}", file=sys.stderr)
        return 1
    if results:
        print(format_table(results))
        print()
        print(format_targets(results))
    if scale is not None:
        print()
        print(format_scale(scale))
    return 0


if __name__ == "__main__":
    sys.exit(main())
