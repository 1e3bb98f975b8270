"""``app hook``: user logic for ``app/control`` — emits the accepted values of the keys it declares."""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import Field, field_validator

from flowengine.message import make_msg
from flowengine.node import Node, NodeConfig, NodeRef

APP_KEY = re.compile(r"app\.[A-Za-z0-9_]{1,64}")


class AppHookConfig(NodeConfig):
    keys: list[str] = Field(min_length=1, description="app.* parameter names this hook handles")
    app: Annotated[str, NodeRef("flexapi app")] = Field(
        default="flexapi-app", description="the flexapi app node whose app/control requests this hook serves"
    )

    @field_validator("keys")
    @classmethod
    def _app_keys(cls, keys: list[str]) -> list[str]:
        for key in keys:
            if not APP_KEY.fullmatch(key):
                raise ValueError(f"{key!r} is not an app.<name> key (letters, digits, '_')")
        return keys


class AppHookNode(Node[AppHookConfig]):
    """Declares app keys (valid in app/control and app/refresh) and emits ``{key: value}`` of its keys.

    It refers to the ``flexapi app`` node (``app``), which finds its hooks through
    that reference when a request arrives.
    """

    Config = AppHookConfig

    @property
    def keys(self) -> list[str]:
        return list(self.config.keys)

    def notify(self, values: dict[str, Any]) -> None:
        """Emit the accepted values that belong to this hook, if any."""
        mine = {k: v for k, v in values.items() if k in self.keys}
        if mine:
            self.send(make_msg(mine, topic="app/control"))
