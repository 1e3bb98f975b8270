"""Crash-safe state files: atomic writes, atomic sets of writes, and loud recovery from corrupt files."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import fcntl
import functools
import json
import logging
import os
import shutil
import stat
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from flowengine.errors import StateError

log = logging.getLogger("flowengine.state")


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` so that ``path`` holds either the old or the new content, never a mix.

    Temp file in the same directory, fsync, rename over the target, fsync the directory.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise StateError(f"cannot write {path}: {exc.strerror or exc}") from exc
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        _fsync_dir(path.parent)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise StateError(f"cannot write {path}: {exc.strerror or exc}") from exc


def write_json(path: Path, value: Any) -> None:
    """Atomically write ``value`` as JSON."""
    write_atomic(path, encode_json(value))


def encode_json(value: Any) -> bytes:
    return json.dumps(value, indent=1, sort_keys=True).encode()


@functools.cache
def _writer() -> concurrent.futures.ThreadPoolExecutor:
    return concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="state-writer")


async def write_atomic_off_loop(path: Path, data: bytes) -> None:
    """:func:`write_atomic` on the state writer's own thread: the event loop never waits for an fsync,
    and state writes never queue behind hardware reads in the default executor. Writes run in order."""
    await asyncio.get_running_loop().run_in_executor(_writer(), write_atomic, path, data)


def write_atomic_in_order(path: Path, data: bytes) -> None:
    """:func:`write_atomic` on the state writer's thread, waiting for it: after every earlier write."""
    _writer().submit(write_atomic, path, data).result()


async def write_json_off_loop(path: Path, value: Any) -> None:
    """:func:`write_json` on the state writer's thread (the value is encoded first, on the caller's)."""
    await write_atomic_off_loop(path, encode_json(value))


def read_json(path: Path, default: Any) -> Any:
    """Read a JSON state file; a corrupt one is moved aside (logged loudly) and ``default`` returned.

    Never follows a FIFO or a device into a blocking read: what is not a regular
    file is logged as invalid and ignored. A missing file or directory is not an
    error (first start, or a state dir problem already reported at start-up).
    """
    try:
        data = read_regular_file(path)
    except (FileNotFoundError, NotADirectoryError):
        return default
    except StateError as exc:
        log.error("STATE FILE INVALID: %s; using defaults", exc)
        return default
    except OSError as exc:
        log.error("STATE FILE UNREADABLE: %s (%s); using defaults", path, exc.strerror or exc)
        return default
    try:
        return json.loads(data)
    except ValueError as exc:
        aside = aside_path(path)
        try:
            os.replace(path, aside)
        except OSError:
            aside = path
        log.error("STATE FILE CORRUPT: %s (%s); moved to %s, starting from defaults", path, exc, aside)
        return default


