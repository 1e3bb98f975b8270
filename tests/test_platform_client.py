"""The platform client library (``flowengine.platform``): FlexClient and AsyncFlexClient against the real agent.

Every test runs its own agent on the module's broker; the ``platform`` fixture
(a plain paho client) sees every message under the device's root, so tests can
check what the device answered besides what the client returned.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from agent_support import Platform, RunningAgent, has_values
from platform_support import FakeDevice, error, responses, result

import flowengine.platform
from flowengine.errors import FlowError, LinkError
from flowengine.platform import (
    AsyncFlexClient,
    BadRequest,
    DeviceBusy,
    FlexApiError,
    FlexClient,
    InvalidParameter,
    NotFound,
    OverGroupNum,
    RequestTimeout,
)
from flowengine.testing import Mosquitto, free_port, wait_until
from nodes.flexapi.client import ERROR_CLASSES, calls
from nodes.flexapi.client.errors import error_for

pytestmark = pytest.mark.broker


@pytest.fixture
def flex(agent: RunningAgent, platform: Platform, broker: Mosquitto, client_id: str) -> Iterator[FlexClient]:
    """A FlexClient for the running agent, once its gnss, obd, io and motion values are in."""
    wait_until(has_values(agent, "gnss", "obd", "io", "motion"), 15)
    with FlexClient("127.0.0.1", broker.port, client_id) as client:
        yield client


# -- the seam ---------------------------------------------------------------------------------


def test_flowengine_platform_resolves_names_from_the_entry_point_group() -> None:
    from nodes.flexapi import client

    assert flowengine.platform.FlexClient is client.FlexClient
    assert {"FlexClient", "AsyncFlexClient", "NotFound", "NotSupport"} <= set(dir(flowengine.platform))
    with pytest.raises(AttributeError, match="no installed package contributes"):
        _ = flowengine.platform.NoSuchClient


def test_the_runtime_seam_names_no_flexapi_concept() -> None:
    source = Path(flowengine.platform.__file__).read_text().lower()
    assert "flex" not in source


# -- requests ---------------------------------------------------------------------------------


def test_refresh_and_set_return_the_result(flex: FlexClient) -> None:
    assert {"gnss.ts", "gnss.latitude", "gnss.fix"} <= set(flex.refresh("gnss"))
    interest = {"obd.rpm": "rpm", "obd.speed": ""}
    assert flex.set("obd", interval=5, interest=interest) == {"interval": 5, "interest": interest}
    assert set(flex.refresh("obd")) == {"obd.ts", "rpm", "obd.speed"}
    assert flex.set("io", interval=0) == {"interval": 0}


def test_custom_groups_are_created_listed_and_removed(flex: FlexClient) -> None:
    trip = {"group_name": "trip", "interval": 5, "interest": {"gnss.speed": "speed", "obd.odo": "odo"}}
    assert flex.group_set([trip]) == [trip]
    assert flex.group_get() == [trip]
    assert set(flex.refresh("trip")) == {"speed", "odo"}
    assert flex.group_remove("trip") == [{"group_name": "trip", "interest": None}]
    assert flex.group_get() == []


def test_userdata_operations(flex: FlexClient) -> None:
    assert flex.userdata_insert({"fleet": "north", "userdata.seats": 4}) == {
        "inserted": {"userdata.fleet": "north", "userdata.seats": 4}
    }
    assert flex.userdata_update({"fleet": "south"}) == {"updated": {"userdata.fleet": "south"}}
    assert flex.userdata_refresh() == {"userdata.fleet": "south", "userdata.seats": 4}
    flex.userdata_delete(["seats"])
    assert flex.userdata_refresh() == {"userdata.fleet": "south"}
    assert flex.userdata_set_interval(30) == {"interval": 30}
    with pytest.raises(NotFound):
        flex.userdata_update({"seats": 5})


def test_io_and_app_control(flex: FlexClient) -> None:
    assert flex.io_control({"DO1": 1, "io.DO2_pullup": 1}) == {"io.DO1": 1, "io.DO2_pullup": 1}
    assert flex.refresh("io")["io.DO1"] == 1
    assert flex.app_control({"app.wifi_mode_2g": 1}) == {"app.wifi_mode_2g": 1}
    assert flex.app_refresh() == {"app.wifi_mode_2g": 1, "app.wifi_mode_5g": -1}


def test_a_given_token_is_sent_and_comes_back(flex: FlexClient) -> None:
    assert flex.exchange("gnss/refresh", token="mine-1")["client_token"] == "mine-1"
    assert flex.exchange("obd/refresh", {"client_token": "mine-2"})["client_token"] == "mine-2"
    with pytest.raises(BadRequest, match="client_token"):
        flex.refresh("motion", token="t" * 257)


# -- errors -----------------------------------------------------------------------------------


def test_error_responses_raise_the_class_of_their_code(flex: FlexClient) -> None:
    with pytest.raises(NotFound) as missing:
        flex.refresh("nosuch")
    assert missing.value.code == "not_found" and "nosuch" in missing.value.desc
    assert isinstance(missing.value, FlexApiError) and isinstance(missing.value, FlowError)
    with pytest.raises(InvalidParameter) as invalid:
        flex.set("gnss", interval=99999)
    assert invalid.value.code == "invalid_parameter" and invalid.value.desc.startswith("interval")
    assert invalid.value.response["error_desc"] == invalid.value.desc


@pytest.mark.parametrize("code", sorted(ERROR_CLASSES))
def test_every_error_code_has_its_class(code: str) -> None:
    raised = error_for({"error": code, "error_desc": "why"}, "v1/d/gnss/refresh")
    assert type(raised) is ERROR_CLASSES[code] and type(raised).__name__ == "".join(
        part.title() for part in code.split("_")
    )
    assert (raised.code, raised.desc) == (code, "why") and isinstance(raised, FlexApiError)
    assert issubclass(FlexApiError, FlowError)


def test_an_unknown_error_code_raises_the_base_class() -> None:
    raised = error_for({"error": "brand_new", "error_desc": "later revision"})
    assert type(raised) is FlexApiError and raised.code == "brand_new"


def test_no_answer_raises_request_timeout(broker: Mosquitto) -> None:
    with (
        FlexClient("127.0.0.1", broker.port, "nobody-answers", timeout=0.3) as client,
        pytest.raises(RequestTimeout) as timeout,
    ):
        client.refresh("gnss")
    assert isinstance(timeout.value, TimeoutError) and "v1/nobody-answers/gnss/refresh" in str(timeout.value)


def test_an_unreachable_broker_raises_link_error() -> None:
    with pytest.raises(LinkError, match="cannot connect"):
        FlexClient("127.0.0.1", free_port(), "dev")


def test_a_request_while_the_broker_is_away_fails_and_is_never_sent_later(own_broker: Mosquitto) -> None:
    with FlexClient("127.0.0.1", own_broker.port, "scripted", timeout=0.5) as client:
        own_broker.stop()
        wait_until(lambda: not client.connected, 5, what="the client noticed")
        with pytest.raises(LinkError, match=r"no connection to the broker within 0\.5 s"):
            client.set("obd", interval=0)
        own_broker.start()
        device = FakeDevice(own_broker, "scripted", {"gnss/refresh": result({"gnss.fix": 3})})
        try:
            wait_until(lambda: client.connected, 20, what="the client reconnected")
            assert client.refresh("gnss") == {"gnss.fix": 3}
            assert [path for path, _ in device.requests] == ["gnss/refresh"]
        finally:
            device.close()


def test_requests_that_cannot_work_are_refused_before_sending() -> None:
    with pytest.raises(BadRequest, match="response topic"):
        calls.check_path("gnss/refresh/resp")
    with pytest.raises(BadRequest, match=r"'\+'"):
        calls.check_path("+/refresh")
    with pytest.raises(BadRequest, match="client id"):
        calls.check_device("a/b")


# -- spacing ----------------------------------------------------------------------------------


def test_two_quick_refreshes_both_succeed_because_the_client_waited(flex: FlexClient, platform: Platform) -> None:
    first = flex.exchange("gnss/refresh", token="first")
    second = flex.exchange("gnss/refresh", token="second")
    assert "result" in first and "result" in second
    platform.wait("gnss/refresh/resp", lambda answer: answer.get("client_token") == "second")
    answers = responses(platform.messages, "gnss/refresh/resp")
    assert [a["client_token"] for a in answers if a.get("client_token") in ("first", "second")] == ["first", "second"]
    assert not [a for a in answers if a.get("error") == "device_busy"], "the device had to refuse one"


def test_io_control_is_spaced_by_its_own_interval(flex: FlexClient, platform: Platform) -> None:
    flex.io_control({"DO1": 1}, token="on")
    assert flex.io_control({"DO1": 0}, token="off") == {"io.DO1": 0}
    platform.wait("io/control/resp", lambda answer: answer.get("client_token") == "off")
    assert not [a for a in responses(platform.messages, "io/control/resp") if "error" in a]


def test_device_busy_earned_by_another_platform_is_retried_once(flex: FlexClient, platform: Platform) -> None:
    platform.publish("gnss/refresh", b'{"client_token": "other platform"}')
    assert "gnss.latitude" in flex.exchange("gnss/refresh", token="mine")["result"]
    platform.wait("gnss/refresh/resp", lambda answer: answer.get("client_token") == "mine" and "result" in answer)
    mine = [a for a in responses(platform.messages, "gnss/refresh/resp") if a["client_token"] == "mine"]
    assert [a.get("error", "result") for a in mine] == ["device_busy", "result"]


def test_device_busy_without_time_for_a_retry_raises(
    agent: RunningAgent, platform: Platform, broker: Mosquitto, client_id: str
) -> None:
    wait_until(has_values(agent, "gnss"), 10)
    with FlexClient("127.0.0.1", broker.port, client_id, timeout=0.8) as quick:
        platform.publish("gnss/refresh", b'{"client_token": "other platform"}')
        with pytest.raises(DeviceBusy) as busy:
            quick.refresh("gnss")
    assert busy.value.code == "device_busy" and "retry" in busy.value.desc


# -- subscriptions and concurrency ------------------------------------------------------------


def test_subscribe_delivers_uploads_on_a_thread_that_may_call_the_client(flex: FlexClient) -> None:
    uploads: queue.Queue[tuple[dict[str, Any], dict[str, Any], str]] = queue.Queue()

    def on_gnss(values: dict[str, Any]) -> None:
        uploads.put((values, flex.refresh("motion"), threading.current_thread().name))

    listening = flex.subscribe("gnss", on_gnss)
    flex.set("gnss", interval=1)
    values, motion, thread = uploads.get(timeout=5)
    assert "gnss.latitude" in values and "motion.ts" in motion and thread.startswith("flexclient-callbacks")
    listening.cancel()


def test_many_threads_share_one_client_and_devices_share_one_connection(
    flex: FlexClient, platform: Platform, broker: Mosquitto
) -> None:
    groups = ["gnss", "obd", "io", "motion", "summary", "sysinfo", "app", "cellular1"]
    with ThreadPoolExecutor(len(groups)) as pool:
        results = dict(zip(groups, pool.map(flex.refresh, groups), strict=True))
    assert all(results.values()) and "sysinfo.model_name" in results["sysinfo"]
    nobody = flex.device("nobody-here")
    assert nobody.root == "v1/nobody-here"
    with pytest.raises(RequestTimeout):
        nobody.request("gnss/refresh", timeout=0.3)
    nobody.close()  # a view: the shared connection stays open
    assert flex.connected and flex.group_get() == []


def test_async_client_requests_errors_and_subscriptions(
    agent: RunningAgent, platform: Platform, broker: Mosquitto, client_id: str
) -> None:
    wait_until(has_values(agent, "gnss", "obd", "io"), 10)

    async def scenario() -> None:
        async with AsyncFlexClient("127.0.0.1", broker.port, client_id) as client:
            gnss, obd, custom = await asyncio.gather(client.refresh("gnss"), client.refresh("obd"), client.group_get())
            assert "gnss.latitude" in gnss and "obd.rpm" in obd and custom == []
            with pytest.raises(NotFound):
                await client.refresh("nosuch")
            uploads: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
            client.subscribe("io", uploads.put)  # a coroutine function works as a callback
            assert await client.set("io", interval=1) == {"interval": 1}
            assert "io.AI1" in await asyncio.wait_for(uploads.get(), 5)
            with pytest.raises(RequestTimeout):
                await client.device("nobody-here").request("gnss/refresh", timeout=0.3)

    asyncio.run(scenario())


# -- what the agent does not answer yet: a scripted device ------------------------------------


def test_io_toggle_events_and_later_error_codes_against_a_scripted_device(broker: Mosquitto) -> None:
    device = FakeDevice(
        broker,
        "scripted",
        {
            "io/toggle": result({"io.DO1": 1, "io.DO1_toggle_ms": 500}),
            "group/set": error("over_group_num", "at most 16 custom groups"),
            "app/refresh": result({}),
        },
    )
    try:
        with FlexClient("127.0.0.1", broker.port, "scripted") as client:
            assert client.io_toggle("DO1", 1, 500) == {"io.DO1": 1, "io.DO1_toggle_ms": 500}
            (sent,) = device.received("io/toggle")
            assert set(sent) == {"client_token", "io.DO1", "io.DO1_toggle_ms"} and sent["io.DO1_toggle_ms"] == 500
            with pytest.raises(OverGroupNum) as over:
                client.group_set([{"group_name": "g17", "interest": {"gnss.speed": ""}}])
            assert (over.value.code, over.value.desc) == ("over_group_num", "at most 16 custom groups")
            events: queue.Queue[dict[str, Any]] = queue.Queue()
            client.events(events.put)
            client.app_refresh()  # a round trip after the SUBSCRIBE: the broker has the subscription now
            device.publish("event/notice", {"type": "DI_CHG", "level": 1, "status": "raise", "starts_at": 1})
            assert events.get(timeout=5)["type"] == "DI_CHG"
    finally:
        device.close()
