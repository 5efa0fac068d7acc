"""The parameter files document exactly what the nodes declare."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

pytest.importorskip("rclpy")

from wm_planner_ros.params import PLANNER_PARAMETERS, SIM_PARAMETERS

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


def test_planner_node_declares_parameters_with_descriptions(ros) -> None:
    from wm_planner_ros.planner_node import PlannerNode

    node = PlannerNode()
    try:
        described = node.describe_parameters([p.name for p in PLANNER_PARAMETERS])
        assert all(d.description for d in described)
        assert node.get_parameter("control_rate").value == 50.0
    finally:
        node.destroy_node()
