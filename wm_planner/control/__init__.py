"""The control loop: plan, judge the plan, filter the command, and decide what to do when anything is
wrong; built one way (:mod:`wm_planner.control.factory`) for the robot, the evaluation and the tools."""

from wm_planner.control.actions import ActionController, ActionStep
from wm_planner.control.controller import ControlStep, MpcController, Trajectory
from wm_planner.control.factory import (
    RolloutSource,
    build_action_controller,
    build_controller,
    build_joint_planner,
    build_supervisor,
    bundle_source,
    feasible_changes,
    retune_supervisor,
)
from wm_planner.control.goals import Goal, GoalBounds, GoalKind, PushGeometry, goal_cost, goal_error
from wm_planner.control.inputs import Rejected, check_finite, check_measured, max_travel
from wm_planner.control.judge import BindFn, Judged, PlanJudge
from wm_planner.control.runner import LoopRunner
from wm_planner.control.supervisor import Decision, Supervisor
from wm_planner.safety.status import Mode, Problem

__all__ = [
    "ActionController",
    "ActionStep",
    "BindFn",
    "ControlStep",
    "Decision",
    "Goal",
    "GoalBounds",
    "GoalKind",
    "Judged",
    "LoopRunner",
    "Mode",
    "MpcController",
    "PlanJudge",
    "Problem",
    "PushGeometry",
    "Rejected",
    "RolloutSource",
    "Supervisor",
    "Trajectory",
    "build_action_controller",
    "build_controller",
    "build_joint_planner",
    "build_supervisor",
    "bundle_source",
    "check_finite",
    "check_measured",
    "feasible_changes",
    "goal_cost",
    "goal_error",
    "max_travel",
    "retune_supervisor",
]
