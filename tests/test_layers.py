"""The layer rules of DESIGN.md, enforced by reading every module's imports (lazy ones included).

``ros_ws/src/wm_planner_ros`` > ``calibration`` > ``sim`` > ``wm_planner``: imports point downward only.
What runs on the robot (the core's runtime path, and the planner node) imports neither torch nor MuJoCo.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ROS = ROOT / "ros_ws" / "src" / "wm_planner_ros" / "wm_planner_ros"

LAYERS = {"wm_planner": 0, "sim": 1, "calibration": 2, "wm_planner_ros": 3}
"""Each first-party package and its height: a module may import packages at its height or below."""

ROBOT_SIDE = [
    *(ROOT / "wm_planner" / part for part in ("runtime", "planning", "safety", "control", "data")),
    *(
        ROOT / "wm_planner" / name
        for name in ("config.py", "observation.py", "kinematics.py", "urdf.py", "__init__.py")
    ),
    *(ROS / name for name in ("planner_node.py", "stack.py", "outputs.py", "telemetry.py", "messages.py")),
    *(ROS / name for name in ("params.py", "topics.py", "spin.py", "description.py")),
]
"""What a robot computer runs: numpy, pydantic, pyyaml, onnxruntime and rclpy only."""

NOT_ON_THE_ROBOT = {"torch", "mujoco", "sim", "calibration", "scipy", "matplotlib", "gymnasium"}


def modules(path: Path) -> list[Path]:
    return sorted(path.rglob("*.py")) if path.is_dir() else [path]


def imports(path: Path) -> set[str]:
    """Top-level names of every module ``path`` imports, anywhere in the file."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def package_files() -> list[tuple[str, Path]]:
    roots = {"wm_planner": ROOT / "wm_planner", "sim": ROOT / "sim", "calibration": ROOT / "calibration"}
    roots["wm_planner_ros"] = ROS
    return [(package, path) for package, root in roots.items() for path in modules(root)]


@pytest.mark.parametrize(("package", "path"), package_files(), ids=lambda x: str(x).rsplit("/", 1)[-1])
def test_imports_point_downward_only(package: str, path: Path) -> None:
    upward = {name for name in imports(path) if LAYERS.get(name, -1) > LAYERS[package]}
    assert not upward, f"{path.relative_to(ROOT)} ({package}) imports {sorted(upward)} from a layer above it"


def test_the_core_never_imports_rclpy() -> None:
    offenders = [p for p in modules(ROOT / "wm_planner") if "rclpy" in imports(p)]
    assert not offenders


@pytest.mark.parametrize("path", [p for part in ROBOT_SIDE for p in modules(part)], ids=lambda p: p.name)
def test_what_runs_on_the_robot_needs_no_training_or_simulation_packages(path: Path) -> None:
    found = imports(path) & NOT_ON_THE_ROBOT
    assert not found, f"{path.relative_to(ROOT)} imports {sorted(found)}, which a robot computer lacks"


def test_the_rules_see_a_violation(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("def lazy():\n    import torch\n    from sim.env import ArmEnv\n")
    assert imports(bad) == {"torch", "sim"}
