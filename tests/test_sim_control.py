"""Driving the simulated device over MQTT (sim/{client_id}/control): each setting changes what the agent reports.

The integrator's side is a plain paho client on ``sim/{client_id}``; groups are read
with FlexAPI refresh requests, and the agent's store of latest values shows what the
sources published. Agents that must wait for the vehicle run it faster
(``[sources.vehicle] time_scale``) instead of waiting in real time; the vehicle model
itself then shows that the motion was physical.
"""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from agent_support import Agents, Recorder, RunningAgent, device, drive, store

from flowengine.testing import Mosquitto, wait_until
from nodes.sources.sim.vehicle import STEP, Vehicle, VehicleState

pytestmark = pytest.mark.broker


def vehicle_of(agent: RunningAgent) -> Vehicle:
    vehicle = agent.runtime.services.get(Vehicle)
    assert vehicle is not None
    return vehicle


def states_since(vehicle: Vehicle, start: float) -> list[VehicleState]:
    return [vehicle.state(start + n * STEP) for n in range(int((vehicle.elapsed() - start) / STEP))]


def test_target_speed_ramps_obd_and_gnss_speed_there(agents: Agents) -> None:
    agent = agents.start(scale=6)
    sim, platform = agents.sim(agent), agents.platform()
    recorder = Recorder(agent, "obd.speed", "gnss.speed")
    try:
        assert drive(sim, {"vehicle.target_speed": 130}) == {"vehicle.target_speed": 130.0}
        obd_speeds = recorder.until("obd.speed", lambda v: v >= 129, timeout=30)
        recorder.until("gnss.speed", lambda v: v >= 129, timeout=10)
    finally:
        recorder.stop()
    assert len([v for v in obd_speeds if 10 < v < 120]) >= 2, obd_speeds  # it ramped there, no jump
    obd = platform.request("obd/refresh")["result"]
    gnss = platform.request("gnss/refresh")["result"]
    assert obd["obd.speed"] == pytest.approx(130, abs=2) and gnss["gnss.speed"] == pytest.approx(130, abs=2)
    vehicle = vehicle_of(agent)
    ramp = states_since(vehicle, vehicle.timeline[-1].at)
    accels = [(b.speed_kmh - a.speed_kmh) / 3.6 / STEP for a, b in itertools.pairwise(ramp)]
    assert max(accels) <= 2.0 + 1e-9  # bounded acceleration (m/s²) all the way
    assert ramp[-1].gear == 6 and obd["obd.rpm"] > 2500  # rpm and gear follow the speed


def test_a_hard_stop_shows_in_the_accelerometer_and_the_speeds(agents: Agents) -> None:
    agent = agents.start(scale=4)
    sim = agents.sim(agent)
    recorder = Recorder(agent, "gnss.speed", "motion.ax", "obd.speed")
    try:
        drive(sim, {"vehicle.target_speed": 120})
        recorder.until("gnss.speed", lambda v: v >= 118, timeout=30)
        stop = {"vehicle.brake": 0.5, "vehicle.stop": 12}  # a hard stop, then standing long enough to be seen
        assert drive(sim, stop) == {"vehicle.brake": 0.5, "vehicle.stop": 12.0}
        recorder.until("gnss.speed", lambda v: v == 0, timeout=15)
        recorder.until("obd.speed", lambda v: v == 0, timeout=10)
    finally:
        recorder.stop()
    braking = [ax for ax in recorder.seen["motion.ax"] if ax is not None and ax < -0.3]
    assert braking, recorder.seen["motion.ax"]
    assert all(ax == pytest.approx(-0.5, abs=0.08) for ax in braking), braking  # 0.5 g, plus the road's slope
    vehicle = vehicle_of(agent)
    stop = states_since(vehicle, vehicle.timeline[-1].at)
    assert min(s.long_accel_g for s in stop) == pytest.approx(-0.5, abs=1e-9)


def test_stop_stands_still_idling_then_drives_on(agents: Agents) -> None:
    agent = agents.start(scale=8)
    sim = agents.sim(agent)
    recorder = Recorder(agent, "gnss.speed", "obd.rpm")
    try:
        recorder.until("gnss.speed", lambda v: v > 20, timeout=20)
        assert drive(sim, {"vehicle.stop": 20}) == {"vehicle.stop": 20.0}
        wait_until(lambda: store(agent).get("gnss.speed") == 0, 15, what="standing")
        assert store(agent)["obd.rpm"] > 600  # the engine idles: what an IDLE detector sees
        wait_until(lambda: (store(agent).get("gnss.speed") or 0) > 0, 15, what="driving on")
    finally:
        recorder.stop()
    vehicle = vehicle_of(agent)
    standing = [s.elapsed_s for s in states_since(vehicle, vehicle.timeline[-1].at) if s.speed_kmh == 0]
    assert standing[-1] - standing[0] == pytest.approx(20.0, abs=0.2)  # 20 simulated seconds


