"""Inputs and outputs: walking paths, reading stdin, and safe in-place rewrites.

Directories are walked for `*.yaml` and `*.yml` in sorted order, skipping hidden directories
(`.git`) and, with a note, names that are not regular files (a FIFO would block the run); a
directory that cannot be read is an error, not a silent gap. `-` (or no path at all) is
standard input. What a walk leaves out (`Walk`):
- the paths `.gitignore` ignores, as git would (every `.gitignore` from the repository's root
  down, and `.git/info/exclude`), unless `gitignore` is off; a file named on the command line is
  read even when ignored (pre-commit never passes one);
- the `--exclude` patterns (gitignore syntax, each relative to where it was given: the working
  directory, or the config file's directory), for walked and named files alike, so that an
  exclude holds under pre-commit, which names every file;
- a Helm chart's `templates/` (Go templates, not manifests: `{{ }}` is not YAML), walked or
  named, with one note per chart; unless `charts` is "convert" (`migrate`/`inject` writing
  files, `--diff`, `--check`): then each template Helm renders (a YAML file whose name does not
  start with `_`) is an input that knows its chart (`Input.chart`, converted by
  `nativecar.charts`), and the partials are left out.
Patterns are matched by `pathspec`, the gitignore matcher black and others use.

An in-place rewrite (`-i`) reads one file as an `Original` and replaces it with `write_atomic`:
- only a regular file is rewritten, and through symbolic links: the real file changes, the
  link stays a link; nothing reached through `/proc` (`/dev/stdin`, `<(cat f)`) is;
- a read-only file is refused, not replaced;
- the new text goes to a temporary file in the real file's directory, gets the original's
  permission bits (and owner, where allowed) and replaces it with one rename, so a reader never
  sees half a file and a crash never leaves one;
- right before the rename the file is compared with what was read (identity, size, mtime and
  content), and a file that changed meanwhile is left as it is;
- `signals_raise` turns SIGTERM, SIGINT and SIGHUP into an `Interrupted` exception, so a
  temporary file is removed on the way out instead of being left behind.
Each problem is an `InputError` naming the file, so one bad file never stops the others.
"""

from __future__ import annotations

import hashlib
import os
import signal
import stat
import sys
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from types import FrameType
from typing import Any, BinaryIO, Literal, NamedTuple

from nativecar.documents import InputError

STDIN = "-"
STDIN_NAME = "<stdin>"  # what messages call standard input
SUFFIXES = (".yaml", ".yml")
TEMPORARY_SUFFIX = ".nativecar"
STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGINT", "SIGHUP") if hasattr(signal, name))
_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a pipe"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


class Input(NamedTuple):
    """One input: its display name (what messages call it), where to read it, and for a Helm
    template converted at its source, its chart's directory."""

    name: str
    path: Path | None  # None for standard input
    chart: Path | None = None


Charts = Literal["skip", "stdout", "convert"]


class Walk(NamedTuple):
    """What a walk leaves out: `exclude`, (pattern, the directory it is relative to) pairs in
    gitignore syntax; `gitignore`: whether `.gitignore` files count; `charts`: whether a Helm
    chart's templates are left out ("skip"; "stdout": and the note says how to convert them) or
    are inputs ("convert")."""

    exclude: tuple[tuple[str, str], ...] = ()
    gitignore: bool = True
    charts: Charts = "skip"


class Expansion(NamedTuple):
    """What a list of paths names: the inputs, the paths that name nothing readable, and the
    notes for names a walk passed over."""

    inputs: list[Input]
    errors: list[InputError]
    skipped: list[str]


class Stamp(NamedTuple):
    """What a file was when it was read; `write_atomic` compares it right before the rename."""

    device: int
    inode: int
    size: int
    mtime_ns: int
    digest: bytes


class Original(NamedTuple):
    """A file read for an in-place rewrite: its name, the real file behind it, its bytes."""

    name: str
    path: Path
    data: bytes
    stamp: Stamp


class Interrupted(BaseException):
    """A stop signal arrived while files were being rewritten (see `signals_raise`).

    A BaseException, like KeyboardInterrupt, so that no `except Exception` swallows it and every
    `finally` and cleanup on the way out runs.
    """

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum

    def die(self) -> None:
        """End the process by the same signal, as if it had had no handler (exit status 128+N)."""
        sys.stdout.flush()
        sys.stderr.flush()
        signal.signal(self.signum, signal.SIG_DFL)
        os.kill(os.getpid(), self.signum)
        raise SystemExit(128 + self.signum)  # only if the signal did not end the process


