"""Driver chatter stays out of the agent's log unless asked for.

python-can logs on ``can.*`` and the ISO-TP stacks on :data:`DRIVER_LOGGER` (``isotp``
for stacks we did not make) at debug level, frame by frame: hundreds of lines a second
that would bury every request and response at ``--log-level debug``. Their level comes
from ``[sources.drivers] log_level`` (``flowengine run --driver-log LEVEL``), ``warning``
by default, independently of ``--log-level``.
"""

from __future__ import annotations

import logging
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from nodes.sources.settings import source_settings

#: The logger of the ISO-TP stacks the OBD client and the simulated ECU open.
DRIVER_LOGGER = "flowengine.sources.drivers"
#: Loggers of the libraries the drivers use, set to the driver log level.
LIBRARY_LOGGERS = ("can", "isotp", DRIVER_LOGGER)
SECTION = "drivers"

Level = Literal["debug", "info", "warning", "error"]


class DriverSettings(BaseModel):
    """``[sources.drivers]``: how much the hardware libraries may log."""

    model_config = ConfigDict(extra="forbid")

    log_level: Level = "warning"


def driver_level(device: Any) -> int:
    """The configured driver log level (``warning`` when absent or invalid)."""
    try:
        settings = DriverSettings.model_validate(source_settings(device, SECTION))
    except ValidationError:
        settings = DriverSettings()
    return int(getattr(logging, settings.log_level.upper()))


def quiet_drivers(device: Any) -> None:
    """Set the driver loggers to the configured level (idempotent, cheap)."""
    level = driver_level(device)
    for name in LIBRARY_LOGGERS:
        logging.getLogger(name).setLevel(level)
