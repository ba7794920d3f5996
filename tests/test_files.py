"""`nativecar.files` on its own: the checks of an in-place rewrite that need no timing luck.

`tests/test_faults.py` drives the same through the entry point; here a change made between the
read and the write, or a signal in the middle of a write, happens exactly where it is wanted.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from nativecar import files
from nativecar.documents import InputError

ORIGINAL = b"apiVersion: v1\nkind: Pod\nmetadata:\n  name: original\n"
REWRITTEN = b"apiVersion: v1\nkind: Pod\nmetadata:\n  name: rewritten\n"


def original_of(path: Path) -> files.Original:
    return files.read_original(files.Input(str(path), path))


def leftovers(directory: Path) -> list[str]:
    return [path.name for path in directory.iterdir() if path.name.endswith(files.TEMPORARY_SUFFIX)]


def test_write_atomic_replaces_the_file_it_read(tmp_path: Path) -> None:
    target = tmp_path / "pod.yaml"
    target.write_bytes(ORIGINAL)
    target.chmod(0o640)
    files.write_atomic(original_of(target), REWRITTEN)
    assert target.read_bytes() == REWRITTEN
    assert target.stat().st_mode & 0o777 == 0o640
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("how", ["same size and mtime", "renamed over", "appended"])
def test_write_atomic_leaves_a_file_that_changed_since_it_was_read(tmp_path: Path, how: str) -> None:
    target = tmp_path / "pod.yaml"
    target.write_bytes(ORIGINAL)
    original = original_of(target)
    edited = ORIGINAL.replace(b"original", b"editedit")  # same length
    if how == "same size and mtime":
        # Within one tick of a coarse clock: size and mtime say nothing, the bytes do.
        status = target.stat()
        target.write_bytes(edited)
        os.utime(target, ns=(status.st_atime_ns, status.st_mtime_ns))
    elif how == "renamed over":
        saved = tmp_path / "saved-by-an-editor"
        saved.write_bytes(edited)
        saved.replace(target)
    else:
        edited = ORIGINAL + b"# more\n"
        target.write_bytes(edited)
    with pytest.raises(InputError) as raised:
        files.write_atomic(original, REWRITTEN)
    assert str(raised.value) == f"{target}:1:1: changed while nativecar was running; left as it is"
    assert target.read_bytes() == edited
    assert leftovers(tmp_path) == []


def test_a_file_another_run_rewrote_to_the_same_text_is_no_error(tmp_path: Path) -> None:
    """Two pre-commit processes converting one file: the second finds its own result there."""
    target = tmp_path / "job.yaml"
    target.write_bytes(ORIGINAL)
    original = original_of(target)
    target.write_bytes(REWRITTEN)  # the other process's rename
    files.write_atomic(original, REWRITTEN)
    assert target.read_bytes() == REWRITTEN
    assert leftovers(tmp_path) == []


class StoppedError(Exception):
    """What SIGTERM raises in this test process when `signals_raise` is not in charge."""


@pytest.fixture
def sigterm_guard() -> Iterator[None]:
    """SIGTERM raises `StoppedError` instead of ending pytest, should the code under test not handle it."""

    def guard(signum: int, frame: object) -> None:
        raise StoppedError

    previous = signal.signal(signal.SIGTERM, guard)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def test_a_stop_signal_in_the_middle_of_a_write_removes_the_temporary_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sigterm_guard: None
) -> None:
    target = tmp_path / "pod.yaml"
    target.write_bytes(ORIGINAL)
    original = original_of(target)
    fsync = os.fsync

    def fsync_then_sigterm(descriptor: int) -> None:
        fsync(descriptor)
        os.kill(os.getpid(), signal.SIGTERM)  # after the data, before the rename

    monkeypatch.setattr(os, "fsync", fsync_then_sigterm)
    guard = signal.getsignal(signal.SIGTERM)
    with pytest.raises(files.Interrupted) as raised, files.signals_raise():
        files.write_atomic(original, REWRITTEN)
    assert raised.value.signum == signal.SIGTERM
    assert target.read_bytes() == ORIGINAL
    assert leftovers(tmp_path) == []
    assert signal.getsignal(signal.SIGTERM) is guard  # the handlers are what they were before
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_read_original_refuses_what_is_not_a_regular_file(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)
    with pytest.raises(InputError, match=r"pipe.yaml:1:1: cannot rewrite in place: not a regular file \(a pipe\)"):
        original_of(fifo)
    link = tmp_path / "stdin.yaml"
    link.symlink_to("/dev/stdin")
    with pytest.raises(InputError, match="cannot rewrite in place"):
        original_of(link)
