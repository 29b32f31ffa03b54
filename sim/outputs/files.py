"""Writing output files whole or not at all, one writer per folder.

Every file is rendered in memory first, written under a temporary name in the output folder
(`.NAME.XXXXXXXX.tmp`), flushed to disk (fsync), then renamed into place (os.replace is atomic on
POSIX), and the folder itself is fsynced after the renames: a reader never sees half a file, a
failed write leaves the earlier files as they were, and a power cut after the command returns
loses nothing.

A set of several files (runs.csv, timeseries.csv, frontier.csv, summary.json) is replaced file by
file, so it is made atomic with a journal: once every temporary file is on disk, `.sim.journal`
(the list of renames) is written and fsynced, then the files are renamed, then the journal is
removed. A command killed inside the rename window leaves each file whole, from the old run or the
new one, and the journal; the next sim command that takes the folder's lock finishes the renames
first (rolls forward), so no sim command ever sees a mix of two runs. A command killed before the
journal is complete leaves the old set untouched; its temporary files are removed.

One writer per folder: `output_lock(out)` takes an exclusive, non-blocking `flock` on `OUT/.sim.lock`
for the whole command (simulation included, so a second writer is refused at once, before it does
any work) and a second sim command gets `error: OUT: another sim command is writing to this folder`.
The lock file is empty and hidden; its holder removes it on release (a killed holder leaves it, and
the operating system drops the lock itself: the next writer takes it and removes it). On taking the
lock the writer finishes an interrupted journal and removes stale temporary files (nothing else
can be writing them: every writer holds the lock). The lock is re-entrant within a process, and a
lock on a folder covers the folders inside it for that process (a sweep's replications/).
`write_files` takes the folder's lock itself when its process does not hold it already, so writes
from the Python API are covered too.

Test hook: SIM_TEST_PAUSE_BEFORE_RENAME=SECONDS pauses before each rename (after the temporary files
and the journal are on disk), to hold the write window open for the kill tests (tests/hostile).
"""
from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import re
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from sim.config.errors import ScenarioError

LOCK_NAME = ".sim.lock"
JOURNAL_NAME = ".sim.journal"
PAUSE_ENV = "SIM_TEST_PAUSE_BEFORE_RENAME"
BUSY = "another sim command is writing to this folder"
# what tempfile.mkstemp(prefix=".NAME.", suffix=".tmp") makes: 8 characters of [a-z0-9_]
_TEMPORARY = re.compile(r"^\.(?P<name>.+)\.[a-z0-9_]{8}\.tmp$")

_held: dict[Path, int | None] = {}  # resolved folder -> its lock fd (None: no locks there), this process


class OutputError(ScenarioError):
    """An output folder cannot be written (or read back): `PATH: problem`, or `PATH: where: problem`.

    A ScenarioError, so the CLI refuses it with one line and exit status 2."""

    def __init__(self, path: str | Path, problem: str, where: str | None = None):
        super().__init__(str(path), where or "", problem)
        self.args = (f"{self.file}: {where}: {self.problem}" if where else f"{self.file}: {self.problem}",)

    def __str__(self) -> str:
        return self.args[0]

    def __reduce__(self):
        return (type(self), (self.file, self.problem, self.key_path or None))


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _fsync_dir(folder: Path) -> None:
    """Make renames and unlinks in `folder` durable (where the filesystem supports it)."""
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError as exc:
        if exc.errno not in (errno.EINVAL, errno.ENOTSUP, errno.EBADF, errno.EROFS):
            raise
    finally:
        os.close(fd)


# ---------------------------------------------------------------------------------------------- checks

def _path_problem(out: Path) -> str | None:
    """Why `out` can never be an output folder (it, or a folder it would be inside, is a file), or None."""
    if os.path.lexists(out) and not out.is_dir():
        return "cannot write outputs here: it is a file, not a folder" if out.exists() else \
            "cannot write outputs here: it is a broken link"
    parent = out.parent
    while not os.path.lexists(parent) and parent != parent.parent:
        parent = parent.parent
    if os.path.lexists(parent) and not parent.is_dir():
        return f"cannot create this folder: {parent} is a file, not a folder"
    return None


