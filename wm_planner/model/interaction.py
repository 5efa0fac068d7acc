"""How an object moves when the tool touches it: an object-frame, contact-gated, ensembled interaction.

An object's state is its observation blocks, ``[x, y, z, qw, qx, qy, qz]`` (world frame). One step:

1. The tool's spheres now and after the step (from imagined joint positions by forward kinematics) are
   expressed in the object's frame: its centre, turned by its heading in the table plane, and of the
   frames its symmetry makes equivalent (four for a cube) the one that sees the tool's first sphere on
   its -x side. Every push in the data then lands in one small patch of input space, wherever on the
   table, whichever way and on whichever face the push happens.
2. A gate from the tool's clearance to the object's box: 1 in contact, falling to exactly 0 at
   ``contact_margin``. An untouched object imagines no motion.
3. An ensemble of small MLPs predicts the object's planar change (dx, dy in its frame, and a turn); the
   mean moves the object, the heads' spread is the disagreement the planner pays for.

The object moves in the table plane: its height and tilt are carried unchanged (quasi-static pushing).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from wm_planner.config import ObjectSpec

__all__ = ["EnsembleMLP", "ObjectInteraction"]

POSITION_SCALE = 0.05
"""m: tool positions relative to the object are seen in units of this (the size of a small object)."""
MOTION_SCALE = 0.01
"""m: tool motion per step and the clearance are seen in units of this."""
STEP_SCALE = (0.01, 0.01, 0.1)
"""Output units of (dx, dy) in m and of the turn in rad per step."""


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
        for fan_in, fan_out in zip(sizes[:-1], sizes[1:], strict=True):
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


def _heading(quat: Tensor) -> tuple[Tensor, Tensor]:
    """Unit direction ``(cos, sin)`` ``[B]`` of the object's x axis in the table plane."""
    w, x, y, z = quat.unbind(-1)
    c = 1.0 - 2.0 * (y * y + z * z)
    s = 2.0 * (x * y + w * z)
    norm = torch.sqrt(c * c + s * s + 1e-12)
    return c / norm, s / norm


def canonical_heading(quat: Tensor, toward: Tensor, symmetry: int) -> tuple[Tensor, Tensor]:
    """Heading ``(cos, sin)`` ``[B]`` of the object's frame, chosen among its ``symmetry`` equivalent
    frames as the one that sees ``toward [B, 2]`` (a tool point relative to the object's centre, world
    table plane) on its negative x side.

    So a push always comes from the frame's -x side, whichever face of a cube the tool meets: every
    contact in the data lands in one patch of input space, and the choice turns with the scene, which
    keeps the model equivariant to planar rotations. Elementwise selections only, cheap in ONNX.
    """
    c, s = _heading(quat)
    if symmetry == 1:
        return c, s
    px, py = toward[:, 0], toward[:, 1]
    along = c * px + s * py  # the point's x in the object's own frame
    flip = torch.where(along < 0.0, 1.0, -1.0)
    if symmetry == 2:
        return flip * c, flip * s
    across = c * py - s * px  # its y, which is the x of the frame turned by 90 degrees
    use_x = along.abs() >= across.abs()
    turn = torch.where(across < 0.0, 1.0, -1.0)
    return torch.where(use_x, flip * c, -turn * s), torch.where(use_x, flip * s, turn * c)


