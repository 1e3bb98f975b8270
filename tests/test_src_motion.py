"""Motion maths and IIO sysfs reading on a fake sysfs tree with known answers."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from flowengine.errors import DeviceIOError
from nodes.sources.motion.attitude import integrate_yaw, roll_pitch, specific_force
from nodes.sources.motion.iio import find_device, read_accel_g, read_gyro_dps


def make_device(root: Path, index: int, name: str, files: dict[str, str]) -> Path:
    device = root / f"iio:device{index}"
    device.mkdir(parents=True)
    (device / "name").write_text(name + "\n")
    for file, text in files.items():
        (device / file).write_text(text + "\n")
    return device


def test_level_and_still_reads_one_g_down() -> None:
    assert roll_pitch(0.0, 0.0, 1.0) == (0.0, 0.0)


def test_tilts_from_gravity() -> None:
    roll, pitch = roll_pitch(math.sin(math.radians(10)), 0.0, math.cos(math.radians(10)))
    assert pitch == pytest.approx(10.0) and roll == pytest.approx(0.0)
    roll, _ = roll_pitch(*specific_force(0.0, 0.0, -5.0, 0.0))
    assert roll == pytest.approx(-5.0)


def test_yaw_integrates_like_a_compass() -> None:
    yaw = 350.0
    for _ in range(10):
        yaw = integrate_yaw(yaw, -2.0, 1.0)  # turning right (clockwise) at 2 deg/s
    assert yaw == pytest.approx(10.0)


def test_reads_accelerometer_with_shared_scale(tmp_path: Path) -> None:
    # st_lsm6dsx at ±2 g: 0.000598 m/s² per count; 16400 counts ~ 1 g
    make_device(tmp_path, 0, "lsm6dsl_accel", {"in_accel_x_raw": "0", "in_accel_y_raw": "-820", "in_accel_z_raw": "16400", "in_accel_scale": "0.000598"})  # fmt: skip
    ax, ay, az = read_accel_g(find_device(tmp_path, "accel"))
    assert ax == 0.0
    assert ay == pytest.approx(-0.05, abs=1e-3)
    assert az == pytest.approx(1.0, abs=1e-3)


def test_per_axis_scale_and_offset_win(tmp_path: Path) -> None:
    files = {f"in_anglvel_{a}_raw": "100" for a in "xyz"}
    files |= {"in_anglvel_scale": "0.001", "in_anglvel_z_scale": "0.002", "in_anglvel_z_offset": "-50"}
    make_device(tmp_path, 3, "bmi160", files)
    gx, _, gz = read_gyro_dps(find_device(tmp_path, "anglvel"))
    assert gx == pytest.approx(math.degrees(0.1))
    assert gz == pytest.approx(math.degrees(0.1))  # (100 - 50) * 0.002


def test_devices_are_found_by_name(tmp_path: Path) -> None:
    make_device(tmp_path, 0, "other", {"in_accel_x_raw": "1"})
    wanted = make_device(tmp_path, 1, "lsm6dsl_accel", {"in_accel_x_raw": "1"})
    assert find_device(tmp_path, "accel", "lsm6dsl_accel") == wanted
    with pytest.raises(DeviceIOError, match="anglvel"):
        find_device(tmp_path, "anglvel")
