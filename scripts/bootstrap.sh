#!/usr/bin/env bash
# Creates .venv (Python 3.11+) and installs the project into it from the hash-pinned lock
# (requirements/*.txt, refreshed by scripts/lock.sh); sourced by dev.sh and test.sh.
# BILLING_EXTRAS picks the set: "local,dev" (default: tests), "local" (the local stack),
# "" (what the production image runs).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PYTHON="${PYTHON:-python3}"
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  echo "billing needs Python 3.11 or newer (found: $("$PYTHON" --version 2>&1))" >&2
  exit 1
fi
extras="${BILLING_EXTRAS-local,dev}"
case "$extras" in
  "") lock=requirements/runtime.txt ;;
  local) lock=requirements/local.txt ;;
  dev | local,dev | dev,local) lock=requirements/dev.txt extras=local,dev ;;
  *)
    echo "unknown BILLING_EXTRAS=$extras (one of: \"\", local, local,dev)" >&2
    exit 1
    ;;
esac
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
pip=(.venv/bin/python -m pip --quiet --disable-pip-version-check)
# Every distribution, setuptools and wheel included, must match a hash of the lock.
"${pip[@]}" install --require-hashes -r "$lock"
# The project itself: its dependencies are the lock's, its build tools already installed.
"${pip[@]}" install --no-deps --no-build-isolation -e ".${extras:+[$extras]}"
