"""Static frames: poses carried up a chain of transforms, bad entries named, unknown frames refused."""

from __future__ import annotations

import numpy as np
import pytest

from wm_planner.control import Rejected
from wm_planner_ros.frames import FrameTree

S = np.sqrt(0.5)


def test_a_pose_is_carried_up_a_chain_of_transforms() -> None:
    # table: 1 m along world x, turned 90 degrees about z; camera: 0.5 m above the table, not turned.
    tree = FrameTree([f"world table 1 0 0 0 0 {S} {S}", "table camera 0 0 0.5 0 0 0 1"])
    pose = np.array([0.2, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0])  # 0.2 m along the camera's x
    world = tree.to_root(pose, "camera", "world")
    np.testing.assert_allclose(world[:3], [1.0, 0.2, 0.5], atol=1e-12)  # the table's x is world's y
    np.testing.assert_allclose(world[3:], [S, 0.0, 0.0, S], atol=1e-12)
    np.testing.assert_array_equal(tree.to_root(pose, "world", "world"), pose)
    np.testing.assert_array_equal(tree.to_root(pose, "", "world"), pose)


def test_unknown_frames_are_refused() -> None:
    with pytest.raises(Rejected, match="unknown_frame"):
        FrameTree(["world table 1 0 0 0 0 0 1"]).to_root(np.zeros(7), "camera", "world")


@pytest.mark.parametrize(
    "entry, message",
    [
        ("world table 1 0 0", "expected 'parent child"),
        ("world table 1 0 x 0 0 0 1", "must be numbers"),
        ("world table 1 0 0 0 0 0 2", "unit quaternion"),
    ],
)
def test_bad_entries_are_named(entry: str, message: str) -> None:
    with pytest.raises(ValueError, match=message) as error:
        FrameTree([entry])
    assert entry in str(error.value)


def test_a_frame_with_two_parents_is_refused() -> None:
    with pytest.raises(ValueError, match="two parents"):
        FrameTree(["world table 0 0 0 0 0 0 1", "base table 0 0 0 0 0 0 1"])
