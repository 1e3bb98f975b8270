"""The runtime ships alone: nothing under flowengine/ names FlexAPI, a hardware source or a node package."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

RUNTIME = Path(__file__).resolve().parents[1] / "flowengine"
#: Words of the agent's and the drivers' world; the runtime must not need any of them.
CONCEPTS = re.compile(
    r"flexapi|client_token|/info\b|/resp\b|\bv1/|userdata\.|user data|custom group|\bgnss\b|\bobd\b|"
    r"vehicle|cellular|sysinfo|modem1|1-wire|\[sources",
    re.IGNORECASE,
)
MODULES = sorted(RUNTIME.rglob("*.py"))


@pytest.mark.parametrize("module", MODULES, ids=lambda p: str(p.relative_to(RUNTIME)))
def test_runtime_module_names_no_agent_concept(module: Path) -> None:
    hits = [
        f"{n}: {line.strip()}" for n, line in enumerate(module.read_text().splitlines(), 1) if CONCEPTS.search(line)
    ]
    assert hits == [], "\n".join(hits)


@pytest.mark.parametrize("module", MODULES, ids=lambda p: str(p.relative_to(RUNTIME)))
def test_runtime_module_imports_no_node_package(module: Path) -> None:
    tree = ast.parse(module.read_text())
    imported = [alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names] + [
        node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
    ]
    assert [name for name in imported if name == "nodes" or name.startswith(("nodes.", "flows"))] == []
