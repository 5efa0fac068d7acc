#!/usr/bin/env bash
# Soak run of the sim + planner node pair (not part of the test suite): memory and control rate over time.
# Usage: bash scripts/soak.sh BUNDLE [MINUTES] [JSON]
set -euo pipefail
cd "$(dirname "$0")/.."
export ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST
export ROS_DOMAIN_ID="${ROS_DOMAIN_ID:-$(( (RANDOM % 100) + 1 ))}"
exec "${VENV:-.venv}/bin/python" -m wm_planner_ros.soak --model "$1" --minutes "${2:-10}" --json "${3:-runs/soak.json}"
