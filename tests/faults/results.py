"""What each fault case measured, kept for the terminal summary and the report's Markdown table."""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass

RESULTS_ENV = "BILLING_FAULTS_RESULTS"
COLUMNS = (
    ("case", "case"),
    ("injected", "what was injected"),
    ("in_flight", "events in flight"),
    ("converge_s", "converged after the fault (s)"),
    ("lost", "lost"),
    ("applied_twice", "applied twice"),
    ("outcome", "outcome"),
)


@dataclass
class CaseResult:
    case: str
    injected: str
    in_flight: int
    converge_s: float | None  # None: not whole again within the case's limit
    lost: int
    applied_twice: int
    outcome: str = "pass"  # or what broke, e.g. "500s during the outage"
    details: str = ""


RECORDED: list[CaseResult] = []


def record(result: CaseResult) -> CaseResult:
    """Keep the row in this session and, when the report asked for it, in its file."""
    RECORDED.append(result)
    path = os.environ.get(RESULTS_ENV)
    if path:
        with open(path, "a", encoding="utf-8") as out:
            out.write(json.dumps(dataclasses.asdict(result)) + "\n")
    return result


def load(path: str) -> list[CaseResult]:
    with open(path, encoding="utf-8") as source:
        return [CaseResult(**json.loads(line)) for line in source if line.strip()]


def _cell(name: str, value: object) -> str:
    if name == "converge_s":
        return "not within limit" if value is None else f"{value:.1f}"
    return str(value).replace("|", "\\|")


def markdown(rows: list[CaseResult]) -> str:
    head = "| " + " | ".join(title for _, title in COLUMNS) + " |"
    rule = "|" + "---|" * len(COLUMNS)
    lines = [head, rule]
    for row in rows:
        values = dataclasses.asdict(row)
        lines.append("| " + " | ".join(_cell(n, values[n]) for n, _ in COLUMNS) + " |")
    return "\n".join(lines)
