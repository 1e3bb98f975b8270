"""JSONata expressions with Node-RED's bindings, for change, switch, inject (and join, sort).

As in Node-RED (``prepareJSONataExpression``/``evaluateJSONataExpression`` of its util):
the message's fields are at the root (``payload``, ``topic``), or the message is ``msg``
when the expression mentions ``msg`` on its own (Node-RED's legacy mode);
``$flowContext(key)``, ``$globalContext(key)`` read context, ``$env(name)`` reads the
node's environment (``Node.env_get``), ``$millis()`` and ``$now()`` read the node's clock
(the same instant for one evaluation), ``$clone(value)`` copies. ``$moment`` is refused
when the flow is loaded: its library is not available here.

Evaluation is bounded twice. The engine (jsonatapy) stops at 0.5 s, at 30,000 nested
calls and at sequences of 1,000,000 items. An expression whose cost is provably linear in
the message (:func:`is_bounded`: paths, operators and a list of scalar functions; no
ranges, lambdas, variables, filters, sorting or joins) runs in-process; any other runs in
a worker process (:mod:`flowengine.workerpool`) that the kernel stops at its time and
memory limits: the engine aborts the whole process when an allocation fails, which a
worker survives and the agent would not.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import re
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import orjson

from flowengine.errors import ExpressionError, ExpressionLimitError
from flowengine.message import Msg, clone
from flowengine.node import Node
from nodes.core.typed import context_key

T = TypeVar("T")

#: Engine limits, per evaluation.
TIMEOUT_MS = 500
MAX_SEQUENCE = 1_000_000
MAX_SOURCE = 4000
#: Node-RED's test for legacy mode: the expression names ``msg`` itself.
_LEGACY = re.compile(r"(^|[^a-zA-Z0-9_'\".])msg([^a-zA-Z0-9_'\"]|$)")
_MOMENT = re.compile(r"\$moment\b")
#: Engine error codes that are limits rather than mistakes in the expression.
_LIMIT_CODES = ("D1012", "D1011", "U1001", "D2014", "D2015")
CALLBACKS = ("flowContext", "globalContext", "env")
#: ``$now(picture, zone)`` is ``$fromMillis`` of the evaluation's instant, by number of arguments given.
_FROM_MILLIS = ("$fromMillis($m)", "$fromMillis($m, $p)", "$fromMillis($m, $p, $t)")


class _EngineThread:
    """The one thread that touches jsonatapy objects.

    The engine's objects belong to the thread that made them (it crashes the process when
    one is used or freed on another, or once the thread that imported it ended), while flows are validated
    and run on whichever thread runs the event loop. So every engine object is made, used
    and freed here, kept in :attr:`objects` by key; callers hold only the key.
    """

    def __init__(self) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="jsonata-engine")
        self._ident: int | None = None
        self.objects: dict[int, Any] = {}
        self._keys = itertools.count()
        # Before the executor stops at exit (its hook was registered first, these run in reverse):
        # objects the interpreter frees on the main thread would each print an "unsendable" error.
        threading._register_atexit(self._free_all)  # type: ignore[attr-defined]

    def _free_all(self) -> None:
        with contextlib.suppress(RuntimeError):
            self._executor.submit(self.objects.clear).result(timeout=5)

    def call(self, function: Callable[..., T], *args: Any) -> T:
        """``function(*args)`` on the engine thread, waited for (evaluations are bounded in time)."""
        if threading.get_ident() == self._ident:
            return function(*args)
        return self._executor.submit(self._run, function, *args).result()

    def _run(self, function: Callable[..., T], *args: Any) -> T:
        self._ident = threading.get_ident()
        return function(*args)

    def make(self, source: str) -> int:
        """Compile ``source`` into a kept object; its key."""
        import jsonatapy  # imported here: importing it on a thread that later ends breaks it on every other

        key = next(self._keys)
        self.objects[key] = jsonatapy.compile(source)
        return key

    def free(self, key: int) -> None:
        """Drop the object of ``key`` on the engine thread, without waiting."""
        with contextlib.suppress(RuntimeError):  # interpreter shutting down: nothing left to free
            self._executor.submit(self.objects.pop, key, None)


_ENGINE = _EngineThread()


def compile_jsonata(source: str) -> JsonataExpression:
    """Parse ``source`` once; raises ExpressionError naming the syntax error (a ValueError for pydantic)."""
    return JsonataExpression(source)


class JsonataExpression:
    """A parsed JSONata expression, evaluated against messages with Node-RED's bindings."""

    def __init__(self, source: str) -> None:
        if not isinstance(source, str) or not source.strip():
            raise ExpressionError("JSONata expression is empty")
        if len(source) > MAX_SOURCE:
            raise ExpressionError(f"JSONata expression is longer than {MAX_SOURCE} characters")
        if _MOMENT.search(source):
            raise ExpressionError("$moment is not supported here; use $now(), $fromMillis() or $toMillis()")
        self.source = source
        self.compiled = _Compiled(source)
        self.legacy = bool(_LEGACY.search(source))
        #: True: evaluated in-process (cost linear in the message); False: in a worker process.
        self.in_process = is_bounded(source)

    async def evaluate(self, node: Node[Any], msg: Msg, bindings: Mapping[str, Any] | None = None) -> Any:
        """The result (None for JSONata's undefined as for null); ExpressionError on failure."""
        return (await self.evaluate_defined(node, msg, bindings))[1]

    async def evaluate_defined(
        self, node: Node[Any], msg: Msg, bindings: Mapping[str, Any] | None = None
    ) -> tuple[bool, Any]:
        """``(defined, value)``: ``defined`` is False when the result is JSONata's undefined.

        Failures are ExpressionError (ExpressionLimitError for limits) worded as Node-RED's:
        ``Invalid JSONata expression: <what>``.
        """
        try:
            text = await self._evaluate(node, msg, dict(bindings or {}))
        except ExpressionError as exc:
            raise type(exc)(f"Invalid JSONata expression: {exc}") from None
        return (False, None) if text is None else (True, orjson.loads(text))

    async def _evaluate(self, node: Node[Any], msg: Msg, bindings: dict[str, Any]) -> str | None:
        data = to_json({"msg": msg} if self.legacy else msg)
        millis = int(node.clock.time() * 1000)
        callbacks = _callbacks(node)
        if self.in_process:
            return self.compiled.run(data, bindings, callbacks, millis)
        from nodes.core.usercode import HARD_GRACE, pool_for  # usercode imports this module

        seconds = TIMEOUT_MS / 1000 + HARD_GRACE
        args = (self.source, data, bindings, millis)
        result: str | None = await pool_for(node).run(_HANDLER, args, seconds=seconds, callbacks=callbacks)
        return result


