"""``wm-planner ros-sim``: the sim node and the planner node, started as ``launch/sim.launch.py`` would
start them, for machines without ``ros2 launch``.

Each node runs in its own process with the parameters of ``config/*.yaml`` (or ``--params-file``) and
the command line's overrides. DDS discovery stays on this machine (``ROS_AUTOMATIC_DISCOVERY_RANGE``
``LOCALHOST``) in a private ``ROS_DOMAIN_ID``, printed so other tools (RViz, a recorder) can join it.
"""

from __future__ import annotations

import argparse
import functools
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import yaml

from wm_planner_ros.topics import CONTROLLERS

__all__ = ["NodeProcesses", "config_dir", "register_cli", "ros_environment", "start_node", "start_nodes"]


def config_dir() -> Path | None:
    """The package's ``config/``: installed by colcon, or beside the sources; None if neither."""
    from ament_index_python.packages import get_package_share_directory

    try:
        return Path(get_package_share_directory("wm_planner_ros")) / "config"
    except (LookupError, OSError):  # not installed by colcon, or no ROS environment at all
        source = Path(__file__).resolve().parents[1] / "config"
        return source if source.is_dir() else None


def ros_environment(domain_id: int | None = None) -> dict[str, str]:
    """This process's environment with discovery kept on localhost in a private domain.

    ``domain_id`` None: ``ROS_DOMAIN_ID`` if already set, else one derived from the process id.
    """
    env = dict(os.environ)
    env["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
    if domain_id is None:
        domain_id = int(env.get("ROS_DOMAIN_ID") or 1 + os.getpid() % 100)
    if not 0 <= domain_id <= 232:
        raise ValueError(f"ROS_DOMAIN_ID must be within 0..232 (Fast DDS port mapping), got {domain_id}")
    env["ROS_DOMAIN_ID"] = str(domain_id)
    env["PYTHONUNBUFFERED"] = "1"
    return env


@dataclass
class NodeProcesses:
    """The running node processes (``sim``, ``planner``), and the domain they talk in."""

    domain_id: int
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    _params_dir: tempfile.TemporaryDirectory[str] | None = None
    _starts: dict[str, Callable[[], subprocess.Popen[bytes]]] = field(default_factory=dict)

    def start(self, name: str, launch: Callable[[], subprocess.Popen[bytes]]) -> None:
        self._starts[name] = launch
        self.processes[name] = launch()

    def restart(self, name: str) -> None:
        """Start node ``name`` again with the same parameters (after it died or was killed)."""
        if self.processes[name].poll() is None:
            raise RuntimeError(f"{name} node is still running")
        self.processes[name] = self._starts[name]()

    def stop(self, timeout: float = 10.0) -> None:
        """Interrupt every node (as Ctrl-C would), then kill any that do not exit."""
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
        for process in self.processes.values():
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self._params_dir is not None:
            self._params_dir.cleanup()

    def __enter__(self) -> NodeProcesses:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _params_file(directory: Path, node: str, params: Mapping[str, Any]) -> Path:
    path = directory / f"{node}.yaml"
    path.write_text(yaml.safe_dump({node: {"ros__parameters": dict(params)}}))
    return path


def start_node(
    module: str,
    node: str,
    params: Mapping[str, Any],
    *,
    env: Mapping[str, str],
    params_dir: Path,
    params_files: tuple[Path, ...] = (),
    use_sim_time: bool = True,
    output: IO[bytes] | int | None = None,
) -> subprocess.Popen[bytes]:
    """Start ``wm_planner_ros.<module>`` with the default config, ``params_files`` and ``params``."""
    defaults = config_dir()
    # The nodes declare the same defaults; the file is applied first so the run matches the docs exactly.
    files = [defaults / f"{module.removesuffix('_node')}.yaml"] if defaults else []
    files += params_files
    files.append(_params_file(params_dir, node, {**params, "use_sim_time": use_sim_time}))
    args = [sys.executable, "-m", f"wm_planner_ros.{module}", "--ros-args"]
    for path in files:
        args += ["--params-file", str(path)]
    return subprocess.Popen(args, env=dict(env), stdout=output, stderr=subprocess.STDOUT if output else None)


def start_nodes(
    planner: Mapping[str, Any],
    sim: Mapping[str, Any] | None = None,
    *,
    domain_id: int | None = None,
    params_files: tuple[Path, ...] = (),
    use_sim_time: bool = True,
    output: IO[bytes] | int | None = None,
) -> NodeProcesses:
    """Start the sim node and the planner node (autostarted) with these parameter overrides."""
    env = ros_environment(domain_id)
    params_dir = tempfile.TemporaryDirectory(prefix="wm_planner_ros_")
    running = NodeProcesses(int(env["ROS_DOMAIN_ID"]), _params_dir=params_dir)

    def node(module: str, params: Mapping[str, Any]) -> Callable[[], subprocess.Popen[bytes]]:
        return functools.partial(
            start_node,
            module,
            module,
            params,
            env=env,
            params_dir=Path(params_dir.name),
            params_files=params_files,
            use_sim_time=use_sim_time,
            output=output,
        )

    running.start("sim", node("sim_node", sim or {}))
    running.start("planner", node("planner_node", {"autostart": True, **planner}))
    return running


def _planner_overrides(args: argparse.Namespace) -> dict[str, Any]:
    overrides: dict[str, Any] = {
        "model_path": str(Path(args.model).resolve()),
        "command_interface": args.command_interface,
        "controller_name": CONTROLLERS[args.command_interface],
    }
    if args.robot:
        from sim.robot_import import URDF_FILE

        # The planner is given the robot's description only, as on a robot from robot_state_publisher.
        overrides["robot_description"] = (Path(args.robot) / URDF_FILE).read_text()
    return overrides


def _run(args: argparse.Namespace) -> int:
    try:
        import rclpy  # noqa: F401  (only to say clearly when the ROS wheels are missing)
    except ImportError as error:
        print(
            f"wm-planner ros-sim: rclpy is not installed ({error}); pip install 'wm-planner[ros]'",
            file=sys.stderr,
        )
        return 2
    if not Path(args.model, "metadata.json").is_file():
        raise FileNotFoundError(f"--model {args.model}: not a bundle directory (no metadata.json)")
    sim = {"task": args.task, "seed": args.seed, "real_time_factor": args.real_time_factor}
    if args.robot:
        sim["robot"] = str(Path(args.robot).resolve())
    if args.calibration:
        sim["calibration"] = str(Path(args.calibration).resolve())
    files = tuple(Path(p) for p in args.params_file)
    with start_nodes(_planner_overrides(args), sim, domain_id=args.domain_id, params_files=files) as nodes:
        print(
            f"sim_node and planner_node running in ROS_DOMAIN_ID={nodes.domain_id} (localhost only); "
            "Ctrl-C stops them",
            flush=True,
        )
        if args.goal is None and args.joint_goal is None:
            return _wait(nodes, args.duration)
        from wm_planner_ros.client import drive_to_goal

        names = None
        if args.robot:
            from sim.robots import RobotFolder

            names = RobotFolder.load(args.robot).spec.joint_names
        try:
            result = drive_to_goal(
                nodes,
                ee_goal=args.goal,
                joint_goal=args.joint_goal,
                timeout_s=args.duration or 30.0,
                joint_names=names,
            )
        except RuntimeError as error:
            print(f"wm-planner ros-sim: {error}", file=sys.stderr)
            return 1
        print(result.summary(), flush=True)
        return 0 if result.reached else 1


def _wait(nodes: NodeProcesses, duration: float | None) -> int:
    end = None if duration is None else time.monotonic() + duration
    try:
        while end is None or time.monotonic() < end:
            for name, process in nodes.processes.items():
                if process.poll() is not None:
                    print(
                        f"wm-planner ros-sim: {name} node exited with code {process.returncode}",
                        file=sys.stderr,
                    )
                    return 1
            time.sleep(0.2)
    except KeyboardInterrupt:
        pass
    return 0


def register_cli(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "ros-sim",
        help="start the MuJoCo sim node and the planner node as launch/sim.launch.py does, without ROS",
    )
    p.add_argument("--model", required=True, help="ONNX bundle directory")
    p.add_argument(
        "--robot",
        metavar="DIR",
        help="robot folder (wm-planner robot import): the sim runs its twin, the planner gets its URDF",
    )
    p.add_argument(
        "--calibration",
        metavar="PROFILE",
        help="calibration profile (wm-planner sysid): the sim runs its twin (latency, filter, actuator net)",
    )
    p.add_argument("--task", choices=("reach", "push"), default="reach")
    p.add_argument("--seed", type=int, default=0, help="sim episode seed (start pose, cube)")
    p.add_argument("--command-interface", choices=("trajectory", "forward"), default="trajectory")
    p.add_argument("--real-time-factor", type=float, default=1.0)
    p.add_argument(
        "--params-file", action="append", default=[], help="extra ros__parameters YAML (repeatable)"
    )
    p.add_argument("--domain-id", type=int, default=None, help="ROS_DOMAIN_ID (default: a private one)")
    p.add_argument(
        "--goal", type=float, nargs=3, metavar=("X", "Y", "Z"), help="end-effector goal (m, world)"
    )
    p.add_argument(
        "--joint-goal", type=float, nargs="+", metavar="Q", help="joint goal (rad, robot joint order)"
    )
    p.add_argument(
        "--duration",
        type=float,
        default=None,
        help="stop after this many seconds (default: Ctrl-C, or 30 s with a goal)",
    )
    p.set_defaults(func=_run)
