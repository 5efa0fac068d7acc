"""A URDF read into the planner's chain: the folded, z-aligned chain places the tool exactly where the
URDF's own joint algebra does, whatever the axes; bad descriptions are refused naming the culprit."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tests.robots import SMALL_ARM_JOINTS, small_arm_urdf
from wm_planner.config import RobotSpec, ToolPoint
from wm_planner.kinematics import ForwardKinematics
from wm_planner.runtime import robot_differences
from wm_planner.urdf import (
    CONTINUOUS_RANGE,
    UrdfError,
    matrix_to_quat,
    parse_urdf,
    robot_from_description,
    rpy_matrix,
)


def _rotation(axis: np.ndarray, angle: float) -> np.ndarray:
    """Rodrigues: a turn by ``angle`` about the unit ``axis``."""
    a = axis / np.linalg.norm(axis)
    k = np.array([[0, -a[2], a[1]], [a[2], 0, -a[0]], [-a[1], a[0], 0]])
    return np.eye(3) + math.sin(angle) * k + (1 - math.cos(angle)) * k @ k


def _urdf_tip(robot, q: np.ndarray, tip_link: str, tip: np.ndarray) -> np.ndarray:
    """The tip by URDF's definition: each joint's origin, then a turn about its axis, from the root."""
    parents, path, link = robot.parent_joint(), [], tip_link
    while link in parents:
        path.append(parents[link])
        link = parents[link].parent
    transform, movable = np.eye(4), iter(q)
    for joint in reversed(path):
        transform = transform @ joint.origin
        if joint.kind != "fixed":
            turn = np.eye(4)
            turn[:3, :3] = _rotation(joint.axis, next(movable))
            transform = transform @ turn
    return transform[:3, :3] @ tip + transform[:3, 3]


def test_the_folded_chain_places_the_tip_where_the_urdf_does() -> None:
    robot = parse_urdf(small_arm_urdf())
    chain = robot.chain()
    assert chain.joint_names == SMALL_ARM_JOINTS
    assert (chain.base, chain.tip) == ("world", "pusher")
    tip = np.array([0.01, -0.02, 0.08])
    fk = ForwardKinematics(chain.kinematics((ToolPoint(xyz=(0, 0, 0), radius=0.01),), tip=tip))
    q = np.random.default_rng(0).uniform(-3.0, 3.0, (200, 4))
    expected = np.array([_urdf_tip(robot, qi, "pusher", tip) for qi in q])
    np.testing.assert_allclose(fk.tip(q), expected, atol=1e-12)


def test_limits_come_from_the_urdf_and_continuous_joints_get_two_turns() -> None:
    lower, upper = parse_urdf(small_arm_urdf()).chain().limits()
    np.testing.assert_allclose(lower, [-2.8, -0.5, -CONTINUOUS_RANGE, -3.0])
    np.testing.assert_allclose(upper, [2.8, 2.2, CONTINUOUS_RANGE, 3.0])


def test_rotation_helpers_round_trip() -> None:
    rotation = rpy_matrix(np.array([0.3, -1.1, 2.0]))
    w, x, y, z = matrix_to_quat(rotation)
    # The quaternion's own rotation matrix.
    expected = np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
            [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
            [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
        ]
    )
    np.testing.assert_allclose(expected, rotation, atol=1e-12)
    # Roll, then pitch, then yaw about the fixed axes.
    np.testing.assert_allclose(
        rotation, _rotation(np.eye(3)[2], 2.0) @ _rotation(np.eye(3)[1], -1.1) @ _rotation(np.eye(3)[0], 0.3)
    )


SECOND_PARENT = """<joint name="loop" type="fixed"><parent link="base"/><child link="arm"/></joint>"""
PRISMATIC_TOOL = """<link name="slide_tip"/>
  <joint name="slider" type="prismatic"><parent link="pusher"/><child link="slide_tip"/>
  <axis xyz="0 0 1"/><limit lower="0" upper="0.1" velocity="1" effort="10"/></joint>"""
SPARE_LINK = """<link name="camera"/>
  <joint name="camera_mount" type="fixed"><parent link="base"/><child link="camera"/></joint>"""


@pytest.mark.parametrize(
    ("extra", "tip", "names"),
    [
        (SECOND_PARENT, None, ["'arm'", "closed loop"]),
        (PRISMATIC_TOOL, "slide_tip", ["'slider'", "prismatic"]),
        (SPARE_LINK, None, ["leaf link", "--tip-link", "camera"]),
        ('<joint name="odd" type="screw"><parent link="base"/><child link="x"/></joint>', None, ["'odd'"]),
        (
            '<joint name="dangling" type="fixed"><parent link="base"/><child link="nowhere"/></joint>',
            None,
            ["'nowhere'"],
        ),
    ],
)
def test_a_bad_description_is_refused_naming_the_link_or_joint(
    extra: str, tip: str | None, names: list[str]
) -> None:
    with pytest.raises(UrdfError) as error:
        parse_urdf(small_arm_urdf(extra=extra)).chain(tip=tip)
    for name in names:
        assert name in str(error.value)


def test_no_chain_between_links_that_are_not_ancestor_and_descendant() -> None:
    with pytest.raises(UrdfError, match="no chain from base link 'arm' to tip link 'upper'"):
        parse_urdf(small_arm_urdf()).chain("arm", "upper")


def test_a_revolute_joint_without_limits_is_refused() -> None:
    text = small_arm_urdf().replace('<limit lower="-3.0" upper="3.0" velocity="3.0" effort="12"/>', "")
    with pytest.raises(UrdfError, match="joint 'wrist' is revolute"):
        parse_urdf(text)


def _imported_spec(description: str) -> RobotSpec:
    chain = parse_urdf(description).chain()
    lower, upper = chain.limits()
    return RobotSpec(
        name="small_arm",
        joint_names=chain.joint_names,
        position_lower=tuple(lower),
        position_upper=tuple(upper),
        velocity_limits=tuple(chain.velocity_limits()),
        acceleration_limits=(5.0,) * 4,
        kinematics=chain.kinematics((ToolPoint(xyz=(0, 0, 0.04), radius=0.015),), tip=np.array([0, 0, 0.08])),
    )


def test_the_robot_description_gives_back_the_robot_a_bundle_was_trained_for() -> None:
    bundle_robot = _imported_spec(small_arm_urdf())
    robot = robot_from_description(small_arm_urdf(), bundle_robot)
    assert robot_differences(bundle_robot, robot) == []
    assert robot.kinematics == bundle_robot.kinematics


def test_another_robot_description_is_refused_naming_each_difference() -> None:
    bundle_robot = _imported_spec(small_arm_urdf())
    other = (
        small_arm_urdf()
        .replace('<origin xyz="0.3 0 0" rpy="0 0 -0.3"/>', '<origin xyz="0.35 0 0" rpy="0 0 -0.3"/>')
        .replace('upper="2.2" velocity="2.0"', 'upper="2.0" velocity="2.0"')
    )
    problems = robot_differences(bundle_robot, robot_from_description(other, bundle_robot))
    assert len(problems) == 2
    assert problems[0].startswith("position_upper")
    assert problems[1].startswith("joint 'elbow' sits elsewhere")


def test_a_description_without_the_bundles_links_is_refused() -> None:
    bundle_robot = _imported_spec(small_arm_urdf())
    renamed = small_arm_urdf().replace('"pusher"', '"stick"')
    with pytest.raises(UrdfError, match="tip link 'pusher' is not in the URDF"):
        robot_from_description(renamed, bundle_robot)
