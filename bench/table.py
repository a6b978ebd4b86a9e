"""The one table `billing bench` prints: a row per measure, each next to the limit of its own
run and the ratio between them, with the machine it ran on above it."""

from __future__ import annotations

import os
import platform
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

NONE = "—"
COLUMNS = ("measure", "this service", "limit, same run", "ratio", "dj-stripe 2.11 (peer)")


@dataclass(frozen=True)
class Row:
    measure: str
    value: str
    limit: str = NONE
    ratio: str = NONE
    peer: str = ""

    def cells(self) -> tuple[str, ...]:
        return (self.measure, self.value, self.limit, self.ratio, self.peer)


def number(value: float) -> str:
    """Three significant figures at most, thousands separated: 1,636 / 27.4 / 1.35."""
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def rate(figures: Mapping[str, Any], unit: str = "/s") -> str:
    return f"{number(figures['per_s'])}{unit}"


def latency(figures: Mapping[str, Any]) -> str:
    return f"p50 {number(figures['p50_ms'])} ms, p99 {number(figures['p99_ms'])} ms"


def timed(figures: Mapping[str, Any], unit: str = "/s") -> str:
    """Rate and latency of one measured run: `425/s, p50 18.2 ms, p99 124 ms`."""
    return f"{rate(figures, unit)}, {latency(figures)}"


def ratio(ours: float, limit: float, what: str) -> str:
    """`ours / limit` and which figure it divides, `0.62 (rate)`; a dash without a limit."""
    if not limit:
        return NONE
    return f"{ours / limit:.2f} ({what})"


def machine() -> dict[str, Any]:
    """Cores, memory, load average and Python: what the figures depend on besides the code."""
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return {
        "cores": os.cpu_count() or 0,
        "memory_gib": round(memory / 2**30, 1),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
    }


def _load(values: Sequence[float]) -> str:
    return " / ".join(f"{v:.2f}" for v in values)


def render(
    rows: Sequence[Row], start: Mapping[str, Any], end: Mapping[str, Any], header: str
) -> str:
    """A markdown table, ready to paste into the README, under the machine it ran on."""
    lines = [
        f"{header}. Machine: {start['cores']} cores, {start['memory_gib']} GiB, Python "
        f"{start['python']}; load average (1/5/15 min) {_load(start['load_average'])} at the "
        f"start, {_load(end['load_average'])} at the end.",
        "",
        "| " + " | ".join(COLUMNS) + " |",
        "|" + "---|" * len(COLUMNS),
    ]
    lines.extend("| " + " | ".join(row.cells()) + " |" for row in rows)
    return "\n".join(lines) + "\n"
