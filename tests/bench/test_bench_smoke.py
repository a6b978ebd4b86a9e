"""`billing bench --quick` runs every benchmark and prints one table with every measure.

Only the shape is checked — each row present, each figure a number — never a timing: the
figures of a quick run on a shared machine mean nothing.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
# A quick run took 5–8 minutes on two cores shared with other test suites.
TIMEOUT_SECONDS = 40 * 60
# Each row's measure, by how it begins; the figures of a row follow in its cells.
WITH_LIMIT = [
    "webhook acks, 16 in flight",
    "webhook acks, 50 in flight",
    "webhook processed events, 1 worker",
    "webhook processed events, 2 workers",
    "apply: worker CPU per event",
    "checkout, new key, sequential",
    "checkout, new key, 10 concurrent",
    "checkout, cached replay, sequential",
    "checkout, cached replay, 10 concurrent",
    "replay backlog, end to end",
    "emulator via SDK, retrieve, 16 in flight",
    "emulator via SDK, create, 50 in flight",
    "entitlements `GET …/entitlements`, 1 in flight",
    "entitlements `GET …/entitlements/{grant}`, 16 in flight",
    "entitlements notice lag, a new drainer",
    "entitlements notice lag, drainers running",
]
WITHOUT_LIMIT = [
    "webhook duplicate deliveries, 16 in flight",
    "webhook event → plan, steady 15/s",
    "webhook event → plan, at half the 2-worker rate",
    "apply: SQL round trips per event",
    "replay backlog, listed + stored + started",
    "emulator via SDK, list, 16 in flight",
    "emulator via bare HTTP, GET, 50 in flight",
    "emulator via bare HTTP, POST, 16 in flight",
]
WITH_PEER = [
    "webhook acks, 16 in flight",
    "webhook duplicate deliveries",
    "webhook processed events, 1 worker",
    "webhook processed events, 2 workers",
]
NUMBER = re.compile(r"\d[\d,]*(\.\d+)?")
RATIO = re.compile(r"^\d+\.\d\d \((rate|p50|CPU)\)$")


def table_rows(stdout: str) -> dict[str, list[str]]:
    """The table's rows by measure, header and rule left out."""
    rows = {}
    for line in stdout.splitlines():
        if line.startswith("| ") and not line.startswith("| measure "):
            cells = [cell.strip() for cell in line.strip().strip("|").split(" | ")]
            rows[cells[0]] = cells[1:]
    return rows


def find(rows: dict[str, list[str]], start: str) -> list[str]:
    found = [cells for measure, cells in rows.items() if measure.startswith(start)]
    assert len(found) == 1, f"no single row for {start!r} in {sorted(rows)}"
    return found[0]


def test_quick_bench_prints_every_measure_with_figures(tmp_path: Path) -> None:
    raw = tmp_path / "bench.json"
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--json", str(raw)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_SECONDS,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-5000:]
    assert re.search(r"Machine: \d+ cores, [\d.]+ GiB, Python 3\.\d+", done.stdout)
    assert "load average" in done.stdout
    rows = table_rows(done.stdout)
    assert not [m for m in rows if "failed" in m], done.stderr[-5000:]
    for start in WITH_LIMIT + WITHOUT_LIMIT:
        value, limit, ratio, _peer = find(rows, start)
        assert NUMBER.search(value), (start, value)
        if start in WITH_LIMIT:
            assert NUMBER.search(limit), (start, limit)
            assert RATIO.match(ratio), (start, ratio)
    for start in WITH_PEER:
        assert NUMBER.search(find(rows, start)[3]), start
    results = json.loads(raw.read_text())["results"]
    assert set(results) == {"webhook", "apply", "checkout", "replay", "emulator", "entitlements"}
    assert not [name for name, result in results.items() if "error" in result]
