"""Hot reload: add, change, break (keep last good), fix, remove; unchanged nodes keep state and messages."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from flowengine.message import Msg, make_msg
from flowengine.node import Node, NodeConfig
from flowengine.reload import FlowSource, Reloader
from flowengine.testing import FlowHarness, wait_until


class TickerConfig(NodeConfig):
    period: float = 0.002


class TickerNode(Node):
    """Sends 0, 1, 2, ... every ``period`` seconds."""

    Config = TickerConfig
    accepts_input = False

    async def on_start(self) -> None:
        self.seq = 0
        self.every(self.config.period, self.tick)  # type: ignore[attr-defined]

    def tick(self) -> None:
        self.send(make_msg(self.seq))
        self.seq += 1


class TallyNode(Node):
    """Counts messages in its node context and forwards them."""

    def on_input(self, msg: Msg) -> None:
        ctx = self.context()
        ctx.set("count", ctx.get("count", 0) + 1)
        self.send(msg)


def write(path: Path, nodes: list[dict[str, Any]]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(nodes))
    tmp.replace(path)


def once(node_id: str, payload: str, target: str) -> dict[str, Any]:
    return {
        "id": node_id,
        "type": "inject",
        "once": True,
        "onceDelay": 0,
        "payload": payload,
        "payloadType": "str",
        "wires": [[target]],
    }


def helper(node_id: str) -> dict[str, Any]:
    return {"id": node_id, "type": "helper", "wires": []}


@pytest.fixture
def flows_dir(tmp_path: Path) -> Path:
    d = tmp_path / "flows"
    d.mkdir()
    return d


def start_reloader(harness: FlowHarness, flows_dir: Path) -> Reloader:
    reloader = Reloader(harness.runtime, FlowSource(dirs=[flows_dir]), debounce=0.1)

    async def begin() -> None:
        await reloader.load_initial()
        reloader.watch()

    harness.call(begin())
    return reloader


def test_add_change_break_fix_remove(harness: FlowHarness, flows_dir: Path) -> None:
    write(flows_dir / "a.json", [once("ia", "a1", "ha"), helper("ha")])
    reloader = start_reloader(harness, flows_dir)
    try:
        assert harness.one("ha")["payload"] == "a1"
        node_a = harness.node("ha")

        write(flows_dir / "b.json", [once("ib", "b1", "hb"), helper("hb")])  # add
        assert harness.one("hb")["payload"] == "b1"

        write(flows_dir / "b.json", [once("ib", "b2", "hb"), helper("hb")])  # change
        assert harness.one("hb")["payload"] == "b2"
        assert harness.node("ha") is node_a, "a node in an untouched file was restarted"

        (flows_dir / "b.json").write_text('[{"id": "ib", "type": "inject", "wires": [["gone"]]}')  # break
        wait_until(lambda: reloader.rejected == 1, what="the broken file to be rejected")
        assert "hb" in harness.runtime.nodes, "last good graph must keep running"

        write(flows_dir / "b.json", [once("ib", "b3", "hb"), helper("hb")])  # fix
        assert harness.one("hb")["payload"] == "b3"

        (flows_dir / "b.json").unlink()  # remove
        wait_until(lambda: "hb" not in harness.runtime.nodes, what="removed file's nodes to stop")
        assert harness.node("ha") is node_a
    finally:
        reloader.close()


def test_unchanged_nodes_keep_state_and_every_message(harness: FlowHarness, flows_dir: Path) -> None:
    harness.registry.register("ticker", TickerNode)
    harness.registry.register("tally", TallyNode)
    steady = [
        {"id": "tick", "type": "ticker", "wires": [["tally"]]},
        {"id": "tally", "type": "tally", "wires": [["sink"]]},
        helper("sink"),
    ]
    write(flows_dir / "main.json", [*steady, once("other", "v0", "sink2"), helper("sink2")])
    reloader = start_reloader(harness, flows_dir)
    try:
        tally = harness.node("tally")
        for version in range(1, 6):  # change another node five times while messages flow
            write(flows_dir / "main.json", [*steady, once("other", f"v{version}", "sink2"), helper("sink2")])
            wait_until(lambda v=version: reloader.reloads >= v, what=f"reload {version}")
        # rewire the unchanged ticker to a second sink: rewired in place, not restarted
        rewired = [{**steady[0], "wires": [["tally", "sink3"]]}, *steady[1:], helper("sink3")]
        write(flows_dir / "main.json", [*rewired, once("other", "v5", "sink2"), helper("sink2")])
        wait_until(lambda: reloader.reloads >= 6, what="rewire reload")
        harness.one("sink3")

        assert harness.node("tally") is tally
        count = tally.context().get("count")
        sequence = [m["payload"] for m in harness.received("sink", count)]
        assert sequence == list(range(count)), "a message to an unchanged node was lost or reordered"
        assert count >= 50
    finally:
        reloader.close()
