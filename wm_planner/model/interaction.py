"""How an object moves when the tool touches it: an object-frame, contact-gated, ensembled interaction.

An object's state is its observation blocks, ``[x, y, z, qw, qx, qy, qz]`` (world frame). One step:

1. The tool's spheres now and after the step (from imagined joint positions by forward kinematics) are
   expressed in the object's frame: its centre, turned by its heading in the table plane, and of the
   frames its symmetry makes equivalent (four for a cube) the one that sees the tool's first sphere on
   its -x side. Every push in the data then lands in one small patch of input space, wherever on the
   table, whichever way and on whichever face the push happens.
2. A gate from the tool's clearance to the object's box: 1 in contact, falling to exactly 0 at
   ``contact_margin``. An untouched object imagines no motion.
3. An ensemble of small MLPs predicts the object's planar change (dx, dy in its frame, and a turn),
   each bounded by how far the touching part of the tool travels (quasi-static pushing: a pusher does
   not throw what it pushes); the mean moves the object, the heads' spread is the disagreement the
   planner pays for.

The object moves in the table plane: its height and tilt are carried unchanged (quasi-static pushing).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import Tensor, nn

from wm_planner.config import ObjectSpec

__all__ = ["EnsembleMLP", "ObjectInteraction", "ObjectState", "heading_of", "object_state", "turn_quaternion"]

POSITION_SCALE = 0.05
"""m: tool positions relative to the object are seen in units of this (the size of a small object)."""
MOTION_SCALE = 0.01
"""m: tool motion per step, the object's last motion and the clearance are seen in units of this."""
TURN_SCALE = 0.05
"""rad: the object's last turn is seen in units of this."""


class EnsembleMLP(nn.Module):
    """``heads`` independent ReLU MLPs evaluated together: ``x [B, I] -> [E, B, O]``.

    Weights are stacked per head, so the ensemble is one batched matrix product per layer (one ONNX
    MatMul each) instead of ``heads`` separate networks.
    """

    def __init__(self, inputs: int, hidden: int, outputs: int, layers: int, heads: int) -> None:
        super().__init__()
        sizes = [inputs] + [hidden] * layers + [outputs]
        self.weights = nn.ParameterList()
        self.biases = nn.ParameterList()
        for fan_in, fan_out in itertools.pairwise(sizes):
            bound = fan_in**-0.5
            self.weights.append(nn.Parameter(torch.empty(heads, fan_in, fan_out).uniform_(-bound, bound)))
            self.biases.append(nn.Parameter(torch.empty(heads, 1, fan_out).uniform_(-bound, bound)))
        # Heads start from small outputs: before training, objects barely move even in contact.
        with torch.no_grad():
            self.weights[-1].mul_(0.1)
            self.biases[-1].zero_()

    def forward(self, x: Tensor) -> Tensor:
        h = x
        last = len(self.weights) - 1
        for i, (w, b) in enumerate(zip(self.weights, self.biases, strict=True)):
            h = torch.matmul(h, w) + b
            if i < last:
                h = torch.relu(h)
        return h


def heading_of(quat: Tensor) -> Tensor:
    """Unit direction ``(cos, sin)`` ``[..., 2]`` of the object's x axis in the table plane (or of the
    equivalent direction from its y axis when x stands upright), from ``quat [..., 4]`` (w x y z)."""
    w, x, y, z = quat.unbind(-1)
    # The homogeneous form: right for quaternions of any norm (|q|^2 scales both, then cancels).
    x_axis = torch.stack([w * w + x * x - y * y - z * z, 2.0 * (x * y + w * z)], -1)
    y_axis = torch.stack([2.0 * (x * y - w * z), w * w - x * x + y * y - z * z], -1)
    # A cube that rolled onto a side may have its x axis upright: then its y axis, turned back by a
    # quarter (an equivalent frame for a square footprint), gives the heading.
    from_y = torch.stack([y_axis[..., 1], -y_axis[..., 0]], -1)
    x_flat = x_axis.pow(2).sum(-1, keepdim=True) >= y_axis.pow(2).sum(-1, keepdim=True)
    heading = torch.where(x_flat, x_axis, from_y)
    return heading / torch.sqrt(heading.pow(2).sum(-1, keepdim=True) + 1e-12)