_HANDLER = "nodes.core.jsonata:evaluate_in_worker"
_WORKER_CACHE: dict[str, _Compiled] = {}


def evaluate_in_worker(args: tuple[Any, ...], call: Callable[..., Any]) -> str | None:
    """Worker-process handler: ``(source, message JSON, bindings, millis)`` -> result JSON or None."""
    source, data, bindings, millis = args
    compiled = _WORKER_CACHE.get(source)
    if compiled is None:
        if len(_WORKER_CACHE) > 256:
            _WORKER_CACHE.clear()
        compiled = _WORKER_CACHE[source] = _Compiled(source)
    callbacks = {name: (lambda *a, _name=name: call(_name, *a)) for name in CALLBACKS}
    return compiled.run(data, bindings, callbacks, millis)


class _Evaluation:
    """The callbacks and the instant of the evaluation in progress, read by the registered functions."""

    def __init__(self) -> None:
        self.callbacks: Mapping[str, Callable[..., Any]] = {}
        self.millis = 0


class _Compiled:
    """The engine's compiled expression with Node-RED's functions registered once; they read
    the callbacks and the instant of the evaluation in progress. Lives on the engine thread."""

    def __init__(self, source: str) -> None:
        self.now = _Evaluation()
        self.key = _ENGINE.call(self._make, source)
        self._engine = _ENGINE  # kept: __del__ may run while the module is being torn down

    def _make(self, source: str) -> int:
        try:
            key = _ENGINE.make(source)
        except ValueError as exc:
            raise ExpressionError(f"invalid JSONata expression: {_message(str(exc))}") from None
        expression = _ENGINE.objects[key]
        now = self.now  # the functions hold this, never self: self must be freed when dropped
        for name in CALLBACKS:
            expression.register(name, lambda *a, _name=name: now.callbacks[_name](*a))
        expression.register("clone", clone)
        expression.register_override("millis", lambda: now.millis)
        expression.register_override("now", lambda picture=None, zone=None: _now(now.millis, picture, zone))
        return key

    def __del__(self) -> None:
        if hasattr(self, "_engine"):
            self._engine.free(self.key)

    def run(
        self, data: str, bindings: dict[str, Any], callbacks: Mapping[str, Callable[..., Any]], millis: int
    ) -> str | None:
        """Evaluate with the engine's limits; the result as JSON text, None when undefined."""
        return _ENGINE.call(self._run, data, bindings, callbacks, millis)

    def _run(
        self, data: str, bindings: dict[str, Any], callbacks: Mapping[str, Callable[..., Any]], millis: int
    ) -> str | None:
        self.now.callbacks, self.now.millis = callbacks, millis
        try:
            result: str | None = _ENGINE.objects[self.key].evaluate_json_or_none(
                data, bindings or None, timeout=TIMEOUT_MS, max_sequence_length=MAX_SEQUENCE
            )
        except ExpressionError:
            raise
        except (ValueError, TypeError) as exc:
            raise _error(str(exc)) from None
        except RecursionError:
            raise ExpressionLimitError("JSONata expression nested too deeply") from None
        return result


