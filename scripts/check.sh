#!/usr/bin/env bash
# The gates that keep the code's shape, before any test runs: formatting, lint (with no function past
# cyclomatic complexity 12 outside tests), types over every package (strict on what runs on the robot).
# Layer rules and import cycles are a test (tests/test_layers.py), run with the suite.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN="${VENV:-.venv}/bin"
"$BIN/ruff" format --check .
"$BIN/ruff" check .
"$BIN/mypy"
