"""One line per start about the hardware sources that found nothing.

Without ``--simulate`` on a machine without the gateway's hardware (a laptop), every
source fails to open its device. Instead of one warning per source (and the raw
warnings of the libraries), each source reports how its first attempt went and, once
every hardware source has reported, one line names those that found nothing and
suggests ``--simulate``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

log = logging.getLogger("flowengine.sources")

#: Longest text of one source's problem in the line.
PROBLEM_CHARS = 80


class HardwareSurvey:
    """Collects first-attempt results by node id; logs the summary once (a shared object of the runtime)."""

    def __init__(self) -> None:
        self.names: dict[str, str] = {}
        self.problems: dict[str, str | None] = {}
        self.expected: set[str] | None = None
        self.logged = False

    def report(self, node_id: str, name: str, problem: str | None) -> None:
        """A source's first attempt: ``problem`` None when it found its device."""
        self.names[node_id] = name
        self.problems.setdefault(node_id, problem)
        self._check()

    def expect(self, node_ids: Iterable[str]) -> None:
        """The hardware sources of the first deploy: the line waits for each of them."""
        self.expected = set(node_ids)
        self._check()

    def flush(self) -> None:
        """Log what is known now (sources still opening are left out)."""
        self.expected = set(self.problems)
        self._check()

    def line(self) -> str | None:
        """The summary, None when every source found its device."""
        missing = [(self.names[i], p) for i, p in sorted(self.problems.items()) if p is not None]
        if not missing:
            return None
        found = ", ".join(f"{name} ({_short(problem)})" for name, problem in missing)
        return (
            f"{len(missing)} of {len(self.problems)} hardware source(s) found nothing: {found}; their values stay "
            "invalid while they retry. On a machine without this hardware, run with --simulate."
        )

    def _check(self) -> None:
        if self.logged or self.expected is None or not self.expected <= set(self.problems):
            return
        self.logged = True
        text = self.line()
        if text:
            log.warning("%s", text)


def _short(problem: str | None) -> str:
    text = (problem or "").replace("\n", " ")
    return text if len(text) <= PROBLEM_CHARS else text[: PROBLEM_CHARS - 1] + "…"
