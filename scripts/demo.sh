#!/usr/bin/env bash
# Set up the environment, then run the main job on the default simulated arm (wm-planner demo):
# collect reach and push episodes, train the world model, export the ONNX bundle, plan in closed loop on
# both tasks, and print a summary with success rates, plan latency and where the reports and videos are.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec "${VENV:-.venv}/bin/wm-planner" demo --out "${OUT:-runs/demo}" "$@"