def expand(paths: list[str], walk: Walk | None = None) -> Expansion:
    """The inputs named by `paths` (files, directories, `-`), in order, each file once, less what
    `walk` leaves out (each leaving-out said once in `Expansion.skipped`).

    A symbolic link and the file it points to are one input, under the name met first.
    """
    if not paths:
        return Expansion([Input(STDIN_NAME, None)], [], [])
    found = Expansion([], [], [])
    seen: set[str] = set()
    skipping = _Skipping(walk or Walk(), found)
    for raw in paths:
        for item in _expand_one(raw, found, skipping):
            key = item.name if item.path is None else os.path.realpath(item.path)
            if key not in seen:
                seen.add(key)
                found.inputs.append(item)
    return found


def left_out(paths: list[Path], walk: Walk) -> list[Path]:
    """Those of `paths` (found by another walk: kustomization files) that `walk` leaves out."""
    skipping = _Skipping(walk, Expansion([], [], []))
    return [
        path for path in paths if skipping.excluded(path) or skipping.ignored(path) or skipping.helm_templates(path)
    ]


class _Skipping:
    """The rules of one expansion for what to leave out, with what they have already said."""

    def __init__(self, walk: Walk, found: Expansion) -> None:
        self.found = found
        self.gitignore = walk.gitignore
        by_root: dict[str, list[str]] = {}
        for pattern, root in walk.exclude:
            by_root.setdefault(str(_absolute(root)), []).append(pattern)
        self.excludes: list[tuple[str, Any]] = []
        if by_root:
            import pathspec  # only when there is something to match: it costs start-up time

            self.excludes = [(root, pathspec.GitIgnoreSpec.from_lines(lines)) for root, lines in by_root.items()]
        self.ignores: dict[str, Any] = {}  # directory -> its .gitignore's spec (None: it has none)
        self.repositories: dict[str, str | None] = {}
        self.charts: set[str] = set()
        self.at_source = walk.charts == "convert"
        self.hint = walk.charts == "stdout"

    def excluded(self, path: Path, directory: bool = False) -> bool:
        """Whether an `--exclude` pattern matches `path`."""
        absolute = str(_absolute(path))
        for root, spec in self.excludes:
            relative = os.path.relpath(absolute, root)
            if relative.startswith(os.pardir):
                continue
            if spec.match_file(relative + ("/" if directory else "")):
                return True
        return False

    def ignored(self, path: Path, directory: bool = False) -> bool:
        """Whether git ignores `path` (a walked name): the last matching pattern of the
        `.gitignore` files from its repository's root down to its directory decides."""
        if not self.gitignore:
            return False
        absolute = _absolute(path)
        repository = self._repository(absolute.parent)
        if repository is None:
            return False
        verdict = None
        chain = [Path(repository)]
        for part in absolute.parent.relative_to(repository).parts:
            chain.append(chain[-1] / part)
        for holder in chain:
            spec = self._ignore_spec(holder, Path(repository))
            if spec is None:
                continue
            relative = absolute.relative_to(holder).as_posix() + ("/" if directory else "")
            result = spec.check_file(relative).include
            if result is not None:
                verdict = result
        return bool(verdict)

    def _repository(self, directory: Path) -> str | None:
        """The root of the git work tree holding `directory` (where `.git` is), if any."""
        key = str(directory)
        if key not in self.repositories:
            found = None
            for candidate in (directory, *directory.parents):
                if (candidate / ".git").exists():
                    found = str(candidate)
                    break
            self.repositories[key] = found
        return self.repositories[key]

    def _ignore_spec(self, directory: Path, repository: Path) -> Any:
        key = str(directory)
        if key not in self.ignores:
            import pathspec

            lines: list[str] = []
            sources = [directory / ".gitignore"]
            if directory == repository:
                sources.append(directory / ".git" / "info" / "exclude")
            for source in sources:
                try:
                    lines += source.read_text(encoding="utf-8", errors="replace").splitlines()
                except OSError:
                    continue
            self.ignores[key] = pathspec.GitIgnoreSpec.from_lines(lines) if lines else None
        return self.ignores[key]

    def helm_templates(self, path: Path, directory: bool = False) -> bool:
        """Whether `path` is (in) a Helm chart's `templates/` (a `Chart.yaml` beside that
        directory); says so once per chart."""
        chart = chart_of(path, directory)
        if chart is not None:
            self.skip_chart(chart)
        return chart is not None

    def template(self, path: Path) -> tuple[bool, Path | None]:
        """For a file: whether it is left out as a chart's template (said once per chart), and
        the chart of a template converted at its source; partials (`_helpers.tpl`) are left out
        silently then, since Helm does not render them."""
        chart = chart_of(path)
        if chart is None:
            return False, None
        if not self.at_source:
            self.skip_chart(chart)
            return True, None
        if path.name.startswith("_"):
            return True, None
        return False, chart

    def skip_chart(self, chart: Path) -> None:
        """Say once that the templates of the chart in `chart` were left out."""
        key = str(chart)
        if key in self.charts:
            return
        self.charts.add(key)
        relative = os.path.relpath(chart)
        name = str(chart) if relative.startswith(os.pardir) else relative
        convert = "convert them at their source with -i (or see how with --diff), " if self.hint else ""
        self.found.skipped.append(
            f"{name}: skipped the Helm chart's templates/ (Go templates, not manifests): {convert}render them with "
            "`helm template`, or run nativecar as Helm's post-renderer"
        )


