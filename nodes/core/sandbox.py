"""A sandbox for user expressions, built on simpleeval.

What an expression can do is closed by construction: only the syntax listed in
:data:`ALLOWED_SYNTAX`, no names or attributes starting with ``_``, attribute access only
to keys of dicts and to a short list of side-effect-free methods of plain data types, and
only the functions in :data:`SAFE_FUNCTIONS`. What it can cost is bounded: source length,
node count, operations evaluated, wall-clock time, length of every string or container
it builds, total size built, and bits of every integer (so ``9**9**9`` and ``'a'*10**9``
fail at once instead of exhausting the device).

Those checks run between syntax nodes, so they cannot stop one C-level call that walks a
huge shared structure (``str([[0]*10**6]*10**6)``). Two more layers close that class:

- at compile time, :func:`compile_expression` refuses repetition of strings and lists by
  constant factors whose product is over the length limit, repetition of something
  repeated by a factor known only at run time, unknown functions and deep nesting;
- :meth:`Sandbox.evaluate_bounded` is the in-process fast path: it runs only expressions
  without comprehensions, and stops with :class:`NeedsWorker` before any list repetition
  or any function, method or comparison applied to a container larger than
  :data:`IN_PROCESS_ITEMS`. Everything else is evaluated in a worker process
  (``evaluate_in_worker``, run by :mod:`flowengine.workerpool`) that the kernel bounds.
"""

from __future__ import annotations

import ast
import dataclasses
import functools
import io
import math
import operator
import re
import time
import tokenize
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from typing import Any

import simpleeval

from flowengine.errors import ExpressionError, ExpressionLimitError


@dataclass(frozen=True)
class Limits:
    """What one evaluation may cost."""

    source_chars: int = 4000
    syntax_nodes: int = 1000
    operations: int = 100_000
    seconds: float = 0.5
    length: int = 1_000_000  # characters of a string, items of a container
    total: int = 20_000_000  # sum of the lengths of everything built
    int_bits: int = 100_000
    format_width: int = 10_000
    depth: int = 32  # nesting of the syntax tree


DEFAULT_LIMITS = Limits()
#: Items (of a container's whole tree, shared parts counted each time) that in-process code may walk.
IN_PROCESS_ITEMS = 10_000
#: Characters a string repetition may build in-process.
IN_PROCESS_CHARS = 10_000


class NeedsWorker(Exception):
    """The in-process fast path met work it cannot bound: evaluate the expression in a worker."""


ALLOWED_SYNTAX: tuple[type[ast.AST], ...] = (
    ast.Expression, ast.Constant, ast.Name, ast.Load, ast.Store, ast.BinOp, ast.UnaryOp, ast.BoolOp,
    ast.Compare, ast.IfExp, ast.Call, ast.keyword, ast.Subscript, ast.Attribute, ast.Slice,
    ast.JoinedStr, ast.FormattedValue, ast.Dict, ast.List, ast.Tuple, ast.Set, ast.ListComp,
    ast.GeneratorExp, ast.DictComp, ast.comprehension, ast.Starred,
    ast.operator, ast.unaryop, ast.boolop, ast.cmpop,
)  # fmt: skip

_NUMBER_ATTRS = {"as_integer_ratio", "bit_length", "conjugate", "denominator", "numerator", "real", "imag"}
_STR_ATTRS = {
    "capitalize", "casefold", "count", "encode", "endswith", "find", "index", "isalnum", "isalpha",
    "isascii", "isdecimal", "isdigit", "isidentifier", "islower", "isnumeric", "isprintable",
    "isspace", "istitle", "isupper", "lower", "lstrip", "partition", "removeprefix", "removesuffix",
    "rfind", "rindex", "rpartition", "rsplit", "rstrip", "split", "splitlines", "startswith",
    "strip", "swapcase", "title", "upper",
}  # fmt: skip
#: Methods that may be used, by exact type; none of them mutates or grows without bound.
ALLOWED_ATTRS: dict[type, set[str]] = {
    int: _NUMBER_ATTRS,
    bool: _NUMBER_ATTRS,
    float: {"as_integer_ratio", "conjugate", "hex", "is_integer", "real", "imag"},
    str: _STR_ATTRS,
    bytes: {"decode", "hex", "count", "endswith", "find", "startswith"},
    dict: {"get", "items", "keys", "values", "copy"},
    list: {"index", "count", "copy"},
    tuple: {"index", "count"},
    set: {"intersection", "union", "difference", "symmetric_difference", "issubset", "issuperset", "isdisjoint"},
}
#: str methods that can grow a string: allowed through size-checked wrappers.
_GROWING_STR_METHODS = frozenset({"join", "replace", "ljust", "rjust", "center", "zfill"})


