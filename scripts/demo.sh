#!/usr/bin/env bash
# Set up the environment, then run the main job on the default simulated arm:
# collect reach and push episodes, train the world model, export the ONNX bundle, measure its prediction error.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
WM="${VENV:-.venv}/bin/wm-planner"
OUT="${OUT:-runs/demo}"
EPISODES="${EPISODES:-300}"
STEPS="${STEPS:-3000}"
rm -rf "$OUT"
"$WM" collect --task reach --episodes "$EPISODES" --out "$OUT/data/reach" --seed 0
"$WM" collect --task push --episodes "$EPISODES" --out "$OUT/data/push" --seed 1
"$WM" train --data "$OUT/data/reach" --data "$OUT/data/push" --out "$OUT/run" --steps "$STEPS"
"$WM" export --run "$OUT/run" --out "$OUT/bundle"
"$WM" model-eval --model "$OUT/bundle" --data "$OUT/data/reach" --json "$OUT/model_eval_reach.json"
"$WM" model-eval --model "$OUT/bundle" --data "$OUT/data/push" --json "$OUT/model_eval_push.json"
