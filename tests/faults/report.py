"""`python -m tests.faults.report`: run the fault suite and print its results as a Markdown table.

Extra arguments go to pytest, e.g. `-k storm`. The exit status is pytest's; an xfailed case
still has its row, whose outcome says what broke.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

from tests.faults.results import RESULTS_ENV, load, markdown

ROOT = Path(__file__).resolve().parents[2]


def main(argv: list[str]) -> int:
    with tempfile.TemporaryDirectory(prefix="billing-faults-") as scratch:
        results = str(Path(scratch) / "results.jsonl")
        Path(results).touch()
        command = [
            sys.executable, "-m", "pytest", "tests/faults", "-q",
            "-p", "no:cacheprovider", "-rxX", *argv,
        ]
        # The fault cases are slow tests: run them whatever the caller's environment says.
        env = {**os.environ, RESULTS_ENV: results, "BILLING_SLOW_TESTS": "1"}
        ran = subprocess.run(command, cwd=ROOT, env=env)
        sys.stdout.write("\n" + markdown(load(results)) + "\n")
    return ran.returncode


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