def compile_expression(
    source: str, limits: Limits = DEFAULT_LIMITS, functions: Collection[str] | None = None
) -> ast.expr:
    """Parse and check ``source``; raises :class:`ExpressionError` saying what is wrong and where.

    ``functions``: the names that may be called (None: not checked here).
    """
    if not isinstance(source, str) or not source.strip():
        raise ExpressionError("expression is empty")
    if len(source) > limits.source_chars:
        raise ExpressionError(f"expression is longer than {limits.source_chars} characters")
    try:
        tree = ast.parse(_rename_global(source.strip()), mode="eval")
    except SyntaxError as exc:
        where = f"line {exc.lineno} column {exc.offset}" if exc.offset else "the end"
        raise ExpressionError(f"syntax error at {where}: {exc.msg}{_statement_hint(source)}") from None
    except (RecursionError, MemoryError):
        raise ExpressionError("expression is nested too deeply") from None
    _check_tree(tree, limits)
    _check_depth(tree.body, limits.depth)
    if functions is not None:
        _check_calls(tree, functions)
    _check_repetition(tree.body, limits.length)
    return tree.body


def _statement_hint(source: str) -> str:
    try:
        ast.parse(source.strip(), mode="exec")
    except (SyntaxError, RecursionError, MemoryError):
        return ""
    return " (only one expression is allowed: no import, assignment or other statements)"


def _rename_global(source: str) -> str:
    """``global`` is a Python keyword; as a name here it means the global-context getter ``global_``."""
    if "global" not in source:
        return source
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    except (tokenize.TokenError, SyntaxError):
        return source  # ast.parse reports the error with a position
    out = [(t.type, "global_" if t.type == tokenize.NAME and t.string == "global" else t.string) for t in tokens]
    return tokenize.untokenize(out).strip()


def _check_tree(tree: ast.AST, limits: Limits) -> None:
    for count, node in enumerate(ast.walk(tree), 1):
        if count > limits.syntax_nodes:
            raise ExpressionError(f"expression has more than {limits.syntax_nodes} parts")
        if not isinstance(node, ALLOWED_SYNTAX):
            raise ExpressionError(f"{type(node).__name__} is not allowed in an expression")
        name = node.attr if isinstance(node, ast.Attribute) else node.id if isinstance(node, ast.Name) else ""
        if name.startswith("_") and name != "global_":
            raise ExpressionError(f"names starting with '_' are not allowed ({name})")
        if isinstance(node, ast.Call) and not isinstance(node.func, (ast.Name, ast.Attribute)):
            raise ExpressionError("only named functions and methods can be called")


def _check_depth(tree: ast.AST, limit: int) -> None:
    level = [tree]
    for _ in range(limit):
        level = [child for node in level for child in ast.iter_child_nodes(node)]
        if not level:
            return
    raise ExpressionError(f"expression is nested more than {limit} levels deep")


def _check_calls(tree: ast.AST, functions: Collection[str]) -> None:
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id not in functions:
            raise ExpressionError(f"unknown function {node.func.id!r}")


def _check_repetition(tree: ast.AST, length: int) -> None:
    """Refuse repetition (``seq * n``) that builds more than ``length`` items in all, or compounds an unknown factor."""
    for node in ast.walk(tree):
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mult):
            total, unknown = _repeated(node)
            if unknown and total < 0:
                raise ExpressionError(
                    "repeats a repeated string or list by a factor known only at run time (its size has no bound)"
                )
            if total > length:
                raise ExpressionError(f"repeats strings or lists {total:,} times in all (the limit is {length:,})")


