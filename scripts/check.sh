#!/usr/bin/env bash
# The gates that keep the code's shape, before any test runs: formatting, lint, types (strict on what
# runs on the robot). Layer rules are a test (tests/test_layers.py), run with the suite.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN="${VENV:-.venv}/bin"
"$BIN/ruff" format --check .
"$BIN/ruff" check .
"$BIN/mypy"
