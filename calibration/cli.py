"""``wm-planner sysid`` and ``wm-planner sim2real``: the calibration subcommands."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from calibration.fitting.identify import SERVO_MODELS, TORQUE_SENSORS
from calibration.ground_truth.selftest import TRUTHS
from calibration.model.profile import baseline_verdict
from sim.robots import RobotFolder
from sim.scene import load_scene
from wm_planner.config import RobotSpec, default_robot_spec, load_yaml_model, parse_mapping

__all__ = ["BASELINE_LOST", "register_data_import", "register_sim2real", "register_sysid"]

BASELINE_LOST = 3
"""Exit status of ``sysid`` / ``sim2real --fail-worse-than-baseline`` when the calibrated twin tracks
the held-out runs worse than the delay baseline."""


def _baseline_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--fail-worse-than-baseline",
        action="store_true",
        help=f"exit {BASELINE_LOST} when the calibrated twin tracks worse than the delay baseline (for CI "
        "and scripts that must refuse a bad calibration)",
    )


ROBOT_HELP = "robot folder from `wm-planner robot import`, or a RobotSpec YAML (default: the shipped arm)"


def _robot(path: str | None) -> RobotSpec:
    """``--robot``: a robot folder (``wm-planner robot import``), a RobotSpec YAML, or the shipped arm."""
    if path and Path(path).is_dir():
        return RobotFolder.load(path).spec
    return load_yaml_model(path, RobotSpec) if path else default_robot_spec()


def _scene(args: argparse.Namespace) -> str | None:
    """``--scene``, else the twin of a ``--robot`` folder, else None (the shipped scene)."""
    if args.scene is None and args.robot and Path(args.robot).is_dir():
        return str(RobotFolder.load(args.robot).scene)
    return args.scene


def _reading(args: argparse.Namespace):
    from calibration.logs.sources import LogReading

    return LogReading(
        command_topic=args.command_topic,
        command_kind=args.command_kind,
        joint_map={str(k): str(v) for k, v in parse_mapping(args.joint_map, option="--joint-map").items()},
    )


def _bounds(entries: list[str]) -> tuple[tuple[str, float, float], ...]:
    """``NAME=LOW:HIGH`` entries as factor bounds."""
    out = []
    for entry in entries:
        name, _, box = entry.partition("=")
        low, _, high = box.partition(":")
        try:
            out.append((name.strip(), float(low), float(high)))
        except ValueError:
            raise ValueError(f"--bound {entry!r}: expected NAME=LOW:HIGH, such as kp=0.5:2") from None
    return tuple(out)


def _reading_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--command-topic", help="the command topic to read (default: the one with messages)")
    p.add_argument(
        "--command-kind",
        choices=["position", "velocity", "trajectory"],
        help="what the command topic carries (default: JointTrajectory is a trajectory; Float64MultiArray "
        "is what its controller's name says, else an error)",
    )
    p.add_argument(
        "--joint-map",
        help="logged joint name -> robot joint name, JSON or YAML, inline or a file "
        "(default: the robot's names, or them behind a prefix such as panda_)",
    )


def _cmd_sysid(args: argparse.Namespace) -> int:
    from calibration.fitting.identify import identify
    from calibration.fitting.sysid import FitOptions
    from calibration.ground_truth.selftest import run_self_test

    robot = _robot(args.robot)
    options = FitOptions(
        fixed=tuple(args.fix),
        factor_bounds=tuple(args.factor_bounds),
        parameter_bounds=_bounds(args.bound),
        min_latency=args.min_latency,
        max_latency=args.max_latency,
        initial_latency=args.initial_latency,
        max_iterations=args.iterations,
    )
    if args.self_test:
        selftest = run_self_test(
            args.out or f"runs/sysid_self_test_{args.self_test}",
            truth=args.self_test,
            robot=robot,
            seed=args.seed,
            options=options,
            threads=args.threads,
        )
        print(selftest.table())
        print(f"{selftest.summary()} -> {selftest.identification.profile_path}")
        return 0 if selftest.passed else 1
    if not args.log or not args.out:
        raise ValueError("sysid needs --log BAG [BAG ...] and --out PROFILE.yaml (or --self-test)")
    result = identify(
        args.log,
        args.out,
        robot,
        scene=_scene(args),
        held_out=args.held_out,
        options=options,
        reading=_reading(args),
        torque_sensor=args.torque_sensor,
        servo_models=args.servo_models,
        threads=args.threads,
    )
    quality = result.profile.quality
    held, verdict = "", None
    if quality is not None:
        before, after, baseline = (
            sum(v) / len(v) for v in (quality.rmse_before, quality.rmse_after, quality.rmse_baseline)
        )
        held = (
            f"; held out: calibrated ({result.profile.servo_model}) / delay baseline "
            f"{quality.baseline_ratio:.2f} (calibrated {after:.2e}, "
            f"baseline {baseline:.2e} rad at {1000 * quality.baseline_delay:.1f} ms, uncalibrated "
            f"{before:.2e})"
        )
        verdict = baseline_verdict(quality.baseline_ratio, quality.baseline_delay)
    print(
        f"sysid done: {len(args.log)} logs, latency {1000 * result.fit.parameters.latency:.2f} ms{held}; "
        f"scene {result.profile.scene_path(result.profile_path)} -> {result.profile_path}"
    )
    return _judged(verdict, args.fail_worse_than_baseline)


def _judged(verdict: str | None, fail: bool) -> int:
    """Exit status of a calibration judged against its delay baseline: 3 when it loses and ``fail``."""
    if verdict is None:
        return 0
    print(verdict, file=sys.stderr)
    return BASELINE_LOST if fail else 0


def register_sysid(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "sysid",
        help="fit servo gains, command latency, and (from logged torques) masses, rotor inertia and friction",
        description="Where every fitted run logs joint torques, first identifies link mass scales and (from "
        "a motor-side --torque-sensor) rotor inertia (armature), viscous and Coulomb friction from them; "
        "those values are then kept. Then fits the position-servo gains (kp, kv), the command latency and "
        "command filter (and, without torques or with a link-side sensor, armature and frictionloss) to the "
        "logged tracking by replaying the commands in MuJoCo. Beside this MuJoCo servo it fits shaped "
        "delays (the command delayed and low-passed per joint, followed exactly: the pure delay is one) "
        "and keeps the class that tracks the held-out runs best. Writes a calibration profile (YAML) led "
        "by the held-out error over the delay baseline's, and the calibrated scene (.xml beside it).",
    )
    p.add_argument(
        "--log", nargs="+", help="identification runs: rosbag2 bags, episode files or dataset directories"
    )
    p.add_argument("--out", help="profile YAML to write (with --self-test: a directory)")
    p.add_argument("--scene", help="MJCF to calibrate (default: the shipped arm scene)")
    p.add_argument("--robot", help=ROBOT_HELP)
    p.add_argument("--held-out", type=int, default=1, help="the last N logs are held out for validation")
    p.add_argument(
        "--fix",
        nargs="*",
        default=[],
        help="parameters the tracking fit keeps at the scene's value: kp, armature[joint7] (values "
        "identified from torques are kept anyway)",
    )
    p.add_argument(
        "--factor-bounds",
        nargs=2,
        type=float,
        default=[0.1, 10.0],
        metavar=("LOW", "HIGH"),
        help="each joint parameter stays within these multiples of the scene's value",
    )
    p.add_argument(
        "--bound",
        action="append",
        default=[],
        metavar="NAME=LOW:HIGH",
        help="factor bounds of one kind (kp=0.5:2) or one parameter (kv[joint3]=0.8:1.2); repeatable",
    )
    p.add_argument("--min-latency", type=float, default=0.0, help="lower bound of the latency search (s)")
    p.add_argument("--max-latency", type=float, default=0.1, help="upper bound of the latency search (s)")
    p.add_argument("--initial-latency", type=float, default=0.01, help="where the latency search starts (s)")
    _reading_options(p)
    p.add_argument("--iterations", type=int, default=25, help="most least-squares iterations")
    p.add_argument("--threads", type=int, help="MuJoCo rollout threads (default: one per core)")
    _baseline_option(p)
    p.add_argument(
        "--self-test",
        nargs="?",
        const="servo",
        choices=TRUTHS,
        help="identify a simulated arm: servo (known parameters, the default), drive (a cascaded drive "
        "outside every model class: the best class must halve the delay baseline's error) or delay (a pure "
        "delay: the twin must equal the baseline within 5%%)",
    )
    p.add_argument(
        "--servo-models",
        nargs="+",
        choices=SERVO_MODELS,
        default=list(SERVO_MODELS),
        help="the servo model classes that compete on the held-out runs (default: all). The simulator runs "
        "the calibrated scene (mujoco_servo): pass only that to judge the scene itself",
    )
    p.add_argument(
        "--torque-sensor",
        choices=TORQUE_SENSORS,
        default="motor",
        help="where the logged efforts are measured: motor (drive current: masses, rotor inertia and "
        "friction are identified from them), link (a sensor after the gearbox: masses only; rotor inertia "
        "and friction are left to the tracking fit) or none (efforts ignored)",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the self-test's perturbed arm and runs")
    p.set_defaults(func=_cmd_sysid)


def _cmd_sim2real(args: argparse.Namespace) -> int:
    from calibration.evaluation.sim2real import run_sim2real

    metrics, report = run_sim2real(
        args.real,
        args.profile,
        args.out,
        _robot(args.robot),
        bundles=args.model,
        outcomes=args.outcomes,
        reading=_reading(args),
        threads=args.threads,
    )
    tracking = metrics["tracking"]
    before, after, baseline = tracking["uncalibrated"], tracking["calibrated"], tracking["baseline"]
    line = (
        f"sim2real done: {len(metrics['logs'])} logs, calibrated / delay baseline "
        f"{tracking['baseline_ratio']:.2f} (joint RMSE {1000 * after['rmse_mean_rad']:.3f} mrad, baseline "
        f"{1000 * baseline['rmse_mean_rad']:.3f} mrad, uncalibrated {1000 * before['rmse_mean_rad']:.3f} "
        f"mrad), tool tip {1000 * before['ee_error_mean_m']:.2f} -> {1000 * after['ee_error_mean_m']:.2f} mm"
    )
    for wm in metrics["world_models"]:
        k = "10" if "10" in wm["k"] else max(wm["k"], key=int)
        line += (
            f"; {Path(wm['bundle']).name} {k}-step EE error {1000 * wm['k'][k]['ee_pos_m']['median']:.1f} mm"
        )
    if metrics["success"]:
        line += f"; success r={metrics['success']['pearson_r']:.3f}, MMRV={metrics['success']['mmrv']:.3f}"
    print(f"{line} -> {report}")
    verdict = baseline_verdict(tracking["baseline_ratio"], metrics["baseline_delay_s"])
    return _judged(verdict, args.fail_worse_than_baseline)


def register_sim2real(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "sim2real",
        help="how far the sim (before and after calibration) and the world model are from logged runs",
    )
    p.add_argument(
        "--real", nargs="+", required=True, help="runs on the arm: rosbag2 bags, episode files or datasets"
    )
    p.add_argument("--profile", required=True, help="calibration profile YAML written by sysid")
    p.add_argument(
        "--model",
        action="append",
        default=[],
        help="ONNX bundle: adds its k-step prediction error on the logs (repeat to compare, e.g. before and "
        "after fine-tuning on real logs)",
    )
    p.add_argument(
        "--outcomes",
        help="YAML {configs: {NAME: {real_success, sim_success | sim_eval: EVAL.json}}}: adds r and MMRV",
    )
    p.add_argument("--out", required=True, help="report directory (metrics.json, report.html)")
    p.add_argument("--robot", help=ROBOT_HELP)
    p.add_argument("--threads", type=int, help="MuJoCo rollout threads (default: one per core)")
    _baseline_option(p)
    _reading_options(p)
    p.set_defaults(func=_cmd_sim2real)


def _cmd_data_import(args: argparse.Namespace) -> int:
    from calibration.logs.importer import import_logs

    twin = RobotFolder.load(args.robot).model() if args.robot and Path(args.robot).is_dir() else load_scene()
    summary = import_logs(
        args.bags,
        args.out,
        _robot(args.robot),
        reading=_reading(args),
        object_topic=args.object_topic,
        goal_topic=args.goal_topic,
        physics_step=float(twin.opt.timestep),
        episode_steps=args.episode_steps,
    )
    print(summary.line())
    return 0


def register_data_import(sub: argparse._SubParsersAction) -> None:
    """Add ``import`` to ``wm-planner data``."""
    p = sub.add_parser(
        "import",
        help="logged runs (rosbag2 MCAP) as a dataset train accepts: joint states and object poses on the "
        "control grid, commands as actions",
    )
    p.add_argument("bags", nargs="+", help="rosbag2 bag directories")
    p.add_argument("--out", required=True, help="dataset directory to create")
    p.add_argument("--robot", help=ROBOT_HELP)
    p.add_argument(
        "--object-topic", default="/object_pose", help="PoseStamped of the object (default: %(default)s)"
    )
    p.add_argument(
        "--goal-topic", default="/planner_node/goal", help="PoseStamped goals (default: %(default)s)"
    )
    p.add_argument(
        "--episode-steps", type=int, default=150, help="control periods per episode (long runs are cut)"
    )
    _reading_options(p)
    p.set_defaults(func=_cmd_data_import)