def _repeated(node: ast.AST) -> tuple[int, bool]:
    """(constant factor, whether an unknown factor is involved) by which ``node``'s value repeats
    its innermost items; a factor of -1 with ``True`` marks an unknown compounded with another repetition."""
    if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
        inner = [_repeated(e.value if isinstance(e, ast.Starred) else e) for e in node.elts]
        if any(total < 0 for total, _ in inner):
            return -1, True
        return max((t for t, _ in inner), default=1), any(u for _, u in inner)
    if not (isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mult)):
        return 1, False
    for sequence, factor in ((node.left, node.right), (node.right, node.left)):
        if _is_sequence(sequence):
            (total, unknown), times = _repeated(sequence), _constant_int(factor)
            if total < 0 or ((times is None or unknown) and (total > 1 or unknown)):
                return -1, True
            return total * max(times or 1, 1), unknown or times is None
    return 1, False


def _is_sequence(node: ast.AST) -> bool:
    if isinstance(node, ast.Constant):
        return isinstance(node.value, (str, bytes))
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Mult, ast.Add)):
        return _is_sequence(node.left) or _is_sequence(node.right)
    return isinstance(node, (ast.List, ast.Tuple, ast.ListComp, ast.JoinedStr))


def _constant_int(node: ast.AST) -> int | None:
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        value = _constant_int(node.operand)
        return None if value is None else -value
    if isinstance(node, ast.Constant) and type(node.value) is int:
        return node.value
    if isinstance(node, ast.BinOp) and not _is_sequence(node):
        left, right = _constant_int(node.left), _constant_int(node.right)
        small = left is not None and right is not None and abs(left).bit_length() + abs(right).bit_length() < 64
        if small and isinstance(node.op, (ast.Add, ast.Mult, ast.Sub)):
            return int(simpleeval.DEFAULT_OPERATORS[type(node.op)](left, right))
    return None


def _is_unbounded_syntax(tree: ast.AST) -> bool:
    """Comprehensions iterate over input: their cost grows with its size, multiplied when nested."""
    return any(isinstance(n, (ast.ListComp, ast.GeneratorExp, ast.DictComp)) for n in ast.walk(tree))


def tree_items(value: Any, budget: int) -> int:
    """Items in ``value``'s tree (shared parts counted each time, long strings by 100 characters),
    counting no further than just past ``budget``."""
    count = 0
    stack = [value]
    while stack and count <= budget:
        item = stack.pop()
        count += 1
        if isinstance(item, (str, bytes)):
            count += len(item) // 100
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, (list, tuple, set, frozenset)) or type(item).__name__.startswith("dict_"):
            stack.extend(item)
    return count


def _small(value: Any) -> bool:
    if value is None or isinstance(value, (int, float, str, bytes)):
        return True
    return tree_items(value, IN_PROCESS_ITEMS) <= IN_PROCESS_ITEMS


def _guarded(function: Callable[..., Any]) -> Callable[..., Any]:
    """``function`` that stops the in-process path when an argument is too big to walk here."""

    @functools.wraps(function)
    def call(*args: Any, **kwargs: Any) -> Any:
        if not (all(map(_small, args)) and all(map(_small, kwargs.values()))):
            raise NeedsWorker
        return function(*args, **kwargs)

    return call


