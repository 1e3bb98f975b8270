"""``app hook``: user logic for ``app/control`` — emits the accepted values of the keys it declares."""

from __future__ import annotations

import re
from typing import Any

from pydantic import Field, field_validator

from flowengine.message import make_msg
from flowengine.node import Node, NodeConfig

SERVICE = "flexapi.app_hooks"
APP_KEY = re.compile(r"app\.[A-Za-z0-9_]{1,64}")


class AppHookConfig(NodeConfig):
    keys: list[str] = Field(min_length=1, description="app.* parameter names this hook handles")

    @field_validator("keys")
    @classmethod
    def _app_keys(cls, keys: list[str]) -> list[str]:
        for key in keys:
            if not APP_KEY.fullmatch(key):
                raise ValueError(f"{key!r} is not an app.<name> key (letters, digits, '_')")
        return keys


def hooks_of(services: dict[str, Any]) -> dict[str, AppHookNode]:
    return services.setdefault(SERVICE, {})  # type: ignore[no-any-return]


class AppHookNode(Node[AppHookConfig]):
    """Declares app keys (valid in app/control and app/refresh) and emits ``{key: value}`` of its keys."""

    Config = AppHookConfig
    accepts_input = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        hooks_of(self.runtime.services)[self.id] = self  # before any node starts: keys valid at once

    @property
    def keys(self) -> list[str]:
        return list(self.config.keys)  # type: ignore[attr-defined]

    def notify(self, values: dict[str, Any]) -> None:
        """Emit the accepted values that belong to this hook, if any."""
        mine = {k: v for k, v in values.items() if k in self.keys}
        if mine:
            self.send(make_msg(mine, topic="app/control"))

    async def on_close(self) -> None:
        hooks = hooks_of(self.runtime.services)
        if hooks.get(self.id) is self:
            del hooks[self.id]
