"""The platform tools' pure parts: request shapes, per-topic spacing, the watch state and its rendering."""

from __future__ import annotations

import asyncio
import io

import pytest
from rich.console import Console

from nodes.flexapi.client import calls
from nodes.flexapi.client.call_cmd import print_response
from nodes.flexapi.client.spacing import Spacing
from nodes.flexapi.client.watch_state import WatchState, classify
from nodes.flexapi.client.watch_view import render

# -- request shapes ---------------------------------------------------------------------------


def test_request_shapes() -> None:
    assert calls.set_group("gnss", 5) == ("gnss/set", {"interval": 5})
    assert calls.set_group("obd", interest={"obd.rpm": ""}) == ("obd/set", {"interest": {"obd.rpm": ""}})
    assert calls.group_remove(["a", "b"]) == (
        "group/set",
        {"settings": [{"group_name": "a", "interest": None}, {"group_name": "b", "interest": None}]},
    )
    assert calls.userdata("insert", {"k": 1, "userdata.j": "x"}) == (
        "userdata/set",
        {"insert": {"userdata.k": 1, "userdata.j": "x"}},
    )
    assert calls.userdata("delete", ["k"]) == ("userdata/set", {"delete": {"userdata.k": ""}})
    assert calls.io_control({"DO1": 1, "io.DO2": 0}) == ("io/control", {"io.DO1": 1, "io.DO2": 0})
    assert calls.io_toggle("DO3", 1, 250) == ("io/toggle", {"io.DO3": 1, "io.DO3_toggle_ms": 250})
    assert calls.app_control({"app.wifi_mode_5g": 0}) == ("app/control", {"app.wifi_mode_5g": 0})


def test_spacing_follows_the_devices_retry_intervals() -> None:
    assert calls.spacing("gnss/refresh") == calls.spacing("group/set") == 1.0
    assert calls.spacing("io/control") == 5.0


def test_fresh_tokens_differ_and_fit_the_limit() -> None:
    tokens = {calls.new_token() for _ in range(100)}
    assert len(tokens) == 100 and all(len(calls.check_token(t)) == 32 for t in tokens)


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_call_prints_pretty_colours_on_a_terminal_and_compact_json_elsewhere() -> None:
    answer = {"client_token": "t", "result": {"gnss.fix": 3}}
    terminal, pipe = _Terminal(), io.StringIO()
    print_response(answer, terminal)
    print_response(answer, pipe)
    assert "\x1b[" in terminal.getvalue() and len(terminal.getvalue().splitlines()) > 3
    assert pipe.getvalue() == '{"client_token":"t","result":{"gnss.fix":3}}\n'


# -- spacing ----------------------------------------------------------------------------------


def test_a_counted_turn_holds_its_topic_for_the_interval() -> None:
    now = [100.0]
    spacing = Spacing(clock=lambda: now[0])

    async def scenario() -> None:
        async with spacing.turn("v1/d/gnss/refresh", 1.0) as turn:
            turn.counts = True
        async with spacing.turn("v1/d/obd/refresh", 1.0):
            pass  # refused: the device does not count it
        assert spacing.wait_for("v1/d/gnss/refresh") == 1.0
        assert spacing.wait_for("v1/d/obd/refresh") == 0.0
        now[0] += 0.75
        assert spacing.wait_for("v1/d/gnss/refresh") == 0.25
        assert len(spacing) == 1  # the idle topic was forgotten

    asyncio.run(scenario())


def test_one_request_per_topic_in_flight_others_topics_free() -> None:
    spacing = Spacing()
    order: list[str] = []

    async def hold(name: str, topic: str, release: asyncio.Event) -> None:
        async with spacing.turn(topic, 1.0):
            order.append(f"{name} in")
            await release.wait()
            order.append(f"{name} out")

    async def scenario() -> None:
        release = asyncio.Event()
        tasks = [asyncio.create_task(hold(n, t, release)) for n, t in (("a", "x"), ("b", "x"), ("c", "y"))]
        for _ in range(5):
            await asyncio.sleep(0)
        assert order == ["a in", "c in"]
        release.set()
        await asyncio.gather(*tasks)
        assert order.index("b in") > order.index("a out")
        assert len(spacing) == 0

    asyncio.run(scenario())


