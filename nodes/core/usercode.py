"""What the nodes running user code (``expression``, JSONata in change/switch/inject) share.

- :func:`pool_for`: the runtime's :class:`~flowengine.workerpool.WorkerPool`, created on first
  use; :func:`attach`/:func:`detach` let nodes start it early and close it with the last user.
- :func:`evaluate_python`: a sandboxed Python expression, in-process when every step is
  provably small, else in a worker under kernel-enforced limits.
- :func:`report`: a failure goes to ``catch`` with its message every time, but is logged
  once per node and kind, then at most once a minute with a count (a hostile message stream
  must not flood the log).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from flowengine.errors import ExpressionError, ExpressionLimitError
from flowengine.logthrottle import LogThrottle
from flowengine.message import Msg, clone
from flowengine.node import Node
from flowengine.workerpool import WorkerPool
from nodes.core.sandbox import NeedsWorker, Sandbox, limits_tuple

#: Modules a worker imports before it caps its memory.
PRELOAD = ("nodes.core.sandbox", "nodes.core.jsonata")
#: Time a worker gets beyond an expression's own time limit before it is killed (its own check fires first).
HARD_GRACE = 0.5

log = logging.getLogger("flowengine.usercode")


class UserCode:
    """One runtime's shared means of running user code: the worker pool, its users, the log throttle."""

    def __init__(self) -> None:
        self.pool: WorkerPool | None = None
        self.users: set[str] = set()
        self.throttle = LogThrottle(log)


def _shared(node: Node[Any]) -> UserCode:
    return node.runtime.services.shared(UserCode, UserCode)


def pool_for(node: Node[Any]) -> WorkerPool:
    """The worker pool of ``node``'s runtime (one per runtime, started lazily)."""
    shared = _shared(node)
    if shared.pool is None:
        shared.pool = WorkerPool(PRELOAD)
    return shared.pool


def attach(node: Node[Any]) -> None:
    """``node`` will need a worker: start one in the background now rather than on its first message."""
    _shared(node).users.add(node.id)
    pool_for(node).warm()


async def detach(node: Node[Any]) -> None:
    """``node`` closes; the pool's workers are killed with its last user."""
    shared = _shared(node)
    shared.users.discard(node.id)
    if not shared.users and shared.pool is not None:
        pool, shared.pool = shared.pool, None
        await pool.close()


async def evaluate_python(
    node: Node[Any], sandbox: Sandbox, names: dict[str, Any], functions: Mapping[str, Callable[..., Any]]
) -> Any:
    """The value of ``sandbox`` for ``names``; ExpressionError (or ExpressionLimitError) on failure."""
    try:
        return sandbox.evaluate_bounded(names, dict(functions))
    except NeedsWorker:
        pass
    args = (sandbox.source, limits_tuple(sandbox.limits), names, sorted(functions))
    seconds = sandbox.limits.seconds + HARD_GRACE
    return await pool_for(node).run("nodes.core.sandbox:evaluate_in_worker", args, seconds=seconds, callbacks=functions)


def report(node: Node[Any], error: ExpressionError, msg: Msg | None) -> None:
    """Route ``error`` to catch nodes with ``msg``; log it once per node and kind, then rate-limited."""
    text = str(error)
    kind = "limit" if isinstance(error, ExpressionLimitError) else "error"
    _shared(node).throttle.error((node.id, kind), "[%s:%s] %s", node.type_name, node.id, text)
    node.status("red", "ring", text[:60])
    node.runtime.report_error(node, text, clone(msg) if msg is not None else {})