_NOW: list[_Compiled] = []


def _now(millis: int, picture: str | None = None, zone: str | None = None) -> Any:
    if not _NOW:
        _NOW.extend(_Compiled(source) for source in _FROM_MILLIS)
    given = 0 if picture is None else 1 if zone is None else 2
    text = _NOW[given].run("null", {"m": millis, "p": picture, "t": zone}, {}, millis)
    return None if text is None else orjson.loads(text)


def _error(text: str) -> ExpressionError:
    kind = ExpressionLimitError if any(code in text for code in _LIMIT_CODES) else ExpressionError
    return kind(_message(text))


def _message(text: str) -> str:
    """The engine's message as jsonata-js words it: no ``Parse error:`` prefix, no error code."""
    return _CODE.sub("", text.removeprefix("Parse error: "), count=1)


_CODE = re.compile(r"^[A-Z]\d{4}: ")


def _callbacks(node: Node[Any]) -> dict[str, Callable[..., Any]]:
    def flow_context(key: Any, store: Any = None) -> Any:
        return clone(node.context("flow").get(context_key(key)))

    def global_context(key: Any, store: Any = None) -> Any:
        return clone(node.context("global").get(context_key(key)))

    def env(name: Any) -> Any:
        value = node.env_get(str(name))
        return "" if value is None else value

    return {"flowContext": flow_context, "globalContext": global_context, "env": env}


def to_json(value: Any) -> str:
    """A message as the JSON text JSONata reads (buffers as Node-RED's JSON shows them)."""
    try:
        return orjson.dumps(value, default=_json_default, option=orjson.OPT_NON_STR_KEYS).decode()
    except (TypeError, orjson.JSONEncodeError):
        try:
            return json.dumps(value, default=_json_default)
        except (TypeError, ValueError) as exc:
            raise ExpressionError(f"message cannot be read by JSONata: {exc}") from None


def _json_default(value: Any) -> Any:
    if isinstance(value, (bytes, bytearray)):
        return {"type": "Buffer", "data": list(value)}
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not JSON")


# -- which expressions run in-process ---------------------------------------------------

_TOKEN = re.compile(
    r"""\s+|/\*.*?\*/|"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`"""
    r"""|\d+(?:\.\d+)?(?:[eE][+-]?\d+)?|\$\$?\w*|[^\W\d]\w*"""
    r"""|\.\.|:=|!=|>=|<=|\*\*|~>|\?:|\?\?|[.()\{\},:?=<>+\-*/&!]""",
    re.DOTALL,
)
#: Functions whose cost is at most linear in their arguments and whose result is no bigger.
SCALAR_FUNCTIONS = frozenset(
    {
        "$flowContext", "$globalContext", "$env", "$millis", "$now", "$number", "$string", "$boolean", "$not",
        "$exists", "$round", "$floor", "$ceil", "$abs", "$sqrt", "$power", "$uppercase", "$lowercase", "$trim",
        "$length", "$substring", "$substringBefore", "$substringAfter", "$contains", "$count", "$sum", "$max",
        "$min", "$average", "$keys", "$lookup", "$type", "$toMillis", "$fromMillis", "$join", "$split",
    }
)  # fmt: skip
_FORBIDDEN_WORDS = frozenset({"function", "λ"})
_OPERAND_END = re.compile(r"""[\w"'`)}]$""")


def is_bounded(source: str) -> bool:
    """True when every construct in ``source`` costs at most linear time and space in the message.

    Conservative: anything not recognised (ranges, lambdas, variables, filters and array
    constructors, sorting, positional joins, regular expressions, chains, ``$$``) is not.
    """
    tokens: list[str] = []
    position = 0
    while position < len(source):
        match = _TOKEN.match(source, position)
        if match is None:
            return False
        position = match.end()
        if not match.group().isspace() and not match.group().startswith("/*"):
            tokens.append(match.group())
    return all(_bounded_token(tokens, i) for i in range(len(tokens)))


def _bounded_token(tokens: list[str], index: int) -> bool:
    token = tokens[index]
    if token in ("..", ":=", "**", "~>") or token in _FORBIDDEN_WORDS:
        return False
    if token.startswith("$"):
        calls = index + 1 < len(tokens) and tokens[index + 1] == "("
        return calls and token in SCALAR_FUNCTIONS
    if token == "/":  # division, not a regular expression, only right after an operand
        return index > 0 and bool(_OPERAND_END.search(tokens[index - 1]))
    return True
