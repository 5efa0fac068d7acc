"""The object interaction module and the structured world model: known answers by construction."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sim.tasks import CUBE, OBSERVATION_LAYOUT
from wm_planner.config import ModelConfig, default_robot_spec
from wm_planner.model.interaction import ObjectInteraction, ObjectState, heading_of, object_state
from wm_planner.model.world import WorldModel

RADII = torch.tensor([0.02, 0.012, 0.04])


def _module(seed: int = 0) -> ObjectInteraction:
    torch.manual_seed(seed)
    module = ObjectInteraction(CUBE, RADII, hidden=32, layers=2, heads=3, margin=0.01)
    with torch.no_grad():  # untrained heads are nearly silent; make them say something
        module.net.weights[-1].normal_(0.0, 1.0)
        module.net.biases[-1].normal_(0.0, 0.5)
    return module


def _step(module: ObjectInteraction, pose: torch.Tensor, now: torch.Tensor, after: torch.Tensor):
    """One interaction step of an object at rest: its next pose and the heads' spread."""
    state, spread = module.step_state(object_state(pose), now, after)
    return state[:, :7], spread


def _pose(x: float, y: float, yaw: float) -> torch.Tensor:
    return torch.tensor([[x, y, 0.025, np.cos(yaw / 2), 0.0, 0.0, np.sin(yaw / 2)]], dtype=torch.float32)


def _tool(points: list[list[float]]) -> torch.Tensor:
    return torch.tensor([points], dtype=torch.float32)


def _planar(transform_angle: float, shift: tuple[float, float]):
    c, s = np.cos(transform_angle), np.sin(transform_angle)

    def points(p: torch.Tensor) -> torch.Tensor:
        x, y, z = p.unbind(-1)
        return torch.stack([c * x - s * y + shift[0], s * x + c * y + shift[1], z], -1)

    def pose(state: torch.Tensor) -> torch.Tensor:
        turn = torch.tensor([np.cos(transform_angle / 2), 0.0, 0.0, np.sin(transform_angle / 2)])
        w, x, y, z = state[:, 3:7].unbind(-1)
        cw, sz = turn[0], turn[3]
        quat = torch.stack([cw * w - sz * z, cw * x - sz * y, cw * y + sz * x, cw * z + sz * w], -1)
        return torch.cat([points(state[:, 0:3]), quat], -1)

    return points, pose


# The tip sphere touches the cube's -x face and moves into it; the other spheres are above.
TOUCH_NOW = [[0.448, 0.01, 0.02], [0.45, 0.01, 0.09], [0.45, 0.01, 0.15]]
TOUCH_NEXT = [[0.456, 0.012, 0.02], [0.458, 0.012, 0.09], [0.458, 0.012, 0.15]]


def test_an_untouched_object_imagines_no_motion_at_all() -> None:
    module = _module()
    state = _pose(0.5, 0.0, 0.3)
    far_now = _tool([[0.3, 0.2, 0.02], [0.3, 0.2, 0.09], [0.3, 0.2, 0.15]])
    far_next = _tool([[0.44, 0.2, 0.02], [0.44, 0.2, 0.09], [0.44, 0.2, 0.15]])  # sweeps past, 10 cm aside
    at_rest = torch.zeros(1, 3)
    change, _ = module.changes(state[:, 0:3], heading_of(state[:, 3:7]), at_rest, far_now, far_next - far_now)
    assert torch.equal(change, torch.zeros_like(change))
    moved, spread = _step(module, state, far_now, far_next)
    assert torch.equal(moved, state) and spread.item() == 0.0
    moved, spread = _step(module, state, _tool(TOUCH_NOW), _tool(TOUCH_NEXT))
    assert torch.linalg.norm(moved[0, :2] - state[0, :2]) > 1e-4  # the same heads do move it on contact
    assert spread.item() > 0.0


@pytest.mark.parametrize(("angle", "shift"), [(0.7, (0.05, -0.1)), (-2.0, (-0.2, 0.15)), (3.0, (0.0, 0.0))])
def test_moving_the_scene_in_the_table_plane_moves_the_prediction_the_same_way(
    angle: float, shift: tuple[float, float]
) -> None:
    module = _module(1)
    state = _pose(0.5, 0.0, 0.2)
    now, after = _tool(TOUCH_NOW), _tool(TOUCH_NEXT)
    points, pose = _planar(angle, shift)
    moved, spread = _step(module, state, now, after)
    moved_there, spread_there = _step(module, pose(state), points(now), points(after))
    assert torch.linalg.norm(moved[0, :2] - state[0, :2]) > 1e-3
    torch.testing.assert_close(moved_there, pose(moved), atol=2e-6, rtol=0)
    torch.testing.assert_close(spread_there, spread, atol=2e-6, rtol=0)


def test_a_push_on_any_face_of_the_cube_is_the_same_push() -> None:
    module = _module(2)
    state = _pose(0.5, 0.0, 0.0)
    now, after = _tool(TOUCH_NOW), _tool(TOUCH_NEXT)
    turned = _pose(0.5, 0.0, np.pi / 2)  # the cube turned by a quarter: the same shape, another face
    moved, _ = _step(module, state, now, after)
    moved_turned, _ = _step(module, turned, now, after)
    torch.testing.assert_close(moved_turned[:, 0:3], moved[:, 0:3], atol=1e-6, rtol=0)