# -- watch ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "kind", "group"),
    [
        ("gnss/info", "info", "gnss"),
        ("trip/info", "info", "trip"),
        ("event/notice", "event", ""),
        ("gnss/refresh/resp", "response", "gnss"),
        ("group/set", "request", "group"),
        ("io/toggle", "request", "io"),
        ("odd/thing/here", "other", "odd"),
    ],
)
def test_classify(path: str, kind: str, group: str) -> None:
    assert (classify(path).kind, classify(path).group) == (kind, group)


def test_watch_state_keeps_latest_values_rates_and_the_log() -> None:
    state = WatchState("v1/d")
    state.message("gnss/info", b'{"gnss.speed": 10, "gnss.fix": 3}', at=100.0, wall=0)
    state.message("gnss/refresh", b'{"client_token": "t"}', at=104.0, wall=0)
    assert state.heard_at == 100.0  # a request is another platform speaking, not the device
    state.message("gnss/info", b'{"gnss.speed": 12, "gnss.fix": 3}', at=110.0, wall=0)
    state.message("gnss/refresh/resp", b'{"client_token": "t", "result": {}}', at=111.0, wall=0)
    state.message("event/notice", b'{"type": "DI_CHG", "level": 1}', at=112.0, wall=0)
    gnss = state.groups["gnss"]
    assert gnss.values == {"gnss.speed": 12, "gnss.fix": 3} and gnss.changed == {"gnss.speed"}
    assert (gnss.count, gnss.interval(), gnss.age(115.0)) == (2, 10.0, 5.0)
    assert gnss.late(131.5) and not gnss.late(120.0)
    assert [(line.kind, line.path) for line in state.log] == [
        ("request", "gnss/refresh"),
        ("response", "gnss/refresh/resp"),
        ("event", "event/notice"),
    ]
    assert state.heard_at == 112.0 and state.messages == 5


def test_named_groups_filter_infos_and_responses_not_events() -> None:
    state = WatchState("v1/d", ["gnss", "trip"])
    assert list(state.groups) == ["gnss", "trip"]  # panels wait for them in this order
    assert state.wants("gnss/info") and state.wants("trip/refresh/resp") and state.wants("event/notice")
    assert not state.wants("obd/info") and not state.wants("obd/set/resp")


def test_the_view_shows_groups_values_ages_and_the_log() -> None:
    state = WatchState("v1/dev-7")
    state.link(True, "connected", 0.0)
    values = ", ".join(f'"obd.k{i}": {i}' for i in range(20))
    state.message("obd/info", ("{" + values + "}").encode(), at=90.0, wall=0)
    state.message("gnss/info", b'{"gnss.latitude": 48.1372, "gnss.date": "2026-11-30"}', at=95.0, wall=0)
    state.message("nosuch/refresh/resp", b'{"error": "not_found", "error_desc": "group"}', at=96.0, wall=0)
    text = _text(render(state, 100.0, rows=5, where="127.0.0.1:1883", call_hint="flowengine call ... TOPIC"))
    assert "watch v1/dev-7 via 127.0.0.1:1883" in text and "connected" in text and "last heard 4s ago" in text
    assert "obd" in text and "k4" in text and "… 15 more" in text and "k5 " not in text
    assert "latitude" in text and "48.1372" in text and "5s ago" in text
    assert "nosuch/refresh/resp" in text and "not_found" in text
    assert "send a request: flowengine call ... TOPIC" in text


def test_the_view_before_anything_arrived_and_without_a_link() -> None:
    state = WatchState("v1/dev-7", ["gnss"])
    state.link(False, "connection to 127.0.0.1:1883 lost (keepalive)", 0.0)
    text = _text(render(state, 10.0))
    assert "lost (keepalive)" in text and "never heard" in text and "no upload yet" in text


def _text(renderable: object) -> str:
    console = Console(width=130, record=True, file=io.StringIO())
    console.print(renderable)
    return console.export_text()
