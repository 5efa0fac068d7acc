#!/usr/bin/env bash
# Set up the environment, then run the main job on the default simulated arm.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
OUT="${OUT:-runs/demo}"
rm -rf "$OUT/push"
"${VENV:-.venv}/bin/wm-planner" collect --task push --episodes 200 --out "$OUT/push" --seed 0
"${VENV:-.venv}/bin/wm-planner" data verify "$OUT/push"
