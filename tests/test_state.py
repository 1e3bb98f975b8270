"""flowengine.state: atomic JSON writes survive kill -9; corrupt files are moved aside loudly."""

from __future__ import annotations

import json
import logging
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from flowengine.errors import StateError
from flowengine.state import read_json, remove_stale_temp_files, write_atomic, write_json

WRITER = """
import sys
from pathlib import Path
from flowengine.state import write_json

path, n = Path(sys.argv[1]), int(sys.argv[2])
while True:
    n += 1
    write_json(path, {"n": n, "pad": "x" * (n % 5000)})  # the size changes: a torn write would show
    print(n, flush=True)
"""


def _kill_writer(path: Path, start: int, reports: int) -> int:
    """Run WRITER from ``start``, SIGKILL it after ``reports`` completed writes; the last n it reported."""
    child = subprocess.Popen([sys.executable, "-c", WRITER, str(path), str(start)], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None
        last = [int(child.stdout.readline()) for _ in range(reports)][-1]
        child.send_signal(signal.SIGKILL)
        last = max([last, *(int(line) for line in child.stdout)])
    finally:
        child.kill()
        child.wait(timeout=10)
    assert child.returncode == -signal.SIGKILL
    return last


@pytest.mark.parametrize("reports", [3, 40, 211])
def test_file_is_always_old_or_new_json_after_sigkill(tmp_path: Path, reports: int) -> None:
    path = tmp_path / "groups.json"
    start = 0
    for _ in range(3):  # several kills in a row, each at a different point of a write
        last = _kill_writer(path, start, reports)
        value = json.loads(path.read_bytes())
        assert value["n"] >= last  # the last reported write is never lost
        assert value["pad"] == "x" * (value["n"] % 5000)  # and the file holds one whole write
        assert read_json(path, default=None) == value
        start = value["n"]
    assert not list(tmp_path.glob("*.corrupt-*"))


def test_write_then_read_round_trip_leaves_no_temp_files(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "state.json"
    write_json(path, {"a": [1, 2.5, None], "b": "é"})
    write_json(path, {"a": 2})
    assert read_json(path, default={}) == {"a": 2}
    assert [p.name for p in path.parent.iterdir()] == ["state.json"]


def test_missing_file_gives_the_default_quietly(tmp_path: Path, caplog) -> None:
    default = {"interval": 10}
    with caplog.at_level(logging.WARNING):
        assert read_json(tmp_path / "absent.json", default) is default
    assert not caplog.records
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize(
    "content",
    [b'{"groups": {"summary": {"interval": 1', b"", b"\xff\xfe\x00garbage", b"[1, 2,]"],
    ids=["truncated", "empty", "binary", "invalid"],
)
def test_corrupt_file_is_moved_aside_loudly_and_defaults_returned(tmp_path: Path, caplog, content: bytes) -> None:
    path = tmp_path / "groups.json"
    path.write_bytes(content)
    with caplog.at_level(logging.ERROR, logger="flowengine.state"):
        assert read_json(path, default={"fresh": True}) == {"fresh": True}
    assert not path.exists()
    (aside,) = tmp_path.glob("groups.json.corrupt-*")
    assert aside.read_bytes() == content  # kept for a post-mortem
    (record,) = caplog.records
    assert record.levelno == logging.ERROR
    assert "STATE FILE CORRUPT" in record.getMessage()
    assert str(aside) in record.getMessage()


def test_after_moving_aside_the_next_write_starts_clean(tmp_path: Path) -> None:
    path = tmp_path / "groups.json"
    path.write_bytes(b"{broken")
    read_json(path, default={})
    write_json(path, {"ok": 1})
    assert read_json(path, default={}) == {"ok": 1}


def test_write_over_a_directory_is_a_state_error_and_leaves_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "state.json"
    target.mkdir()
    with pytest.raises(StateError, match=r"state\.json"):
        write_atomic(target, b"{}")
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]


def test_write_below_a_file_is_a_state_error(tmp_path: Path) -> None:
    (tmp_path / "plain").write_text("not a directory")
    with pytest.raises(StateError, match="plain"):
        write_json(tmp_path / "plain" / "state.json", {})


def test_two_corrupt_reads_in_one_second_keep_both_files(tmp_path: Path) -> None:
    path = tmp_path / "groups.json"
    for text in ("{broken", "[also broken"):
        path.write_text(text)
        assert read_json(path, {}) == {}
    kept = sorted(p.read_text() for p in tmp_path.glob("groups.json.corrupt-*"))
    assert kept == ["[also broken", "{broken"]


def test_stale_temp_files_are_removed(tmp_path: Path) -> None:
    write_json(tmp_path / "flexapi" / "app.json", {"a": 1})
    stale = tmp_path / "flexapi" / ".app.json.abc123.tmp"
    stale.write_text("{half")
    assert remove_stale_temp_files(tmp_path) == 1
    assert not stale.exists()
    assert read_json(tmp_path / "flexapi" / "app.json", None) == {"a": 1}
