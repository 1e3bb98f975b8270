"""Node types by name: a ``name -> "module:Class"`` table that imports on demand.

Every type comes from the ``flowengine.nodes`` entry-point group (see
:mod:`flowengine.plugins`), the shipped ones exactly as a third-party package's,
the way Node-RED loads its core and contrib nodes alike.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping
from typing import Any

from flowengine import subflows
from flowengine.errors import FlowError
from flowengine.node import Node
from flowengine.plugins import node_type_table


class UnknownNodeType(FlowError, KeyError):
    """No node type of that name is registered."""


class NodeTypeRegistry:
    """Resolves node type names to classes, importing each module on first use."""

    def __init__(self, table: Mapping[str, str] | None = None) -> None:
        self._table: dict[str, str] = dict(node_type_table() if table is None else table)
        self._table.update(subflows.RUNTIME_TYPES)
        self._classes: dict[str, type[Node[Any]]] = {}

    def register(self, name: str, target: str | type[Node[Any]]) -> None:
        """Add a type by ``"module:Class"`` or by class (tests, embedding)."""
        if isinstance(target, str):
            self._table[name] = target
        else:
            self._table[name] = f"{target.__module__}:{target.__qualname__}"
            self._bind(name, target)

    def __contains__(self, name: object) -> bool:
        return name in self._table

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._table))

    def get(self, name: str) -> type[Node[Any]]:
        """The class for ``name``; raises :class:`UnknownNodeType`."""
        if name in self._classes:
            return self._classes[name]
        if name not in self._table:
            raise UnknownNodeType(name)
        module_name, _, attr = self._table[name].partition(":")
        cls = getattr(importlib.import_module(module_name), attr)
        if not (isinstance(cls, type) and issubclass(cls, Node)):
            raise FlowError(f"node type {name!r}: {self._table[name]} is not a Node subclass")
        return self._bind(name, cls)

    def _bind(self, name: str, cls: type[Node[Any]]) -> type[Node[Any]]:
        if not cls.type_name:
            cls.type_name = name
        self._classes[name] = cls
        return cls
