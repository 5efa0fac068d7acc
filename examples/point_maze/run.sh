#!/usr/bin/env bash
# A goal-conditioned gymnasium-robotics task from the command line alone: PointMaze_Open-v3 (a ball
# pushed by a 2-D force to a goal drawn at every reset; success is the environment's info["success"]).
# Needs the gym extra: pip install -e '.[sim,train,gym]'
#
#   bash examples/point_maze/run.sh                 # about 1.5 min on two CPU cores
#   OUT=/tmp/pm TRAIN_STEPS=600 bash examples/point_maze/run.sh
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out="${OUT:-runs/point_maze}"
env_args=(--env PointMaze_Open-v3 --import gymnasium_robotics --dt 0.01)

# 200 episodes of coloured-noise forces (300 steps each, the environment's time limit).
wm-planner gym-collect "${env_args[@]}" --episodes "${EPISODES:-200}" --out "$out/data"
wm-planner train --data "$out/data" --out "$out/run" --config "$here/train.yaml" --steps "${TRAIN_STEPS:-2000}"
wm-planner export --run "$out/run" --out "$out/bundle" --samples 128 --horizon 16 --force
# 20 held-out episodes (their seeds come from a stream of their own), planned toward each episode's
# desired_goal, judged by the environment's own info["success"].
wm-planner gym-eval "${env_args[@]}" --model "$out/bundle" --episodes "${EVAL_EPISODES:-20}" \
  --cost reach_goal --cost-kwargs "$here/cost.yaml" --json "$out/eval/point_maze.json"