class Evaluator(simpleeval.EvalWithCompoundTypes):
    """One evaluation: simpleeval with our operators, attribute rules and budgets."""

    functions: dict[str, Any]

    def __init__(self, names: dict[str, Any], functions: dict[str, Any], limits: Limits, bounded: bool = False) -> None:
        self.limits = limits
        self.bounded = bounded
        operators = dict(simpleeval.DEFAULT_OPERATORS)
        operators.update(
            {
                ast.Pow: self._power,
                ast.Mult: self._multiply,
                ast.Add: self._add,
                ast.LShift: self._lshift,
                ast.Mod: _modulo,
            }
        )
        if bounded:
            operators.update(_GUARDED_COMPARISONS)
        super().__init__(operators=operators, functions=dict(functions), names=names)
        self.functions.pop("set", None)  # set literals are fine; set() of a huge input is not needed
        if bounded:  # functions arrive guarded (see Sandbox._run); these three simpleeval adds
            self.functions.update(_GUARDED_CONVERSIONS)
        self._ops = 0
        self._built = 0
        self._deadline = time.monotonic() + limits.seconds

    # -- budgets ----------------------------------------------------------------------------

    def _eval(self, node: ast.AST) -> Any:
        self._ops += 1
        if self._ops > self.limits.operations:
            raise ExpressionLimitError(f"expression exceeded {self.limits.operations} operations")
        if time.monotonic() > self._deadline:
            raise ExpressionLimitError(f"expression exceeded its time limit of {self.limits.seconds}s")
        result = super()._eval(node)
        if not isinstance(node, (ast.Name, ast.Attribute, ast.Subscript, ast.Constant)):
            self._account(result)
        return result

    def _account(self, value: Any) -> None:
        """Count what was built; reject anything too long or too big."""
        if isinstance(value, (str, bytes, list, tuple, dict, set)):
            size = len(value)
            self.check_length(size)
            self._built += size
            if self._built > self.limits.total:
                raise ExpressionLimitError(f"expression built more than {self.limits.total} items in total")
        elif isinstance(value, int) and value.bit_length() > self.limits.int_bits:
            raise ExpressionError(f"integer larger than {self.limits.int_bits} bits")

    def check_length(self, size: int) -> None:
        if size > self.limits.length:
            raise ExpressionLimitError(f"result longer than {self.limits.length} (strings and lists are bounded)")

    # -- operators with limits checked before the work is done ----------------------------

    def _power(self, a: Any, b: Any) -> Any:
        if _is_int(a) and _is_int(b) and b > 0 and abs(a) > 1 and abs(a).bit_length() * b > self.limits.int_bits:
            raise ExpressionError(f"{a} ** {b} is too large")
        return a**b

    def _multiply(self, a: Any, b: Any) -> Any:
        if _is_int(a) and _is_int(b):
            if abs(a).bit_length() + abs(b).bit_length() > self.limits.int_bits:
                raise ExpressionError("product is too large")
        elif hasattr(a, "__len__") and _is_int(b):
            self._check_repeat(a, b)
        elif hasattr(b, "__len__") and _is_int(a):
            self._check_repeat(b, a)
        return a * b

    def _check_repeat(self, sequence: Any, times: int) -> None:
        size = len(sequence) * max(times, 0)
        self.check_length(size)
        if self.bounded and (not isinstance(sequence, (str, bytes)) or size > IN_PROCESS_CHARS):
            raise NeedsWorker

    def _add(self, a: Any, b: Any) -> Any:
        if hasattr(a, "__len__") and hasattr(b, "__len__"):
            self.check_length(len(a) + len(b))
        return a + b

    def _lshift(self, a: Any, b: Any) -> Any:
        if _is_int(a) and _is_int(b) and abs(a).bit_length() + b > self.limits.int_bits:
            raise ExpressionError(f"{a} << {b} is too large")
        return a << b

    # -- attributes and f-strings --------------------------------------------------------------

    def _eval_attribute(self, node: ast.Attribute) -> Any:
        base = self._eval(node.value)
        name = node.attr
        if name.startswith("_"):
            raise ExpressionError(f"attribute {name!r} is not allowed")
        if isinstance(base, dict) and name in base:
            return base[name]
        if type(base) is str and name in _GROWING_STR_METHODS:
            return self._method(_GrowingStr(base, self).method(name), base)
        if name in ALLOWED_ATTRS.get(type(base), ()):
            return self._method(getattr(base, name), base)
        if isinstance(base, dict):
            raise ExpressionError(f"no key {name!r} (use .get({name!r}) for optional keys)")
        raise ExpressionError(f"{type(base).__name__} has no usable attribute {name!r}")

    def _method(self, method: Any, base: Any) -> Any:
        if not self.bounded or not callable(method):
            return method
        if not _small(base):
            raise NeedsWorker
        return _guarded(method)

    def _eval_formattedvalue(self, node: ast.FormattedValue) -> Any:
        if node.format_spec is not None:
            spec = str(self._eval(node.format_spec))
            widths = [int(n) for n in re.findall(r"\d+", spec)]
            if any(w > self.limits.format_width for w in widths):
                raise ExpressionError(f"format width or precision above {self.limits.format_width}")
        if self.bounded and not _small(self._eval(node.value)):
            raise NeedsWorker
        return super()._eval_formattedvalue(node)


