"""``function``: runs JavaScript on each message, as Node-RED's function node does.

The code runs in a worker process of its own (``nodes/core/javascript``), so nothing it
does can hold the event loop: the engine stops it at its time, memory and stack limits,
and the worker is killed and restarted when the engine cannot. This module turns what
the code does (send, log, error, status, context, env, timers) into the node API.
"""

from __future__ import annotations

import sys
from typing import Any

from pydantic import Field, field_validator, model_validator

from flowengine.clock import Timer
from flowengine.errors import NodeError
from flowengine.message import Msg, new_msg_id
from flowengine.node import Node, NodeConfig
from nodes.core.javascript import ENGINE_MISSING, engine_available
from nodes.core.javascript.check import CHECKER
from nodes.core.javascript.process import Entry, JsProcess
from nodes.core.javascript.wire import encode

#: The time limit of one call when the node sets none (Node-RED's ``timeout`` 0 means no limit).
DEFAULT_TIMEOUT = 1.0
#: The JavaScript stack allowed (about 10,000 nested calls, as in Node.js).
STACK_BYTES = 16 << 20
MAX_OUTPUTS = 1000
_LOG_LEVELS = {"info": "info", "warn": "warning", "error": "error", "debug": "debug", "trace": "debug"}
_SCOPES = frozenset({"node", "flow", "global"})


def _outputs(value: Any) -> int:
    number = float(value if value not in ("", None) else 1)
    if not number.is_integer() or not 0 <= number <= MAX_OUTPUTS:
        raise ValueError(f"outputs must be a whole number from 0 to {MAX_OUTPUTS}, not {value!r}")
    return int(number)


def _seconds(value: Any) -> float:
    number = float(value if value not in ("", None) else 0)
    if not number >= 0:
        raise ValueError(f"timeout must be 0 or more seconds, not {value!r}")
    return number


def _no_libs(value: Any) -> list[Any]:
    if value:
        names = ", ".join(str(lib.get("module", lib) if isinstance(lib, dict) else lib) for lib in value)
        raise ValueError(f"external modules are not supported (libs: {names}); remove them from the node")
    return []


class FunctionConfig(NodeConfig):
    func: str = Field(
        default="\nreturn msg;",
        description="The code run for each message (On Message): the body of an async function of `msg`; "
        "return a message, an array with one entry per output (an entry may be an array of messages), or null.",
    )
    outputs: int = Field(default=1, description="Number of outputs (0 or more).")
    timeout: float = Field(
        default=0,
        description="Seconds one run of the code may take before it is stopped and reported to `catch` "
        "(`Script execution timed out after Nms`); 0: flowengine's default of 1 s.",
    )
    noerr: int = Field(default=0, description="The editor's count of errors it saw in the code (informative only).")
    initialize: str = Field(default="", description="Code run when the node starts (On Start); may return a promise.")
    finalize: str = Field(default="", description="Code run when the node stops (On Stop).")
    libs: list[Any] = Field(default_factory=list, description="External modules: not supported, must be empty.")
    memory: float = Field(
        default=64, gt=0, le=4096, description="flowengine: memory limit of the node's JavaScript, in MiB."
    )

    _outputs = field_validator("outputs", mode="before")(_outputs)
    _timeout = field_validator("timeout", mode="before")(_seconds)
    _libs = field_validator("libs", mode="before")(_no_libs)
    _noerr = field_validator("noerr", mode="before")(lambda v: int(v or 0))

    @model_validator(mode="before")
    @classmethod
    def _engine_installed(cls, data: Any) -> Any:
        if not engine_available():
            raise ValueError(ENGINE_MISSING)
        return data

    @field_validator("func", "initialize", "finalize")
    @classmethod
    def _compiles(cls, code: str, info: Any) -> str:
        if code.strip() and (problem := CHECKER.problem(info.field_name, code)):
            raise ValueError(problem)
        return code


