"""``wm-planner sysid --self-test``: identify a simulated arm whose parameters are known.

The "real" arm is the default scene with every joint parameter and every link's mass changed by a seeded
random factor, a command latency, gravity compensation in its controller and sensor noise
(:mod:`calibration.ground_truth.synthetic`). It is driven as real arms often are, by velocity setpoints on a
forward velocity controller, and its runs are written as MCAP bags the way a real arm's recorder writes
them: epoch stamps (1.7e9 s), the arm's own joint names (``panda_joint1``...), a gripper's joint states
mixed into ``/joint_states``, joint torques in ``effort``. :func:`calibration.fitting.identify.identify`
fits them back with nothing but the bags (the last run is held out) and must beat the no-physics baseline.

Links whose mass the torques cannot determine are reported as such and not scored (the first link's
centre of mass lies on its joint's axis: only its inertia about that axis shows, added to the rotor's).

That arm lies inside the MuJoCo servo's class. Two more truths check the servo model classes themselves
(:data:`TRUTHS`): ``drive``, a cascaded drive outside every class (:mod:`calibration.ground_truth.drive`,
link-side torque sensing), where the best class must track the held-out run at most half as badly as
the delay baseline; and ``delay``, an arm that is a pure delay, where the calibrated twin must equal the
baseline within 5%.
"""

from __future__ import annotations

import copy
import shutil
from dataclasses import dataclass
from pathlib import Path

import mujoco
import numpy as np

from calibration.fitting.excitation import ExcitationOptions, excitation_trajectory
from calibration.fitting.identify import Identification, identify
from calibration.fitting.sysid import FitOptions
from calibration.ground_truth.drive import CascadedDrive, simulate_drive_run
from calibration.ground_truth.synthetic import (
    SensorNoise,
    SyntheticRun,
    simulate_delay_run,
    simulate_run,
    write_run_bag,
)
from calibration.model.inertial import apply_link_scales, link_bodies
from calibration.model.parameters import JOINT_PARAMETERS, UNITS, ArmParameters, read_parameters
from sim.scene import HOME_QPOS, SceneHandles, load_scene
from wm_planner.config import RobotSpec, default_robot_spec
from wm_planner.control import Trajectory
from wm_planner.progress import progress_bar

__all__ = ["TRUTHS", "SelfTestResult", "TableRow", "run_self_test"]

TRUTHS = ("servo", "drive", "delay")
"""The self-test's "real" arms: the perturbed MuJoCo servo, a cascaded drive, a pure delay."""

COMMAND_TOPIC = "/forward_velocity_controller/commands"
LOGGED_PREFIX = "panda_"
GRIPPER_JOINTS = ("panda_finger_joint1", "panda_finger_joint2")
EPOCH_NS = 1_700_000_000_123_456_789
"""Where the logs' clocks start: an epoch time, as a real arm's driver stamps."""


@dataclass(frozen=True)
class TableRow:
    name: str
    unit: str
    true: float
    fitted: float
    low: float
    high: float

    @property
    def error(self) -> float:
        """Relative error of the fitted value."""
        return abs(self.fitted - self.true) / abs(self.true)


