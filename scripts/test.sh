#!/usr/bin/env bash
# One command to install and check everything: ruff, mypy, then the test suite.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
BILLING_EXTRAS=local,dev bash scripts/bootstrap.sh
.venv/bin/ruff check .
.venv/bin/mypy .
exec .venv/bin/pytest "$@"
