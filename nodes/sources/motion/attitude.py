"""Pure attitude maths for a sensor mounted x forward, y left, z up.

The accelerometer measures specific force, so at rest it reads +1 g on z. Roll (positive
right side down) and pitch (positive nose up) come from the gravity direction; while the
vehicle accelerates or turns they include that acceleration, as on any accelerometer-only
tilt estimate. Yaw integrates the z gyroscope and is reported like a compass heading
(clockwise positive, [0, 360)) relative to where the source started.
"""

from __future__ import annotations

import math

G = 9.80665


def roll_pitch(ax: float, ay: float, az: float) -> tuple[float, float]:
    """Roll and pitch in degrees from accelerations in g."""
    roll = math.degrees(math.atan2(ay, az))
    pitch = math.degrees(math.atan2(ax, math.hypot(ay, az)))
    return roll, pitch


def integrate_yaw(yaw: float, gz_dps: float, dt: float) -> float:
    """Next compass-style yaw after ``dt`` seconds of z rotation (counter-clockwise positive)."""
    return (yaw - gz_dps * dt) % 360.0


def specific_force(long_g: float, lat_right_g: float, roll_deg: float, pitch_deg: float) -> tuple[float, float, float]:
    """What an accelerometer reads (g) for the given driving accelerations and body attitude."""
    roll, pitch = math.radians(roll_deg), math.radians(pitch_deg)
    ax = long_g + math.sin(pitch)
    ay = -lat_right_g + math.sin(roll) * math.cos(pitch)
    az = math.cos(roll) * math.cos(pitch)
    return ax, ay, az