@dataclass(frozen=True)
class SelfTestResult:
    truth: str
    """Which of :data:`TRUTHS` the runs came from."""
    rows: list[TableRow]
    latency_true: float
    latency_fitted: float
    physics_step: float
    rmse_before: float
    """Held-out tracking RMSE (rad, mean over joints) of the uncalibrated scene."""
    rmse_after: float
    rmse_baseline: float
    """The same for the commanded path with the best constant delay (no physics)."""
    not_identified: tuple[str, ...]
    identification: Identification

    @property
    def worst_error(self) -> float:
        return max((row.error for row in self.rows), default=0.0)

    @property
    def baseline_ratio(self) -> float:
        return self.rmse_after / self.rmse_baseline

    @property
    def passed(self) -> bool:
        if self.truth == "delay":
            return abs(self.baseline_ratio - 1.0) <= 0.05
        if self.truth == "drive":
            return self.baseline_ratio <= 0.5
        return (
            self.worst_error <= 0.10
            and abs(self.latency_fitted - self.latency_true) <= self.physics_step
            and self.baseline_ratio <= 0.5
        )

    def table(self) -> str:
        if self.truth != "servo":
            return self._class_table()
        lines = [
            f"{'parameter':<22} {'unit':<10} {'true':>10} {'fitted':>10} {'95% interval':>23} {'error':>7}"
        ]
        for r in self.rows:
            interval = f"[{r.low:.4g}, {r.high:.4g}]"
            values = f"{r.true:>10.4g} {r.fitted:>10.4g} {interval:>23}"
            lines.append(f"{r.name:<22} {r.unit:<10} {values} {100 * r.error:>6.2f}%")
        lines.append(
            f"{'latency':<22} {'s':<10} {self.latency_true:>10.4g} {self.latency_fitted:>10.4g} "
            f"{'':>23} {abs(self.latency_fitted - self.latency_true) / self.physics_step:>5.2f} steps"
        )
        if self.not_identified:
            links = ", ".join(self.not_identified)
            lines.append(f"not determined by the torques (scene's mass kept, not scored): {links}")
        return "\n".join(lines)

    def _class_table(self) -> str:
        """Held-out RMSE of every servo model class against the baseline (no class holds this truth's
        parameters, so there are none to score)."""
        quality = self.identification.profile.quality
        assert quality is not None
        lines = [f"{'servo model class':<22} {'held-out RMSE':>14} {'/ baseline':>11}"]
        for name, rmse in quality.by_model.items():
            mean = float(np.mean(rmse))
            winner = "  <- kept" if name == self.identification.profile.servo_model else ""
            lines.append(f"{name:<22} {mean:>14.3e} {mean / self.rmse_baseline:>11.2f}{winner}")
        lines.append(f"{'delay baseline':<22} {self.rmse_baseline:>14.3e} {1.0:>11.2f}")
        return "\n".join(lines)

    def summary(self) -> str:
        verdict = "PASS" if self.passed else "FAIL"
        if self.truth != "servo":
            bar = "within 5% of it asked" if self.truth == "delay" else "at most 0.5 asked"
            return (
                f"sysid self-test ({self.truth}) {verdict}: {self.identification.profile.servo_model} tracks "
                f"the held-out run {self.baseline_ratio:.2f}x the delay baseline's RMSE ({bar}); "
                f"calibrated {self.rmse_after:.2e}, baseline {self.rmse_baseline:.2e}, uncalibrated "
                f"{self.rmse_before:.2e} rad"
            )
        return (
            f"sysid self-test {verdict}: worst parameter error {100 * self.worst_error:.2f}% (limit 10%), "
            f"latency {1000 * self.latency_fitted:.2f} ms vs {1000 * self.latency_true:.2f} ms "
            f"(limit one {1000 * self.physics_step:g} ms step), held-out tracking RMSE: uncalibrated "
            f"{self.rmse_before:.2e}, delay baseline {self.rmse_baseline:.2e}, calibrated "
            f"{self.rmse_after:.2e} rad ({self.rmse_baseline / self.rmse_after:.1f}x better than the "
            "baseline, at least 2x asked)"
        )


def perturbed_truth(
    nominal: ArmParameters, *, seed: int, latency: float, joints: int, links: int
) -> tuple[ArmParameters, np.ndarray]:
    """``nominal`` with every joint parameter scaled by a factor in [0.7, 1.4], and link scales in
    [0.8, 1.25] ``[links]``."""
    rng = np.random.default_rng(seed)
    factors: dict[str, np.ndarray | float] = {p: rng.uniform(0.7, 1.4, joints) for p in JOINT_PARAMETERS}
    return nominal.scaled(factors, latency=latency), rng.uniform(0.8, 1.25, links)


def _rows(
    truth: ArmParameters, scales: np.ndarray, damping: np.ndarray, result: Identification
) -> list[TableRow]:
    """The scored rows: servo gains from tracking; rotor inertia, friction and the determined links'
    scale factors from torques."""
    profile = result.profile
    names = profile.joint_names
    rows = [
        TableRow(
            f"{p}[{joint}]",
            UNITS[p],
            float(truth.joints[p][j]),
            float(profile.parameters[p][j]),
            float(profile.ci95_low[p][j]),
            float(profile.ci95_high[p][j]),
        )
        for p in ("kp", "kv")
        for j, joint in enumerate(names)
    ]
    inertial = profile.inertial
    if inertial is None:
        return rows
    torque = {
        "armature": truth.joints["armature"],
        "viscous": damping,
        "coulomb": truth.joints["frictionloss"],
    }
    for key, true in torque.items():
        lows, highs = inertial.friction_ci95[key]
        fitted = getattr(inertial, key)
        unit = {"armature": "kg·m²", "viscous": "N·m·s/rad", "coulomb": "N·m"}[key]
        rows += [
            TableRow(f"{key}[{joint}]", unit, float(true[j]), fitted[j], lows[j], highs[j])
            for j, joint in enumerate(names)
        ]
    low, high = inertial.scale_ci95
    rows += [
        TableRow(f"scale[{link}]", "x", float(scales[i]), inertial.scale[i], low[i], high[i])
        for i, link in enumerate(inertial.links)
        if link not in inertial.not_identified
    ]
    return rows


