#!/usr/bin/env bash
# One command to run the whole system locally: installs, then `billing dev`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/bootstrap.sh
exec .venv/bin/billing dev "$@"
