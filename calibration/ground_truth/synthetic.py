"""Runs of a simulated "real" arm whose parameters are known: the ground truth of the self-test.

The arm is the default scene with its joint parameters and link masses changed, its controller
receiving every setpoint ``latency`` seconds late and compensating gravity, and its joint states reported
with Gaussian sensor noise, as a real arm's driver would report them. It is commanded either by a
trajectory (joint_trajectory_controller) or by velocity setpoints at every physics step (a forward velocity
controller in front of a PI velocity servo: the servo's integral acts on the integrated setpoint). It is
simulated step by step with ``mj_step``, not through the replay the fit uses; what the two share is the
scene, how parameters are written into it, and the models of the controllers.

The reported effort is the joint torque the controller applies (:func:`sim.torque.applied_torque`), at
each state's time: the mean of the steps before and after it.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path

import mujoco
import numpy as np

from calibration.logs.bags import BagWriter
from calibration.logs.commands import delayed, integrated
from calibration.logs.joint_log import CommandMessage, MeasuredStates
from calibration.model.parameters import ArmParameters, apply_parameters
from calibration.model.replay import velocity_servo_control
from sim.scene import SceneHandles
from sim.torque import applied_torque
from sim.trajectory import TrajectoryFollower
from wm_planner.config import RobotSpec
from wm_planner.control import Trajectory

__all__ = ["SensorNoise", "SyntheticRun", "simulate_delay_run", "simulate_run", "write_run_bag"]


@dataclass(frozen=True)
class SensorNoise:
    """Standard deviations of the white noise on reported joint positions (rad), velocities (rad/s) and
    efforts (N·m)."""

    position: float = 2e-5
    velocity: float = 2e-3
    effort: float = 0.02


@dataclass(frozen=True)
class SyntheticRun:
    """What a recorder would have logged: joint states (with efforts), and the commands of ``kind``
    (``trajectory``: one JointTrajectory at ``settle``; ``velocity``: a setpoint every physics step)."""

    states: MeasuredStates
    commands: list[CommandMessage]
    kind: str


def commanded(trajectory: Trajectory, start: np.ndarray, settle: float) -> tuple[TrajectoryFollower, float]:
    """``trajectory`` as joint_trajectory_controller follows it from ``start [J]``, stamped ``settle`` s
    in, and the time its last point is due."""
    follower = TrajectoryFollower(start)
    times = np.arange(1, len(trajectory.positions) + 1) * trajectory.dt
    follower.follow(
        settle,
        times,
        trajectory.positions,
        trajectory.velocities,
        now=settle,
        current=start,
        current_velocity=np.zeros_like(start),
    )
    return follower, settle + float(times[-1])


def velocity_setpoints(
    trajectory: Trajectory, start: np.ndarray, *, dt: float, settle: float
) -> tuple[np.ndarray, np.ndarray]:
    """The grid ``[T]`` (every ``dt`` until half a second after ``trajectory`` ends) and the velocity
    setpoints ``[T, J]`` a forward velocity controller is sent on it: zero before ``settle``."""
    follower, end = commanded(trajectory, start, settle)
    grid = np.arange(round((end + 0.5) / dt)) * dt
    setpoints = np.array([follower.sample(t)[1] if t >= settle else np.zeros_like(start) for t in grid])
    return grid, setpoints


def velocity_commands(grid: np.ndarray, setpoints: np.ndarray, settle: float) -> list[CommandMessage]:
    """One command message per setpoint from ``settle`` on, as the recorder logs them."""
    sent = grid >= settle
    return [CommandMessage(float(t), v[None]) for t, v in zip(grid[sent], setpoints[sent], strict=True)]


def simulate_run(
    model: mujoco.MjModel,
    robot: RobotSpec,
    truth: ArmParameters,
    trajectory: Trajectory,
    start: np.ndarray,
    *,
    noise: SensorNoise,
    seed: int,
    kind: str = "trajectory",
    settle: float = 1.0,
) -> SyntheticRun:
    """Hold ``start [J]`` for ``settle`` s, then command ``trajectory`` (as one trajectory stamped at
    ``settle``, or as its velocities, one setpoint per physics step) and run until it ends plus half a
    second. Joint states are reported every physics step from 0.1 s before the first command; their
    stamps are the time of the state they report. ``model`` carries the true link masses."""
    if kind not in ("trajectory", "velocity"):
        raise ValueError(f"kind must be 'trajectory' or 'velocity', got {kind!r}")
    model = copy.copy(model)
    handles = SceneHandles.of(model, robot.joint_names)
    apply_parameters(model, handles, truth)
    data = mujoco.MjData(model)
    data.qpos[handles.arm_qpos] = start
    data.ctrl[handles.actuators] = start
    mujoco.mj_forward(model, data)
    rng = np.random.default_rng(seed)
    follower, _ = commanded(trajectory, start, settle)
    dt = model.opt.timestep
    grid, setpoints = velocity_setpoints(trajectory, start, dt=dt, settle=settle)
    steps = len(grid)
    if kind == "velocity":
        control = velocity_servo_control(grid, setpoints, start, truth)
    else:
        control = np.array([follower.sample(t - truth.latency)[0] for t in grid])
    stamps, q, qd, applied = [], [], [], []
    for k in range(steps):
        data.ctrl[handles.actuators] = control[k]
        before = data.qvel[handles.arm_dof].copy()
        mujoco.mj_step(model, data)
        applied.append(applied_torque(model, data, handles, before))
        t = (k + 1) * dt
        if t >= settle - 0.1:
            stamps.append(t)
            q.append(data.qpos[handles.arm_qpos].copy())
            qd.append(data.qvel[handles.arm_dof].copy())
    # A step's torque acts over the step, so the torque at a state's time is the mean of the steps
    # before and after it.
    applied.append(applied[-1])
    at_states = (np.array(applied[:-1]) + np.array(applied[1:])) / 2.0
    tau = at_states[steps - len(stamps) :]
    positions, velocities = np.array(q), np.array(qd)
    states = MeasuredStates(
        np.array(stamps),
        positions + rng.normal(0.0, noise.position, positions.shape),
        velocities + rng.normal(0.0, noise.velocity, velocities.shape),
        tau + rng.normal(0.0, noise.effort, tau.shape),
    )
    if kind == "velocity":
        commands = velocity_commands(grid, setpoints, settle)
    else:
        times = np.arange(1, len(trajectory.positions) + 1) * trajectory.dt
        commands = [CommandMessage(settle, trajectory.positions, times, trajectory.velocities)]
    return SyntheticRun(states, commands, kind)


def simulate_delay_run(
    trajectory: Trajectory,
    start: np.ndarray,
    *,
    latency: float,
    dt: float,
    noise: SensorNoise,
    seed: int,
    settle: float = 1.0,
) -> SyntheticRun:
    """An arm that is exactly a pure delay: it moves at the commanded velocity ``latency`` s late,
    whatever its dynamics. ``trajectory``'s velocities are sent as setpoints every ``dt`` after holding
    ``start [J]`` for ``settle`` s; states are reported every ``dt`` from 0.1 s before the first command,
    with sensor noise and no efforts."""
    grid, setpoints = velocity_setpoints(trajectory, start, dt=dt, settle=settle)
    velocity = delayed(grid, setpoints, latency)
    position = integrated(velocity, start, dt)
    kept = grid >= settle - 0.1
    rng = np.random.default_rng(seed)
    states = MeasuredStates(
        grid[kept],
        position[kept] + rng.normal(0.0, noise.position, position[kept].shape),
        velocity[kept] + rng.normal(0.0, noise.velocity, velocity[kept].shape),
        None,
    )
    return SyntheticRun(states, velocity_commands(grid, setpoints, settle), "velocity")


def write_run_bag(
    run: SyntheticRun,
    path: str | Path,
    joint_names: tuple[str, ...],
    *,
    command_topic: str,
    origin_ns: int = 0,
    gripper: tuple[str, ...] = (),
    object_pose: np.ndarray | None = None,
) -> Path:
    """Write ``run`` as a rosbag2 MCAP bag, as the recorder would: ``/joint_states`` and the commands on
    ``command_topic``, each logged at its stamp plus ``origin_ns`` (an epoch, say). ``joint_names`` are
    the names the arm's driver uses; with ``gripper`` joint names, a gripper's own JointState message
    (0.04 m, at rest) follows every tenth arm state on the same topic, as robots with a gripper driver
    publish them. With ``object_pose [7]`` (xyz, quaternion wxyz), the object rests there, reported on
    ``/object_pose`` with every tenth state."""
    with BagWriter(path) as bag:
        types = bag.store.types
        js, jt, point, header = (
            types["sensor_msgs/msg/JointState"],
            types["trajectory_msgs/msg/JointTrajectory"],
            types["trajectory_msgs/msg/JointTrajectoryPoint"],
            types["std_msgs/msg/Header"],
        )
        array, array_layout = types["std_msgs/msg/Float64MultiArray"], types["std_msgs/msg/MultiArrayLayout"]
        time_msg, duration = types["builtin_interfaces/msg/Time"], types["builtin_interfaces/msg/Duration"]

        def ns(t: float) -> int:
            return origin_ns + round(t * 1e9)

        def stamp(t: float):
            at = ns(t)
            return time_msg(sec=at // 1_000_000_000, nanosec=at % 1_000_000_000)

        def trajectory_msg(command: CommandMessage):
            assert command.times is not None and command.velocities is not None  # a trajectory
            points = [
                point(
                    positions=p,
                    velocities=v,
                    accelerations=np.zeros(0),
                    effort=np.zeros(0),
                    time_from_start=duration(sec=int(dt_ // 1), nanosec=round((dt_ % 1) * 1e9)),
                )
                for p, v, dt_ in zip(command.values, command.velocities, command.times, strict=True)
            ]
            return jt(
                header=header(stamp=stamp(command.stamp), frame_id=""),
                joint_names=list(joint_names),
                points=points,
            )

        def state_msg(i: int, t: float):
            assert run.states.velocity is not None  # a simulated arm's velocities are known
            effort = run.states.effort[i] if run.states.effort is not None else np.zeros(0)
            return js(
                header=header(stamp=stamp(t), frame_id=""),
                name=list(joint_names),
                position=run.states.position[i],
                velocity=run.states.velocity[i],
                effort=effort,
            )

        pose_t, point_t, quaternion_t = (
            types[f"geometry_msgs/msg/{n}"] for n in ("Pose", "Point", "Quaternion")
        )

        def object_msg(t: float):
            assert object_pose is not None
            x, y, z, w, qx, qy, qz = (float(v) for v in object_pose)
            pose = pose_t(position=point_t(x=x, y=y, z=z), orientation=quaternion_t(x=qx, y=qy, z=qz, w=w))
            return types["geometry_msgs/msg/PoseStamped"](
                header=header(stamp=stamp(t), frame_id="world"), pose=pose
            )

        def gripper_msg(t: float):
            return js(
                header=header(stamp=stamp(t), frame_id=""),
                name=list(gripper),
                position=np.full(len(gripper), 0.04),
                velocity=np.zeros(len(gripper)),
                effort=np.zeros(len(gripper)),
            )

        # Logged as received: in arrival order, commands among the states; a receive time never goes
        # back even where a stamp does.
        # States arrive in the order they were published, whatever their stamps say.
        arrivals = np.maximum.accumulate(run.states.stamps)
        events = [(arrivals[i], 1, "state", i) for i in range(len(arrivals))]
        events += [
            (c.stamp if c.received is None else c.received, 0, "command", k)
            for k, c in enumerate(run.commands)
        ]
        received = 0
        for t, _, kind, i in sorted(events):
            received = max(received, ns(t))
            if kind == "command":
                command = run.commands[i]
                if run.kind == "trajectory":
                    bag.write(
                        command_topic,
                        "trajectory_msgs/msg/JointTrajectory",
                        received,
                        trajectory_msg(command),
                    )
                else:
                    msg = array(layout=array_layout(dim=[], data_offset=0), data=command.values[-1])
                    bag.write(command_topic, "std_msgs/msg/Float64MultiArray", received, msg)
                continue
            stamp_t = float(run.states.stamps[i])
            bag.write("/joint_states", "sensor_msgs/msg/JointState", received, state_msg(i, stamp_t))
            if gripper and i % 10 == 0:
                bag.write("/joint_states", "sensor_msgs/msg/JointState", received, gripper_msg(stamp_t))
            if object_pose is not None and i % 10 == 0:
                bag.write("/object_pose", "geometry_msgs/msg/PoseStamped", received, object_msg(stamp_t))
    return Path(path)
