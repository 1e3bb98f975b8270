"""``flexapi out`` shows the link and its offline backlog in its status, for status nodes."""

from __future__ import annotations

from flowengine.mqtt.offline import OfflineStats
from flowengine.testing import FlowHarness


class FakeLink:
    connected = False

    def offline_stats(self) -> object:
        return OfflineStats("store", 42, 3, 60_000, 12.0, 0, 0)


def test_flexapi_out_status_reports_the_offline_backlog() -> None:
    harness = FlowHarness(link=FakeLink())
    try:
        harness.deploy(
            [
                {"id": "out", "type": "flexapi out", "wires": []},
                {"id": "watch", "type": "status", "scope": ["out"], "wires": [["sink"]]},
                {"id": "sink", "type": "helper", "wires": []},
            ]
        )
        status = harness.one("sink")["status"]
        assert status["text"] == "offline (store): 42 waiting, 3 dropped"
        assert status["source"]["id"] == "out"
    finally:
        harness.close()
