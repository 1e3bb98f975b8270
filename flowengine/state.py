"""Crash-safe state files: atomic writes and loud recovery from corrupt files."""

from __future__ import annotations

import json
import logging
import os
import tempfile
import time
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
    write_atomic(path, json.dumps(value, indent=1, sort_keys=True).encode())


def read_json(path: Path, default: Any) -> Any:
    """Read a JSON state file; a corrupt one is moved aside (logged loudly) and ``default`` returned."""
    try:
        return json.loads(path.read_bytes())
    except FileNotFoundError:
        return default
    except (OSError, ValueError) as exc:
        aside = aside_path(path)
        try:
            os.replace(path, aside)
        except OSError:
            aside = path
        log.error("STATE FILE CORRUPT: %s (%s); moved to %s, starting from defaults", path, exc, aside)
        return default


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


def remove_stale_temp_files(directory: Path) -> int:
    """Delete temp files that a killed writer left behind; call only while nothing writes state."""
    stale = [p for p in directory.rglob(".*.tmp") if p.is_file()]
    for path in stale:
        path.unlink(missing_ok=True)
    if stale:
        log.warning("removed %d temp file(s) left by an interrupted write in %s", len(stale), directory)
    return len(stale)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
