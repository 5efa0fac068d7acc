"""The parameter files document exactly what the nodes declare."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

pytest.importorskip("rclpy")

from wm_planner.config import PlannerConfig, SafetyConfig, SupervisorConfig
from wm_planner_ros.params import PARAMETER_FILES, PLANNER_PARAMETERS, SIM_PARAMETERS, parameter_file

CONFIG = Path(__file__).resolve().parents[1] / "config"


def flatten(tree: dict, prefix: str = "") -> dict:
    flat = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            flat |= flatten(value, f"{prefix}{key}.")
        else:
            flat[f"{prefix}{key}"] = value
    return flat


@pytest.mark.parametrize(
    ("file", "node", "table"),
    [("planner.yaml", "planner_node", PLANNER_PARAMETERS), ("sim.yaml", "sim_node", SIM_PARAMETERS)],
)
def test_config_file_lists_every_declared_parameter_with_its_default(file, node, table) -> None:
    documented = flatten(yaml.safe_load((CONFIG / file).read_text())[node]["ros__parameters"])
    assert documented == {p.name: p.default for p in table}


@pytest.mark.parametrize("file", sorted(PARAMETER_FILES))
def test_config_files_are_generated_from_the_tables(file: str) -> None:
    node, table, note = PARAMETER_FILES[file]
    assert (CONFIG / file).read_text() == parameter_file(node, table, file=file, note=note), (
        "regenerate with: python -m wm_planner_ros.params"
    )


def test_library_settings_have_the_library_defaults_and_ranges() -> None:
    by_name = {p.name: p for p in PLANNER_PARAMETERS}
    assert by_name["safety.speed_scale"].default == SafetyConfig().speed_scale
    assert (by_name["safety.speed_scale"].low, by_name["safety.speed_scale"].high) == (0.0, 1.0)
    assert by_name["planner.iterations"].default == PlannerConfig().iterations
    assert by_name["goal_workspace_min"].default == list(SupervisorConfig().goal_workspace_min)
    for model, prefix in ((SafetyConfig, "safety."), (SupervisorConfig, "")):
        for field, info in model.model_fields.items():
            assert by_name[prefix + field].description == info.description


def test_planner_node_declares_parameters_with_descriptions(ros) -> None:
    from wm_planner_ros.planner_node import PlannerNode

    node = PlannerNode()
    try:
        described = node.describe_parameters([p.name for p in PLANNER_PARAMETERS])
        assert all(d.description for d in described)
        assert node.get_parameter("control_rate").value == 50.0
    finally:
        node.destroy_node()
