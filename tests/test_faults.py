"""Faults around the manifests, through the installed `nativecar` entry point: links, pipes,
permissions, signals, files that change under the run, names and values that are not UTF-8.

Whatever goes wrong, the contract holds: one `FILE:LINE:COL: message` line per problem, exit
code 2, no traceback, nothing on stdout when an input is bad, and with `-i` every file either
byte for byte as it was or fully converted, never torn, with no temporary file left behind.

Permission checks mean nothing to root, so those commands run as `nobody` through `setpriv`
when the tests run as root, in a directory `nobody` may use.
"""

from __future__ import annotations

import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import FIXTURES

EXECUTABLE = shutil.which("nativecar", path=str(Path(sys.executable).parent)) or shutil.which("nativecar")
JOB = (FIXTURES / "vendors" / "cloudsql-v2-job.yaml").read_bytes()
NOBODY = 65534
TEMPORARY_SUFFIX = ".nativecar"


def nativecar(
    *args: str | bytes,
    unprivileged: bool = False,
    cwd: Path | None = None,
    stdin: bytes | None = None,
    timeout: float = 30,
) -> subprocess.CompletedProcess:
    """Run the entry point; `unprivileged` runs it as `nobody` when the tests run as root."""
    assert EXECUTABLE, "the nativecar entry point is not installed"
    command = [*_as_nobody(unprivileged), EXECUTABLE, *args]
    return subprocess.run(command, input=stdin, capture_output=True, cwd=cwd, timeout=timeout)


def _as_nobody(unprivileged: bool) -> list[str]:
    if not unprivileged or os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root without setpriv: cannot drop to an unprivileged user to test permissions")
    return [setpriv, f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]


def errors_of(result: subprocess.CompletedProcess) -> list[str]:
    """The stderr lines of a run, after checking that it ended as bad input ends."""
    stderr = result.stderr.decode("utf-8", errors="replace")
    assert "Traceback" not in stderr, stderr
    assert result.returncode == 2, stderr
    return stderr.splitlines()


