#!/usr/bin/env bash
# Re-resolves the hash-pinned lock files (requirements/*.txt) from pyproject.toml against PyPI,
# whatever the local pip configuration says. Pins move only where pyproject.toml demands;
# `scripts/lock.sh --upgrade` (or `--upgrade-package NAME`) moves them on purpose.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PYTHON="${PYTHON:-python3}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
# The locks are resolved for the image's interpreter, Python 3.11.
"$PYTHON" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' || {
  echo "scripts/lock.sh resolves for Python 3.11 (the image's); set PYTHON=python3.11" >&2
  exit 1
}
export PIP_CONFIG_FILE=/dev/null PIP_FIND_LINKS="" PIP_EXTRA_INDEX_URL="" PIP_CONSTRAINT=""
export PIP_INDEX_URL=https://pypi.org/simple
"$PYTHON" -m venv "$work/venv"
"$work/venv/bin/pip" install --quiet --disable-pip-version-check "pip-tools==7.6.2"

lock() {
  local output="$1"
  shift
  "$work/venv/bin/pip-compile" --quiet --generate-hashes --allow-unsafe --strip-extras \
    --all-build-deps --no-emit-index-url --no-emit-find-links \
    --output-file "$output" "$@" pyproject.toml
}
# The widest set first; the others are held to its pins, so every lock agrees on a version.
lock requirements/dev.txt --extra local --extra dev "$@"                  # scripts/test.sh, CI
lock requirements/local.txt --extra local -c requirements/dev.txt "$@"    # scripts/dev.sh
lock requirements/runtime.txt -c requirements/dev.txt "$@"                # the production image
echo "lock files refreshed: requirements/runtime.txt local.txt dev.txt"
