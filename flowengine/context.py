"""Node, flow and global context (Node-RED's ``context``, ``flow``, ``global``).

Flow and global context persist in the state dir when one is given: written
atomically when changed, at most once per ``flush_interval`` and on close.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flowengine.errors import StateError
from flowengine.message import delete_path, get_path, set_path
from flowengine.state import encode_json, read_json, write_atomic_in_order, write_atomic_off_loop

log = logging.getLogger("flowengine.context")

if TYPE_CHECKING:
    from flowengine.node import Node


class Context:
    """One context store: ``get``/``set`` by property path, like Node-RED's."""

    def __init__(self, data: dict[str, Any] | None = None, on_change: Any = None) -> None:
        self.data: dict[str, Any] = data if data is not None else {}
        self._on_change = on_change

    def get(self, key: str, default: Any = None) -> Any:
        value = get_path(self.data, key)
        return default if value is None else value

    def set(self, key: str, value: Any) -> None:
        """Set ``key``; ``None`` deletes it (Node-RED's ``undefined``)."""
        if value is None:
            delete_path(self.data, key)
        else:
            set_path(self.data, key, value)
        if self._on_change:
            self._on_change()

    def keys(self) -> list[str]:
        return list(self.data)


class ContextStores:
    """Every context of a runtime; flow contexts are keyed by the node's tab (``z``)."""

    flush_interval = 1.0

    def __init__(self, state_dir: Path | None = None) -> None:
        self._path = state_dir / "context.json" if state_dir else None
        saved = read_json(self._path, {}) if self._path else {}
        self._dirty = False
        self._flush_handle: asyncio.TimerHandle | None = None
        self.global_ = Context(saved.get("global", {}), self._changed)
        self._flows = {z: Context(d, self._changed) for z, d in saved.get("flow", {}).items()}
        self._nodes: dict[str, Context] = {}

    def get(self, scope: str, node: Node[Any]) -> Context:
        if scope == "global":
            return self.global_
        if scope == "flow":
            z = node.spec.z
            if z not in self._flows:
                self._flows[z] = Context(None, self._changed)
            return self._flows[z]
        if scope == "node":
            return self._nodes.setdefault(node.id, Context())
        raise ValueError(f"unknown context scope {scope!r} (node, flow or global)")

    def forget_node(self, node_id: str) -> None:
        """Drop the context of a node that was removed or replaced."""
        self._nodes.pop(node_id, None)

    def _changed(self) -> None:
        if not self._path or self._dirty:
            return
        self._dirty = True
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.flush()
            return
        self._flush_handle = loop.call_later(self.flush_interval, self._flush_soon)

    def flush(self) -> None:
        """Write flow and global context to the state dir now, if changed (on this thread: shutdown)."""
        data = self._take()
        if data is not None and self._path is not None:
            try:
                write_atomic_in_order(self._path, data)
            except StateError as exc:
                log.error("context not saved: %s", exc)

    def _flush_soon(self) -> None:
        """The periodic flush: encoded here, written on the state writer's thread."""
        data = self._take()
        if data is not None and self._path is not None:
            task = asyncio.get_running_loop().create_task(write_atomic_off_loop(self._path, data))
            task.add_done_callback(_report_failure)

    def _take(self) -> bytes | None:
        if self._flush_handle:
            self._flush_handle.cancel()
            self._flush_handle = None
        if not (self._path and self._dirty):
            return None
        self._dirty = False
        flows = {z: c.data for z, c in self._flows.items() if c.data}
        return encode_json({"global": self.global_.data, "flow": flows})


def _report_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("context not saved: %s", task.exception())
