"""`python -m bench [--quick] [--only NAME,...] [--json PATH]`: the same as `billing bench`."""

from __future__ import annotations

import sys

from ops.cli import run

if __name__ == "__main__":
    run(["bench", *sys.argv[1:]])