@pytest.fixture(scope="module")
def converted(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """JOB as `migrate -i` leaves it, from a run on a copy."""
    copy = tmp_path_factory.mktemp("converted") / "job.yaml"
    copy.write_bytes(JOB)
    result = nativecar("migrate", "-q", "-i", str(copy))
    assert result.returncode == 0, result.stderr
    assert copy.read_bytes() != JOB
    return copy.read_bytes()


@pytest.fixture
def shared() -> Iterator[Path]:
    """A directory that `nobody` can use too (pytest's own temporary directories are root's only)."""
    directory = Path(tempfile.mkdtemp(prefix="nativecar-faults-"))
    directory.chmod(0o777)
    try:
        yield directory
    finally:
        for root, subdirectories, _ in os.walk(directory):
            for name in subdirectories:
                Path(root, name).chmod(0o700)
        shutil.rmtree(directory)


def put(path: Path, data: bytes = JOB, mode: int = 0o666) -> Path:
    """Write `data` to `path` with `mode` (readable and writable by anybody unless told)."""
    path.write_bytes(data)
    path.chmod(mode)
    return path


def temporaries(directory: Path) -> list[str]:
    return [name for _, _, names in os.walk(directory) for name in names if name.endswith(TEMPORARY_SUFFIX)]


# -- in-place writes ---------------------------------------------------------------------------


def test_in_place_writes_through_a_symlink_and_keeps_the_link(tmp_path: Path, converted: bytes) -> None:
    real = put(tmp_path / "z.yaml", mode=0o640)
    link = tmp_path / "a.yaml"
    link.symlink_to("z.yaml")
    result = nativecar("migrate", "-i", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert link.is_symlink() and link.readlink() == Path("z.yaml")
    assert real.read_bytes() == converted and stat.S_IMODE(real.stat().st_mode) == 0o640
    assert result.stderr.count(b"-> native sidecar") == 1  # one file behind two names: converted once
    # Named directly, a link to a link is followed to the file too.
    put(real)
    (tmp_path / "b.yaml").symlink_to("a.yaml")
    assert nativecar("migrate", "-q", "-i", str(tmp_path / "b.yaml")).returncode == 0
    assert real.read_bytes() == converted and (tmp_path / "b.yaml").is_symlink()
    assert sorted(path.name for path in tmp_path.iterdir()) == ["a.yaml", "b.yaml", "z.yaml"]


def test_a_symlink_loop_is_one_line_and_the_rest_is_converted(tmp_path: Path, converted: bytes) -> None:
    job = put(tmp_path / "job.yaml")
    (tmp_path / "loop.yaml").symlink_to("loop.yaml")
    for args in (["-i"], []):
        result = nativecar("migrate", *args, str(tmp_path))
        assert f"{tmp_path}/loop.yaml:1:1: cannot read: Too many levels of symbolic links" in errors_of(result)
    assert job.read_bytes() == converted


def test_in_place_refuses_what_is_not_a_regular_file(shared: Path) -> None:
    fifo = shared / "pipe.yaml"
    os.mkfifo(fifo, 0o666)
    # Unprivileged, so that a regression cannot replace /dev/null or /dev/stdin of this machine.
    for path in (fifo, "/dev/null", "/dev/stdin"):
        result = nativecar("migrate", "-i", str(path), unprivileged=True, stdin=JOB, timeout=20)
        assert errors_of(result)[0].startswith(f"{path}:1:1: cannot rewrite in place: "), result.stderr
        assert result.stdout == b""
    # `-i <(cat f)`: the shell passes /dev/fd/N, a pipe.
    job = put(shared / "job.yaml")
    script = 'exec "$0" migrate -i <(cat "$1")'
    result = subprocess.run(["bash", "-c", script, EXECUTABLE, str(job)], capture_output=True, timeout=20, check=False)
    line = errors_of(result)[0]
    assert line.startswith("/dev/fd/") and ":1:1: cannot rewrite in place: not a regular file (a pipe)" in line
    assert job.read_bytes() == JOB and stat.S_ISFIFO(fifo.lstat().st_mode)


def test_in_place_refuses_a_read_only_file(shared: Path, converted: bytes) -> None:
    read_only = put(shared / "read-only.yaml", mode=0o444)
    for unprivileged in (True, False):  # root could write it: 0444 still means "leave me alone"
        result = nativecar("migrate", "-i", str(read_only), unprivileged=unprivileged)
        assert errors_of(result)[0] == f"{read_only}:1:1: cannot write: read-only"
        assert read_only.read_bytes() == JOB and stat.S_IMODE(read_only.stat().st_mode) == 0o444
    if os.geteuid() == 0:
        # Root's file in a directory everybody may write: `nobody` may not write the file itself.
        theirs = put(shared / "theirs.yaml", mode=0o644)
        result = nativecar("migrate", "-i", str(theirs), unprivileged=True)
        assert errors_of(result)[0] == f"{theirs}:1:1: cannot write: read-only"
        assert theirs.read_bytes() == JOB and theirs.stat().st_uid == 0
    assert temporaries(shared) == []


def test_in_place_in_a_directory_that_takes_no_new_file(shared: Path) -> None:
    locked = shared / "locked"
    locked.mkdir()
    job = put(locked / "job.yaml")
    locked.chmod(0o555)
    result = nativecar("migrate", "-i", str(job), unprivileged=True)
    assert errors_of(result)[0] == (
        f"{job}:1:1: cannot write: Permission denied (creating a temporary file in {locked})"
    )
    assert job.read_bytes() == JOB


def test_in_place_each_file_stands_alone(shared: Path, converted: bytes) -> None:
    good = [put(shared / "a-good.yaml"), put(shared / "z-good.yaml")]
    bad = {
        put(shared / "b-broken.yaml", b"apiVersion: v1\nkind: Pod\nmetadata: {name: [\n"): ":4:1: did not find",
        put(shared / "c-latin.yaml", b"a: caf\xe9\n"): ":1:7: not UTF-8",
        put(shared / "d-read-only.yaml", mode=0o444): ":1:1: cannot write: read-only",
    }
    before = {path: path.read_bytes() for path in bad}
    result = nativecar("migrate", "-i", str(shared), unprivileged=True)
    lines = errors_of(result)
    for path, message in bad.items():
        assert any(line.startswith(f"{path}{message}") for line in lines), (path, lines)
        assert path.read_bytes() == before[path]
    assert lines[-1].endswith("; 3 errors: what they name was left as it was.")
    assert [path.read_bytes() == converted for path in good] == [True, True]
    assert temporaries(shared) == []


def test_check_and_diff_report_every_bad_input(tmp_path: Path) -> None:
    put(tmp_path / "good.yaml")
    broken = put(tmp_path / "broken.yaml", b"a: [\n")
    missing = [tmp_path / "missing-1.yaml", tmp_path / "missing-2.yaml"]
    paths = [str(missing[0]), str(tmp_path / "good.yaml"), str(broken), str(missing[1])]
    for mode in ("--check", "--diff"):
        result = nativecar("migrate", mode, *paths)
        lines = errors_of(result)
        assert f"{missing[0]}:1:1: no such file or directory" in lines
        assert f"{missing[1]}:1:1: no such file or directory" in lines
        assert any(line.startswith(f"{broken}:2:1: ") for line in lines)
        assert result.stdout == b""  # all or nothing on stdout
    assert nativecar("migrate", *paths).stdout == b""


# -- stop signals ------------------------------------------------------------------------------


def _run_until_some_are_written(directory: Path, files: list[Path], converted: bytes) -> subprocess.Popen:
    """Start `migrate -i DIRECTORY` and return once it has written the first file."""
    assert EXECUTABLE
    process = subprocess.Popen(
        [EXECUTABLE, "migrate", "-q", "-i", str(directory)], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    deadline = time.monotonic() + 30
    while files[0].read_bytes() != converted:
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "nativecar wrote nothing in 30 seconds"
        time.sleep(0.005)
    return process


def _many(directory: Path, count: int = 2000) -> list[Path]:
    return [put(directory / f"job-{index:04}.yaml", mode=0o644) for index in range(count)]


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_stop_signal_during_in_place_leaves_no_torn_file_and_no_temporary(
    tmp_path: Path, converted: bytes, signum: signal.Signals
) -> None:
    files = _many(tmp_path)
    process = _run_until_some_are_written(tmp_path, files, converted)
    process.send_signal(signum)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == -signum, stderr  # ends as the signal would, once the files are safe
    assert f"interrupted by {signum.name}".encode() in stderr and b"Traceback" not in stderr
    contents = [path.read_bytes() for path in files]
    assert all(data in (JOB, converted) for data in contents), "a file is neither the original nor converted"
    assert JOB in contents, "the run ended before the signal; nothing was interrupted"
    assert temporaries(tmp_path) == []


def test_sigkill_during_in_place_leaves_no_torn_file(tmp_path: Path, converted: bytes) -> None:
    files = _many(tmp_path)
    process = _run_until_some_are_written(tmp_path, files, converted)
    process.kill()
    process.communicate(timeout=30)
    assert process.returncode == -signal.SIGKILL
    contents = [path.read_bytes() for path in files]
    # A temporary file may stay behind after SIGKILL, which nothing can catch; a torn target may not.
    assert all(data in (JOB, converted) for data in contents), "a file is neither the original nor converted"
    assert JOB in contents


def test_a_file_changed_during_the_run_is_left_as_it_is(tmp_path: Path, converted: bytes) -> None:
    # `a.yaml` is converted in a moment; `b.yaml`, 3,000 documents, takes seconds. Once a.yaml has
    # been written, b.yaml has been read (files are done one at a time, in order) and is being
    # converted: that is when a user's editor saves it. The window is seconds wide against a
    # tenth of a second of waiting; tests/test_files.py pins the same check without any timing.
    first = put(tmp_path / "a.yaml", mode=0o644)
    slow = put(tmp_path / "b.yaml", b"---\n".join([JOB] * 3000), mode=0o644)
    process = _run_until_some_are_written(tmp_path, [first], converted)
    time.sleep(0.1)
    edited = slow.read_bytes() + b"# saved by an editor meanwhile\n"
    slow.write_bytes(edited)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 2, stderr
    assert f"{slow}:1:1: changed while nativecar was running; left as it is".encode() in stderr.splitlines()
    assert slow.read_bytes() == edited
    assert first.read_bytes() == converted
    assert temporaries(tmp_path) == []


# -- directory walks ---------------------------------------------------------------------------


def test_a_fifo_in_a_walked_directory_is_skipped_with_a_note(tmp_path: Path, converted: bytes) -> None:
    job = put(tmp_path / "job.yaml")
    os.mkfifo(tmp_path / "pipe.yaml")  # nobody writes to it: opening it for reading would block
    note = f"{tmp_path}/pipe.yaml: skipped: not a regular file (a pipe)".encode()
    for command, code in ((["migrate", "--check"], 1), (["migrate"], 0), (["check"], 1), (["migrate", "-i"], 0)):
        result = nativecar(*command, str(tmp_path), timeout=20)
        assert result.returncode == code, result.stderr
        assert note in result.stderr.splitlines()
    assert job.read_bytes() == converted


def test_an_unreadable_directory_is_an_error(shared: Path) -> None:
    put(shared / "job.yaml")
    hidden = shared / "sub"
    hidden.mkdir()
    put(hidden / "other.yaml")
    hidden.chmod(0o700 if os.geteuid() == 0 else 0o000)
    for args in (["migrate"], ["migrate", "-i"], ["check"]):
        result = nativecar(*args, str(shared), unprivileged=True)
        assert f"{hidden}:1:1: cannot read directory: Permission denied" in errors_of(result)
        if args == ["migrate"]:
            assert result.stdout == b""


# -- side inputs -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (b"sidecar: [log-shipper]\nkube-version: '1.30\x01'\n", ":2:20: unacceptable character #x0001"),
        (b"kube-version: '1.30\xff'\n", ":1:20: not UTF-8 (byte 0xff); config files must be UTF-8"),
    ],
)
def test_a_config_file_that_is_not_text_is_one_line(tmp_path: Path, text: bytes, message: str) -> None:
    config = put(tmp_path / ".nativecar.yaml", text)
    job = put(tmp_path / "job.yaml")
    for command in (["migrate", "--config", str(config)], ["check"], ["explain"], ["inject", "-p", "istio"]):
        result = nativecar(*command, str(job), cwd=tmp_path)
        (line, *_) = errors_of(result)
        assert line.startswith(str(config) if "--config" in command else f"{tmp_path}/.nativecar.yaml")
        assert message in line and result.stdout == b""


def test_an_unreadable_pyproject_toml_above_is_reported(shared: Path) -> None:
    # As black and ruff do: it may hold the settings that were meant, so it is not skipped.
    pyproject = put(shared / "pyproject.toml", b"[tool.nativecar]\nkube-version = '1.30'\n", mode=0o600)
    below = shared / "deploy"
    below.mkdir(mode=0o777)
    below.chmod(0o777)
    job = put(below / "job.yaml")
    if os.geteuid() != 0:
        pyproject.chmod(0o000)
    for command in (["migrate"], ["check"], ["explain"], ["migrate", "-i"]):
        result = nativecar(*command, str(job), cwd=below, unprivileged=True)
        assert errors_of(result) == [f"{pyproject}:1:1: cannot read config file: Permission denied"]
    assert job.read_bytes() == JOB


def test_a_krm_plugin_config_that_cannot_be_read_is_one_line(shared: Path) -> None:
    unreadable = put(shared / "config.yaml", b"kind: NativeSidecars\n", mode=0o600 if os.geteuid() == 0 else 0)
    cases = [
        (shared / "missing.yaml", "No such file or directory", False),
        (shared, "Is a directory", False),
        (unreadable, "Permission denied", True),
    ]
    for path, reason, unprivileged in cases:
        result = nativecar("krm", str(path), stdin=JOB, unprivileged=unprivileged)
        assert errors_of(result) == [f"nativecar krm: {path}:1:1: cannot read plugin config: {reason}"]
        assert result.stdout == b""


def test_names_and_values_that_are_not_utf8(tmp_path: Path) -> None:
    raw = os.fsencode(tmp_path) + b"/caf\xe9.yaml"
    Path(os.fsdecode(raw)).write_bytes(JOB)
    shown = f"{tmp_path}/caf\\udce9.yaml".encode()  # as Python writes it to stderr, too
    diff = nativecar("migrate", "--diff", raw)
    assert diff.returncode == 0 and diff.stdout.startswith(b"--- a/" + shown + b"\n+++ b/" + shown + b"\n")
    text = nativecar("check", raw)
    assert text.returncode == 1 and text.stdout.startswith(shown + b"\n"), text.stderr
    github = nativecar("check", "--format", "github", raw)
    assert github.returncode == 1 and b"::error file=" in github.stdout, github.stderr
    for result in (nativecar("explain", raw), nativecar("check", "--format", "sarif", raw)):
        assert result.returncode in (0, 1) and b"Traceback" not in result.stderr
    value = nativecar("inject", "-p", "cloud-sql-proxy", "--set", b"instance=db\xff", raw)
    assert errors_of(value) == ["error: --set instance: the value is not UTF-8 (an undecodable byte in 'db\\udcff')"]
    assert value.stdout == b""