_WALKING_COMPARISONS = (ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.In, ast.NotIn)
_GUARDED_COMPARISONS = {op: _guarded(simpleeval.DEFAULT_OPERATORS[op]) for op in _WALKING_COMPARISONS}
_GUARDED_CONVERSIONS = {name: _guarded(f) for name, f in (("list", list), ("tuple", tuple), ("dict", dict))}


class _GrowingStr:
    """Size-checked versions of the str methods that can build long strings."""

    def __init__(self, text: str, evaluator: Evaluator) -> None:
        self.text = text
        self.check = evaluator.check_length

    def method(self, name: str) -> Callable[..., str]:
        methods: dict[str, Callable[..., str]] = {
            "join": self.join,
            "replace": self.replace,
            "ljust": self.pad(self.text.ljust),
            "rjust": self.pad(self.text.rjust),
            "center": self.pad(self.text.center),
            "zfill": self.pad(self.text.zfill),
        }
        return methods[name]

    def join(self, items: Iterable[Any]) -> str:
        parts = list(items)
        if not all(isinstance(p, str) for p in parts):
            raise ExpressionError("join needs a list of strings (use str() on each item)")
        self.check(sum(map(len, parts)) + len(self.text) * max(len(parts) - 1, 0))
        return self.text.join(parts)

    def replace(self, old: str, new: str, count: int = -1) -> str:
        hits = self.text.count(old) if old else len(self.text) + 1
        if count >= 0:
            hits = min(hits, count)
        self.check(len(self.text) + hits * (len(new) - len(old)))
        return self.text.replace(old, new, count)

    def pad(self, method: Callable[..., str]) -> Callable[..., str]:
        return functools.partial(self._padded, method)

    def _padded(self, method: Callable[..., str], width: int, *fill: str) -> str:
        self.check(width)
        return method(width, *fill)


def _modulo(a: Any, b: Any) -> Any:
    if isinstance(a, (str, bytes)):
        raise ExpressionError("'%' formatting is not supported; use an f-string")
    return operator.mod(a, b)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _round(number: Any, digits: int | None = None) -> Any:
    if digits is not None and abs(digits) > 100:
        raise ExpressionError("round() digits must be between -100 and 100")
    return round(number, digits) if digits is not None else round(number)


def _sum(items: Iterable[Any], start: Any = 0) -> Any:
    values = list(items)
    if not all(isinstance(v, (int, float)) for v in [start, *values]):
        raise ExpressionError("sum() adds numbers only")
    return sum(values, start)


#: Functions every expression may call.
SAFE_FUNCTIONS: dict[str, Any] = {
    "abs": abs,
    "min": min,
    "max": max,
    "round": _round,
    "int": int,
    "float": float,
    "str": str,
    "len": len,
    "bool": bool,
    "sum": _sum,
    "sorted": sorted,
    "any": any,
    "all": all,
    "floor": math.floor,
    "ceil": math.ceil,
    "sqrt": math.sqrt,
    "exp": math.exp,
    "log": math.log,
    "log10": math.log10,
    "sin": math.sin,
    "cos": math.cos,
    "tan": math.tan,
    "atan2": math.atan2,
    "radians": math.radians,
    "degrees": math.degrees,
    "hypot": math.hypot,
    "isnan": math.isnan,
}
_GUARDED_FUNCTIONS = {name: _guarded(f) for name, f in SAFE_FUNCTIONS.items()}
SAFE_NAMES: dict[str, Any] = {"True": True, "False": False, "None": None, "pi": math.pi, "e": math.e}


