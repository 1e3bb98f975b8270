"""``json``: converts a property between a JSON string and the value it encodes."""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import Field, field_validator

from flowengine.errors import NodeError
from flowengine.message import Msg, get_path, has_path, set_path
from flowengine.node import Node, NodeConfig


class JsonConfig(NodeConfig):
    action: Literal["", "str", "obj"] = Field(
        default="", description='"" converts either way; "str" always gives a JSON string; "obj" always gives a value.'
    )
    property: str = Field(default="payload", description="The message property to convert.")
    pretty: bool = Field(default=False, description="Indent the JSON string by 4 spaces.")

    _property = field_validator("property", mode="before")(lambda v: v or "payload")


class JsonNode(Node[JsonConfig]):
    """Parses a JSON string (or bytes) in `property` into a value, or writes a value as a JSON
    string, then sends the message on. A message without the property passes unchanged. Text
    that is not valid JSON is an error: the message goes to catch nodes, not to the output.
    JSON schema validation (`msg.schema`) is not supported.
    """

    Config = JsonConfig

    def on_input(self, msg: Msg) -> None:
        path = self.config.property
        if not has_path(msg, path):
            self.send(msg)
            return
        value = get_path(msg, path)
        if isinstance(value, (str, bytes, bytearray)):
            if self.config.action != "str":
                set_path(msg, path, _parse(value, path))
        elif self.config.action != "obj":
            set_path(msg, path, self._dump(value))
        self.send(msg)

    def _dump(self, value: Any) -> str:
        try:
            if self.config.pretty:
                return json.dumps(value, indent=4, ensure_ascii=False, allow_nan=False)
            return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise NodeError(f"cannot convert {self.config.property} to JSON: {exc}") from exc
        except RecursionError:
            raise NodeError(f"cannot convert {self.config.property} to JSON: nested too deeply") from None


def _parse(text: str | bytes | bytearray, path: str) -> Any:
    try:
        return json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise NodeError(f"{path} is not valid JSON: {exc}") from exc
    except RecursionError:
        raise NodeError(f"{path} is not valid JSON: nested too deeply") from None
