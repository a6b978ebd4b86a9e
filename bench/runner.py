"""`billing bench`: every benchmark in turn, each on its own dev server, database and emulator,
then one table of all their measures next to the limits of their own runs.

Sequential on purpose: the figures are only comparable when one benchmark has the machine.
`--quick` runs the same code with small counts, a smoke of the whole set in a few minutes.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
import time
import traceback
import warnings
from collections.abc import Callable, Coroutine, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import (
    apply_bench,
    checkout_bench,
    emulator_bench,
    entitlements_bench,
    replay_bench,
    webhook_bench,
)
from bench.support import quiet_sdk_core
from bench.table import Row, machine, render

log = logging.getLogger("bench")
NOISY = (
    "temporalio", "stripe", "httpx", "billing", "uvicorn", "api", "activities",
    # An idle keep-alive connection the server closed is retried on a fresh one; asyncio
    # still warns about the write that found it closed.
    "asyncio",
)


@dataclass(frozen=True)
class Benchmark:
    name: str
    run: Callable[..., Coroutine[Any, Any, dict[str, Any]]]
    rows: Callable[[dict[str, Any]], list[Row]]
    full: dict[str, Any]
    quick: dict[str, Any]


BENCHMARKS = (
    Benchmark(
        "webhook",
        webhook_bench.run,
        webhook_bench.rows,
        full={"workspaces": 120, "deliveries": 3000, "steady_seconds": 20.0},
        quick={"workspaces": 30, "deliveries": 600, "steady_seconds": 10.0},
    ),
    Benchmark(
        "apply",
        apply_bench.run,
        apply_bench.rows,
        full={"workspaces": 60},
        quick={"workspaces": 10},
    ),
    Benchmark(
        "checkout",
        checkout_bench.run,
        checkout_bench.rows,
        full={"requests": 150, "concurrency": 10},
        quick={"requests": 20, "concurrency": 10},
    ),
    Benchmark(
        "replay",
        replay_bench.run,
        replay_bench.rows,
        full={"events": 5000, "subscription_count": 10, "baseline": 1000},
        quick={"events": 300, "subscription_count": 10, "baseline": 300},
    ),
    Benchmark(
        "emulator",
        emulator_bench.run,
        emulator_bench.rows,
        full={"requests": 4000, "levels": [16, 50]},
        quick={"requests": 400, "levels": [16, 50]},
    ),
    Benchmark(
        "entitlements",
        entitlements_bench.run,
        entitlements_bench.rows,
        full={"reads_total": 20000, "rate": 20.0, "seconds": 20.0, "notices": True},
        quick={"reads_total": 2000, "rate": 20.0, "seconds": 3.0, "notices": True},
    ),
)
NAMES = tuple(b.name for b in BENCHMARKS)


def selected(only: str | None) -> list[Benchmark]:
    """The benchmarks named in `only` (comma-separated), in their usual order; all without."""
    if not only:
        return list(BENCHMARKS)
    wanted = {name.strip() for name in only.split(",") if name.strip()}
    unknown = wanted - set(NAMES)
    if unknown:
        raise ValueError(f"no such benchmark: {', '.join(sorted(unknown))} "
                         f"(one of {', '.join(NAMES)})")
    return [b for b in BENCHMARKS if b.name in wanted]


def sizes(benchmark: Benchmark, quick: bool, steady_rate: float) -> dict[str, Any]:
    chosen = dict(benchmark.quick if quick else benchmark.full)
    if benchmark.name == "webhook":
        chosen["steady_rate"] = steady_rate
    return chosen


def run_all(
    benchmarks: Sequence[Benchmark], quick: bool, steady_rate: float, json_path: Path | None
) -> int:
    """Runs `benchmarks` one at a time, prints the table; 1 when any of them failed."""
    logging.basicConfig(
        level=logging.WARNING, format="%(asctime)s %(message)s", datefmt="%H:%M:%S",
        stream=sys.stderr,
    )
    # Progress: the benchmarks' own lines; the service's INFO lines are not the benchmark's.
    for progress in (log, *(logging.getLogger(f"{b.name}_bench") for b in BENCHMARKS)):
        progress.setLevel(logging.INFO)
    for noisy in NOISY:
        logging.getLogger(noisy).setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    quiet_sdk_core()
    start, began = machine(), time.perf_counter()
    results: dict[str, Any] = {}
    rows: list[Row] = []
    failed: list[str] = []
    with table_only_on_stdout():
        for benchmark in benchmarks:
            results[benchmark.name] = run_one(benchmark, quick, steady_rate, rows, failed)
    end = machine()
    elapsed = time.perf_counter() - began
    header = f"`billing bench{' --quick' if quick else ''}`, {elapsed / 60:.1f} min"
    if json_path is not None:
        json_path.write_text(json.dumps(
            {"quick": quick, "seconds": round(elapsed, 1), "machine_start": start,
             "machine_end": end, "results": results},
            indent=2,
        ) + "\n")
        log.info("raw results written to %s", json_path)
    sys.stdout.write(render(rows, start, end, header))
    sys.stdout.flush()
    return 1 if failed else 0


def run_one(
    benchmark: Benchmark, quick: bool, steady_rate: float, rows: list[Row], failed: list[str]
) -> dict[str, Any]:
    """One benchmark's raw result; its rows appended to `rows`, its name to `failed` if so."""
    arguments = sizes(benchmark, quick, steady_rate)
    log.info("== %s %s", benchmark.name, arguments)
    started = time.perf_counter()
    try:
        result: dict[str, Any] = asyncio.run(benchmark.run(**arguments))
        rows.extend(benchmark.rows(result))
    except Exception:  # one benchmark failing still leaves the others' figures
        result = {"error": traceback.format_exc()}
        log.error("%s failed:\n%s", benchmark.name, result["error"])
        failed.append(benchmark.name)
        rows.append(Row(f"{benchmark.name}: failed, see the log above", "—"))
    seconds = round(time.perf_counter() - started, 1)
    log.info("== %s done in %.0f s", benchmark.name, seconds)
    return {"arguments": arguments, "seconds": seconds, **result}


@contextmanager
def table_only_on_stdout() -> Iterator[None]:
    """Whatever the benchmarks' child processes print (the Temporal dev server's banner)
    goes to stderr with the progress, so stdout holds the table alone."""
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    try:
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)