class Sandbox:
    """A compiled expression, evaluated on demand with fresh budgets each time."""

    def __init__(self, source: str, limits: Limits = DEFAULT_LIMITS, functions: Collection[str] | None = None) -> None:
        self.source = source
        self.limits = limits
        self.tree = compile_expression(source, limits, functions)
        #: False when the expression iterates (comprehensions): always evaluated in a worker.
        self.in_process = not _is_unbounded_syntax(self.tree)

    def evaluate(self, names: dict[str, Any], functions: dict[str, Any] | None = None) -> Any:
        """The value of the expression; every failure is an :class:`ExpressionError`.

        Only the cooperative budgets bound this: call it in a worker process unless the
        expression was shown bounded (:meth:`evaluate_bounded`).
        """
        return self._run(names, functions, bounded=False)

    def evaluate_bounded(self, names: dict[str, Any], functions: dict[str, Any] | None = None) -> Any:
        """The value, computed here only if every step is small; else raises :class:`NeedsWorker`."""
        if not self.in_process:
            raise NeedsWorker
        result = self._run(names, functions, bounded=True)
        if not _small(result):
            raise NeedsWorker
        return result

    def _run(self, names: dict[str, Any], functions: dict[str, Any] | None, bounded: bool) -> Any:
        if bounded:
            functions = {**_GUARDED_FUNCTIONS, **{k: _guarded(f) for k, f in (functions or {}).items()}}
        else:
            functions = {**SAFE_FUNCTIONS, **(functions or {})}
        evaluator = Evaluator({**SAFE_NAMES, **names}, functions, self.limits, bounded)
        try:
            return plain(evaluator.eval(self.source, previously_parsed=self.tree))
        except (ExpressionError, NeedsWorker):
            raise
        except simpleeval.InvalidExpression as exc:
            raise ExpressionError(_simpleeval_message(exc)) from None
        except (RecursionError, MemoryError):
            raise ExpressionLimitError("expression ran out of stack or memory") from None
        except Exception as exc:
            raise ExpressionError(f"{type(exc).__name__}: {exc}") from None


#: Names every expression may call (besides those a node adds).
KNOWN_FUNCTIONS = frozenset({*SAFE_FUNCTIONS, "list", "tuple", "dict"})
_WORKER_CACHE: dict[tuple[str, tuple[Any, ...]], Sandbox] = {}


def evaluate_in_worker(args: tuple[Any, ...], call: Callable[..., Any]) -> Any:
    """Worker-process handler: ``(source, limits as a tuple, names, callback names)``."""
    source, limits, names, callbacks = args
    key = (source, tuple(limits))
    sandbox = _WORKER_CACHE.get(key)
    if sandbox is None:
        if len(_WORKER_CACHE) > 256:
            _WORKER_CACHE.clear()
        sandbox = _WORKER_CACHE[key] = Sandbox(source, Limits(*limits))
    return sandbox.evaluate(names, {name: functools.partial(call, name) for name in callbacks})


def limits_tuple(limits: Limits) -> tuple[Any, ...]:
    """``limits`` as plain data (what crosses to a worker)."""
    return dataclasses.astuple(limits)


def _simpleeval_message(exc: simpleeval.InvalidExpression) -> str:
    if isinstance(exc, simpleeval.NameNotDefined):
        return f"unknown name {exc.name!r}"
    if isinstance(exc, simpleeval.FunctionNotDefined):
        return f"unknown function {exc.func_name!r}"
    return str(exc).replace("Sorry, ", "")


def plain(value: Any) -> Any:
    """Make a result message-safe: tuples, sets and dict views become lists."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)) or type(value).__name__.startswith("dict_"):
        return [plain(v) for v in value]
    return value
