"""``app hook``: user logic for ``app/control``, both ways.

- **out**: an accepted ``app/control`` value of one of its keys goes out as
  ``{topic: "app/control", payload: {key: value}, client_token}``;
- **allowed values**: ``allowed`` declares per key a list of values or a
  ``{min, max}`` range; anything else is refused ``invalid_parameter`` before
  any state changes;
- **refusal**: with ``wait`` > 0 the request waits up to that many seconds for
  the flow to send the message back with ``msg.refuse = "text"`` (answered
  ``device_error`` with the text, the state rolled back) or ``msg.accept = true``;
  no word within ``wait`` accepts it;
- **state in**: any other message into it, ``{payload: {key: value}}``, reports
  the app's state of its keys: what ``app/refresh`` returns for them (durable).
"""

from __future__ import annotations

import asyncio
import re
from typing import Annotated, Any, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from flowengine.logthrottle import LogThrottle
from flowengine.message import Msg, make_msg
from flowengine.node import Node, NodeConfig, NodeRef
from nodes.flexapi.control import ValueCheck, hook_value
from nodes.flexapi.envelope import RequestError

APP_KEY = re.compile(r"app\.[A-Za-z0-9_]{1,64}")
#: Longest a hook may hold a request (below ``flexapi request``'s answer timeout).
MAX_WAIT = 10.0


class AllowedRange(BaseModel):
    """A numeric range of allowed values (either bound may be left out)."""

    model_config = ConfigDict(extra="forbid")

    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _ordered(self) -> AllowedRange:
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min {self.min:g} is above max {self.max:g}")
        return self

    def problem(self, value: Any) -> str | None:
        low = "" if self.min is None else f"{self.min:g}"
        high = "" if self.max is None else f"{self.max:g}"
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return f"must be a number in {low}..{high}, got {value!r}"
        if (self.min is not None and value < self.min) or (self.max is not None and value > self.max):
            return f"{value!r} is outside {low}..{high}"
        return None


Allowed = list[str | int | float] | AllowedRange


class AppHookConfig(NodeConfig):
    keys: list[str] = Field(min_length=1, description="app.* parameter names this hook handles")
    app: Annotated[str, NodeRef("flexapi app")] = Field(
        default="flexapi-app", description="the flexapi app node whose app/control requests this hook serves"
    )
    allowed: dict[str, Allowed] = Field(
        default_factory=dict,
        description='allowed values per key: a list (`[0, 1]`, `["eco", "sport"]`) or a range (`{"min": 0, "max": 100}`)',
    )
    wait: float = Field(
        default=0,
        ge=0,
        le=MAX_WAIT,
        description="seconds a request waits for `msg.refuse` / `msg.accept` sent back into the hook; 0: accept at once",
    )

    @field_validator("keys")
    @classmethod
    def _app_keys(cls, keys: list[str]) -> list[str]:
        for key in keys:
            if not APP_KEY.fullmatch(key):
                raise ValueError(f"{key!r} is not an app.<name> key (letters, digits, '_')")
        return keys

    @model_validator(mode="after")
    def _allowed_keys(self) -> AppHookConfig:
        for key, rule in self.allowed.items():
            if key not in self.keys:
                raise ValueError(f"allowed.{key}: not one of this hook's keys")
            if isinstance(rule, list) and not rule:
                raise ValueError(f"allowed.{key}: an empty list allows nothing")
        return self


def one_of(options: list[Any]) -> ValueCheck:
    """A check that a value is one of ``options``: numbers by value, strings exactly (1 is not "1")."""

    def check(value: Any) -> str | None:
        if not isinstance(value, bool) and any(_same(value, option) for option in options):
            return None
        return f"must be one of {', '.join(map(repr, options))}, got {value!r}"

    return check


def _same(value: Any, option: Any) -> bool:
    if isinstance(value, str) or isinstance(option, str):
        return type(value) is type(option) and value == option
    return bool(value == option)


