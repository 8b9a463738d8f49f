#!/usr/bin/env bash
# Shared by start.sh and test.sh: make .venv (Python 3.11) and install the project into it.
# Usage: scripts/venv.sh [extra]   (extra = "test" installs the test tools too)
set -euo pipefail
cd "$(dirname "$0")/.."
extra="${1:-}"
if [ ! -x .venv/bin/python ]; then
  py=""
  for candidate in python3.11 python3; do
    if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
      py="$candidate"; break
    fi
  done
  [ -n "$py" ] || { echo "error: Python 3.11 is required (python3.11 not found)" >&2; exit 1; }
  "$py" -m venv .venv
fi
stamp=".venv/.installed${extra:+-$extra}"
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  echo "installing Nautilus into .venv ..."
  .venv/bin/python -m pip install -q --upgrade pip
  target="."
  [ -n "$extra" ] && target=".[$extra]"
  .venv/bin/python -m pip install -q -e "$target"
  touch "$stamp"
fi