def _missing_folders(out: Path) -> list[Path]:
    """The folders that would have to be made for `out` to exist, outermost first."""
    missing, here = [], out
    while not os.path.lexists(here) and here != here.parent:
        missing.append(here)
        here = here.parent
    return missing[::-1]


def _remove_empty(folders: list[Path]) -> None:
    for folder in reversed(folders):
        try:
            folder.rmdir()
        except OSError:
            return


def _os_problem(exc: OSError, made: str) -> str:
    return f"cannot {made}: {exc.strerror or exc}"


def _make_folders(out: Path) -> list[Path]:
    """Create OUT and any missing folders above it, refusing (OutputError, nothing left behind) a path
    that is or lies inside a file, or that the system will not create; returns the folders made."""
    problem = _path_problem(out)
    if problem:
        raise OutputError(out, problem)
    missing = _missing_folders(out)
    try:
        for folder in missing:
            folder.mkdir()
    except OSError as exc:
        _remove_empty(missing)
        raise OutputError(out, _os_problem(exc, "create this folder")) from None
    return missing


def check_writable(out_dir: str | Path) -> None:
    """Refuse (OutputError) an output folder that cannot be written: a path that is a file, a path
    inside a file, a folder the system will not let us create or write into. Nothing is left behind:
    folders it makes to try are removed again. Call it before any simulation work."""
    out = Path(out_dir)
    missing = _make_folders(out)
    try:
        fd, probe = tempfile.mkstemp(prefix=".sim.probe.", suffix=".tmp", dir=out)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise OutputError(out, _os_problem(exc, "write to this folder")) from None
    finally:
        _remove_empty(missing)


# ---------------------------------------------------------------------------------------------- the lock

def _holder(folder: Path) -> Path | None:
    """The folder (this one or one it is inside) whose lock this process holds, if any."""
    for here in (folder, *folder.parents):
        if here in _held:
            return here
    return None


def _ancestor_busy(folder: Path) -> Path | None:
    """A folder `folder` is inside whose lock another process holds (its lock covers this folder).

    Tested with a shared lock held for a moment: a writer taking that folder's lock in the same
    microseconds is refused as if busy (the safe side)."""
    for here in folder.resolve().parents:
        try:
            fd = os.open(here / LOCK_NAME, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                return here
        finally:
            os.close(fd)  # closing drops the shared lock
    return None


def _take(folder: Path) -> int | None:
    """flock(LOCK_EX | LOCK_NB) on FOLDER/.sim.lock; None where the filesystem has no locks."""
    busy = _ancestor_busy(folder)
    if busy is not None:
        raise OutputError(folder, f"another sim command is writing to {busy}, which this folder is inside")
    path = folder / LOCK_NAME
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o666)  # less the umask
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise OutputError(folder, BUSY) from None
            if exc.errno in (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS):
                with contextlib.suppress(OSError):
                    path.unlink()
                return None  # no locking on this filesystem: write unlocked, as before
            raise
        # The holder before us removes the file before it lets go: if the name no longer leads to the
        # file we locked, we locked a removed file; start again with the name's current file.
        try:
            current = os.stat(path)
        except FileNotFoundError:
            os.close(fd)
            continue
        mine = os.fstat(fd)
        if (current.st_ino, current.st_dev) != (mine.st_ino, mine.st_dev):
            os.close(fd)
            continue
        return fd


def _release(folder: Path, fd: int | None) -> None:
    if fd is None:
        return
    try:
        (folder / LOCK_NAME).unlink(missing_ok=True)  # before letting go: see _take
    finally:
        os.close(fd)


@contextlib.contextmanager
def output_lock(out_dir: str | Path) -> Iterator[Path]:
    """Hold OUT's lock for the block: create OUT if needed (refusing a path that cannot be written),
    take an exclusive lock on OUT/.sim.lock or refuse with `OUT: another sim command is writing to
    this folder`, finish an interrupted write and remove stale temporary files. On leaving, the lock
    file is removed, and so are the folders made here if nothing was written into them.

    Re-entrant within a process, and covering the folders inside OUT (see the module docstring)."""
    out = Path(out_dir)
    missing = _make_folders(out)
    key = out.resolve()
    holder = _holder(key)
    if holder is not None:  # this process holds it already (the command, around its writes)
        yield out
        return
    try:
        fd = _take(out)
    except OutputError:
        _remove_empty(missing)
        raise
    except OSError as exc:
        _remove_empty(missing)
        raise OutputError(out, _os_problem(exc, "write to this folder")) from None
    _held[key] = fd
    try:
        try:
            recover(out)
        except OSError as exc:
            raise OutputError(out, _os_problem(exc, "clean up this folder")) from None
        yield out
    finally:
        del _held[key]
        _release(out, fd)
        _remove_empty(missing)


