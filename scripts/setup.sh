#!/usr/bin/env bash
# Create (or update) the project's virtual environment: ${VENV:-.venv}.
# torch is pinned and installed first: an unpinned torch requirement pulls several GB of CUDA wheels.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${VENV:-.venv}"
EXTRAS="${EXTRAS:-sim,calib,train,bench,gym,ros,dev}"
TORCH_VERSION="${TORCH_VERSION:-2.13.0}"

[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --upgrade pip
if ! "$VENV/bin/python" -c "import torch" 2>/dev/null; then
  "$VENV/bin/python" -m pip install --quiet "torch==$TORCH_VERSION"
fi
"$VENV/bin/python" -m pip install --quiet -e ".[$EXTRAS]"
echo "environment ready: $VENV (extras: $EXTRAS)"
