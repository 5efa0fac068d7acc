"""One period of model-predictive control: plan, judge the plan, filter the command."""

from wm_planner.control.controller import ControlStep, MpcController, Trajectory

__all__ = ["ControlStep", "MpcController", "Trajectory"]
