"""``flowengine call`` and ``flowengine watch`` against the real agent on the module's broker.

Most run in-process through ``flowengine.cli.main`` (stdout is not a terminal:
compact JSON, plain lines); one ``call`` and the live view run the real
``flowengine`` executable, the live view on a pseudo-terminal.
"""

from __future__ import annotations

import io
import json
import re
import subprocess
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from agent_support import Platform, RunningAgent, device, has_values
from platform_support import FLOWENGINE, PtyProcess, responses

from flowengine.cli import main
from flowengine.testing import Mosquitto, wait_until

pytestmark = pytest.mark.broker

PLAIN_LINE = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d) (\S+) (.+)$")


@pytest.fixture
def ready(agent: RunningAgent, platform: Platform) -> Platform:
    """The platform side, once the agent has gnss, obd, io and motion values."""
    wait_until(has_values(agent, "gnss", "obd", "io", "motion"), 15)
    return platform


def call(broker: Mosquitto, *args: str) -> list[str]:
    return ["call", "--broker", broker.url, *args]


def output(capsys: pytest.CaptureFixture[str]) -> tuple[list[str], str]:
    captured = capsys.readouterr()
    return captured.out.splitlines(), captured.err


# -- call -------------------------------------------------------------------------------------


def test_call_prints_the_response_and_exits_0_on_a_result(
    ready: Platform, broker: Mosquitto, client_id: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(call(broker, client_id, "gnss/refresh")) == 0
    (line,), _ = output(capsys)
    response = json.loads(line)
    assert "gnss.latitude" in response["result"] and len(response["client_token"]) == 32
    assert " " not in line  # compact JSON when stdout is not a terminal


def test_call_sends_a_json_body(
    ready: Platform, broker: Mosquitto, client_id: str, capsys: pytest.CaptureFixture[str]
) -> None:
    body = '{"interval": 5, "interest": {"obd.rpm": "rpm"}}'
    assert main(call(broker, client_id, "obd/set", body)) == 0
    assert json.loads(output(capsys)[0][0])["result"] == json.loads(body)
    assert ready.request("obd/refresh")["result"].keys() == {"obd.ts", "rpm"}


def test_call_exits_1_on_an_error_response_with_the_code_printed(
    ready: Platform, broker: Mosquitto, client_id: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(call(broker, client_id, "nosuch/refresh")) == 1
    (line,), _ = output(capsys)
    assert json.loads(line)["error"] == "not_found" and '"error":"not_found"' in line


def test_call_exits_2_when_nobody_answers(broker: Mosquitto, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(call(broker, "--timeout", "0.3", "nobody-answers", "gnss/refresh")) == 2
    out, err = output(capsys)
    assert out == [] and "no answer on v1/nobody-answers/gnss/refresh/resp within 0.3 s" in err


def test_call_token_is_the_one_sent(
    ready: Platform, broker: Mosquitto, client_id: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(call(broker, "--token", "from-the-flag", client_id, "obd/refresh")) == 0
    assert main(call(broker, client_id, "io/refresh", '{"client_token": "from-the-body"}')) == 0
    lines, _ = output(capsys)
    assert [json.loads(line)["client_token"] for line in lines] == ["from-the-flag", "from-the-body"]


def test_two_quick_calls_on_one_topic_both_succeed(
    ready: Platform, broker: Mosquitto, client_id: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(call(broker, "--token", "first", client_id, "motion/refresh")) == 0
    assert main(call(broker, "--token", "second", client_id, "motion/refresh")) == 0
    ready.wait("motion/refresh/resp", lambda answer: answer.get("client_token") == "second" and "result" in answer)
    answers = [(a["client_token"], a.get("error", "result")) for a in responses(ready.messages, "motion/refresh/resp")]
    since_first = answers[answers.index(("first", "result")) + 1 :]
    # inside the retry interval the second call earns device_busy and waits; on a slow machine it may not need to
    assert since_first in ([("second", "device_busy"), ("second", "result")], [("second", "result")]), answers


def test_call_refuses_what_cannot_work_before_sending(broker: Mosquitto, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(call(broker, "dev", "gnss/set", "{not json")) == 1
    assert main(call(broker, "dev", "gnss/set", "[1, 2]")) == 1
    assert main(call(broker, "dev", "gnss/refresh/resp")) == 1
    assert main(call(broker, "dev/x", "gnss/refresh")) == 1
    _, err = output(capsys)
    assert "error: JSON:" in err and "must be an object" in err and "response topic" in err and "client id" in err


def test_call_through_the_real_executable(ready: Platform, broker: Mosquitto, client_id: str) -> None:
    done = subprocess.run(
        [str(FLOWENGINE), *call(broker, client_id, "sysinfo/refresh")], capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 0, done.stderr
    assert "sysinfo.model_name" in json.loads(done.stdout)["result"]


@pytest.fixture
def fleet(broker: Mosquitto, tmp_path: Path) -> Iterator[list[str]]:
    """Three simulated agents on the same broker; their client ids."""
    ids = [f"fleet-{n}-{uuid.uuid4().hex[:6]}" for n in range(3)]
    agents = [RunningAgent(device(broker, tmp_path / cid, cid)) for cid in ids]
    try:
        for agent in agents:
            wait_until(has_values(agent, "sysinfo", "gnss"), 10)
        yield ids
    finally:
        for agent in agents:
            agent.stop()


def test_call_devices_asks_every_device_at_once(
    fleet: list[str], broker: Mosquitto, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    listing = tmp_path / "fleet.txt"
    listing.write_text("# the test fleet\n" + "\n".join(fleet) + "\n\n")
    assert main(call(broker, "--devices", str(listing), "sysinfo/refresh")) == 0
    lines, _ = output(capsys)
    outcomes = {line.split(" ", 2)[0]: line.split(" ", 2)[1:] for line in lines}
    assert outcomes.keys() == set(fleet)
    assert all(status == "ok" and rest.startswith('{"sysinfo.ts":') for status, rest in outcomes.values())

    assert main(call(broker, "--devices", str(listing), "nosuch/refresh")) == 1
    lines, _ = output(capsys)
    assert sorted(lines) == sorted(f"{cid} error not_found group: 'nosuch' does not exist" for cid in fleet)


def test_call_devices_exit_status_is_the_worst(
    fleet: list[str], broker: Mosquitto, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("\n".join([*fleet, "nobody-answers"])))
    assert main(call(broker, "--timeout", "1", "--devices", "-", "gnss/refresh")) == 2
    lines, _ = output(capsys)
    assert len(lines) == 4 and "nobody-answers timeout no answer within 1 s" in lines
    assert sum(line.split()[1] == "ok" for line in lines) == 3, lines


# -- watch ------------------------------------------------------------------------------------


def test_watch_plain_prints_one_line_per_message(
    ready: Platform, broker: Mosquitto, client_id: str, capsys: pytest.CaptureFixture[str]
) -> None:
    ready.request("gnss/set", {"interval": 1})
    assert main(["watch", "--broker", broker.url, client_id, "gnss", "--plain", "--count", "2"]) == 0
    lines, _ = output(capsys)
    assert len(lines) == 2
    for line in lines:
        _, topic, payload = PLAIN_LINE.match(line).groups()  # type: ignore[union-attr]
        assert topic == f"v1/{client_id}/gnss/info" and "gnss.latitude" in json.loads(payload)


def test_watch_plain_shows_requests_and_responses_of_the_named_groups(
    ready: Platform, broker: Mosquitto, client_id: str, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["watch", "--broker", broker.url, client_id, "nosuch", "--plain", "--count", "2"]
    watcher = threading.Thread(target=main, args=(args,))
    watcher.start()
    wait_until(lambda: _answered_while_watched(ready, watcher), 10, interval=0.1, what="watch saw two messages")
    watcher.join(5)
    lines, _ = output(capsys)
    seen = dict(PLAIN_LINE.match(line).group(2, 3) for line in lines)  # type: ignore[union-attr]
    assert seen.keys() == {f"v1/{client_id}/nosuch/refresh", f"v1/{client_id}/nosuch/refresh/resp"}
    assert json.loads(seen[f"v1/{client_id}/nosuch/refresh/resp"])["error"] == "not_found"


def _answered_while_watched(platform: Platform, watcher: threading.Thread) -> bool:
    """Ask until the watcher (subscribing in its own thread) has seen a request and its answer."""
    platform.request("nosuch/refresh")
    watcher.join(0.3)
    return not watcher.is_alive()


def test_watch_live_view_renders_group_panels_in_a_terminal(ready: Platform, broker: Mosquitto, client_id: str) -> None:
    ready.request("gnss/set", {"interval": 1})
    view = PtyProcess(["watch", "--broker", broker.url, client_id])
    try:
        wait_until(lambda: view.screen_shows("gnss", "latitude", "connected"), 15, what="the gnss panel")
        assert re.search(r"latitude\s+-?\d+\.\d+", view.text), view.text[-2000:]
        assert f"watch v1/{client_id}" in view.text and "last heard" in view.text
        assert view.interrupt() == 0
    finally:
        view.close()
