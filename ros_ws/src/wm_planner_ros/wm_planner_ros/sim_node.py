"""``sim_node``: the MuJoCo arm presented as a ros2_control robot.

It publishes ``/joint_states`` (as joint_state_broadcaster does), ``/clock`` (simulated time, for nodes
with ``use_sim_time``) and the cube's pose, and takes the command topics of the two usual controllers:
JointTrajectory on ``/<trajectory_controller>/joint_trajectory``, followed as joint_trajectory_controller
follows it, and Float64MultiArray positions on ``/<forward_controller>/commands``. A planner cannot tell
it from a real arm with those controllers loaded.

Physics runs in its own thread, ``real_time_factor`` simulated seconds per wall second (0: flat out).
"""

from __future__ import annotations

import sys
import threading
import time
from collections import Counter
from typing import Any

import numpy as np
import rclpy
from geometry_msgs.msg import PoseStamped
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy
from rclpy.time import Time
from rosgraph_msgs.msg import Clock as ClockMsg
from sensor_msgs.msg import JointState
from std_msgs.msg import Float64MultiArray, String
from std_srvs.srv import Trigger
from trajectory_msgs.msg import JointTrajectory

from sim.env import ArmEnv, EnvOptions
from sim.robot_import import URDF_FILE
from sim.robots import RobotFolder
from sim.scene import load_scene
from sim.torque import applied_torque
from sim.trajectory import TrajectoryFollower
from wm_planner.control import Rejected
from wm_planner_ros.description import DESCRIPTION_QOS, DESCRIPTION_TOPIC
from wm_planner_ros.messages import seconds, trajectory_arrays
from wm_planner_ros.params import SIM_PARAMETERS, declare_parameters
from wm_planner_ros.spin import spin_node

__all__ = ["SimNode", "main"]

_MAX_LAG_S = 0.1