def read_regular_file(path: Path, limit: int = 64 * 1024 * 1024) -> bytes:
    """The bytes of a regular file; raises StateError for a FIFO, device, directory or oversized file."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise StateError(f"{path} is not a regular file")
        if info.st_size > limit:
            raise StateError(f"{path} is larger than {limit} bytes")
        with os.fdopen(fd, "rb", closefd=False) as f:
            return f.read(limit + 1)
    finally:
        os.close(fd)


def aside_path(path: Path, companions: tuple[str, ...] = ("",)) -> Path:
    """Where a corrupt ``path`` goes: ``NAME.corrupt-<time>``, or ``...N`` if an earlier one took it.

    ``companions`` are suffixes of files that move with it (a database's ``-wal``).
    """
    base = f"{path}.corrupt-{time.strftime('%Y%m%d-%H%M%S')}"
    name, n = base, 0
    while any(Path(f"{name}{suffix}").exists() for suffix in companions):
        n += 1
        name = f"{base}.{n}"
    return Path(name)


#: A set of changes to a directory being staged (discarded by recovery) or committed (rolled forward).
TRANSACTION_PREFIX = ".transaction-"
COMMITTED = ".transaction-committed"
_MANIFEST = "manifest.json"
_STAGED = "files"


def write_files_atomically(
    directory: Path, changes: Mapping[str, bytes | None], progress: Callable[[int, int], None] | None = None
) -> None:
    """Write and remove several files under ``directory`` so that a crash leaves all or none of it.

    ``changes`` maps a relative path to its new bytes, or None to remove it. Every new
    file is staged (with fsync) in ``.transaction-<id>/`` first; one rename of that
    directory to ``.transaction-committed`` is the switch; the staged files are then
    moved into place. A crash before the rename leaves the old files (the staging is
    discarded), after it :func:`finish_transactions` moves the rest in (at the next
    start, or the next call here). ``progress(done, total)`` follows the staging.
    Raises StateError.
    """
    try:
        directory.mkdir(parents=True, exist_ok=True)
        with _transaction_lock(directory):
            _roll_forward(directory / COMMITTED)
            staging = Path(tempfile.mkdtemp(prefix=TRANSACTION_PREFIX, dir=directory))
            _stage(staging, changes, progress)
            os.rename(staging, directory / COMMITTED)
            _fsync_dir(directory)
            _roll_forward(directory / COMMITTED)
    except OSError as exc:
        raise StateError(f"cannot change {directory}: {exc.strerror or exc}") from exc


def _stage(staging: Path, changes: Mapping[str, bytes | None], progress: Callable[[int, int], None] | None) -> None:
    for done, (name, data) in enumerate(changes.items(), 1):
        _check_relative(name)
        if data is not None:
            write_atomic(staging / _STAGED / name, data)
        if progress is not None:
            progress(done, len(changes))
    manifest = {
        "write": [n for n, d in changes.items() if d is not None],
        "remove": [n for n, d in changes.items() if d is None],
    }
    write_atomic(staging / _MANIFEST, encode_json(manifest))


def _check_relative(name: str) -> None:
    path = Path(name)
    if path.is_absolute() or ".." in path.parts or not path.parts:
        raise StateError(f"{name!r} is not a path inside the directory")


def _roll_forward(committed: Path) -> bool:
    """Move a committed transaction's files into place (again, after a crash: idempotent)."""
    try:
        manifest = json.loads(read_regular_file(committed / _MANIFEST))
    except FileNotFoundError:
        return False
    target = committed.parent
    for name in manifest["write"]:
        staged = committed / _STAGED / name
        if staged.exists():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            os.replace(staged, target / name)
            _fsync_dir((target / name).parent)
    for name in manifest["remove"]:
        (target / name).unlink(missing_ok=True)
        with contextlib.suppress(FileNotFoundError):
            _fsync_dir((target / name).parent)
    shutil.rmtree(committed)
    _fsync_dir(target)
    return True


@contextlib.contextmanager
def _transaction_lock(directory: Path) -> Iterator[None]:
    """One set of changes at a time per directory (two commands importing at once)."""
    fd = os.open(directory / ".transaction.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def finish_transactions(root: Path) -> int:
    """Complete every committed set of changes under ``root`` and drop the uncommitted ones.

    Run before anything reads the state (agent start, state commands); returns how many were completed.
    """
    finished = 0
    try:
        directories = {p.parent for p in root.rglob(f"{TRANSACTION_PREFIX}*") if p.is_dir()}
        for directory in sorted(directories):
            with _transaction_lock(directory):  # not while a command is staging there
                finished += _roll_forward(directory / COMMITTED)
                for staging in directory.glob(f"{TRANSACTION_PREFIX}*"):
                    shutil.rmtree(staging, ignore_errors=True)
    except (OSError, ValueError, KeyError) as exc:
        log.error("STATE CHANGE UNFINISHED in %s: %s", root, exc)
    if finished:
        log.warning("completed %d interrupted set(s) of state changes in %s", finished, root)
    return finished


def prepare_state_dir(directory: Path) -> bool:
    """Make sure the state dir can be used; a problem is one clear log line, never a crash.

    Returns False when it cannot hold state (missing on a read-only filesystem, a
    regular file, not writable): the agent runs on defaults, and every change it
    is asked to make is refused (the write fails and is answered as a device error).
    """
    try:
        directory.mkdir(parents=True, exist_ok=True)
        if not directory.is_dir():
            raise NotADirectoryError(f"{directory} is not a directory")
        if not os.access(directory, os.W_OK | os.X_OK):
            raise PermissionError(f"{directory} is not writable")
    except OSError as exc:
        log.error("STATE DIR UNUSABLE: %s (%s): running on defaults, changes cannot be saved", directory, _why(exc))
        return False
    remove_stale_temp_files(directory)
    finish_transactions(directory)
    return True


def _why(exc: OSError) -> str:
    return exc.strerror or str(exc)


def remove_stale_temp_files(directory: Path) -> int:
    """Delete temp files that a killed writer left behind; call only while nothing writes state."""
    try:
        stale = [p for p in directory.rglob(".*.tmp") if p.is_file()]
        for path in stale:
            path.unlink(missing_ok=True)
    except OSError as exc:
        log.warning("cannot remove stale temp files in %s: %s", directory, _why(exc))
        return 0
    if stale:
        log.warning("removed %d temp file(s) left by an interrupted write in %s", len(stale), directory)
    return len(stale)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