def _frame_candidates(symmetry: int) -> Tensor:
    """``[2, 2K]``: ``heading [B, 2] @ this`` lists the K frames the symmetry makes equivalent, each
    turned by a further 360/K degrees."""
    angles = torch.arange(symmetry, dtype=torch.float64) * (2.0 * torch.pi / symmetry)
    c, s = torch.cos(angles), torch.sin(angles)
    # (hc, hs) turned by a: (hc c - hs s, hs c + hc s) = hc (c, s) + hs (-s, c)
    return torch.stack([torch.stack([c, s], -1).flatten(), torch.stack([-s, c], -1).flatten()]).float()


def canonical_frame(heading: Tensor, toward: Tensor, candidates: Tensor) -> Tensor:
    """Heading ``(cos, sin)`` ``[B, 2]`` of the object's frame, chosen among the equivalent ones
    (``candidates``, see :func:`_frame_candidates`) as the one that sees ``toward [B, 2]`` (a tool point
    relative to the object's centre, world table plane) furthest on its negative x side.

    So a push always comes from the frame's -x side, whichever face of a cube the tool meets: every
    contact in the data lands in one patch of input space, and the choice turns with the scene, which
    keeps the model equivariant to planar rotations.
    """
    count = candidates.shape[1] // 2
    frames = (heading @ candidates).reshape(-1, count, 2)  # [B, K, 2]
    along = (frames * toward.unsqueeze(1)).sum(-1)  # [B, K]: the point's x in each frame
    pick = along.argmin(-1, keepdim=True) == torch.arange(count, device=along.device)  # one-hot [B, K]
    return (frames * pick.unsqueeze(-1).to(frames.dtype)).sum(1)


