"""``wm-planner sysid`` and ``wm-planner sim2real``: the calibration subcommands."""

from __future__ import annotations

import argparse

from wm_planner.config import RobotSpec, default_robot_spec, load_yaml_model

__all__ = ["register_sim2real", "register_sysid"]


def _robot(path: str | None) -> RobotSpec:
    return load_yaml_model(path, RobotSpec) if path else default_robot_spec()


def _cmd_sysid(args: argparse.Namespace) -> int:
    from calibration.identify import identify
    from calibration.selftest import run_self_test
    from calibration.sysid import FitOptions

    robot = _robot(args.robot)
    if args.self_test:
        result = run_self_test(
            args.out or "runs/sysid_self_test", robot=robot, seed=args.seed, threads=args.threads
        )
        print(result.table())
        print(f"{result.summary()} -> {result.identification.profile_path}")
        return 0 if result.passed else 1
    if not args.log or not args.out:
        raise ValueError("sysid needs --log BAG [BAG ...] and --out PROFILE.yaml (or --self-test)")
    options = FitOptions(fixed=tuple(args.fix), max_latency=args.max_latency, max_iterations=args.iterations)
    result = identify(
        args.log,
        args.out,
        robot,
        scene=args.scene,
        held_out=args.held_out,
        options=options,
        threads=args.threads,
    )
    quality = result.profile.quality
    held = ""
    if quality is not None:
        before, after = (sum(v) / len(v) for v in (quality.rmse_before, quality.rmse_after))
        held = f"; held-out tracking RMSE {before:.2e} -> {after:.2e} rad"
    print(
        f"sysid done: {len(args.log)} logs, latency {1000 * result.fit.parameters.latency:.2f} ms{held}; "
        f"scene {result.profile.scene_path(result.profile_path)} -> {result.profile_path}"
    )
    return 0


def register_sysid(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "sysid",
        help="fit armature, friction, servo gains and command latency to logged runs (rosbag2 MCAP)",
        description="Fits the scene's per-joint armature, frictionloss and position-servo gains (kp, kv; "
        "joint damping is part of kv) and the command latency to logged runs by replaying their commands "
        "in MuJoCo. Writes a calibration profile (YAML) and the calibrated scene (.xml beside it).",
    )
    p.add_argument(
        "--log", nargs="+", help="identification runs: rosbag2 bags, episode files or dataset directories"
    )
    p.add_argument("--out", help="profile YAML to write (with --self-test: a directory)")
    p.add_argument("--scene", help="MJCF to calibrate (default: the shipped arm scene)")
    p.add_argument("--robot", help="RobotSpec YAML (default: the shipped Panda spec)")
    p.add_argument("--held-out", type=int, default=1, help="the last N logs are held out for validation")
    p.add_argument(
        "--fix", nargs="*", default=[], help="parameters kept at the scene's value: kp, armature[joint7]"
    )
    p.add_argument("--max-latency", type=float, default=0.1, help="upper bound of the latency search (s)")
    p.add_argument("--iterations", type=int, default=25, help="most least-squares iterations")
    p.add_argument("--threads", type=int, help="MuJoCo rollout threads (default: one per core)")
    p.add_argument("--self-test", action="store_true", help="identify a simulated arm with known parameters")
    p.add_argument("--seed", type=int, default=0, help="seed of the self-test's perturbed arm and runs")
    p.set_defaults(func=_cmd_sysid)


def _cmd_sim2real(args: argparse.Namespace) -> int:
    from calibration.sim2real import run_sim2real

    metrics, report = run_sim2real(
        args.real,
        args.profile,
        args.out,
        _robot(args.robot),
        bundle=args.model,
        outcomes=args.outcomes,
        threads=args.threads,
    )
    before, after = metrics["tracking"]["uncalibrated"], metrics["tracking"]["calibrated"]
    line = (
        f"sim2real done: {len(metrics['logs'])} logs, joint RMSE {1000 * before['rmse_mean_rad']:.3f} -> "
        f"{1000 * after['rmse_mean_rad']:.3f} mrad ({metrics['tracking']['improvement']:.1f}x), tool tip "
        f"{1000 * before['ee_error_mean_m']:.2f} -> {1000 * after['ee_error_mean_m']:.2f} mm"
    )
    if metrics["world_model"]:
        k = max(metrics["world_model"]["k"], key=int)
        line += (
            f"; model {k}-step EE error {1000 * metrics['world_model']['k'][k]['ee_pos_m']['median']:.1f} mm"
        )
    if metrics["success"]:
        line += f"; success r={metrics['success']['pearson_r']:.3f}, MMRV={metrics['success']['mmrv']:.3f}"
    print(f"{line} -> {report}")
    return 0


def register_sim2real(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "sim2real",
        help="how far the sim (before and after calibration) and the world model are from logged runs",
    )
    p.add_argument(
        "--real", nargs="+", required=True, help="runs on the arm: rosbag2 bags, episode files or datasets"
    )
    p.add_argument("--profile", required=True, help="calibration profile YAML written by sysid")
    p.add_argument("--model", help="ONNX bundle: adds its k-step prediction error on the logs")
    p.add_argument(
        "--outcomes",
        help="YAML {configs: {NAME: {real_success, sim_success | sim_eval: EVAL.json}}}: adds r and MMRV",
    )
    p.add_argument("--out", required=True, help="report directory (metrics.json, report.html)")
    p.add_argument("--robot", help="RobotSpec YAML (default: the shipped Panda spec)")
    p.add_argument("--threads", type=int, help="MuJoCo rollout threads (default: one per core)")
    p.set_defaults(func=_cmd_sim2real)