def _run(
    truth: str,
    real: mujoco.MjModel,
    robot: RobotSpec,
    servo: ArmParameters,
    trajectory: Trajectory,
    *,
    latency: float,
    noise: SensorNoise,
    seed: int,
) -> SyntheticRun:
    """One run of the ``truth`` arm (see :data:`TRUTHS`) following ``trajectory`` by velocity setpoints."""
    if truth == "servo":
        return simulate_run(
            real, robot, servo, trajectory, HOME_QPOS, noise=noise, seed=seed, kind="velocity"
        )
    if truth == "drive":
        drive = CascadedDrive(latency=latency)
        return simulate_drive_run(real, robot, drive, trajectory, HOME_QPOS, noise=noise, seed=seed)
    return simulate_delay_run(
        trajectory, HOME_QPOS, latency=latency, dt=float(real.opt.timestep), noise=noise, seed=seed
    )


def run_self_test(
    out: str | Path,
    *,
    truth: str = "servo",
    robot: RobotSpec | None = None,
    seed: int = 0,
    runs: int = 3,
    duration: float = 8.0,
    latency: float = 0.013,
    noise: SensorNoise | None = None,
    options: FitOptions | None = None,
    threads: int | None = None,
    progress: bool = True,
) -> SelfTestResult:
    """Write ``runs`` synthetic bags of the ``truth`` arm under ``out/logs``, identify them (the last held
    out) into ``out/profile.yaml`` with ``options``, and compare with the truth."""
    if truth not in TRUTHS:
        raise ValueError(f"self-test truth must be one of {TRUTHS}, got {truth!r}")
    robot = robot or default_robot_spec()
    out = Path(out)
    model = load_scene()
    handles = SceneHandles.of(model, robot.joint_names)
    nominal = read_parameters(model, handles)
    groups = link_bodies(model, handles)
    servo, scales = perturbed_truth(
        nominal, seed=seed, latency=latency, joints=len(robot.joint_names), links=len(groups)
    )
    real = copy.copy(model)
    apply_link_scales(real, groups, scales)
    logged_names = tuple(LOGGED_PREFIX + name for name in robot.joint_names)
    paths = []
    for k in progress_bar(range(runs), desc="synthetic runs", unit="run", disable=not progress):
        trajectory = excitation_trajectory(
            robot, HOME_QPOS, options=ExcitationOptions(duration=duration), seed=seed * 1000 + k
        )
        run = _run(
            truth,
            real,
            robot,
            servo,
            trajectory,
            latency=latency,
            noise=noise or SensorNoise(),
            seed=seed * 1000 + k,
        )
        bag = out / "logs" / f"run_{k}"
        if (bag / "metadata.yaml").exists():
            shutil.rmtree(bag)  # an earlier self-test's bag: bags are never written over, so replace it
        paths.append(
            write_run_bag(
                run,
                bag,
                logged_names,
                command_topic=COMMAND_TOPIC,
                origin_ns=EPOCH_NS,
                gripper=GRIPPER_JOINTS,
            )
        )
    result = identify(
        paths,
        out / "profile.yaml",
        robot,
        held_out=1,
        options=options,
        # The drive's sensor sits after the gearbox; the servo truth reports the motor's torque.
        torque_sensor="link" if truth == "drive" else "motor",
        threads=threads,
        progress=progress,
    )
    quality = result.profile.quality
    assert quality is not None
    inertial = result.profile.inertial
    scored = truth == "servo"
    return SelfTestResult(
        truth=truth,
        rows=_rows(servo, scales, model.dof_damping[handles.arm_dof], result) if scored else [],
        latency_true=latency,
        latency_fitted=result.fit.parameters.latency,
        physics_step=float(model.opt.timestep),
        rmse_before=float(np.mean(quality.rmse_before)),
        rmse_after=float(np.mean(quality.rmse_after)),
        rmse_baseline=float(np.mean(quality.rmse_baseline)),
        not_identified=tuple(inertial.not_identified) if inertial is not None and scored else (),
        identification=result,
    )