@runtime_checkable
class AppState(Protocol):
    """The ``flexapi app`` node as a hook reports to it."""

    async def report_state(self, values: dict[str, Any]) -> None: ...


class AppHookNode(Node[AppHookConfig]):
    """Serves app/control for the app keys it declares: checks their values, emits them, lets a flow refuse them.

    Output: ``{topic: "app/control", payload: {key: value}, client_token}`` for each
    request carrying one of its keys. Input: the message sent back with
    ``msg.refuse = "text"`` or ``msg.accept = true`` (when ``wait`` > 0), or any other
    ``{payload: {key: value}}``: the app's state of its keys, what app/refresh returns.
    It refers to the ``flexapi app`` node (``app``), which finds its hooks through
    that reference when a request arrives.
    """

    Config = AppHookConfig

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self._waiting: dict[str, tuple[asyncio.Future[str | None], str | None]] = {}
        self._log = LogThrottle(self.log)

    @property
    def keys(self) -> list[str]:
        return list(self.config.keys)

    def value_checks(self) -> dict[str, list[ValueCheck]]:
        """The allowed-value checks of this hook's keys."""
        return {
            key: [rule.problem if isinstance(rule, AllowedRange) else one_of(rule)]
            for key, rule in self.config.allowed.items()
        }

    async def ask(self, values: dict[str, Any], token: str | None) -> str | None:
        """Emit the values of this hook's keys; the flow's refusal text, or None when accepted."""
        mine = {k: v for k, v in values.items() if k in self.keys}
        if not mine:
            return None
        msg = make_msg(mine, topic="app/control", client_token=token)
        if self.config.wait <= 0:
            self.send(msg)
            return None
        answer: asyncio.Future[str | None] = asyncio.get_running_loop().create_future()
        self._waiting[msg["_msgid"]] = (answer, token)
        timer = self.clock.call_later(self.config.wait, lambda: _settle(answer, None))
        self.send(msg)
        try:
            return await answer
        finally:
            timer.cancel()
            self._waiting.pop(msg["_msgid"], None)

    async def on_input(self, msg: Msg) -> None:  # type: ignore[override]
        if "refuse" in msg or "accept" in msg:
            self._answered(msg)
        else:
            await self._report(msg)

    def _answered(self, msg: Msg) -> None:
        """The flow's word on a waiting request, matched by ``_msgid``, else by ``client_token``."""
        waiting = self._waiting.get(str(msg.get("_msgid")))
        if waiting is None:
            token = msg.get("client_token")
            waiting = next((w for w in self._waiting.values() if w[1] == token and not w[0].done()), None)
        if waiting is None or waiting[0].done():
            self._log.warning("late", "msg.refuse/accept for no waiting request (answered already, or wait is 0)")
            return
        refuse = msg.get("refuse")
        waiting[0].set_result((refuse if isinstance(refuse, str) else "refused by the app") if refuse else None)

    async def _report(self, msg: Msg) -> None:
        """The app's state of this hook's keys, as ``app/refresh`` will return it."""
        payload = msg.get("payload")
        if not isinstance(payload, dict) or not payload:
            raise ValueError("a state report is {payload: {app.<key>: value}} (or msg.refuse / msg.accept)")
        foreign = sorted(k for k in payload if k not in self.keys)
        if foreign:
            raise ValueError(f"{', '.join(foreign)}: not a key of this hook ({', '.join(self.keys)})")
        try:
            values = {k: hook_value(k, v) for k, v in payload.items()}
        except RequestError as exc:
            raise ValueError(exc.desc) from None
        app = self.runtime.nodes.get(self.config.app)
        if not isinstance(app, AppState):
            raise ValueError(f"app: no flexapi app node {self.config.app!r} running")
        await app.report_state(values)

    async def on_close(self) -> None:
        for answer, _ in self._waiting.values():
            _settle(answer, None)


def _settle(answer: asyncio.Future[str | None], value: str | None) -> None:
    """Give a waiting request its answer, unless it has one already."""
    if not answer.done():
        answer.set_result(value)