# With the frame's heading (c, s): world-to-object coordinates are c (x, y, 0) + s (y, -x, 0) + (0, 0, z),
# and object-to-world displacements of (dx, dy, turn) are c (dx, dy, 0) + s (-dy, dx, 0). Products with
# these constants run as one GEMM each over all samples.
_LOCAL_C = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 0.0]])
_LOCAL_S = torch.tensor([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
_LOCAL_Z = torch.tensor([[0.0, 0.0, 0.0], [0.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
_WORLD_S = torch.tensor([[0.0, 1.0, 0.0], [-1.0, 0.0, 0.0], [0.0, 0.0, 0.0]])

_PERPENDICULAR = torch.tensor([[0.0, 1.0], [-1.0, 0.0]])
"""``v @ this`` turns ``v [..., 2]`` by +90 degrees."""


def rotate(heading: Tensor, turn: Tensor) -> Tensor:
    """``heading [..., 2]`` (cos, sin) turned by ``turn [...]`` rad."""
    turn = turn.unsqueeze(-1)
    return heading * torch.cos(turn) + (heading @ _PERPENDICULAR.to(heading)) * torch.sin(turn)


def turn_quaternion(turn: Tensor, quat: Tensor) -> Tensor:
    """``quat [..., 4]`` (w x y z) after a turn ``turn [...]`` about the world's vertical."""
    cw, sz = torch.cos(0.5 * turn), torch.sin(0.5 * turn)
    w, x, y, z = quat.unbind(-1)
    return torch.stack([cw * w - sz * z, cw * x - sz * y, cw * y + sz * x, cw * z + sz * w], -1)


class ObjectInteraction(nn.Module):
    """One object's interaction module, on the object's planar state: ``position [B, 3]`` and
    ``heading [B, 2]`` (cos, sin of its x axis in the table plane).

    ``changes(position, heading, tool_now [B, M, 3], motion [B, M, 3]) -> (change [E, B, 3], frame [B, 2])``:
    every head's change (dx, dy in the frame, turn in rad) over one step in which the tool's spheres
    (radii ``radii [M]``) move from ``tool_now`` by ``motion`` (world frame), and the frame they are
    expressed in. ``move`` applies a change; :meth:`advance` does both with the ensemble mean.

    Structure (what the network cannot get wrong):
    - the gate: a sphere further than ``margin`` from the object's box, before and after the step, does
      not count; with none left, the object does not move at all;
    - quasi-static pushing: each planar component of the change is at most the fastest counting sphere's
      travel in the table plane, and the turn at most that travel over the object's smallest half size.
    """

    radii: Tensor
    half_extents: Tensor
    limit_scale: Tensor
    input_scale: Tensor
    candidates: Tensor
    local_c: Tensor
    local_s: Tensor
    local_z: Tensor
    world_s: Tensor

    def __init__(
        self, spec: ObjectSpec, radii: Tensor, *, hidden: int, layers: int, heads: int, margin: float
    ) -> None:
        super().__init__()
        self.spec = spec
        self.symmetry = spec.symmetry
        self.margin = margin
        points = radii.numel()
        self.points = points
        self.register_buffer("radii", torch.cat([radii, radii]).float())
        self.register_buffer("half_extents", torch.tensor(spec.half_extents, dtype=torch.float32))
        self.register_buffer("limit_scale", torch.tensor([1.0, 1.0, 1.0 / min(spec.half_extents)]))
        self.register_buffer(
            "input_scale",
            torch.tensor(
                [1.0 / POSITION_SCALE] * 3 * points
                + [1.0 / MOTION_SCALE] * 3 * points
                + [1.0 / MOTION_SCALE, 1.0 / MOTION_SCALE, 1.0 / TURN_SCALE]
                + [1.0 / MOTION_SCALE] * 2 * points
            ),
        )
        self.register_buffer("candidates", _frame_candidates(spec.symmetry))
        for name, value in (
            ("local_c", _LOCAL_C),
            ("local_s", _LOCAL_S),
            ("local_z", _LOCAL_Z),
            ("world_s", _WORLD_S),
        ):
            self.register_buffer(name, value.clone())
        self.net = EnsembleMLP(points * 8 + 3, hidden, 3, layers, heads)

    def _clearance(self, local: Tensor) -> Tensor:
        """Signed distance ``[B, K]`` from each tool sphere (centres ``local [B, K, 3]`` in the object's
        frame) to the object's box: negative when they overlap."""
        q = local.abs() - self.half_extents
        outside = torch.sqrt(torch.relu(q).pow(2).sum(-1) + 1e-12)
        inside = torch.clamp(q.amax(-1), max=0.0)
        return outside + inside - self.radii

    def changes(
        self, position: Tensor, heading: Tensor, velocity: Tensor, tool_now: Tensor, motion: Tensor
    ) -> tuple[Tensor, Tensor]:
        """Every head's change ``[E, B, 3]`` and the frame ``[B, 2]`` it is expressed in, for an object at
        ``position``, ``heading``, last moved by ``velocity [B, 3]`` (its previous change, world frame)."""
        # The frame is a choice of coordinates, not a prediction: no gradient through it.
        toward = (tool_now[:, 0, 0:2] - position[:, 0:2]).detach()
        frame = canonical_frame(heading.detach(), toward, self.candidates)
        c, s = frame[:, 0:1].unsqueeze(-1), frame[:, 1:2].unsqueeze(-1)
        # Tool spheres relative to the object, their motion, and the object's own last change: one rotation.
        relative = torch.cat([tool_now - position.unsqueeze(1), motion, velocity.unsqueeze(1)], 1)
        local = c * (relative @ self.local_c) + s * (relative @ self.local_s) + relative @ self.local_z
        now, moved = local[:, : self.points], local[:, self.points : 2 * self.points]
        clearance = self._clearance(torch.cat([now, now + moved], 1))  # [B, 2M]: before, after
        counts = torch.clamp(1.0 - clearance / self.margin, 0.0, 1.0)
        counts = torch.maximum(counts[:, : self.points], counts[:, self.points :])  # [B, M]
        travel = torch.sqrt(moved[..., 0:2].pow(2).sum(-1) + 1e-12)  # [B, M]
        # Pushed at most as far as the touching tool travels, coasting at most as far as it last moved.
        coasting = torch.sqrt(velocity[:, 0:2].pow(2).sum(-1, keepdim=True) + 1e-12) - 1e-6
        limit = (counts * travel).amax(-1, keepdim=True) + coasting  # [B, 1]
        x = torch.cat([local.flatten(1), torch.clamp(clearance, max=0.1)], -1) * self.input_scale
        change = torch.tanh(self.net(x)) * (limit * self.limit_scale)  # [E, B, 3]
        return change, frame

    def move(
        self, position: Tensor, heading: Tensor, frame: Tensor, change: Tensor
    ) -> tuple[Tensor, Tensor, Tensor]:
        """Position, heading and velocity (the change in the world frame) after ``change [..., B, 3]``
        (dx, dy in ``frame [B, 2]``, turn)."""
        c, s = frame[:, 0:1], frame[:, 1:2]
        shift = c * (change @ self.local_c) + s * (change @ self.world_s) + change @ self.local_z
        return position + shift @ self.local_c, rotate(heading, change[..., 2]), shift

    def advance(
        self, position: Tensor, heading: Tensor, velocity: Tensor, tool_now: Tensor, motion: Tensor
    ) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """Ensemble-mean step: position ``[B, 3]``, heading ``[B, 2]``, velocity ``[B, 3]`` (the change,
        turn last) and the heads' spread of the planar displacement ``[B]`` (m, 0 when untouched)."""
        change, frame = self.changes(position, heading, velocity, tool_now, motion)
        mean = change.mean(0)
        if change.shape[0] > 1:
            # RMS distance of the heads' planar displacements from their mean (exactly 0 untouched).
            deviation = (change - mean)[..., 0:2]
            spread = torch.sqrt(deviation.pow(2).sum(-1).mean(0) + 1e-12) - 1e-6
        else:
            spread = torch.zeros_like(mean[:, 0])
        position, heading, velocity = self.move(position, heading, frame, mean)
        return position, heading, velocity, spread

    def step_state(self, state: Tensor, tool_now: Tensor, tool_next: Tensor) -> tuple[Tensor, Tensor]:
        """One interaction step of a packed :class:`ObjectState` ``[B, 12]``: the next state and the
        spread ``[B]``. The heading is carried, not recomputed from the quaternion, so this is the same
        arithmetic as a rollout's."""
        now = ObjectState.unpack(state)
        position, heading, velocity, spread = self.advance(
            now.position, now.heading, now.velocity, tool_now, tool_next - tool_now
        )
        quaternion = turn_quaternion(velocity[:, 2], now.quaternion)
        return ObjectState(position, quaternion, velocity, heading).pack(), spread


@dataclass(frozen=True)
class ObjectState:
    """An object in a rollout, packed into the model's state vector as ``[..., SIZE]`` in field order:
    ``position [..., 3]`` and ``quaternion [..., 4]`` (wxyz; the pose), ``velocity [..., 3]`` (its last
    change: planar displacement and turn) and ``heading [..., 2]`` (unit vector in the table plane,
    carried so that one-period steps do the same arithmetic as a rollout)."""

    position: Tensor
    quaternion: Tensor
    velocity: Tensor
    heading: Tensor

    SIZE: ClassVar[int] = 12
    POSE_SIZE: ClassVar[int] = 7

    @classmethod
    def at_rest(cls, pose: Tensor) -> ObjectState:
        """An object at ``pose [..., 7]`` whose last change is not observed (zero)."""
        quaternion = pose[..., 3:7]
        return cls(pose[..., 0:3], quaternion, torch.zeros_like(pose[..., :3]), heading_of(quaternion))

    @classmethod
    def unpack(cls, packed: Tensor) -> ObjectState:
        return cls(packed[..., 0:3], packed[..., 3:7], packed[..., 7:10], packed[..., 10:12])

    def pack(self) -> Tensor:
        return torch.cat([self.position, self.quaternion, self.velocity, self.heading], -1)

    @property
    def pose(self) -> Tensor:
        """``[..., 7]``: position, then quaternion."""
        return torch.cat([self.position, self.quaternion], -1)


def object_state(pose: Tensor) -> Tensor:
    """The packed state ``[..., ObjectState.SIZE]`` of an object at rest at ``pose [..., 7]``."""
    return ObjectState.at_rest(pose).pack()
