"""The actuator net: a learned correction of the fitted servo, run inside the MuJoCo arm (after the
actuator network of Hwangbo et al., Science Robotics 2019).

A small MLP maps a short history of each joint's servo error (the servo's input less the position) and
velocity to the torque the fitted MuJoCo servo misses; the arm then runs the servo plus that
torque every physics step. It learns what the drive does that no physical class here holds (a delayed
inner loop, a drive's own filtering) without a model for it.

Why a residual, not the whole torque: open loop, a net that must produce the whole torque has nothing
holding the arm to its command, and a small torque error integrates into drift (a whole-torque net
diverged on replay where its one-step error was 20% of the torque's spread). The servo keeps the arm on
its command; the net only corrects it, within the largest correction it saw.

Its targets need no efforts, only the motion: at each logged step, the torque that makes the fitted arm
reach the logged next velocity, from MuJoCo's own response to a unit torque on each joint (so the
implicit integrator's damping is accounted for). Positions are smoothed first (a Savitzky-Golay filter)
and the velocities taken from them: the logged velocities' noise would enter input and target together
and teach the net to cancel it, which is negative damping.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass

import mujoco
import numpy as np
from scipy.signal import savgol_filter

from calibration.logs.joint_log import JointLog
from calibration.model.parameters import ArmParameters, apply_parameters
from calibration.model.replay import Replayer
from sim.actuation import ActuatorNet
from wm_planner.progress import progress_bar

__all__ = ["ACTUATOR_NET", "ActuatorNetOptions", "fit_actuator_net", "replay_with_net"]

ACTUATOR_NET = "actuator_net"
"""The servo model class of the MuJoCo servo on the fitted arm, corrected by the net."""

_STATE = mujoco.mjtState.mjSTATE_FULLPHYSICS


@dataclass(frozen=True)
class ActuatorNetOptions:
    """History (``lags``, physics steps before now), network size, training, and the smoothing window
    (physics steps, odd) of the logged positions the targets are computed from."""

    lags: tuple[int, ...] = (0, 2, 5, 10, 15, 20)
    hidden: int = 32
    layers: int = 2
    steps: int = 2000
    batch_size: int = 2048
    learning_rate: float = 3e-3
    smoothing: int = 21
    seed: int = 0

    def __post_init__(self) -> None:
        if not self.lags or min(self.lags) < 0:
            raise ValueError(f"lags must be non-negative physics steps, got {self.lags}")
        if self.smoothing < 5 or self.smoothing % 2 == 0:
            raise ValueError(f"smoothing must be an odd window of at least 5 steps, got {self.smoothing}")


def _history(signal: np.ndarray, steps: np.ndarray, lags: np.ndarray) -> np.ndarray:
    """``signal [T, J]`` at ``steps [S]`` less each lag ``[S, L, J]``, held at its first row before it."""
    return signal[np.maximum(steps[:, None] - lags[None, :], 0)]


class _Arm:
    """The fitted arm (a copy of the replayer's scene with ``parameters``) stepped from given states."""

    def __init__(self, replayer: Replayer, parameters: ArmParameters) -> None:
        self.model = copy.copy(replayer.model)
        self.handles = replayer.handles
        apply_parameters(self.model, self.handles, parameters)
        self.data = mujoco.MjData(self.model)

    def start(self, state: np.ndarray) -> None:
        mujoco.mj_setState(self.model, self.data, state, _STATE)

    def step(self, control: np.ndarray, torque: np.ndarray) -> None:
        h = self.handles
        self.data.ctrl[h.actuators] = control
        self.data.qfrc_applied[h.arm_dof] = torque
        mujoco.mj_step(self.model, self.data)

    def next_velocity(
        self, state: np.ndarray, q: np.ndarray, qd: np.ndarray, control: np.ndarray, torque: np.ndarray
    ) -> np.ndarray:
        h = self.handles
        self.start(state)
        self.data.qpos[h.arm_qpos], self.data.qvel[h.arm_dof] = q, qd
        self.step(control, torque)
        return self.data.qvel[h.arm_dof].copy()


def _targets(arm: _Arm, replayer: Replayer, log: JointLog, parameters: ArmParameters, smoothing: int):
    """Smoothed positions and velocities ``[T, J]``, the servo input ``[T, J]`` and the correction
    ``[T - 1, J]`` that takes the fitted arm from each smoothed state to the next smoothed velocity."""
    dt = log.dt
    q = savgol_filter(log.position, smoothing, 3, axis=0)
    qd = savgol_filter(log.position, smoothing, 3, deriv=1, delta=dt, axis=0)
    control = replayer.servo_input(log, parameters)
    state = replayer.initial_state(log)
    joints = q.shape[1]
    unit = np.eye(joints)
    correction = np.empty((len(q) - 1, joints))
    for t in range(len(q) - 1):
        free = arm.next_velocity(state, q[t], qd[t], control[t], np.zeros(joints))
        # Velocity change per N·m on each joint: the columns of dt (M + implicit damping)^-1.
        response = np.stack(
            [arm.next_velocity(state, q[t], qd[t], control[t], unit[j]) - free for j in range(joints)], 1
        )
        correction[t] = np.linalg.solve(response, qd[t + 1] - free)
    return q, qd, control, correction


def fit_actuator_net(
    replayer: Replayer,
    logs: Sequence[JointLog],
    parameters: ArmParameters,
    *,
    options: ActuatorNetOptions | None = None,
    progress: bool = False,
) -> ActuatorNet:
    """Fit the net to correct the servo of ``replayer``'s scene with the fitted ``parameters`` on
    ``logs`` (any command kind; efforts are not needed)."""
    import torch

    options = options or ActuatorNetOptions()
    lags = np.array(options.lags)
    arm = _Arm(replayer, parameters)
    errors, velocities, targets = [], [], []
    for log in logs:
        q, qd, control, correction = _targets(arm, replayer, log, parameters, options.smoothing)
        steps = np.arange(len(correction))
        errors.append(_history(control - q, steps, lags))
        velocities.append(_history(qd, steps, lags))
        targets.append(correction)
    error, velocity, target = (np.concatenate(x) for x in (errors, velocities, targets))
    input_scale = np.concatenate([np.full(len(lags), max(float(x.std()), 1e-9)) for x in (error, velocity)])
    torque_scale = np.maximum(target.std(axis=0), 1e-6)
    limit = 1.5 * np.abs(target).max(axis=0)
    shell = ActuatorNet((), (), input_scale, torque_scale, limit, options.lags)
    x = torch.as_tensor(shell.inputs(error, velocity), dtype=torch.float32).flatten(0, 1)
    y = torch.as_tensor(target / torque_scale, dtype=torch.float32).flatten()[:, None]
    torch.manual_seed(options.seed)
    sizes = [x.shape[1], *[options.hidden] * options.layers, 1]
    net = torch.nn.Sequential()
    for i in range(len(sizes) - 1):
        net.append(torch.nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2:
            net.append(torch.nn.Tanh())
    optimizer = torch.optim.Adam(net.parameters(), lr=options.learning_rate)
    generator = torch.Generator().manual_seed(options.seed)
    for _ in progress_bar(range(options.steps), desc="actuator net", unit="step", disable=not progress):
        batch = torch.randint(0, len(x), (options.batch_size,), generator=generator)
        loss = torch.nn.functional.mse_loss(net(x[batch]), y[batch])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    linears = [m for m in net if isinstance(m, torch.nn.Linear)]
    return ActuatorNet(
        tuple(m.weight.detach().numpy().T.astype(np.float64) for m in linears),
        tuple(m.bias.detach().numpy().astype(np.float64) for m in linears),
        input_scale,
        torque_scale,
        limit,
        options.lags,
    )


def replay_with_net(
    replayer: Replayer, log: JointLog, parameters: ArmParameters, net: ActuatorNet
) -> tuple[np.ndarray, np.ndarray]:
    """Positions and velocities ``[T, J]`` of ``replayer``'s scene with the fitted ``parameters`` and the
    net's correction along ``log``'s commands, from its first measured state (open loop: the net sees
    the simulated history)."""
    arm = _Arm(replayer, parameters)
    arm.start(replayer.initial_state(log))
    control = replayer.servo_input(log, parameters)
    lags = np.array(net.lags)
    h = arm.handles
    q = np.empty_like(log.position)
    qd = np.empty_like(log.velocity)
    q[0], qd[0] = log.position[0], log.velocity[0]
    for t in range(len(q) - 1):
        back = np.maximum(t - lags, 0)
        x = net.inputs(control[back] - q[back], qd[back])
        arm.step(control[t], net.torque(x))
        q[t + 1], qd[t + 1] = arm.data.qpos[h.arm_qpos], arm.data.qvel[h.arm_dof]
    return q, qd
