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

ROBOT_ENTRY = ROS / "planner_node.py"
"""What a robot computer runs; the robot side is every first-party module it imports, directly or not."""

NOT_ON_THE_ROBOT = {"torch", "mujoco", "sim", "calibration", "scipy", "matplotlib", "gymnasium"}


ROOTS = {"wm_planner": ROOT / "wm_planner", "sim": ROOT / "sim", "calibration": ROOT / "calibration"}
ROOTS["wm_planner_ros"] = ROS


def _statements(path: Path) -> list[ast.Import | ast.ImportFrom]:
    """Every import statement of ``path``, lazy ones (inside functions) included."""
    tree = ast.parse(path.read_text(), filename=str(path))
    return [node for node in ast.walk(tree) if isinstance(node, (ast.Import, ast.ImportFrom))]


def imports(path: Path) -> set[str]:
    """Top-level names of every module ``path`` imports, anywhere in the file."""
    names = set()
    for node in _statements(path):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def first_party() -> dict[str, Path]:
    """Dotted module name -> file, for every module of the four packages (a package is its __init__)."""
    found = {}
    for package, root in ROOTS.items():
        for path in sorted(root.rglob("*.py")):
            parts = (package, *path.relative_to(root).with_suffix("").parts)
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def _with_parents(name: str, known: dict[str, Path]) -> set[str]:
    """``name`` and the packages above it, whose __init__ runs when it is imported."""
    parts = name.split(".")
    return {".".join(parts[:i]) for i in range(1, len(parts) + 1)} & known.keys()


def module_imports(path: Path, known: dict[str, Path]) -> set[str]:
    """The first-party modules ``path`` imports (``from a.b import c`` is ``a.b.c`` when that is a module,
    else ``a.b``)."""
    found = set()
    for node in _statements(path):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name in known}
        elif node.level == 0 and node.module:
            for alias in node.names:
                member = f"{node.module}.{alias.name}"
                found.add(member if member in known else node.module)
    return found & known.keys()


def import_graph() -> dict[str, set[str]]:
    known = first_party()
    return {name: module_imports(path, known) - {name} for name, path in known.items()}


def robot_side() -> list[Path]:
    """Every first-party module the planner node imports, directly or through others, with the packages
    above each (their ``__init__`` runs too)."""
    known, graph = first_party(), import_graph()
    entry = next(name for name, path in known.items() if path == ROBOT_ENTRY)
    seen, todo = set(), [entry]
    while todo:
        for name in _with_parents(todo.pop(), known) - seen:
            seen.add(name)
            todo.extend(graph[name])
    return sorted(known[name] for name in seen)


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(name: str) -> None:
        index[name] = low[name] = len(index)
        stack.append(name)
        for other in graph[name]:
            if other not in index:
                visit(other)
                low[name] = min(low[name], low[other])
            elif other in stack:
                low[name] = min(low[name], index[other])
        if low[name] == index[name]:
            component = []
            while not component or component[-1] != name:
                component.append(stack.pop())
            if len(component) > 1:
                found.append(sorted(component))

    for name in graph:
        if name not in index:
            visit(name)
    return found


def package_files() -> list[tuple[str, Path]]:
    return [(name.split(".")[0], path) for name, path in first_party().items()]


@pytest.mark.parametrize(("package", "path"), package_files(), ids=lambda x: str(x).rsplit("/", 1)[-1])
def test_imports_point_downward_only(package: str, path: Path) -> None:
    upward = {name for name in imports(path) if LAYERS.get(name, -1) > LAYERS[package]}
    assert not upward, f"{path.relative_to(ROOT)} ({package}) imports {sorted(upward)} from a layer above it"


def test_the_core_never_imports_rclpy() -> None:
    offenders = [p for p in (ROOT / "wm_planner").rglob("*.py") if "rclpy" in imports(p)]
    assert not offenders


@pytest.mark.parametrize("path", robot_side(), ids=lambda p: str(p.relative_to(ROOT)))
def test_what_runs_on_the_robot_needs_no_training_or_simulation_packages(path: Path) -> None:
    found = imports(path) & NOT_ON_THE_ROBOT
    assert not found, f"{path.relative_to(ROOT)} imports {sorted(found)}, which a robot computer lacks"


def test_the_rules_see_a_violation(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("def lazy():\n    import torch\n    from sim.env import ArmEnv\n")
    assert imports(bad) == {"torch", "sim"}


def test_the_robot_side_is_what_the_node_imports() -> None:
    side = {str(p.relative_to(ROOT)) for p in robot_side()}
    # The runtime it plans with, the safety filter, and the packages above them.
    for expected in (
        "wm_planner/runtime/session.py",
        "wm_planner/safety/filter.py",
        "wm_planner/__init__.py",
    ):
        assert expected in side
    assert not any(p.startswith(("sim/", "calibration/", "wm_planner/model/")) for p in side)


def test_no_module_imports_itself_through_others() -> None:
    found = cycles(import_graph())
    assert not found, f"import cycles (lazy imports included): {found}"


def test_the_cycle_check_sees_a_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
