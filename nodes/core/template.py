"""``template``: sets a property from a mustache template filled from the message, context and environment."""

from __future__ import annotations

import json
import re
from typing import Any, Literal

import yaml
from pydantic import Field, field_validator

from flowengine.errors import NodeError
from flowengine.message import Msg, set_path
from flowengine.node import Node, NodeConfig
from nodes.core import mustache
from nodes.core.typed import context_key

_CONTEXT_NAME = re.compile(r"^(flow|global)(\[\w*\])?\.(.+)")
_JSON_ESCAPES = str.maketrans({"\\": "\\\\", "\n": "\\n", "\t": "\\t", "\r": "\\r", "\f": "\\f", "\b": "\\b"})


class _Yaml12Loader(yaml.SafeLoader):
    """YAML 1.2 booleans (only true/false), as Node-RED's js-yaml reads them: "yes" and "on" stay strings."""


_Yaml12Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Yaml12Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


class TemplateConfig(NodeConfig):
    field: str = Field(default="payload", description="Where the result goes: a msg property path or a context key.")
    fieldType: Literal["msg", "flow", "global"] = Field(default="msg", description="Where `field` lives.")
    format: str = Field(default="handlebars", description="Editor highlighting only (no effect on the output).")
    syntax: Literal["mustache", "plain"] = Field(
        default="mustache", description='"mustache": fill in `{{...}}` tags; "plain": use the text as it is.'
    )
    template: str = Field(
        default="",
        description="The template; `{{payload}}`, `{{topic}}`, `{{flow.x}}`, `{{global.x}}`, `{{env.X}}` "
        "(HTML-escaped; `{{{...}}}` for raw text). Empty: `msg.template` is used.",
    )
    output: Literal["str", "json", "yaml"] = Field(
        default="str", description='"str": the text; "json" / "yaml": the text parsed as JSON / YAML.'
    )

    _field = field_validator("field", mode="before")(lambda v: v or "payload")
    _field_type = field_validator("fieldType", mode="before")(lambda v: v or "msg")
    _syntax = field_validator("syntax", mode="before")(lambda v: v or "mustache")
    _output = field_validator("output", mode="before")(lambda v: v or "str")
    _template = field_validator("template", mode="before")(lambda v: "" if v is None else v)

    @field_validator("template")
    @classmethod
    def _parses(cls, value: str, info: Any) -> str:
        if info.data.get("syntax", "mustache") == "mustache":
            try:
                mustache.parse(value)
            except mustache.MustacheError as exc:
                raise ValueError(f"invalid mustache template: {exc}") from None
        return value


class TemplateNode(Node[TemplateConfig]):
    """Fills its template from the message (`{{payload}}`, `{{topic}}`, `{{payload.temp}}`),
    flow and global context (`{{flow.count}}`) and the environment (`{{env.SITE}}`), and puts
    the text (or, with `output` json/yaml, the value it parses to) into `field`. Tags are
    HTML-escaped as in Node-RED (`{{{payload}}}` is not); sections `{{#items}}...{{/items}}`
    repeat over arrays. A name found nowhere renders as "".
    """

    Config = TemplateConfig

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self._tokens = mustache.parse(self.config.template) if self.config.syntax == "mustache" else []

    def on_input(self, msg: Msg) -> None:
        template, tokens = self.config.template, self._tokens
        if not template and "template" in msg:
            template = "" if msg["template"] is None else str(msg["template"])
            tokens = mustache.parse(template) if self.config.syntax == "mustache" else []
        text = self._render(tokens, msg) if self.config.syntax == "mustache" else template
        value = self._parsed(text)
        if self.config.fieldType == "msg":
            set_path(msg, self.config.field, value)
        else:
            self.context(self.config.fieldType).set(context_key(self.config.field), value)
        self.send(msg)

    def _render(self, tokens: list[mustache.Token], msg: Msg) -> str:
        escape_json = self.config.output == "json"

        def lookup(name: str, stack: list[Any]) -> Any:
            value = mustache.lookup_in(name, stack)
            if value is not mustache.NOT_FOUND:
                if escape_json and len(stack) == 1 and isinstance(value, str):
                    return value.translate(_JSON_ESCAPES)
                return value
            return self._outside(name)

        return mustache.render(tokens, lookup, [msg])

    def _outside(self, name: str) -> Any:
        """A name the message lacks: ``env.X``, ``flow.x`` / ``global.x`` (paths walk), else ""."""
        if name.startswith("env.") and len(name) > 4:
            return self.env_get(name[4:])
        match = _CONTEXT_NAME.match(name)
        if match is None:
            return ""
        key, *rest = context_key(match.group(3)).split(".")
        value = self.context(match.group(1)).get(key)
        for part in rest:
            value = mustache.lookup_in(part, [value]) if value is not None else None
            value = None if value is mustache.NOT_FOUND else value
        return value

    def _parsed(self, text: str) -> Any:
        try:
            if self.config.output == "json":
                return json.loads(text)
            if self.config.output == "yaml":
                return yaml.load(text, Loader=_Yaml12Loader)
        except (ValueError, yaml.YAMLError) as exc:
            raise NodeError(f"template output is not valid {self.config.output.upper()}: {exc}") from exc
        return text