def chart_of(path: Path, directory: bool = False) -> Path | None:
    """The Helm chart whose `templates/` holds `path` (or is it, for a `directory`): the
    directory with the `Chart.yaml` beside that `templates/`; None when there is none."""
    absolute = _absolute(path)
    for holder in (absolute, *absolute.parents) if directory else absolute.parents:
        if holder.name == "templates" and (holder.parent / "Chart.yaml").is_file():
            return holder.parent
    return None


def _absolute(path: Path | str) -> Path:
    """`path` made absolute, `..` taken out by name (symbolic links are not followed: a walk
    names what it meets)."""
    return Path(os.path.normpath(Path(path).absolute()))


def _expand_one(raw: str, found: Expansion, skipping: _Skipping) -> Iterator[Input]:
    """The inputs of one path; errors and skipped names go into `found`."""
    if raw == STDIN:
        yield Input(STDIN_NAME, None)
        return
    path = Path(raw)
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        found.errors.append(InputError(raw, 1, 1, "no such file or directory"))
        return
    except OSError as error:
        found.errors.append(InputError(raw, 1, 1, f"cannot read: {error.strerror or error}"))
        return
    if not stat.S_ISDIR(mode):
        # Named on the command line, a pipe is read: `nativecar migrate <(helm template ...)`.
        if not skipping.excluded(path):
            left, chart = skipping.template(path)
            if not left:
                yield Input(raw, path, chart)
        return
    errors_before = len(found.errors)
    any_named = False
    if not skipping.at_source and skipping.helm_templates(path, directory=True):
        return

    def unreadable(error: OSError) -> None:
        found.errors.append(
            InputError(str(error.filename or raw), 1, 1, f"cannot read directory: {error.strerror or error}")
        )

    for directory, subdirectories, names in os.walk(path, onerror=unreadable):
        here = Path(directory)
        if "Chart.yaml" in names and "templates" in subdirectories and not skipping.at_source:
            skipping.skip_chart(here)
            subdirectories.remove("templates")
        subdirectories[:] = sorted(
            name
            for name in subdirectories
            if not name.startswith(".")
            and not skipping.excluded(here / name, directory=True)
            and not skipping.ignored(here / name, directory=True)
        )
        for name in sorted(names):
            if not name.endswith(SUFFIXES):
                continue
            any_named = True
            found_path = here / name
            if skipping.excluded(found_path) or skipping.ignored(found_path):
                continue
            kind = _kind_of(found_path)
            if kind is not None:
                # Opening a FIFO blocks until someone writes to it; a walk only takes files.
                found.skipped.append(f"{found_path}: skipped: not a regular file ({kind})")
                continue
            left, chart = skipping.template(found_path) if skipping.at_source else (False, None)
            if not left:
                yield Input(str(found_path), found_path, chart)
    if not any_named and len(found.errors) == errors_before:
        found.errors.append(InputError(raw, 1, 1, "no *.yaml or *.yml files in this directory"))


