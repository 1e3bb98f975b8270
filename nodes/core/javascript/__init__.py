"""JavaScript for the ``function`` node: QuickJS (quickjs-ng) in worker processes.

``worker.py`` runs in the child process (standard library and the engine only);
``process.py`` is its parent-side handle, ``check.py`` the deploy-time syntax check,
``wire.py`` the JSON values between them; ``sandbox.js`` and ``buffer.js`` are the
globals a function body sees. docs/function-node.md explains the design.
"""

from __future__ import annotations

import importlib.util

#: The pip extra that installs the engine.
ENGINE_EXTRA = "function"
ENGINE_MISSING = (
    "the function node needs the JavaScript engine quickjs-ng, which is not installed: "
    f"pip install 'flowengine[{ENGINE_EXTRA}]'"
)


def engine_available() -> bool:
    """Whether the engine can be imported (by the worker processes; this process never loads it)."""
    return importlib.util.find_spec("_quickjs") is not None
