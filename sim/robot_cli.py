"""``wm-planner robot``: ``import`` a URDF into a robot folder; ``check`` a folder's chain against its
twin."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sim.robot_import import ACCELERATION_PER_VELOCITY, ImportOptions, import_robot, srdf_group_state
from sim.robots import RobotFolder
from sim.twin import TwinOptions
from wm_planner.urdf import UrdfError, parse_urdf

__all__ = ["register_cli"]


def _floats_option(text: str | None, option: str) -> tuple[float, ...] | None:
    if text is None:
        return None
    try:
        return tuple(float(v) for v in text.replace(",", " ").split())
    except ValueError:
        raise ValueError(f"{option}: {text!r} is not a list of numbers") from None


def _options(args: argparse.Namespace) -> ImportOptions:
    tip = _floats_option(args.tip_xyz, "--tip-xyz")
    if tip is not None and len(tip) != 3:
        raise UrdfError(f"--tip-xyz: expected 3 numbers, got {len(tip)}")
    if args.tool_length < 0 or args.tool_radius <= 0:
        raise UrdfError(
            f"--tool-length {args.tool_length} must be >= 0 and --tool-radius {args.tool_radius} above 0 (m)"
        )
    home = _floats_option(args.home, "--home")
    if args.srdf:
        chain = parse_urdf(Path(args.urdf)).chain(args.base_link, args.tip_link)
        home = srdf_group_state(Path(args.srdf), args.group_state, chain.joint_names)
    return ImportOptions(
        name=args.name,
        base_link=args.base_link,
        tip_link=args.tip_link,
        tip_xyz=None if tip is None else (tip[0], tip[1], tip[2]),
        package_paths=tuple(Path(p) for p in args.package_path),
        acceleration_limits=_floats_option(args.acceleration_limits, "--acceleration-limits"),
        home=home,
        control_period=args.control_period,
        twin=TwinOptions(tool_length=args.tool_length, tool_radius=args.tool_radius),
    )


def _cmd_import(args: argparse.Namespace) -> int:
    try:
        robot, workspace = import_robot(Path(args.urdf), Path(args.out), _options(args))
    except (UrdfError, OSError) as error:
        print(f"wm-planner robot import: {error}", file=sys.stderr)
        return 2
    spheres = len(robot.kinematics.tool_points) if robot.kinematics else 0
    print(
        f"imported {robot.name}: {robot.dof} joints ({', '.join(robot.joint_names)}), "
        f"{spheres} tool spheres, reach {workspace.reach:.2f} m -> {args.out}"
    )
    return 0


def _cmd_check(args: argparse.Namespace) -> int:
    try:
        folder = RobotFolder.load(args.folder)
    except (OSError, ValueError) as error:
        print(f"wm-planner robot check: {error}", file=sys.stderr)
        return 2
    check = folder.check(configurations=args.configurations)
    verdict = "ok" if check.ok() else "FAILED"
    print(
        f"robot check {verdict}: {folder.spec.name}, tool tip chain vs twin {check.tip_error_m:.1e} m at "
        f"{check.configurations} configurations (limit 1e-9); back home from 0.1 rad away to "
        f"{check.settle_error_rad:.1e} rad in 1 s (limit 0.01) -> {args.folder}"
    )
    return 0 if check.ok() else 1


def register_cli(sub: argparse._SubParsersAction) -> None:
    """Add ``robot import`` and ``robot check`` to the ``wm-planner`` command line."""
    robot = sub.add_parser("robot", help="robot folders: a URDF made into spec, twin and workspace")
    actions = robot.add_subparsers(dest="robot_command", required=True, metavar="ACTION")
    p = actions.add_parser("import", help="write a robot folder from a URDF (robot_description)")
    p.add_argument("urdf", help="the robot's URDF (expand xacro first: xacro robot.urdf.xacro > robot.urdf)")
    p.add_argument("--out", required=True, help="the robot folder to write (must not exist)")
    p.add_argument("--name", help="robot name (default: the URDF's)")
    p.add_argument("--base-link", help="first link of the arm's chain (default: the tree's root)")
    p.add_argument("--tip-link", help="last link of the chain, the tool's (default: the tree's one leaf)")
    p.add_argument(
        "--tip-xyz",
        help="tool tip in the tip link's frame, m: 'x y z' (default: the pusher's end, else its origin)",
    )
    p.add_argument(
        "--tool-length",
        type=float,
        default=0.0,
        help="m; mount a pusher rod of this length on the tip link, along its z axis (for a bare flange)",
    )
    p.add_argument("--tool-radius", type=float, default=0.015, help="m; the pusher rod's radius")
    p.add_argument(
        "--package-path",
        action="append",
        default=[],
        help="folder holding ROS packages, for package:// meshes (repeatable)",
    )
    p.add_argument(
        "--acceleration-limits",
        help=f"rad/s^2 per joint (default: {ACCELERATION_PER_VELOCITY:g} x the velocity limits, warned)",
    )
    p.add_argument("--home", help="home pose, rad per joint (default: derived from the chain)")
    p.add_argument("--srdf", help="take the home pose from this SRDF's group_state (see --group-state)")
    p.add_argument("--group-state", default="ready", help="SRDF group_state for the home pose")
    p.add_argument("--control-period", type=float, default=0.02, help="s between commands")
    p.set_defaults(func=_cmd_import)

    check = actions.add_parser(
        "check", help="compare a robot folder's chain with its twin; exit 1 if they differ"
    )
    check.add_argument("folder", help="robot folder")
    check.add_argument("--configurations", type=int, default=1000, help="random joint positions compared")
    check.set_defaults(func=_cmd_check)