def _kind_of(path: Path) -> str | None:
    """What `path` is when it is not a regular file ("a pipe", ...); None for a regular file or a
    name that cannot be looked at (reading it reports why)."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return None
    if stat.S_ISREG(mode):
        return None
    return next((kind for test, kind in _KINDS if test(mode)), "a special file")


@contextmanager
def opened(item: Input) -> Iterator[BinaryIO]:
    """One input open for reading in chunks (InputError when it cannot be opened); standard
    input is not closed."""
    if item.path is None:
        yield sys.stdin.buffer
        return
    try:
        stream = item.path.open("rb")
    except OSError as error:
        raise InputError(item.name, 1, 1, f"cannot read: {error.strerror or error}") from None
    with stream:
        yield stream


def read(item: Input) -> bytes:
    """The bytes of one input (InputError when it cannot be read)."""
    if item.path is None:
        return sys.stdin.buffer.read()
    try:
        return item.path.read_bytes()
    except OSError as error:
        raise InputError(item.name, 1, 1, f"cannot read: {error.strerror or error}") from None


def read_original(item: Input) -> Original:
    """Read a file that is to be rewritten in place (InputError when it cannot or must not be).

    The file must be a regular file reached by an ordinary path: through symbolic links is
    fine (the real file is what gets rewritten), through `/proc` (`/dev/stdin`, `/dev/fd/N`)
    is not, since what is there is a process's descriptor, not a file of the user's.
    """
    assert item.path is not None, "standard input cannot be rewritten in place"
    kind = _kind_of(item.path)
    if kind is not None:
        raise InputError(item.name, 1, 1, f"cannot rewrite in place: not a regular file ({kind})")
    if _through_proc(item.path):
        raise InputError(item.name, 1, 1, "cannot rewrite in place: a process's file descriptor, not a file")
    real = Path(os.path.realpath(item.path))
    try:
        # O_NONBLOCK: should the name have become a FIFO since it was looked at, opening it
        # must not wait for a writer; fstat then tells what was opened.
        descriptor = os.open(real, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as error:
        raise InputError(item.name, 1, 1, f"cannot read: {error.strerror or error}") from None
    with os.fdopen(descriptor, "rb") as handle:
        status = os.fstat(handle.fileno())
        if not stat.S_ISREG(status.st_mode):
            raise InputError(item.name, 1, 1, "cannot rewrite in place: not a regular file")
        try:
            data = handle.read()
        except OSError as error:
            raise InputError(item.name, 1, 1, f"cannot read: {error.strerror or error}") from None
    stamp = Stamp(status.st_dev, status.st_ino, status.st_size, status.st_mtime_ns, _digest(data))
    return Original(item.name, real, data, stamp)


def _through_proc(path: Path) -> bool:
    """Whether the way from `path` to its file passes through `/proc`."""
    hop = path.absolute()
    try:
        for _ in range(40):  # the kernel's own limit on links in one lookup
            parent = Path(os.path.realpath(hop.parent))
            if parent.parts[:2] == ("/", "proc"):
                return True
            here = parent / hop.name
            if not here.is_symlink():
                return False
            hop = parent / here.readlink()
    except OSError:
        pass  # opening the file will say what is wrong with it
    return False


def _digest(data: bytes) -> bytes:
    return hashlib.blake2b(data, digest_size=32).digest()


def _unchanged(original: Original) -> bool:
    """Whether the real file is still what `original` read: same file, size, mtime and bytes."""
    try:
        status = original.path.stat()
        if (status.st_dev, status.st_ino, status.st_size, status.st_mtime_ns) != original.stamp[:4]:
            return False
        # The mtime's granularity can hide a write that came right after the read; the bytes cannot.
        return _digest(original.path.read_bytes()) == original.stamp.digest
    except OSError:
        return False


def _holds(path: Path, data: bytes) -> bool:
    """Whether the file at `path` holds exactly `data` now."""
    try:
        return path.read_bytes() == data
    except OSError:
        return False


def write_atomic(original: Original, data: bytes) -> None:
    """Replace the real file of `original` with `data` in one rename, keeping its permission bits.

    InputError (and the file as it was) when it is read-only, when its directory takes no new
    file, or when it changed since it was read.
    """
    path = original.path
    try:
        status = path.stat()
    except OSError as error:
        raise InputError(original.name, 1, 1, f"cannot write: {error.strerror or error}") from None
    # A rename needs only the directory's permission; a read-only file says "leave me alone".
    if not status.st_mode & 0o222 or not os.access(path, os.W_OK):
        raise InputError(original.name, 1, 1, "cannot write: read-only")
    import tempfile

    descriptor: int | None = None
    temporary: Path | None = None
    try:
        # Blocked, a stop signal waits until the name is known, so cleanup can remove the file.
        with _signals_held():
            descriptor, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=TEMPORARY_SUFFIX)
            temporary = Path(name)
        with os.fdopen(descriptor, "wb") as handle:
            descriptor = None
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if hasattr(os, "chown") and (status.st_uid, status.st_gid) != (os.getuid(), os.getgid()):
            # Only root may give a file away; otherwise the rename makes it ours, as an editor's would.
            with suppress(PermissionError):
                os.chown(temporary, status.st_uid, status.st_gid)
        temporary.chmod(stat.S_IMODE(status.st_mode))
        if not _unchanged(original):
            if _holds(path, data):  # another run (a second pre-commit process) wrote the same text
                _remove(None, temporary)
                return
            raise InputError(original.name, 1, 1, "changed while nativecar was running; left as it is")
        temporary.replace(path)
    except OSError as error:
        _remove(descriptor, temporary)
        where = f" (creating a temporary file in {path.parent})" if temporary is None else ""
        raise InputError(original.name, 1, 1, f"cannot write: {error.strerror or error}{where}") from None
    except BaseException:
        _remove(descriptor, temporary)
        raise


class OutputFile:
    """`-o FILE`: a binary stream that becomes FILE in one rename when it is closed after
    something was written, and leaves FILE as it was when nothing was (a run that wrote no
    output) or when the block raised. Opened lazily, so a run that fails before writing creates
    nothing. InputError when the file cannot be made."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._handle: BinaryIO | None = None
        self._temporary: Path | None = None

    def __enter__(self) -> OutputFile:
        return self

    def write(self, data: bytes) -> int:
        if self._handle is None:
            import tempfile

            directory = self.path.absolute().parent
            prefix = f".{self.path.name}."
            try:
                descriptor, name = tempfile.mkstemp(dir=directory, prefix=prefix, suffix=TEMPORARY_SUFFIX)
            except OSError as error:
                raise InputError(str(self.path), 1, 1, f"cannot write: {error.strerror or error}") from None
            self._temporary = Path(name)
            self._handle = os.fdopen(descriptor, "wb")
        return self._handle.write(data)

    def flush(self) -> None:
        if self._handle is not None:
            self._handle.flush()

    def isatty(self) -> bool:
        return False

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> None:
        if self._handle is None or self._temporary is None:
            return
        self._handle.close()
        if kind is not None:
            self._temporary.unlink(missing_ok=True)
            return
        try:
            if self.path.exists():
                self._temporary.chmod(stat.S_IMODE(self.path.stat().st_mode))
            else:
                self._temporary.chmod(0o666 & ~_umask())
            self._temporary.replace(self.path)
        except OSError as error:
            self._temporary.unlink(missing_ok=True)
            raise InputError(str(self.path), 1, 1, f"cannot write: {error.strerror or error}") from None


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _remove(descriptor: int | None, temporary: Path | None) -> None:
    """Close and delete a temporary file that did not become the real one."""
    if descriptor is not None:
        os.close(descriptor)
    if temporary is not None:
        temporary.unlink(missing_ok=True)


@contextmanager
def _signals_held() -> Iterator[None]:
    """Stop signals wait while the block runs, and arrive when it ends."""
    if not hasattr(signal, "pthread_sigmask"):
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


@contextmanager
def signals_raise() -> Iterator[None]:
    """While the block runs, SIGTERM, SIGINT and SIGHUP raise `Interrupted`; after it, the
    handlers are what they were.

    Without this, SIGTERM ends the process where it stands and leaves a temporary file behind.
    A second signal while the first is being handled is ignored, so the cleanup can finish.
    """

    def stop(signum: int, frame: FrameType | None) -> None:
        for number in STOP_SIGNALS:
            signal.signal(number, signal.SIG_IGN)
        raise Interrupted(signum)

    previous = {number: signal.signal(number, stop) for number in STOP_SIGNALS}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
