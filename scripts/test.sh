#!/usr/bin/env bash
# One command to install and check everything: ruff, mypy, then the test suite.
# `--slow` adds the slow suite (headless-Chromium browser tests, whole-stack restarts); it
# installs Debian's Chromium when it can, else those tests are skipped with the reason.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if [ "${1:-}" = "--slow" ]; then
  shift
  export BILLING_SLOW_TESTS=1
  if [ ! -x /usr/bin/chromium ]; then
    if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
      echo "test.sh: installing Debian's chromium for the browser tests" >&2
      { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; } \
        >/dev/null 2>&1 || echo "test.sh: could not install chromium; browser tests will be skipped" >&2
    else
      echo "test.sh: /usr/bin/chromium is missing and cannot be installed here (needs root and apt-get); browser tests will be skipped" >&2
    fi
  fi
fi
BILLING_EXTRAS=local,dev bash scripts/bootstrap.sh
.venv/bin/ruff check .
.venv/bin/mypy .
exec .venv/bin/pytest "$@"
