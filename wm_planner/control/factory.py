"""One way to build the control loop: from a bundle (or any rollout source, such as the simulator's
true physics) and configs to the planner, the controller and the supervisor.

Every entry point that plans (the ROS node, ``wm-planner eval``, planner-driven collection, the
benchmark, the gymnasium adapter) builds through here, so they all plan the same way.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from wm_planner.config import PlannerConfig, RobotSpec, RuntimeConfig, SafetyConfig, SupervisorConfig
from wm_planner.control.actions import ActionController
from wm_planner.control.controller import MpcController
from wm_planner.control.goals import PushGeometry
from wm_planner.control.judge import BindFn
from wm_planner.control.supervisor import Supervisor
from wm_planner.data.layout import Layout
from wm_planner.observation import ObservationBuilder, observation_layout
from wm_planner.planning import SamplingPlanner, make_planner
from wm_planner.safety.filter import CommandFilter

if TYPE_CHECKING:
    from wm_planner.runtime import OnnxWorldModel

__all__ = [
    "RolloutSource",
    "build_action_controller",
    "build_controller",
    "build_joint_planner",
    "build_supervisor",
    "bundle_source",
    "feasible_changes",
    "retune_supervisor",
]


@dataclass(frozen=True)
class RolloutSource:
    """Where candidates are imagined: ``bind(obs [O]) -> rollout`` with features in ``feature_layout``.

    ``samples`` and ``horizon`` are fixed by a bundle's static shapes (None: any).
    """

    name: str
    bind: BindFn
    feature_layout: Layout
    providers: tuple[str, ...]
    samples: int | None = None
    horizon: int | None = None
    model: OnnxWorldModel | None = None
    """The bundle's model behind ``bind``, for what is measured beside planning (the imagination gap),
    so a bundle is opened once; None for sources without one (the true physics)."""

    def shape(self, config: PlannerConfig | None) -> PlannerConfig:
        """``config`` at this source's samples and horizon (a bundle's shapes are static). A config that
        set them otherwise is warned about: the search it asked for is not the one that runs."""
        config = config or PlannerConfig()
        update: dict[str, object] = {}
        if self.samples is not None:
            update |= {"samples": self.samples, "elites": min(config.elites, self.samples)}
        if self.horizon is not None:
            update["horizon"] = self.horizon
        asked = {k: getattr(config, k) for k in ("samples", "horizon") if k in config.model_fields_set}
        changed = [f"{k} {v} -> {update[k]}" for k, v in asked.items() if k in update and update[k] != v]
        if changed:
            warnings.warn(
                f"the {self.name} bundle's shapes are fixed at export: planning with {', '.join(changed)} "
                "(export with --samples/--horizon for another search)",
                stacklevel=2,
            )
        return config.model_validate({**config.model_dump(), **update})


def bundle_source(
    bundle: str | Path,
    *,
    robot: RobotSpec | None,
    layout: Layout | None = None,
    runtime: RuntimeConfig | None = None,
    planner: PlannerConfig | None = None,
) -> RolloutSource:
    """The ONNX bundle at ``bundle``, checked against ``robot`` and the observation ``layout`` (default:
    the arm's, :func:`~wm_planner.observation.observation_layout`) with
    :class:`~wm_planner.runtime.BundleError` naming each difference, run with ``runtime``; its
    disagreement penalty weighted by ``planner.uncertainty_weight``."""
    from wm_planner.runtime import OnnxRollout, OnnxWorldModel

    if layout is None and robot is not None:
        layout = observation_layout(robot.dof)
    model = OnnxWorldModel(bundle, robot=robot, observation_layout=layout, runtime=runtime)
    weight = (planner or PlannerConfig()).uncertainty_weight
    return RolloutSource(
        name="onnx",
        bind=OnnxRollout(model, uncertainty_weight=weight).bind,
        feature_layout=model.meta.feature_layout,
        providers=tuple(model.providers),
        samples=model.samples,
        horizon=model.horizon,
        model=model,
    )


def feasible_changes(
    robot: RobotSpec, safety: SafetyConfig | None, planner: PlannerConfig
) -> np.ndarray | None:
    """The largest change ``[J]`` between consecutive joint steps that the command filter passes
    unchanged (its acceleration limit), for a planner that samples only feasible sequences; None when
    ``planner.feasible`` is off."""
    return CommandFilter(robot, safety).acc_step if planner.feasible else None


def build_joint_planner(
    source: RolloutSource,
    robot: RobotSpec,
    *,
    planner: PlannerConfig | None = None,
    safety: SafetyConfig | None = None,
    seed: int = 0,
) -> SamplingPlanner:
    """The planner of joint steps on ``source`` within the robot's velocity limits (and, with
    ``planner.feasible``, the command filter's acceleration limits)."""
    config = planner or PlannerConfig()
    step = robot.max_step()
    max_change = feasible_changes(robot, safety, config)
    return make_planner(
        source.shape(config), action_low=-step, action_high=step, max_change=max_change, seed=seed
    )


def build_controller(
    source: RolloutSource,
    robot: RobotSpec,
    *,
    planner: PlannerConfig | None = None,
    safety: SafetyConfig | None = None,
    layout: Layout | None = None,
    preview_steps: int = SupervisorConfig().preview_steps,
    seed: int = 0,
) -> MpcController:
    """Planner and command filter for a joint-position arm whose observation has ``layout`` (default: the
    arm's); with ``planner.feasible`` the planner samples within the filter's acceleration limits."""
    layout = layout or observation_layout(robot.dof)
    return MpcController(
        build_joint_planner(source, robot, planner=planner, safety=safety, seed=seed),
        source.bind,
        robot,
        joint_slice=layout.slice("joint_pos"),
        safety=safety,
        preview_steps=preview_steps,
    )


def build_action_controller(
    source: RolloutSource,
    *,
    action_low: np.ndarray,
    action_high: np.ndarray,
    hold_action: np.ndarray | None = None,
    planner: PlannerConfig | None = None,
    safety: SafetyConfig | None = None,
    seed: int = 0,
) -> ActionController:
    """The control loop of a system driven by bounded actions ``[A]`` sent as they are (a gymnasium
    environment): the planner within the bounds, holding ``hold_action`` (default: their centre) when no
    plan is usable, reusing a plan for at most ``safety.max_plan_reuse`` periods as the arm does."""
    low, high = np.asarray(action_low, dtype=np.float64), np.asarray(action_high, dtype=np.float64)
    hold = (low + high) / 2.0 if hold_action is None else np.asarray(hold_action, dtype=np.float64)
    sampler = make_planner(
        source.shape(planner), action_low=low, action_high=high, hold_action=hold, seed=seed
    )
    max_reuse = (safety or SafetyConfig()).max_plan_reuse
    return ActionController(sampler, source.bind, hold_action=hold, max_reuse=max_reuse)


def build_supervisor(
    source: RolloutSource,
    robot: RobotSpec,
    *,
    planner: PlannerConfig | None = None,
    safety: SafetyConfig | None = None,
    supervisor: SupervisorConfig | None = None,
    seed: int = 0,
) -> Supervisor:
    """The whole control loop the robot runs, on ``source``."""
    config = supervisor or SupervisorConfig()
    observations = ObservationBuilder(robot)
    controller = build_controller(
        source,
        robot,
        planner=planner,
        safety=safety,
        layout=observations.layout,
        preview_steps=config.preview_steps,
        seed=seed,
    )
    objects = tuple(source.model.meta.model.objects or ()) if source.model is not None else ()
    return Supervisor(controller, observations, config=config, push=PushGeometry.of(robot, objects))


def retune_supervisor(
    supervisor: Supervisor,
    source: RolloutSource,
    *,
    planner: PlannerConfig,
    safety: SafetyConfig,
    config: SupervisorConfig,
    seed: int = 0,
) -> str:
    """New settings for a running loop (see :meth:`Supervisor.retune`, whose note it returns), its
    planner built as :func:`build_supervisor` builds it."""
    robot = supervisor.robot
    return supervisor.retune(
        config,
        planner=build_joint_planner(source, robot, planner=planner, safety=safety, seed=seed),
        safety=safety,
    )