def test_ignition_off_stops_the_engine_and_shows_on_the_ignition_input(agents: Agents) -> None:
    agent = agents.start()
    sim, platform = agents.sim(agent), agents.platform()
    assert drive(sim, {"vehicle.ignition": 0}) == {"vehicle.ignition": 0}
    wait_until(lambda: store(agent).get("io.igt_status") == 0, 5, what="io.igt_status 0")
    assert platform.request("io/refresh")["result"]["io.DI1"] == 0
    wait_until(lambda: store(agent).get("obd.rpm") == 0, 8, what="rpm 0 (the ECU's after-run)")
    assert store(agent)["obd.speed"] == 0
    assert drive(sim, {"vehicle.ignition": 1}) == {"vehicle.ignition": 1}
    wait_until(lambda: store(agent).get("io.igt_status") == 1, 5, what="io.igt_status 1")
    wait_until(lambda: (store(agent).get("obd.rpm") or 0) > 600, 15, what="the engine idling again")


def test_digital_inputs_follow_what_the_integrator_sets(agents: Agents) -> None:
    agent = agents.start()
    sim, platform = agents.sim(agent), agents.platform()
    assert drive(sim, {"io.DI2": 0, "io.DI5": 0}) == {"io.DI2": 0, "io.DI5": 0}
    wait_until(lambda: store(agent).get("io.DI2") == 0, 5, what="io.DI2 low")
    result = platform.request("io/refresh")["result"]
    assert (result["io.DI2"], result["io.DI5"], result["io.DI3"]) == (0, 0, 1)
    drive(sim, {"io.DI2": 1})
    wait_until(lambda: store(agent).get("io.DI2") == 1, 5, what="io.DI2 high")
    assert platform.request("io/refresh", when_free=True)["result"]["io.DI2"] == 1


def test_trouble_codes_count_in_obd_and_leave_on_the_trouble_code_output(agents: Agents, tmp_path: Path) -> None:
    flows = tmp_path / "flows"
    flows.mkdir()
    tap = {"id": "dtc-out", "type": "mqtt out", "z": "user", "topic": f"v1/{agents.client_id}/user/dtc",
           "wiredFrom": [["source-obd", 1]], "wires": []}  # fmt: skip
    (flows / "user.json").write_text(json.dumps([{"id": "user", "type": "tab", "label": "user"}, tap]))
    agent = agents.start(flows=flows)
    sim, platform = agents.sim(agent), agents.platform()
    assert platform.wait("user/dtc", timeout=15) == {"codes": [], "desc": {}}
    assert drive(sim, {"obd.dtc": "P0301"}) == {"obd.dtc": "P0301"}
    assert platform.wait("user/dtc", timeout=10) == {
        "codes": ["P0301"],
        "desc": {"P0301": "Cylinder 1 misfire detected"},
    }
    wait_until(lambda: store(agent).get("obd.dtcs") == 1, 5, what="obd.dtcs 1")
    result = platform.request("obd/refresh")["result"]
    assert (result["obd.dtcs"], result["obd.mil"]) == (1, 1)
    assert drive(sim, {"obd.dtc": "clear"}) == {"obd.dtc": "clear"}
    assert platform.wait("user/dtc", timeout=10) == {"codes": [], "desc": {}}
    wait_until(lambda: store(agent).get("obd.dtcs") == 0, 5, what="codes cleared")


def test_bad_settings_get_an_error_naming_the_field_and_change_nothing(agents: Agents) -> None:
    agent = agents.start()
    sim = agents.sim(agent)
    before = vehicle_of(agent).timeline
    answer = sim.request("control", {"io.DI2": 0, "vehicle.brake": 3})
    assert answer["error"] == "invalid_parameter"
    assert answer["error_desc"] == "vehicle.brake: must be between 0.1 and 1.2 g, got 3"
    assert "client_token" in answer  # echoed
    assert sim.request("control", {"io.DI1": 0})["error_desc"].startswith("io.DI1: wired to the ignition")
    assert sim.request("control", {"vehicle.warp": 9})["error_desc"].startswith("vehicle.warp: unknown setting")
    sim.publish("control", json.dumps({"client_token": 5, "io.DI2": 0}).encode())
    assert sim.wait("control/resp", lambda p: p.get("error_desc", "").startswith("client_token: must be a string"))
    sim.publish("control", b"not json")
    assert sim.wait("control/resp", lambda p: p.get("error_desc") == "payload: not valid JSON")
    sim.publish("control", b"[1, 2]")
    assert sim.wait("control/resp", lambda p: p.get("error_desc", "").startswith("payload: must be a JSON object"))
    assert vehicle_of(agent).timeline == before  # nothing applied
    assert sim.request("control", {"io.DI2": 0})["result"] == {"io.DI2": 0}
    assert vehicle_of(agent).timeline[-1].commands[0].key == "io.DI2"


