"""Sets of state file changes that a crash leaves whole or not at all (``write_files_atomically``)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

import flowengine.state as state
from flowengine.errors import StateError
from flowengine.state import COMMITTED, finish_transactions, prepare_state_dir, write_files_atomically


@pytest.fixture
def old(tmp_path: Path) -> Path:
    """A directory with an old configuration: a.json, sub/b.json, gone.json."""
    (tmp_path / "sub").mkdir()
    for name in ("a.json", "sub/b.json", "gone.json"):
        (tmp_path / name).write_text("old")
    return tmp_path


NEW: dict[str, bytes | None] = {
    "a.json": b"new a",
    "sub/b.json": b"new b",
    "sub/deep/c.json": b"new c",
    "gone.json": None,
}


def contents(directory: Path) -> dict[str, str]:
    return {
        str(p.relative_to(directory)): p.read_text()
        for p in sorted(directory.rglob("*"))
        if p.is_file() and not p.name.startswith(".")
    }


def test_writes_and_removes_everything_and_leaves_nothing_behind(old: Path) -> None:
    steps: list[tuple[int, int]] = []
    write_files_atomically(old, NEW, lambda done, total: steps.append((done, total)))
    assert contents(old) == {"a.json": "new a", "sub/b.json": "new b", "sub/deep/c.json": "new c"}
    assert steps == [(1, 4), (2, 4), (3, 4), (4, 4)]
    assert not [p for p in old.iterdir() if p.name.startswith(".transaction-")]


def test_a_crash_before_the_switch_leaves_the_old_files(old: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def crash(*args: Any) -> None:
        raise OSError("power cut")

    monkeypatch.setattr(os, "rename", crash)
    with pytest.raises(StateError):
        write_files_atomically(old, NEW)
    monkeypatch.undo()
    assert [p.name for p in old.iterdir() if p.name.startswith(".transaction-")]  # the staging is left behind
    assert finish_transactions(old) == 0
    assert contents(old) == {"a.json": "old", "gone.json": "old", "sub/b.json": "old"}
    assert not [p for p in old.iterdir() if p.name.startswith(".transaction-")]


def test_a_crash_after_the_switch_is_completed_at_the_next_start(old: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    moved: list[Any] = []
    real_replace = os.replace

    def crash_after_one(src: Any, dst: Any) -> None:
        """Staging writes pass; of the moves into place, only the first."""
        if COMMITTED in str(src):
            if moved:
                raise OSError("power cut")
            moved.append(dst)
        real_replace(src, dst)

    monkeypatch.setattr(state.os, "replace", crash_after_one)
    with pytest.raises(StateError):
        write_files_atomically(old, NEW)
    monkeypatch.undo()
    assert (old / COMMITTED).is_dir()
    assert contents(old)["a.json"] == "new a" and contents(old)["sub/b.json"] == "old"  # half moved in ...
    assert prepare_state_dir(old)  # ... the next start completes it
    assert contents(old) == {"a.json": "new a", "sub/b.json": "new b", "sub/deep/c.json": "new c"}
    assert not (old / COMMITTED).exists()


def test_a_committed_change_is_completed_before_the_next_one(old: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = {"n": 0}
    real = state._roll_forward

    def crash_on_second(committed: Path) -> bool:
        calls["n"] += 1
        if calls["n"] == 2:  # the first looks for leftovers, the second moves this change in
            raise OSError("power cut")
        return real(committed)

    monkeypatch.setattr(state, "_roll_forward", crash_on_second)
    with pytest.raises(StateError):
        write_files_atomically(old, {"a.json": b"first"})
    monkeypatch.undo()
    write_files_atomically(old, {"sub/b.json": b"second"})
    assert (contents(old)["a.json"], contents(old)["sub/b.json"]) == ("first", "second")


def test_paths_must_stay_inside_the_directory(tmp_path: Path) -> None:
    for bad in ("../x.json", "/etc/x.json"):
        with pytest.raises(StateError, match="not a path inside"):
            write_files_atomically(tmp_path / "d", {bad: b"x"})
