"""Flood: 10,000 requests in one burst at a ``flowengine run`` process; it answers them all, its memory stays bounded.

The agent's RSS is sampled (psutil) before, during and after the burst and
printed; the bound asserted is generous (+100 MiB). No timing is asserted.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from pathlib import Path

import psutil
import pytest
from agent_support import AgentProcess, Burst, Platform, well_formed

from flowengine.testing import Mosquitto

pytestmark = [pytest.mark.broker, pytest.mark.slow]

REQUESTS = 10_000
MIB = 1024 * 1024


def flood_request(i: int) -> tuple[str, bytes]:
    """Mostly cheap refreshes (busy after the first), plus not_found, malformed and near-limit payloads."""
    token = json.dumps({"client_token": f"f{i}"}).encode()
    kind = i % 50
    if kind == 0:
        return "userdata/set", b'{"client_token": "f%d", "pad": "%s"}' % (i, b"x" * (60 * 1024))
    if kind < 5:
        return f"nosuch{i % 7}/refresh", token
    if kind < 10:
        return "obd/set", b'{"client_token": "f%d", "interval": 1e309}' % i
    return ("gnss/refresh", "summary/refresh", "group/get", "app/refresh", "io/refresh")[i % 5], token


class RssSampler:
    """Samples a process's RSS in a thread until stopped; keeps the peak."""

    def __init__(self, pid: int) -> None:
        self.process = psutil.Process(pid)
        self.peak = self.rss()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def rss(self) -> int:
        return int(self.process.memory_info().rss)

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, self.rss())

    def stop(self) -> int:
        self._stop.set()
        self._thread.join(2)
        return self.peak


def test_a_burst_of_10000_requests_is_answered_with_bounded_memory(
    broker: Mosquitto, tmp_path: Path, client_id: str
) -> None:
    agent = AgentProcess(broker, client_id, tmp_path / "state", tmp_path / "agent.log", "--log-level", "warning")
    platform = Platform(broker.port, f"v1/{client_id}")
    burst = Burst(broker.port, platform.root)
    try:
        platform.wait_ready(timeout=20)
        for group in ("gnss", "summary", "app", "io"):  # warm every path once before the baseline
            platform.request(f"{group}/refresh")
        burst.reset()
        before = psutil.Process(agent.pid).memory_info().rss
        sampler = RssSampler(agent.pid)
        started = time.monotonic()
        tokens = {}
        for i in range(REQUESTS):
            topic, payload = flood_request(i)
            burst.send(topic, payload)
            tokens[f"f{i}"] = topic
        burst.wait_all(timeout=120)
        elapsed = time.monotonic() - started
        peak, after = sampler.stop(), sampler.rss()
        codes = Counter()
        answered = set()
        for topic in set(tokens.values()):
            for resp in burst.answers_to(topic):
                assert well_formed(resp, resp.get("client_token")) is None, resp
                assert tokens.get(resp["client_token"]) == topic
                answered.add(resp["client_token"])
                codes[resp.get("error", "result")] += 1
        assert answered == set(tokens), f"{len(set(tokens) - answered)} request(s) unanswered"
        assert codes["device_busy"] > 0 and codes["invalid_parameter"] > 0 and codes["not_found"] > 0
        assert "result" in platform.request("app/refresh", when_free=True)  # a normal request right after
        print(
            f"\nflood: {REQUESTS} requests answered in {elapsed:.1f}s ({dict(codes)}); agent RSS "
            f"{before / MIB:.1f} MiB before, peak {peak / MIB:.1f} MiB (+{(peak - before) / MIB:.1f}), "
            f"{after / MIB:.1f} MiB after"
        )
        assert peak - before < 100 * MIB
        assert agent.proc.poll() is None
    finally:
        burst.close()
        platform.close()
        code = agent.stop()
    assert code == 0, agent.log_text()[-2000:]