def test_the_vehicle_of_a_driven_agent_replays_from_its_seed_and_timeline(agents: Agents) -> None:
    agent = agents.start(scale=10)
    sim = agents.sim(agent)
    drive(sim, {"vehicle.target_speed": 90, "io.DI3": 0})
    wait_until(lambda: vehicle_of(agent).elapsed() > 20, 10, what="some driving")
    drive(sim, {"vehicle.brake": 0.7, "obd.dtc": "P0171"})
    wait_until(lambda: vehicle_of(agent).elapsed() > 40, 10, what="more driving")
    live = vehicle_of(agent)
    replayed = Vehicle(live.settings, scenario=live.timeline)
    for at in (5.0, 15.0, live.timeline[-1].at + 0.5, 39.0):
        assert replace(replayed.state(at), unix_time=0) == replace(live.state(at), unix_time=0)


def flowengine(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "flowengine", *args], capture_output=True, text=True, timeout=60)


def test_flowengine_sim_prints_the_answer_and_exits_by_it(agents: Agents, broker: Mosquitto) -> None:
    agent = agents.start()
    agents.sim(agent)
    done = flowengine("sim", agents.client_id, "io.DI2=0", "obd.dtc=P0420", "vehicle.target_speed=null",
                      "--broker", broker.url)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"result": {"io.DI2": 0, "obd.dtc": "P0420", "vehicle.target_speed": None}}
    refused = flowengine("sim", agents.client_id, "vehicle.brake=3", "--broker", broker.url)
    assert refused.returncode == 1
    assert json.loads(refused.stdout)["error_desc"] == "vehicle.brake: must be between 0.1 and 1.2 g, got 3"
    nobody = flowengine("sim", "no-such-device", "io.DI2=1", "--broker", broker.url, "--timeout", "1")
    assert nobody.returncode == 2 and "nothing on sim/no-such-device/control/resp" in nobody.stderr
    unreachable = flowengine("sim", agents.client_id, "io.DI2=1", "--broker", "127.0.0.1:1", "--timeout", "1")
    assert unreachable.returncode == 2 and "cannot reach the broker 127.0.0.1:1" in unreachable.stderr
    malformed = flowengine("sim", agents.client_id, "io.DI2", "--broker", broker.url)
    assert malformed.returncode == 1 and "settings are KEY=VALUE" in malformed.stderr


def test_the_control_topic_follows_the_topic_prefix(broker: Mosquitto, tmp_path: Path, client_id: str) -> None:
    agent = RunningAgent(device(broker, tmp_path / "state", client_id, mqtt={"topic_prefix": "fleet/eu"}))
    try:
        assert agent.runtime.nodes["sim-control"].topic == f"fleet/eu/sim/{client_id}/control"
        args = ("sim", client_id, "io.DI4=0", "--broker", broker.url, "--timeout", "2")

        def answered() -> bool:
            return flowengine(*args, "--topic-prefix", "fleet/eu").returncode == 0

        wait_until(answered, 30, interval=0.5, what="an answer under the prefix")
        assert flowengine(*args).returncode == 2  # without the prefix nobody listens
    finally:
        agent.stop()


def test_a_scenario_file_plays_on_time(agents: Agents, tmp_path: Path) -> None:
    path = tmp_path / "scenario.json"
    path.write_text(json.dumps([{"at": 3, "set": {"obd.dtc": "P0420"}}, {"at": 2, "set": {"io.DI3": 0}}]))
    agent = agents.start(vehicle={"scenario": str(path)})
    recorder = Recorder(agent, "io.DI3")
    try:
        platform = agents.platform()
        recorder.until("io.DI3", lambda v: v == 0, timeout=10)
    finally:
        recorder.stop()
    vehicle = vehicle_of(agent)
    levels = [v for v in recorder.seen["io.DI3"] if v is not None]
    assert levels[0] == 1 and levels[-1] == 0  # high until the entry's time, then low
    assert vehicle.state(1.9).inputs == {} and vehicle.state(2.1).inputs == {3: 0}
    assert recorder.first_seen[("io.DI3", 0)] >= vehicle.state(2.0).unix_time  # never before its time
    wait_until(lambda: store(agent).get("obd.dtcs") == 1, 10, what="the scenario's trouble code")
    assert platform.request("io/refresh", when_free=True)["result"]["io.DI3"] == 0


def test_flowengine_sim_says_when_the_broker_refuses_it(auth_broker: Mosquitto) -> None:
    refused = flowengine("sim", "dev-1", "io.DI2=0", "--broker", auth_broker.url, "--username", "device",
                         "--password", "wrong", "--timeout", "2")  # fmt: skip
    assert refused.returncode == 2 and f"the broker {auth_broker.url} refused us" in refused.stderr