class SimNode(Node):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__("sim_node", **kwargs)
        self.params = declare_parameters(self, SIM_PARAMETERS)
        folder = RobotFolder.of(self.params["robot"] or None)
        calibration = self.params["calibration"] or None
        if calibration and self.params["scene"]:
            raise ValueError("parameters scene and calibration both name a scene: set one")
        model = None if calibration else load_scene(self.params["scene"] or folder.scene)
        self.env = ArmEnv(
            self.params["task"], folder=folder, model=model, options=EnvOptions(calibration=calibration)
        )
        self.joint_names = list(self.env.robot.joint_names)
        self.timestep = float(self.env.model.opt.timestep)
        self.substeps = max(1, round(1.0 / (self.params["publish_rate"] * self.timestep)))
        self.rejected: Counter[str] = Counter()
        self.lock = threading.Lock()
        self.sim_time = 0.0
        self.episode = 0
        self._reset_episode()
        reliability = {"reliable": ReliabilityPolicy.RELIABLE, "best_effort": ReliabilityPolicy.BEST_EFFORT}
        if self.params["joint_states_reliability"] not in reliability:
            raise ValueError(
                f"joint_states_reliability must be 'reliable' or 'best_effort', "
                f"got {self.params['joint_states_reliability']!r}"
            )
        qos = QoSProfile(depth=10, reliability=reliability[self.params["joint_states_reliability"]])
        self._joint_states = self.create_publisher(JointState, self.params["joint_states_topic"], qos)
        # Not `_clock`: rclpy's Node keeps its own clock there, which get_clock() returns.
        self._clock_publisher = self.create_publisher(ClockMsg, "/clock", 10)
        self._object = self.create_publisher(PoseStamped, self.params["object_pose_topic"], 10)
        trajectory = f"/{self.params['trajectory_controller']}/joint_trajectory"
        forward = f"/{self.params['forward_controller']}/commands"
        self.create_subscription(JointTrajectory, trajectory, self._on_trajectory, 10)
        self.create_subscription(Float64MultiArray, forward, self._on_forward, 10)
        self.create_service(Trigger, "~/reset", self._on_reset)
        if folder.path is not None:
            # As robot_state_publisher does: the description, kept for nodes that start later.
            self._description = self.create_publisher(String, DESCRIPTION_TOPIC, DESCRIPTION_QOS)
            self._description.publish(String(data=(folder.path / URDF_FILE).read_text()))
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="physics", daemon=True)
        self._thread.start()
        self.get_logger().info(
            f"simulating {folder.name} on task {self.params['task']!r}: trajectories on {trajectory}, "
            f"positions on {forward}, {self.params['publish_rate']:g} Hz joint states"
        )

    def _reset_episode(self) -> None:
        self.env.reset(seed=self.params["seed"] + self.episode)
        self.follower = TrajectoryFollower(self.env.command)

    def _reject(self, topic: str, error: Rejected) -> None:
        self.rejected[error.reason] += 1
        self.get_logger().warning(f"rejected command on {topic}: {error}", throttle_duration_sec=5.0)

    def _on_trajectory(self, msg: JointTrajectory) -> None:
        try:
            times, positions, velocities = trajectory_arrays(msg, self.joint_names)
        except Rejected as error:
            self._reject(f"/{self.params['trajectory_controller']}/joint_trajectory", error)
            return
        with self.lock:
            now = self.sim_time
            start = seconds(msg.header.stamp) or now
            current, current_velocity = self.follower.sample(now)
            self.follower.follow(
                start,
                times,
                positions,
                velocities,
                now=now,
                current=current,
                current_velocity=current_velocity,
            )

    def _on_forward(self, msg: Float64MultiArray) -> None:
        data = np.asarray(msg.data, dtype=np.float64)
        topic = f"/{self.params['forward_controller']}/commands"
        if data.shape != (len(self.joint_names),):
            self._reject(
                topic,
                Rejected("wrong_length", f"{data.size} values for {len(self.joint_names)} joints"),
            )
        elif not np.all(np.isfinite(data)):
            self._reject(topic, Rejected("non_finite", f"{data.tolist()}"))
        else:
            with self.lock:
                self.follower.hold(data)

    def _on_reset(self, request: Trigger.Request, response: Trigger.Response) -> Trigger.Response:
        with self.lock:
            self.episode += 1
            self._reset_episode()
            goal = self.env.goal.round(4).tolist()
        response.success, response.message = True, f"episode {self.episode}: task goal {goal}"
        return response

    def _advance(self) -> tuple[float, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """One publish period of physics; returns the time and the measurements to publish."""
        with self.lock:
            h, d = self.env.handles, self.env.data
            for _ in range(self.substeps):
                target, _ = self.follower.sample(self.sim_time)
                before = d.qvel[h.arm_dof].copy()
                self.env.physics_step(target)
                self.sim_time += self.timestep
            # Reported as a torque-sensing arm reports it: what moved the arm over the last step.
            effort = applied_torque(self.env.model, d, h, before)
            cube = d.qpos[h.cube_qpos : h.cube_qpos + 7].copy()
            return (
                self.sim_time,
                d.qpos[h.arm_qpos].copy(),
                d.qvel[h.arm_dof].copy(),
                effort,
                cube,
            )

    def _run(self) -> None:
        rate = self.params["real_time_factor"]
        wall_start = time.monotonic()
        while not self._stop.is_set() and rclpy.ok():
            t, q, qd, effort, cube = self._advance()
            self._publish(t, q, qd, effort, cube)
            if rate > 0.0:
                delay = wall_start + t / rate - time.monotonic()
                if delay > 0.0:
                    self._stop.wait(delay)
                elif delay < -_MAX_LAG_S:
                    # Stalled (suspended, or the machine was busy): carry on from now rather than race
                    # through the lost time, as a real arm's clock would.
                    wall_start -= delay

    def _publish(self, t: float, q: np.ndarray, qd: np.ndarray, effort: np.ndarray, cube: np.ndarray) -> None:
        ns = round(t * 1e9)
        stamp = Time(nanoseconds=ns).to_msg()
        self._clock_publisher.publish(ClockMsg(clock=stamp))
        state = JointState(
            name=self.joint_names, position=q.tolist(), velocity=qd.tolist(), effort=effort.tolist()
        )
        state.header.stamp = stamp
        self._joint_states.publish(state)
        pose = PoseStamped()
        pose.header.stamp, pose.header.frame_id = stamp, self.params["frame_id"]
        pose.pose.position.x, pose.pose.position.y, pose.pose.position.z = cube[:3].tolist()
        o = pose.pose.orientation
        o.w, o.x, o.y, o.z = cube[3:].tolist()
        self._object.publish(pose)

    def destroy_node(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2.0)
        super().destroy_node()


def main(args: list[str] | None = None) -> int:
    return spin_node(SimNode, args)


if __name__ == "__main__":
    sys.exit(main())
