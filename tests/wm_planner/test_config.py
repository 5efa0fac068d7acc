from pathlib import Path

import pytest

from wm_planner.config import ConfigError, RobotSpec, default_robot_spec, load_yaml_model


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "robot.yaml"
    path.write_text(text)
    return path


GOOD = """
name: two_link
joint_names: [a, b]
position_lower: [-1.0, -2.0]
position_upper: [1.0, 2.0]
velocity_limits: [1.0, 1.5]
acceleration_limits: [5.0, 5.0]
control_period: 0.01
"""


def test_loads_a_valid_robot_spec(tmp_path: Path) -> None:
    spec = load_yaml_model(write(tmp_path, GOOD), RobotSpec)
    assert spec.dof == 2
    assert spec.max_step().tolist() == pytest.approx([0.01, 0.015])


def test_default_spec_is_the_panda() -> None:
    spec = default_robot_spec()
    assert spec.joint_names == tuple(f"joint{i}" for i in range(1, 8))
    assert spec.control_period == 0.02
    assert spec.position_upper[3] == pytest.approx(-0.0698)
    assert default_robot_spec(control_period=0.01).control_period == 0.01


def test_unknown_key_names_file_and_field(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD + "velocity_limit: [1, 1]\n")
    with pytest.raises(ConfigError) as err:
        load_yaml_model(path, RobotSpec)
    assert str(path) in str(err.value)
    assert "field 'velocity_limit': unknown field" in str(err.value)


def test_malformed_yaml_names_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, "name: x\njoint_names: [a, b\nposition_lower: [0]\n")
    with pytest.raises(ConfigError, match=r"robot\.yaml: malformed YAML at line \d+"):
        load_yaml_model(path, RobotSpec)


def test_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"nope\.yaml: cannot read"):
        load_yaml_model(tmp_path / "nope.yaml", RobotSpec)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (("velocity_limits: [1.0, 1.5]", "velocity_limits: [1.0]"), "velocity_limits has 1 entries"),
        (("position_upper: [1.0, 2.0]", "position_upper: [-1.0, 2.0]"), "joint 'a': position_lower"),
        (("joint_names: [a, b]", "joint_names: [a, a]"), "duplicates"),
        (("acceleration_limits: [5.0, 5.0]", "acceleration_limits: [5.0, 0.0]"), "must be positive"),
        (("control_period: 0.01", "control_period: -1"), "field 'control_period'"),
    ],
)
def test_inconsistent_specs_are_rejected(tmp_path: Path, edit: tuple[str, str], message: str) -> None:
    path = write(tmp_path, GOOD.replace(*edit))
    with pytest.raises(ConfigError, match=message):
        load_yaml_model(path, RobotSpec)


def test_specs_are_immutable() -> None:
    spec = default_robot_spec()
    with pytest.raises(ValueError, match="frozen"):
        spec.control_period = 0.1  # type: ignore[misc]