class ObjectInteraction(nn.Module):
    """One object's interaction module.

    ``step(state [B, 7], tool_now [B, M, 3], tool_next [B, M, 3]) -> (next [E, B, 7], gate [B])``:
    every head's next state (heads share the gate). ``tool_*`` are the centres of the tool's spheres
    (radii ``radii [M]``) before and after the step, in the world frame.
    """

    def __init__(
        self, spec: ObjectSpec, radii: Tensor, *, hidden: int, layers: int, heads: int, margin: float
    ) -> None:
        super().__init__()
        self.spec = spec
        self.symmetry = spec.symmetry
        self.margin = margin
        self.register_buffer("radii", radii.clone().float())
        self.register_buffer("half_extents", torch.tensor(spec.half_extents, dtype=torch.float32))
        self.register_buffer("step_scale", torch.tensor(STEP_SCALE, dtype=torch.float32))
        points = radii.numel()
        self.net = EnsembleMLP(points * 8, hidden, 3, layers, heads)

    def _clearance(self, local: Tensor) -> Tensor:
        """Signed distance ``[B, M]`` from each tool sphere (centres ``local [B, M, 3]`` in the object's
        frame) to the object's box: negative when they overlap."""
        q = local.abs() - self.half_extents
        outside = torch.sqrt(torch.relu(q).pow(2).sum(-1) + 1e-12)
        inside = torch.clamp(q.amax(-1), max=0.0)
        return outside + inside - self.radii

    def inputs(self, state: Tensor, tool_now: Tensor, tool_next: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Network input ``[B, 8M]``, gate ``[B]`` and the frame's heading ``[B, 2]``."""
        # The frame is a choice of coordinates, not a prediction: no gradient through it (the half-angle
        # square roots have infinite slope where the frame switches faces).
        toward = (tool_now[:, 0, 0:2] - state[:, 0:2]).detach()
        c, s = canonical_heading(state[:, 3:7].detach(), toward, self.symmetry)
        c, s = c.unsqueeze(-1), s.unsqueeze(-1)
        centre = state[:, None, 0:3]

        def to_local(v: Tensor) -> Tensor:
            x, y, z = v.unbind(-1)
            return torch.stack([c * x + s * y, c * y - s * x, z], -1)

        now = to_local(tool_now - centre)
        moved = to_local(tool_next - tool_now)
        clear_now = self._clearance(now)
        clear_next = self._clearance(now + moved)
        closest = torch.minimum(clear_now.amin(-1), clear_next.amin(-1))
        gate = torch.clamp(1.0 - closest / self.margin, 0.0, 1.0)
        x = torch.cat(
            [
                now.flatten(1) / POSITION_SCALE,
                moved.flatten(1) / MOTION_SCALE,
                torch.clamp(clear_now, max=0.1) / MOTION_SCALE,
                torch.clamp(clear_next, max=0.1) / MOTION_SCALE,
            ],
            -1,
        )
        return x, gate, torch.cat([c, s], -1)

    def step(self, state: Tensor, tool_now: Tensor, tool_next: Tensor) -> tuple[Tensor, Tensor]:
        x, gate, heading = self.inputs(state, tool_now, tool_next)
        change = self.net(x) * self.step_scale * gate.unsqueeze(-1)  # [E, B, 3]
        c, s = heading[:, 0], heading[:, 1]
        dx, dy, turn = change.unbind(-1)
        position = state[:, 0:3] + torch.stack([c * dx - s * dy, s * dx + c * dy, torch.zeros_like(dx)], -1)
        # A turn about the world's vertical, composed before the current orientation.
        cw, sz = torch.cos(0.5 * turn), torch.sin(0.5 * turn)
        w, qx, qy, qz = state[:, 3:7].unbind(-1)
        quat = torch.stack([cw * w - sz * qz, cw * qx - sz * qy, cw * qy + sz * qx, cw * qz + sz * w], -1)
        return torch.cat([position, quat], -1), gate

    def advance(self, state: Tensor, tool_now: Tensor, tool_next: Tensor) -> tuple[Tensor, Tensor]:
        """Ensemble-mean next state ``[B, 7]`` and the heads' spread of the position change ``[B]`` (m)."""
        return self.combine(self.step(state, tool_now, tool_next)[0])

    @staticmethod
    def combine(heads: Tensor) -> tuple[Tensor, Tensor]:
        """Mean state ``[B, 7]`` (unit quaternion) and position spread ``[B]`` of ``heads [E, B, 7]``."""
        if heads.shape[0] == 1:
            return heads[0], torch.zeros_like(heads[0, :, 0])
        mean = heads.mean(0)
        quat = mean[:, 3:7] / torch.sqrt(mean[:, 3:7].pow(2).sum(-1, keepdim=True))
        spread = torch.sqrt(heads[..., 0:2].var(0, unbiased=False).sum(-1) + 1e-12) - 1e-6
        return torch.cat([mean[:, 0:3], quat], -1), torch.relu(spread)
