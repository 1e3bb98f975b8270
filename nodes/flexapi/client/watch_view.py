"""The live view of ``flowengine watch``: a snapshot of :class:`WatchState` as rich renderables.

Top: where we watch and the link state. Middle: one panel per group with its
latest values (changed ones bright), the age of the last upload and the rate.
Bottom: the latest events and responses, and how to send a request.
"""

from __future__ import annotations

import json
import time
from typing import Any

from rich.columns import Columns
from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from nodes.flexapi.client.watch_state import GroupView, LogLine, WatchState

PANEL_WIDTH = 40
LEVEL_STYLES = {5: "bold red", 4: "bold red", 3: "red", 2: "yellow"}
KIND_MARKS = {"event": "!", "response": "←", "request": "→", "other": "·"}


def render(state: WatchState, now: float, *, rows: int = 13, where: str = "", call_hint: str = "") -> RenderableType:
    """The whole screen for ``state`` at monotonic time ``now``."""
    panels = [group_panel(view, now, rows) for view in state.groups.values()]
    body: RenderableType = (
        Columns(panels)
        if panels
        else Text("waiting for the first upload (each group sends one per interval) …", style="dim")
    )
    parts: list[RenderableType] = [header(state, now, where), body, log_panel(state)]
    if call_hint:
        parts.append(Text(f"Ctrl-C quits · send a request: {call_hint}", style="dim"))
    return Group(*parts)


def header(state: WatchState, now: float, where: str) -> Text:
    text = Text.assemble(("watch ", "bold"), (state.root, "bold cyan"))
    if where:
        text.append(f" via {where}")
    text.append("  ")
    if state.connected:
        text.append("● connected", "green")
    else:
        text.append(f"● {state.link_reason}", "red")
    heard = "never heard" if state.heard_at is None else f"last heard {ago(now - state.heard_at)}"
    text.append(f"  device {heard}", "yellow" if state.heard_at is None else "")
    text.append(f"  {state.messages} messages", "dim")
    return text


def group_panel(view: GroupView, now: float, rows: int) -> Panel:
    table = Table.grid(padding=(0, 1))
    table.add_column(style="dim", no_wrap=True, overflow="ellipsis", max_width=PANEL_WIDTH // 2)
    table.add_column(no_wrap=True, overflow="ellipsis")
    items = list(view.values.items())
    for key, value in items[:rows]:
        table.add_row(short_key(key, view.name), Text(show(value), style="bold" if key in view.changed else ""))
    if len(items) > rows:
        table.add_row("", Text(f"… {len(items) - rows} more", style="dim"))
    if not items:
        table.add_row("", Text("waiting …", style="dim"))
    return Panel(
        table,
        title=f"[bold]{view.name}[/]",
        subtitle=group_status(view, now),
        border_style=border(view, now),
        width=PANEL_WIDTH,
    )


def group_status(view: GroupView, now: float) -> str:
    age, interval = view.age(now), view.interval()
    if age is None:
        return "no upload yet"
    rate = "" if interval is None or interval <= 0 else f" · {60 / interval:.3g}/min"
    return f"{ago(age)}{rate}"


def border(view: GroupView, now: float) -> str:
    if view.last_at is None:
        return "dim"
    return "yellow" if view.late(now) else "green"


def log_panel(state: WatchState) -> Panel:
    lines = Table.grid(padding=(0, 1))
    lines.add_column(style="dim", no_wrap=True)
    lines.add_column(no_wrap=True)
    lines.add_column(no_wrap=True, overflow="ellipsis", ratio=1)
    for line in state.log:
        lines.add_row(clock(line.wall), f"{KIND_MARKS.get(line.kind, '·')} {line.path}", log_text(line))
    if not state.log:
        lines.add_row("", "", Text("no events or responses yet", style="dim"))
    return Panel(lines, title="events and responses", border_style="blue")


def log_text(line: LogLine) -> Text:
    style = ""
    if line.kind == "event" and isinstance(line.payload, dict):
        style = LEVEL_STYLES.get(line.payload.get("level"), "")  # type: ignore[arg-type]
    elif line.kind == "response" and isinstance(line.payload, dict) and "error" in line.payload:
        style = "red"
    return Text(show(line.payload), style=style)


def short_key(key: str, group: str) -> str:
    """``gnss.latitude`` in the gnss panel is ``latitude``; other keys stay whole."""
    prefix = f"{group}."
    return key[len(prefix) :] if key.startswith(prefix) and len(key) > len(prefix) else key


def show(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def ago(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.0f}s ago"
    if seconds < 3600:
        return f"{seconds / 60:.0f}m ago"
    return f"{seconds / 3600:.1f}h ago"


def clock(wall: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(wall))
