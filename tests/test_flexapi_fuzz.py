"""Fuzz: thousands of generated bad requests, sent fast on every request topic of a running agent.

Every payload is bad by construction (hostile envelope, or a body with at least
one field no handler accepts), so the agent must answer each one exactly once
with a well-formed error (``invalid_parameter``, ``not_found``, or ``device_busy``
while another request on the topic is in flight), stay up, and change nothing:
the state files, ``group/get``, the refresh-visible settings and every node's
settings are compared before and after.
"""

from __future__ import annotations

import json
import string
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from agent_support import Burst, Platform, RunningAgent, has_values, state_files, well_formed
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flowengine.testing import Mosquitto, wait_until
from nodes.flexapi.envelope import RequestError, decode_request

pytestmark = [pytest.mark.broker, pytest.mark.slow]

BATCHES = 60
BATCH_SIZE = 50
ALLOWED = {"invalid_parameter", "not_found", "device_busy"}
TIMED = ["summary", "obd", "gnss", "motion", "io", "cellular1", "1-wire", "userdata", "fz"]
TOPICS = [
    *(f"{g}/{op}" for g in TIMED for op in ("set", "refresh")),
    *("sysinfo/refresh", "sysinfo/set", "app/refresh", "app/control", "io/control", "group/set", "group/get"),
]
GROUP_NAME = st.text(string.ascii_letters + string.digits + "-_. é", min_size=1, max_size=70)
topics = st.sampled_from(TOPICS) | st.tuples(GROUP_NAME, st.sampled_from(["set", "refresh"])).map("/".join)

# -- payloads, each bad by construction ------------------------------------------------------

scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text()
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=12), inner, max_size=3),
    max_leaves=10,
)
HOSTILE = ["1e309", "-1e309", "1" + "0" * 400, "-0", "NaN", "Infinity", "-Infinity", '"\\ud800"', "[" * 12 + "]" * 12]
FIELDS = ["interval", "interest", "settings", "insert", "update", "delete", "io.DO1", "io.D02", "app.wifi_mode_2g"]


def member(key: str, value_text: str) -> str:
    return f"{json.dumps(key)}: {value_text}"


known_members = st.builds(member, st.sampled_from(FIELDS), json_values.map(json.dumps))
poisons = st.one_of(
    st.builds(member, st.text(max_size=12).map(lambda t: f"fuzz_{t}"), json_values.map(json.dumps)),
    st.builds(lambda f, v: f"{member(f, v)}, {member(f, v)}", st.sampled_from(FIELDS), json_values.map(json.dumps)),
    st.builds(
        member, st.sampled_from(FIELDS) | st.text(max_size=8), st.sampled_from([h for h in HOSTILE if h != "-0"])
    ),
)


@st.composite
def bodies(draw: Any) -> list[str]:
    """Members of a request object (token added when sent): known fields with any values plus a poison."""
    members = draw(st.lists(known_members, max_size=3, unique_by=lambda m: m.split(":")[0]))
    members.insert(draw(st.integers(0, len(members))), draw(poisons))
    if draw(st.booleans()):
        members.append(member(draw(st.sampled_from(FIELDS)), draw(st.sampled_from(HOSTILE))))
    return members  # type: ignore[no-any-return]


def refused(raw: bytes) -> bool:
    try:
        decode_request(raw, 64 * 1024)
    except RequestError:
        return True
    return False


TOKEN_ATTACKS = [
    "{}",
    '{"interval": 5}',
    '{"client_token": 5}',
    '{"client_token": null, "interval": 5}',
    '{"client_token": ["t"]}',
    '{"client_token": "' + "t" * 257 + '"}',
    '{"client_token": "\\udc80"}',
    '{"client_token": "a", "client_token": "b"}',
    '{"client_token": 1e309}',
]
untokened = st.one_of(
    st.binary(max_size=120).filter(refused),
    (scalars | st.lists(json_values, max_size=3)).map(lambda v: json.dumps(v).encode()),
    st.sampled_from(TOKEN_ATTACKS).map(str.encode),
    st.just(b'{"client_token": "big", "pad": "' + b"x" * (64 * 1024) + b'"}'),
)
payloads = st.one_of(bodies().map(lambda members: ("tokened", members)), untokened.map(lambda raw: ("raw", raw)))


def encode(kind: str, data: Any, token: str) -> bytes:
    if kind == "raw":
        return data  # type: ignore[no-any-return]
    return ("{" + ", ".join([member("client_token", json.dumps(token)), *data]) + "}").encode()


# -- what must not change ---------------------------------------------------------------------


