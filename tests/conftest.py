"""Fixtures: a flow harness per test and a private mosquitto per test module."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from flowengine.testing import FlowHarness, Mosquitto


@pytest.fixture
def harness(tmp_path: Path) -> Iterator[FlowHarness]:
    """A runtime on its own loop thread, with a state dir in ``tmp_path``."""
    h = FlowHarness(state_dir=tmp_path / "state")
    try:
        yield h
    finally:
        h.close()


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mosquitto]:
    """A mosquitto on a free port, shared by one test module."""
    with Mosquitto(tmp_path_factory.mktemp("broker")) as b:
        yield b


@pytest.fixture
def own_broker(tmp_path: Path) -> Iterator[Mosquitto]:
    """A mosquitto for one test only (to stop and restart it)."""
    b = Mosquitto(tmp_path)
    try:
        yield b.start()
    finally:
        b.stop()