class FunctionNode(Node[FunctionConfig]):
    """Runs JavaScript on each message as Node-RED's function node does: `msg` in; `return`
    a message, one per output, arrays of them or null; `node.send`, `node.done`, `node.warn`,
    `node.error(err, msg)` (to `catch`), `node.status`; `context`, `flow`, `global`, `env.get`,
    timers on the runtime clock, `Buffer`, `RED.util.cloneMessage`. The code runs in a worker
    process of its own with a time limit per call (`timeout`, default 1 s), a memory limit
    (`memory`) and a stack limit; a runaway call is stopped and reported to `catch` while
    every other node keeps running. External modules (`libs`) are not supported. See
    docs/function-node.md.
    """

    Config = FunctionConfig
    close_timeout = 5.0

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.worker: JsProcess | None = None
        self.timers: dict[int, Timer] = {}
        self.shows_status = False
        self._events = {
            "send": self._send,
            "log": self._log,
            "error": self._error,
            "status": self._status,
            "set": self._set,
            "timer": self._timer,
            "clear": self._clear,
            "reset": lambda event: self.reset(event["reason"]),
        }

    @classmethod
    def output_count(cls, config: NodeConfig) -> int:
        assert isinstance(config, FunctionConfig)
        return config.outputs

    @property
    def seconds(self) -> float:
        """The time limit of one call."""
        return self.config.timeout or DEFAULT_TIMEOUT

    @property
    def idle(self) -> bool:
        return super().idle and (self.worker is None or self.worker.idle)

    @property
    def offloaded(self) -> bool:
        return self.worker is not None and not self.worker.idle

    async def on_start(self) -> None:
        self.worker = JsProcess(self._spec(), self, self.seconds, self.log)
        await self.worker.start()

    def on_input(self, msg: Msg) -> Any:
        assert self.worker is not None
        if "_msgid" not in msg:
            msg["_msgid"] = new_msg_id()
        try:
            body = encode(msg)
        except TypeError as exc:
            raise NodeError(str(exc)) from None
        return self.worker.submit(b"m", body, msg)

    async def on_close(self) -> None:
        if self.worker is not None:
            await self.worker.close()
        self._cancel_timers()
        if self.shows_status:
            self.runtime.report_status(self, {})

    def _spec(self) -> dict[str, Any]:
        cfg = self.config
        node = {
            "id": self.id,
            "name": self.name,
            "path": f"{self.spec.z}/{self.id}" if self.spec.z else self.id,
            "outputCount": cfg.outputs,
            "timeoutMs": _number(self.seconds * 1000),
            "memoryMiB": _number(cfg.memory),
        }
        limits = {"seconds": self.seconds, "memory": int(cfg.memory * 2**20), "stack": STACK_BYTES}
        code = {"func": cfg.func, "initialize": cfg.initialize.strip(), "finalize": cfg.finalize.strip()}
        return {"mode": "run", "path": sys.path, "node": node, "limits": limits, **code}

    # -- what the code does (the worker's events) ------------------------------------------

    def event(self, event: dict[str, Any]) -> None:
        self._events[event["t"]](event)

    def _send(self, event: dict[str, Any]) -> None:
        self.send(event["ports"])

    def _log(self, event: dict[str, Any]) -> None:
        getattr(self.log, _LOG_LEVELS.get(event.get("level", "info"), "info"))("%s", event.get("text", ""))

    def _error(self, event: dict[str, Any]) -> None:
        error, msg = event["error"], event.get("msg")
        if not isinstance(msg, dict):
            self.log.error("%s", error["message"])
            return
        self.report(error, msg)

    def report(self, error: dict[str, Any], msg: Msg) -> None:
        """Route an error to ``catch`` as Node-RED does: ``msg.error`` gets the text and any code, stack, cause."""
        msg.setdefault("_msgid", new_msg_id())
        self.log.error("%s", error["message"])
        details: dict[str, Any] = {key: error[key] for key in ("code", "stack", "cause") if key in error}
        self.runtime.report_error(self, error["message"], msg, details)

    def _status(self, event: dict[str, Any]) -> None:
        self.shows_status = True
        self.last_status = event["status"]
        self.runtime.report_status(self, event["status"])

    def _set(self, event: dict[str, Any]) -> None:
        scope = _scope(event)
        try:
            self.context(scope).set(event["key"], event.get("value"))
        except (ValueError, TypeError) as exc:
            self.log.warning("%s context: cannot set %r: %s", scope, event["key"], exc)

    def _timer(self, event: dict[str, Any]) -> None:
        timer_id, seconds, repeat = int(event["id"]), event["ms"] / 1000, bool(event["repeat"])

        def fire() -> None:
            if repeat:
                self.timers[timer_id] = self.clock.call_later(seconds, fire)
            else:
                self.timers.pop(timer_id, None)
            if self.worker is not None:
                self.worker.submit(b"t", b"%d" % timer_id, None)

        self.timers[timer_id] = self.clock.call_later(seconds, fire)

    def _clear(self, event: dict[str, Any]) -> None:
        timer = self.timers.pop(int(event["id"]), None)
        if timer is not None:
            timer.cancel()

    def _cancel_timers(self) -> None:
        for timer in self.timers.values():
            timer.cancel()
        self.timers.clear()

    # -- the worker's requests and mishaps -------------------------------------------------

    def request(self, event: dict[str, Any]) -> bytes:
        """The answer to ``context.get/keys`` or ``env.get`` (b"" for undefined)."""
        try:
            if event["t"] == "env":
                value = self.env_get(event["name"])
            elif event["t"] == "keys":
                value = self.context(_scope(event)).keys()
            else:
                value = self.context(_scope(event)).get(event["key"])
            return b"" if value is None else encode(value)
        except (ValueError, TypeError) as exc:
            self.log.warning("cannot hand %s to JavaScript: %s", event, exc)
            return b""

    def abandoned(self, entry: Entry, why: str) -> None:
        if why == "time":
            text = f"Error: Script execution timed out after {_number(self.seconds * 1000)}ms"
            error = {
                "message": text,
                "code": "ERR_SCRIPT_EXECUTION_TIMEOUT",
                "stack": f"{text}\n    at Function node:{self.id}",
            }
        else:
            error = {"message": "Error: the JavaScript worker exited while running the code"}
        self.report(error, entry.msg if entry.msg is not None else {})

    def reset(self, reason: str) -> None:
        """The code's JavaScript state was lost: what On Start and the code kept is gone, its timers too."""
        self._cancel_timers()
        self.log.warning(
            "JavaScript state lost (%s): the code was started again with a fresh context (On Start ran again)", reason
        )


def _scope(event: dict[str, Any]) -> str:
    scope = event.get("scope", "node")
    if scope not in _SCOPES:
        raise ValueError(f"unknown context scope {scope!r}")
    return str(scope)


def _number(value: float) -> float | int:
    """A number as JavaScript prints it: 1000, not 1000.0."""
    return int(value) if float(value).is_integer() else value