def prepare(platform: Platform) -> None:
    """Settings worth protecting: a custom group, aliases, user data, an output, an app value."""
    fz = {"group_name": "fz", "interval": 7, "interest": {"gnss.speed": "v", "userdata.driver": "d"}}
    assert "result" in platform.request("group/set", {"settings": [fz]})
    assert "result" in platform.request("gnss/set", {"interval": 0, "interest": {"gnss.latitude": "lat"}})
    assert "result" in platform.request("userdata/set", {"insert": {"userdata.driver": "Ann"}})
    assert "result" in platform.request("io/control", {"io.DO2": 1})
    assert "result" in platform.request("app/control", {"app.wifi_mode_5g": 1})


def snapshot(agent: RunningAgent, platform: Platform, state_dir: Path) -> dict[str, Any]:
    def node_settings() -> dict[str, Any]:
        nodes = agent.runtime.nodes
        found = {i: n.settings for i, n in nodes.items() if hasattr(n, "settings")}
        found["custom"] = dict(nodes["flexapi-custom-groups"].groups)
        found["outputs"] = dict(nodes["flexapi-io-control"].saved)
        found["app"] = dict(nodes["flexapi-app"].state)
        return found

    visible = {
        g: sorted(platform.request(f"{g}/refresh", when_free=True).get("result", {}))
        for g in ("gnss", "fz", "userdata")
    }
    return {
        "files": state_files(state_dir),
        "nodes": agent.call(node_settings),
        "group/get": platform.request("group/get", when_free=True)["result"],
        "app": platform.request("app/refresh", when_free=True)["result"],
        "userdata": platform.request("userdata/refresh", when_free=True)["result"],
        "visible": visible,
    }


# -- the test ---------------------------------------------------------------------------------


def send_batch(burst: Burst, batch: list[tuple[str, tuple[str, Any]]]) -> tuple[dict[str, tuple[str, str]], Counter]:
    tokens: dict[str, tuple[str, str]] = {}  # token -> (topic, kind)
    untokened: Counter[str] = Counter()
    for topic, (kind, data) in batch:
        token = uuid.uuid4().hex
        burst.send(topic, encode(kind, data, token))
        if kind == "tokened":
            tokens[token] = (topic, kind)
        else:
            untokened[topic] += 1
    return tokens, untokened


def check_answers(burst: Burst, tokens: dict[str, tuple[str, str]], untokened: Counter) -> Counter:
    codes: Counter[str] = Counter()
    seen: Counter[str] = Counter()
    for topic in {t for t, _ in tokens.values()} | set(untokened):
        for resp in burst.answers_to(topic):
            token = resp.get("client_token")
            assert token is None or tokens.get(token, (topic,))[0] == topic, f"{topic}: answer for another topic"
            problem = well_formed(resp, token if token in tokens else None)
            assert problem is None, f"{topic}: {problem}: {resp}"
            assert resp.get("error") in ALLOWED, f"{topic}: {resp}"
            seen[token or f"untokened:{topic}"] += 1
            codes[resp["error"]] += 1
    assert all(seen[t] == 1 for t in tokens), "every tokened request answered exactly once"
    assert all(seen[f"untokened:{t}"] == n for t, n in untokened.items()), "every untokened request answered once"
    return codes


def test_generated_bad_requests_are_answered_and_change_nothing(
    agent: RunningAgent, platform: Platform, broker: Mosquitto, tmp_path: Path
) -> None:
    wait_until(has_values(agent, "gnss"), 10)
    prepare(platform)
    state_dir = tmp_path / "state"
    before = snapshot(agent, platform, state_dir)
    totals: Counter[str] = Counter()
    sent = [0]

    @settings(
        max_examples=BATCHES,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
    )
    @given(batch=st.lists(st.tuples(topics, payloads), min_size=BATCH_SIZE, max_size=BATCH_SIZE))
    def fuzz(batch: list[tuple[str, tuple[str, Any]]]) -> None:
        burst.reset()
        tokens, untokened = send_batch(burst, batch)
        burst.wait_all(timeout=30)
        totals.update(check_answers(burst, tokens, untokened))
        sent[0] += len(batch)

    burst = Burst(broker.port, platform.root)
    try:
        fuzz()
    finally:
        burst.close()
    after = snapshot(agent, platform, state_dir)
    assert after == before
    assert agent.thread.is_alive()
    print(f"\nfuzz: {sent[0]} bad requests on {len(TOPICS)}+ topics, answers {dict(totals)}")
    assert sent[0] >= BATCHES * BATCH_SIZE and totals["invalid_parameter"] > sent[0] // 2
