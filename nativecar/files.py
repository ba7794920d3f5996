"""Inputs and outputs: walking paths, reading stdin, and atomic in-place writes.

Directories are walked for `*.yaml` and `*.yml` in sorted order, skipping hidden directories
(`.git`). `-` (or no path at all) is standard input. An in-place write goes to a temporary file
in the same directory, keeps the original's permission bits, and replaces the original with
one rename, so a reader never sees half a file and a crash never leaves one.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

from nativecar.documents import InputError

STDIN = "-"
SUFFIXES = (".yaml", ".yml")


class Input(NamedTuple):
    """One input: its display name (what messages call it) and where to read it."""

    name: str
    path: Path | None  # None for standard input


def expand(paths: list[str]) -> list[Input]:
    """The inputs named by `paths` (files, directories, `-`), in order, each once."""
    if not paths:
        return [Input("<stdin>", None)]
    inputs: list[Input] = []
    seen: set[str] = set()
    for raw in paths:
        for item in _expand_one(raw):
            key = item.name if item.path is None else str(item.path.resolve())
            if key not in seen:
                seen.add(key)
                inputs.append(item)
    return inputs


def _expand_one(raw: str) -> Iterator[Input]:
    if raw == STDIN:
        yield Input("<stdin>", None)
        return
    path = Path(raw)
    if path.is_dir():
        found = False
        for directory, subdirectories, names in os.walk(path):
            subdirectories[:] = sorted(name for name in subdirectories if not name.startswith("."))
            for name in sorted(names):
                if name.endswith(SUFFIXES):
                    found = True
                    found_path = Path(directory, name)
                    yield Input(str(found_path), found_path)
        if not found:
            raise InputError(raw, 1, 1, "no *.yaml or *.yml files in this directory")
        return
    if not path.exists():
        raise InputError(raw, 1, 1, "no such file or directory")
    yield Input(raw, path)


def read(item: Input) -> bytes:
    """The bytes of one input (InputError when it cannot be read)."""
    if item.path is None:
        return sys.stdin.buffer.read()
    try:
        return item.path.read_bytes()
    except OSError as error:
        raise InputError(item.name, 1, 1, f"cannot read: {error.strerror or error}") from None


def write_atomic(path: Path, data: bytes) -> None:
    """Replace `path` with `data` in one rename, keeping its permission bits."""
    import tempfile

    mode = path.stat().st_mode & 0o7777
    descriptor, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".nativecar")
    temporary = Path(name)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        temporary.chmod(mode)
        temporary.replace(path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