def test_the_world_model_keeps_an_untouched_cube_exactly_still_whatever_the_arm_does() -> None:
    robot = default_robot_spec()
    torch.manual_seed(0)
    config = ModelConfig(latent_size=16, hidden_size=32, layers=1, objects=(CUBE,), robot_model="latent")
    model = WorldModel(OBSERVATION_LAYOUT, 7, config, robot.kinematics).eval()
    with torch.no_grad():
        for module in model.objects:
            module.net.weights[-1].normal_(0.0, 1.0)
        obs0 = torch.zeros(1, OBSERVATION_LAYOUT.size)
        obs0[0, OBSERVATION_LAYOUT.slice("joint_pos")] = torch.tensor(
            [0.0, -0.785, 0.0, -2.356, 0.0, 1.571, 0.785]
        )
        obs0[0, OBSERVATION_LAYOUT.slice("cube_pos")] = torch.tensor([0.75, 0.3, 0.025])  # far corner
        obs0[0, OBSERVATION_LAYOUT.slice("cube_quat")] = torch.tensor([1.0, 0.0, 0.0, 0.0])
        actions = torch.empty(64, 16, 7).uniform_(-0.04, 0.04)
        features, disagreement = model.imagine(obs0, actions)
    cube = OBSERVATION_LAYOUT.slice("cube_pos")
    assert torch.equal(features[..., cube], obs0[0, cube].expand(64, 16, 3))
    assert torch.all(disagreement == 0.0)


def test_a_pushed_object_moves_no_further_than_the_tool_that_pushes_it() -> None:
    module = _module(3)
    with torch.no_grad():
        module.net.biases[-1].fill_(50.0)  # every head asks for as much motion as it is allowed
    state = _pose(0.5, 0.0, 0.0)
    now, after = _tool(TOUCH_NOW), _tool(TOUCH_NEXT)
    moved, _ = _step(module, state, now, after)
    travel = torch.linalg.norm((after - now)[0, :, 0:2], dim=-1).max()
    shift = (moved[0, 0:2] - state[0, 0:2]).abs()
    assert torch.all(shift <= travel + 1e-7)
    torch.testing.assert_close(shift.max(), travel, atol=1e-6, rtol=0)


@pytest.mark.parametrize(
    ("object_step", "robot_model"), [(1, "joint"), (2, "joint"), (3, "joint"), (2, "latent")]
)
def test_one_period_steps_move_objects_exactly_as_the_rollout_does(
    object_step: int, robot_model: str
) -> None:
    robot = default_robot_spec()
    torch.manual_seed(1)
    config = ModelConfig(
        latent_size=16,
        hidden_size=32,
        layers=1,
        objects=(CUBE,),
        object_step=object_step,
        robot_model=robot_model,  # type: ignore[arg-type]
    )
    model = WorldModel(OBSERVATION_LAYOUT, 7, config, robot.kinematics).eval()
    with torch.no_grad():
        for module in model.objects:
            module.net.weights[-1].normal_(0.0, 1.0)
        q = torch.tensor([0.0, 0.3, 0.0, -2.0, 0.0, 2.3, 0.785])
        obs0 = torch.zeros(1, OBSERVATION_LAYOUT.size)
        obs0[0, OBSERVATION_LAYOUT.slice("joint_pos")] = q
        tip = model.tool_spheres(q)[0]
        # The cube just in front of the tool's first sphere, so that the imagined pushes happen.
        obs0[0, OBSERVATION_LAYOUT.slice("cube_pos")] = tip + torch.tensor([0.04, 0.0, 0.0])
        obs0[0, OBSERVATION_LAYOUT.slice("cube_quat")] = torch.tensor([0.96, 0.0, 0.0, 0.28])
        actions = torch.empty(32, 16, 7).uniform_(-0.04, 0.04)
        features, disagreement = model.imagine(obs0, actions)
        state, offset = model.anchor(obs0.expand(32, -1))
        stepped, paid = [], []
        for h in range(16):
            state, d = model.step(state, actions[:, h])
            stepped.append(model.decode(state) + offset)
            paid.append(d)
    cube = OBSERVATION_LAYOUT.slice("cube_pos")
    assert (features[:, -1, cube] - obs0[0, cube]).norm(dim=-1).max() > 0.005  # some candidates push
    # An untrained latent robot throws the tool centimetres per step, which amplifies float rounding
    # (the decoder batched over all steps or run per step) by a few hundred; joint-space robots do not.
    tolerance = 1e-5 if robot_model == "joint" else 2e-3
    torch.testing.assert_close(torch.stack(stepped, 1), features, atol=tolerance, rtol=0)
    torch.testing.assert_close(torch.stack(paid, 1), disagreement, atol=tolerance, rtol=0)


def test_an_object_state_packs_and_unpacks_field_by_field() -> None:
    pose = torch.tensor([[0.5, -0.1, 0.025, np.cos(0.3), 0.0, 0.0, np.sin(0.3)]], dtype=torch.float32)
    state = ObjectState.at_rest(pose)
    packed = state.pack()
    assert packed.shape == (1, ObjectState.SIZE)
    again = ObjectState.unpack(packed)
    assert torch.equal(again.pose, pose) and torch.equal(again.velocity, torch.zeros(1, 3))
    # The heading of a turn of 0.6 rad about z (the quaternion's half-angle is 0.3).
    torch.testing.assert_close(again.heading, torch.tensor([[np.cos(0.6), np.sin(0.6)]], dtype=torch.float32))
