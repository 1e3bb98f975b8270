"""The one error hierarchy of flowengine.

Every error the runtime raises on purpose derives from :class:`FlowError`; where
a builtin fits, the subclass also inherits it so callers can catch either.
"""

from __future__ import annotations

from dataclasses import dataclass


class FlowError(Exception):
    """Root of every error flowengine raises on purpose."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a set of flow files, located as precisely as known.

    ``level`` "info" marks a note: worth knowing (``flowengine validate`` prints it),
    not a reason to refuse the flows.
    """

    file: str
    node_id: str | None
    field: str | None
    message: str
    level: str = "error"

    def __str__(self) -> str:
        where = self.file
        if self.node_id:
            where += f": node {self.node_id}"
        if self.field:
            where += f": {self.field}"
        return f"{where}: {self.message}"


class FlowConfigError(FlowError, ValueError):
    """Flow files or device settings that cannot run; carries every problem found."""

    def __init__(self, problems: list[Problem] | str) -> None:
        if isinstance(problems, str):
            problems = [Problem("<config>", None, None, problems)]
        self.problems = list(problems)
        lines = "\n".join(f"  {p}" for p in self.problems)
        super().__init__(f"{len(self.problems)} problem(s):\n{lines}")


class NodeError(FlowError, RuntimeError):
    """A node failed while handling a message; routed to catch nodes."""


class ExpressionError(NodeError, ValueError):
    """A user expression is malformed, unsafe or exceeded its limits."""


class StateError(FlowError, OSError):
    """Persistent state could not be read or written."""


class LinkError(FlowError, ConnectionError):
    """The MQTT link could not be configured or used."""


class DeviceIOError(FlowError, OSError):
    """Hardware did not do what was asked (a driver's port vanished, an output failed)."""


class ExpressionLimitError(ExpressionError):
    """User code hit a hard limit (time, memory, size of what crosses to its worker); the worker was replaced."""
