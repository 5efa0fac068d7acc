"""``wm-planner sysid --self-test``: identify a simulated arm whose parameters are known.

The "real" arm is the default scene with every fitted parameter changed by a seeded random factor, a
command latency and sensor noise (:mod:`calibration.synthetic`). Multisine runs of it are written as MCAP
bags, exactly as the recorder writes a real arm's runs, and :func:`calibration.identify.identify` fits
them back; the last run is held out.

Joint 7's rotor inertia stays at the scene's value and is not fitted: the link it turns (the flange and
pusher, about 0.001 kg·m² about its axis) is a hundredth of the rotor's, so joint 7's motion only tells
the ratios of its armature, gains and friction, never their scale. On a real arm the rotor inertia comes
from the motor's datasheet for the same reason.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from calibration.excitation import ExcitationOptions, excitation_trajectory
from calibration.identify import Identification, identify
from calibration.parameters import JOINT_PARAMETERS, UNITS, ArmParameters, read_parameters
from calibration.synthetic import SensorNoise, simulate_run, write_run_bag
from calibration.sysid import FitOptions
from sim.scene import HOME_QPOS, SceneHandles, load_scene
from wm_planner.config import RobotSpec, default_robot_spec

__all__ = ["SELF_TEST_FIXED", "SelfTestResult", "TableRow", "run_self_test"]

SELF_TEST_FIXED = ("armature[joint7]",)
COMMAND_TOPIC = "/joint_trajectory_controller/joint_trajectory"


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
    rows: list[TableRow]
    latency_true: float
    latency_fitted: float
    physics_step: float
    rmse_before: float
    """Held-out tracking RMSE (rad, mean over joints) of the uncalibrated scene."""
    rmse_after: float
    identification: Identification

    @property
    def worst_error(self) -> float:
        return max(row.error for row in self.rows)

    @property
    def passed(self) -> bool:
        return (
            self.worst_error <= 0.10
            and abs(self.latency_fitted - self.latency_true) <= self.physics_step
            and self.rmse_before >= 5.0 * self.rmse_after
        )

    def table(self) -> str:
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
        return "\n".join(lines)

    def summary(self) -> str:
        verdict = "PASS" if self.passed else "FAIL"
        return (
            f"sysid self-test {verdict}: worst parameter error {100 * self.worst_error:.2f}% (limit 10%), "
            f"latency {1000 * self.latency_fitted:.2f} ms vs {1000 * self.latency_true:.2f} ms "
            f"(limit one {1000 * self.physics_step:g} ms step), held-out tracking RMSE "
            f"{self.rmse_before:.2e} -> {self.rmse_after:.2e} rad ({self.rmse_before / self.rmse_after:.0f}x)"
        )


def perturbed_truth(
    nominal: ArmParameters, *, seed: int, latency: float, names: tuple[str, ...]
) -> ArmParameters:
    """``nominal`` with every parameter not in ``SELF_TEST_FIXED`` scaled by a factor in [0.7, 1.4]."""
    rng = np.random.default_rng(seed)
    factors = {p: rng.uniform(0.7, 1.4, len(names)) for p in JOINT_PARAMETERS}
    for entry in SELF_TEST_FIXED:
        parameter, joint = entry.rstrip("]").split("[")
        factors[parameter][names.index(joint)] = 1.0
    return nominal.scaled(factors, latency=latency)


def run_self_test(
    out: str | Path,
    *,
    robot: RobotSpec | None = None,
    seed: int = 0,
    runs: int = 3,
    duration: float = 8.0,
    latency: float = 0.013,
    noise: SensorNoise | None = None,
    threads: int | None = None,
    progress: bool = True,
) -> SelfTestResult:
    """Write ``runs`` synthetic bags under ``out/logs``, identify them (the last held out) into
    ``out/profile.yaml``, and compare with the truth."""
    robot = robot or default_robot_spec()
    out = Path(out)
    model = load_scene()
    handles = SceneHandles.of(model, robot.joint_names)
    nominal = read_parameters(model, handles)
    truth = perturbed_truth(nominal, seed=seed, latency=latency, names=robot.joint_names)
    paths = []
    for k in tqdm(range(runs), desc="synthetic runs", unit="run", disable=not progress):
        trajectory = excitation_trajectory(
            robot, HOME_QPOS, options=ExcitationOptions(duration=duration), seed=seed * 1000 + k
        )
        run = simulate_run(
            model, robot, truth, trajectory, HOME_QPOS, noise=noise or SensorNoise(), seed=seed * 1000 + k
        )
        bag = out / "logs" / f"run_{k}"
        if (bag / "metadata.yaml").exists():
            shutil.rmtree(bag)  # an earlier self-test's bag: bags are never written over, so replace it
        paths.append(write_run_bag(run, bag, robot.joint_names, command_topic=COMMAND_TOPIC))
    result = identify(
        paths,
        out / "profile.yaml",
        robot,
        held_out=1,
        options=FitOptions(fixed=SELF_TEST_FIXED),
        threads=threads,
        progress=progress,
    )
    fit = result.fit
    rows = [
        TableRow(
            f"{p}[{joint}]",
            UNITS[p],
            float(truth.joints[p][j]),
            float(fit.parameters.joints[p][j]),
            float(fit.low.joints[p][j]),
            float(fit.high.joints[p][j]),
        )
        for p in JOINT_PARAMETERS
        for j, joint in enumerate(robot.joint_names)
        if f"{p}[{joint}]" not in fit.fixed
    ]
    quality = result.profile.quality
    return SelfTestResult(
        rows=rows,
        latency_true=latency,
        latency_fitted=fit.parameters.latency,
        physics_step=float(model.opt.timestep),
        rmse_before=float(np.mean(quality.rmse_before)),
        rmse_after=float(np.mean(quality.rmse_after)),
        identification=result,
    )
