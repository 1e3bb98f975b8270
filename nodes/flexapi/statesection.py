"""A section of the FlexAPI config file kept in a state file of its own (events, forward).

The config file (``flowengine config export|import``) and the nodes that read the
section share this one description: how the section is validated, written and
read back. A state file that does not validate is logged and replaced by the
defaults, never half-used.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

from nodes.flexapi import statefiles
from nodes.flexapi.envelope import RequestError

log = logging.getLogger("flowengine.flexapi.state")
T = TypeVar("T")


@dataclass(frozen=True)
class StateSection(Generic[T]):
    """``name`` in the config file, ``file`` in ``<state_dir>/flexapi``; ``parse`` raises RequestError naming the field."""

    name: str
    file: str
    parse: Callable[[Any], T]
    to_json: Callable[[T], Any]
    default: Callable[[], T]

    def load(self, state_dir: Path | None) -> T:
        """The stored section, or the defaults (missing or invalid file)."""
        data = statefiles.load(state_dir, self.file, None)
        if data is None:
            return self.default()
        try:
            return self.parse(data)
        except RequestError as exc:
            log.error("STATE FILE INVALID: %s: %s; using defaults", self.file, exc.desc)
            return self.default()

    def export(self, state_dir: Path | None) -> Any:
        return self.to_json(self.load(state_dir))

    def parse_in_config(self, config: dict[str, Any]) -> T:
        """The section of an imported config file; absent means the defaults (an import replaces everything)."""
        return self.parse(config[self.name]) if self.name in config else self.default()

    def save(self, state_dir: Path, value: T) -> None:
        statefiles.save(state_dir, self.file, self.to_json(value))

    def remove(self, state_dir: Path) -> None:
        statefiles.remove(state_dir, self.file)
