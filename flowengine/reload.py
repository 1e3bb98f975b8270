"""Hot reload: watch flow directories, debounce bursts, deploy only a valid whole.

A burst of writes (an editor saving, ``cp -r``) becomes one reload after the
directory has been quiet for ``debounce`` seconds. The whole new set is
validated first; when it is invalid every problem is logged and the last good
graph keeps running. SIGHUP asks for the same reload.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from flowengine.errors import FlowConfigError
from flowengine.flowfile import FlowSet, load_flows
from flowengine.runtime import DeployPlan, Runtime

if TYPE_CHECKING:  # watchdog is imported only when there are directories to watch
    from watchdog.events import FileSystemEvent, FileSystemEventHandler
    from watchdog.observers import Observer

log = logging.getLogger("flowengine.reload")


class FlowSource:
    """The flow files a runtime runs: fixed files plus every ``*.json`` in watched directories."""

    def __init__(
        self, files: Sequence[Path] = (), dirs: Sequence[Path] = (), env: Mapping[str, str] | None = None
    ) -> None:
        self.files = list(files)
        self.dirs = list(dirs)
        self.env = dict(env or {})

    def load(self) -> FlowSet:
        return load_flows([*self.files, *self.dirs], self.env)


class Reloader:
    """Redeploys a :class:`FlowSource` when its directories change or on request."""

    def __init__(self, runtime: Runtime, source: FlowSource, debounce: float = 0.3) -> None:
        self.runtime = runtime
        self.source = source
        self.debounce = debounce
        self.reloads = 0
        self.rejected = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._observer: Observer | None = None  # type: ignore[valid-type]
        self._running: asyncio.Task[DeployPlan | None] | None = None
        self._again = False

    async def load_initial(self) -> DeployPlan:
        """First deploy; invalid flows raise (nothing good to keep yet)."""
        return await self.runtime.deploy(self.source.load())

    def watch(self) -> None:
        """Start watching the directories (call from the event loop); no thread when there are none."""
        self._loop = asyncio.get_running_loop()
        if not self.source.dirs:
            return
        from watchdog.observers import Observer

        observer = Observer()
        handler = _json_changes(lambda: self._loop.call_soon_threadsafe(self.request))  # type: ignore[union-attr]
        for directory in self.source.dirs:
            observer.schedule(handler, str(directory), recursive=False)
        observer.daemon = True
        observer.start()
        self._observer = observer

    def request(self) -> None:
        """Ask for a reload after the debounce delay (SIGHUP, file events)."""
        loop = self._loop or asyncio.get_running_loop()
        self._loop = loop
        if self._timer:
            self._timer.cancel()
        self._timer = loop.call_later(self.debounce, self._fire)

    def _fire(self) -> None:
        self._timer = None
        if self._running and not self._running.done():
            self._again = True
            return
        self._running = asyncio.get_running_loop().create_task(self.reload(), name="flow-reload")

    async def reload(self) -> DeployPlan | None:
        """Load, validate and deploy now; on invalid flows keep the running graph."""
        while True:
            self._again = False
            plan = await self._reload_once()
            if not self._again:
                return plan

    async def _reload_once(self) -> DeployPlan | None:
        try:
            plan = await self.runtime.deploy(self.source.load())
        except FlowConfigError as exc:
            self.rejected += 1
            log.error("flows not reloaded, the last good flows keep running; %s", exc)
            return None
        self.reloads += 1
        log.info("flows reloaded: %s", plan)
        return plan

    def close(self) -> None:
        if self._timer:
            self._timer.cancel()
        if self._observer is not None:
            self._observer.stop()
            self._observer.join(2)
            self._observer = None


def _json_changes(notify: Callable[[], object]) -> FileSystemEventHandler:
    """A watchdog handler calling ``notify`` when a ``*.json`` file changes."""
    from watchdog.events import FileSystemEventHandler

    class JsonChanges(FileSystemEventHandler):
        def on_any_event(self, event: FileSystemEvent) -> None:
            if event.event_type in ("opened", "closed_no_write"):
                return
            paths = [event.src_path, getattr(event, "dest_path", "")]
            if any(str(p).endswith(".json") for p in paths):
                notify()

    return JsonChanges()