# ---------------------------------------------------------------------------------------------- recovery

def _journal_pairs(folder: Path) -> list[tuple[str, str]] | None:
    """The renames a journal lists, or None if it is unreadable (then no rename had started)."""
    try:
        entries = json.loads((folder / JOURNAL_NAME).read_text(encoding="utf-8"))["renames"]
        pairs = [(str(tmp), str(name)) for tmp, name in entries]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    for tmp, name in pairs:  # only our own temporaries onto plain names in this folder
        match = _TEMPORARY.match(tmp)
        if not match or match["name"] != name or "/" in tmp or "\0" in tmp or name in (".", ".."):
            return None
    return pairs


def recover(folder: str | Path) -> None:
    """Finish a write interrupted inside its rename window (roll the journal forward), then remove
    stale temporary files. Only while holding the folder's lock."""
    folder = Path(folder)
    journal = folder / JOURNAL_NAME
    if os.path.lexists(journal):
        for tmp, name in _journal_pairs(folder) or []:
            if (folder / tmp).is_file():
                os.replace(folder / tmp, folder / name)
        _fsync_dir(folder)
        journal.unlink()
        _fsync_dir(folder)
    with os.scandir(folder) as entries:
        stale = [e.name for e in entries if _TEMPORARY.match(e.name) and e.is_file(follow_symlinks=False)]
    for name in stale:
        (folder / name).unlink(missing_ok=True)


# ---------------------------------------------------------------------------------------------- writing

def _pause() -> None:
    try:
        seconds = float(os.environ.get(PAUSE_ENV) or 0)
    except ValueError:
        return
    if seconds > 0:
        time.sleep(seconds)


def _write_journal(out_dir: Path, staged: list[tuple[str, Path]]) -> Path:
    path = out_dir / JOURNAL_NAME
    text = json.dumps({"renames": [[tmp.name, name] for name, tmp in staged]}) + "\n"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_CLOEXEC", 0), 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    _fsync_dir(out_dir)
    return path


def write_files(out_dir: Path, contents: dict[str, str | bytes]) -> list[Path]:
    """Write each file (text as UTF-8, bytes as they are) to a temporary name in `out_dir`, fsync it,
    then rename them all into place (through the journal when there are several), holding the folder's lock."""
    out_dir = Path(out_dir)
    with output_lock(out_dir):
        if out_dir.resolve() not in _held:  # covered by the lock of a folder it is inside
            if os.path.lexists(out_dir / JOURNAL_NAME):
                recover(out_dir)
        return _write_locked(out_dir, contents)


def _write_locked(out_dir: Path, contents: dict[str, str | bytes]) -> list[Path]:
    mode = 0o666 & ~_umask()
    staged: list[tuple[str, Path]] = []
    journal: Path | None = None
    renamed = 0
    try:
        for name, text in contents.items():
            fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=out_dir)
            staged.append((name, Path(tmp)))
            binary = isinstance(text, bytes)  # e.g. Result.to_parquet's files
            with os.fdopen(fd, "wb") if binary else os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
                fh.write(text)
                fh.flush()
                os.fchmod(fh.fileno(), mode)
                os.fsync(fh.fileno())
        if len(staged) > 1:
            journal = _write_journal(out_dir, staged)
        final = []
        for name, tmp in staged:
            _pause()
            os.replace(tmp, out_dir / name)
            renamed += 1
            final.append(out_dir / name)
        _fsync_dir(out_dir)
        if journal is not None:
            journal.unlink()
            journal = None
            _fsync_dir(out_dir)
        return final
    finally:
        if journal is not None and renamed == 0:
            journal.unlink(missing_ok=True)  # nothing renamed: the old set stands
            journal = None
        if journal is None:
            for _, tmp in staged:
                tmp.unlink(missing_ok=True)
        # else: a rename failed part way; the journal and the files not yet renamed stay, and the
        # next command that takes the lock finishes the set
