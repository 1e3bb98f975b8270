"""One source's hardware goes away inside the running agent: its values go invalid, the others keep publishing."""

from __future__ import annotations

import pytest
from agent_support import Platform, RunningAgent, has_values

from flowengine.testing import wait_until

pytestmark = pytest.mark.broker


def test_motion_sensor_vanishes_while_other_groups_keep_publishing(agent: RunningAgent, platform: Platform) -> None:
    assert platform.request("io/set", {"interval": 1})["result"] == {"interval": 1}
    wait_until(has_values(agent, "motion", "gnss", "io"), 10, what="every source publishing")
    store = agent.runtime.nodes["flexapi-values"].latest
    imu = agent.runtime.nodes["source-motion"].imu

    imu.unplug()
    wait_until(lambda: store.get("motion.ax") is None, 10, what="motion values invalid")
    assert platform.request("motion/refresh", when_free=True)["error"] == "data_invalid"
    assert platform.wait("io/info", timeout=5)["io.DI1"] in (0, 1), "io keeps publishing on its timer"
    assert platform.request("gnss/refresh", when_free=True)["result"]["gnss.latitude"] is not None

    imu.plug()
    wait_until(lambda: store.get("motion.ax") is not None, 15, what="motion values back")
    assert platform.request("motion/refresh", when_free=True)["result"]["motion.az"] is not None
