"""Any gymnasium environment through the arm's pipeline: collect, train, export, plan, evaluate.

- :class:`GymEnvSpec` / :class:`GymEnv`: an environment as the user names it (modules to import,
  constructor arguments, either seeding style), with ``Dict`` observations flattened into named blocks;
- :func:`collect_gym` records exploration episodes (coloured noise within the action space) into a
  dataset that ``wm-planner train`` and ``wm-planner export`` take unchanged;
- :func:`evaluate_gym` plans in the exported bundle through the planning factory's control loop, with a
  cost made afresh at every reset (:mod:`sim.gymnasium_env.costs`), and counts the environment's own
  success.

``wm-planner gym-collect`` and ``wm-planner gym-eval`` are their command lines.
"""

from sim.gymnasium_env.cli import (
    add_cost_options,
    add_environment_options,
    cost_options,
    environment_spec,
    register_collect_cli,
    register_eval_cli,
)
from sim.gymnasium_env.collect import (
    PlannedCollection,
    action_robot,
    collect_gym,
    collect_gym_planned,
    gym_manifest,
)
from sim.gymnasium_env.costs import (
    READY_COSTS,
    CostFactory,
    FeatureDistance,
    PlanarPush,
    check_cost_kwargs,
    feature_slice,
    load_cost_factory,
    push_goal,
    reach_goal,
    reach_point,
)
from sim.gymnasium_env.envs import GymEnv, GymEnvSpec, parse_layout, parse_objects
from sim.gymnasium_env.episode import GymEpisodeResult
from sim.gymnasium_env.evaluate import GymReport, evaluate_gym, write_gym_report
from sim.gymnasium_env.improve import GymExperience

__all__ = [
    "READY_COSTS",
    "CostFactory",
    "FeatureDistance",
    "GymEnv",
    "GymEnvSpec",
    "GymEpisodeResult",
    "GymExperience",
    "GymReport",
    "PlanarPush",
    "PlannedCollection",
    "action_robot",
    "add_cost_options",
    "add_environment_options",
    "check_cost_kwargs",
    "collect_gym",
    "collect_gym_planned",
    "cost_options",
    "environment_spec",
    "evaluate_gym",
    "feature_slice",
    "gym_manifest",
    "load_cost_factory",
    "parse_layout",
    "parse_objects",
    "push_goal",
    "reach_goal",
    "reach_point",
    "register_collect_cli",
    "register_eval_cli",
    "write_gym_report",
]
