"""``wm-planner robot import``: a robot's URDF becomes a robot folder (spec, twin, workspace).

The folder holds everything the other commands need to run that arm, and nothing they must download:

- ``robot.yaml``: the :class:`~wm_planner.config.RobotSpec` (names and limits from the URDF, acceleration
  limits given or by the stated rule, the kinematic chain with its tool points);
- ``twin.xml`` and ``meshes/``: the simulated twin (:mod:`sim.twin`), its collision meshes copied in;
- ``robot.urdf``: the description as given, mesh paths pointing into ``meshes/`` (what the planner node
  compares with the ``robot_description`` it is given);
- ``workspace.yaml``: home pose and task regions (:mod:`sim.workspace`).

The folder is written to a temporary sibling and renamed into place: on any error nothing is written.
"""

from __future__ import annotations

import math
import shutil
import tempfile
import warnings
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

import mujoco
import numpy as np
import yaml

from sim.twin import TwinOptions, build_twin, compile_twin, twin_xml
from sim.workspace import Workspace, derive_workspace
from wm_planner.config import RobotSpec, ToolPoint, validate_model
from wm_planner.urdf import UrdfChain, UrdfError, parse_urdf

__all__ = [
    "ACCELERATION_PER_VELOCITY",
    "ROBOT_FILE",
    "TWIN_FILE",
    "URDF_FILE",
    "WORKSPACE_FILE",
    "ImportOptions",
    "import_robot",
    "prune_spheres",
    "srdf_group_state",
    "tool_points_of",
]

ROBOT_FILE, TWIN_FILE, URDF_FILE, WORKSPACE_FILE = "robot.yaml", "twin.xml", "robot.urdf", "workspace.yaml"
ACCELERATION_PER_VELOCITY = 3.0
"""1/s: URDF has no acceleration limits; unless given, each joint may reach its velocity limit in a third
of a second (the shipped Panda's published limits are 3.4-7.7 times its velocity limits: conservative)."""
_MESH_FORMATS = (".stl", ".obj", ".msh")
TOOL_SPHERE_SLACK = 0.01
"""m: how far beyond a larger sphere a smaller one of the tool's may reach and still be left out."""


@dataclass(frozen=True)
class ImportOptions:
    """How to read the URDF and what to add to it."""

    name: str | None = None
    base_link: str | None = None
    tip_link: str | None = None
    tip_xyz: tuple[float, float, float] | None = None
    """The tool tip in the tip link's frame (m): the point the reach task brings to its goal (default: the
    end of the twin's pusher rod, else the link's origin)."""
    package_paths: tuple[Path, ...] = ()
    """Folders holding ROS packages, for ``package://`` mesh paths (as ROS's package path)."""
    acceleration_limits: tuple[float, ...] | None = None
    home: tuple[float, ...] | None = None
    control_period: float = 0.02
    twin: TwinOptions = field(default_factory=TwinOptions)


def srdf_group_state(srdf: Path, state: str, joint_names: tuple[str, ...]) -> tuple[float, ...]:
    """The joint positions of SRDF ``<group_state name=state>`` in ``joint_names`` order."""
    root = ET.parse(srdf).getroot()
    for element in root.iter("group_state"):
        if element.get("name") == state:
            values = {j.get("name"): float(j.get("value", "nan")) for j in element.iter("joint")}
            missing = [n for n in joint_names if n not in values]
            if missing:
                raise UrdfError(f"{srdf}: group_state {state!r} has no value for joints {missing}")
            return tuple(values[n] for n in joint_names)
    names = sorted({str(e.get("name")) for e in root.iter("group_state")})
    raise UrdfError(f"{srdf}: no group_state named {state!r} (it has {names})")


def _resolve_mesh(filename: str, urdf_dir: Path, package_paths: tuple[Path, ...], link: str) -> Path:
    """The file a URDF mesh path names; an error naming the link when it is not there."""
    if filename.startswith("package://"):
        package, _, rest = filename.removeprefix("package://").partition("/")
        candidates = [root / package / rest for root in package_paths]
        hint = f"searched {[str(c) for c in candidates] or 'no --package-path'}"
    else:
        path = Path(filename.removeprefix("file://"))
        candidates = [path if path.is_absolute() else urdf_dir / path]
        hint = f"looked at {candidates[0]}"
    for candidate in candidates:
        if candidate.is_file():
            if candidate.suffix.lower() not in _MESH_FORMATS:
                raise UrdfError(
                    f"link {link!r}: mesh {filename!r} is {candidate.suffix}; MuJoCo reads {_MESH_FORMATS}"
                )
            return candidate
    raise UrdfError(f"link {link!r}: mesh {filename!r} not found ({hint})")


def _localise_meshes(urdf_text: str, urdf_dir: Path, package_paths: tuple[Path, ...], meshes: Path) -> str:
    """The URDF with visuals dropped (MuJoCo keeps collision geometry) and every collision mesh copied
    into ``meshes`` under a unique name, its path rewritten to it."""
    root = ET.fromstring(urdf_text)
    copied: dict[Path, str] = {}
    for link in root.findall("link"):
        for visual in link.findall("visual"):
            link.remove(visual)
        for mesh in link.iter("mesh"):
            source = _resolve_mesh(mesh.get("filename", ""), urdf_dir, package_paths, str(link.get("name")))
            if source not in copied:
                copied[source] = f"{len(copied):03d}_{source.name}"
                meshes.mkdir(exist_ok=True)
                shutil.copyfile(source, meshes / copied[source])
            mesh.set("filename", copied[source])
    return ET.tostring(root, encoding="unicode")


def _spec(
    chain: UrdfChain,
    options: ImportOptions,
    name: str,
    tool_points: tuple[ToolPoint, ...],
    tip_in_link: np.ndarray,
) -> RobotSpec:
    """The robot spec of ``chain``; errors name the joint whose limits are missing."""
    lower, upper = chain.limits()
    velocity = chain.velocity_limits().tolist()
    if options.acceleration_limits is None:
        warnings.warn(
            f"URDF has no acceleration limits: using {ACCELERATION_PER_VELOCITY:g} x each velocity limit per "
            f"second ({[round(ACCELERATION_PER_VELOCITY * v, 2) for v in velocity]} rad/s^2); pass the "
            f"robot's own with --acceleration-limits",
            stacklevel=2,
        )
        acceleration = [ACCELERATION_PER_VELOCITY * v for v in velocity]
    else:
        acceleration = list(options.acceleration_limits)
    efforts = [j.effort for j in chain.joints]
    data = {
        "name": name,
        "joint_names": list(chain.joint_names),
        "position_lower": lower.tolist(),
        "position_upper": upper.tolist(),
        "velocity_limits": velocity,
        "acceleration_limits": acceleration,
        "effort_limits": None if any(e is None or e <= 0 for e in efforts) else efforts,
        "control_period": options.control_period,
        "kinematics": chain.kinematics(tool_points, tip=tip_in_link).model_dump(),
    }
    return validate_model(RobotSpec, data, source="the URDF")


def _tip_xyz(options: ImportOptions) -> tuple[float, float, float]:
    if options.tip_xyz is not None:
        return options.tip_xyz
    return (0.0, 0.0, options.twin.tool_length)


def tool_points_of(model: mujoco.MjModel, tip_body: int, tool_bodies: list[int]) -> tuple[ToolPoint, ...]:
    """Spheres in the tip body's frame covering the collision geoms of ``tool_bodies`` (the bodies the
    last joint carries): each geom's bounding box is covered by spheres along its longest side, as many as
    that side is long in units of the box's larger cross-section half-size, each of that radius."""
    data = mujoco.MjData(model)
    mujoco.mj_kinematics(model, data)
    origin, rotation = data.xpos[tip_body], data.xmat[tip_body].reshape(3, 3)
    points: list[ToolPoint] = []
    for geom in range(model.ngeom):
        if model.geom_bodyid[geom] not in tool_bodies or model.geom_contype[geom] == 0:
            continue
        centre, half = model.geom_aabb[geom, :3], model.geom_aabb[geom, 3:]
        axis = int(np.argmax(half))
        radius = float(np.max(np.delete(half, axis)))
        count = max(1, min(8, math.ceil(half[axis] / max(radius, 1e-3))))
        offsets = np.linspace(-1.0, 1.0, count) * max(half[axis] - radius, 0.0)
        geom_rotation = data.geom_xmat[geom].reshape(3, 3)
        for offset in offsets:
            local = centre.copy()
            local[axis] += offset
            world = data.geom_xpos[geom] + geom_rotation @ local
            xyz = rotation.T @ (world - origin)
            points.append(ToolPoint(xyz=tuple(float(v) for v in xyz), radius=radius))  # type: ignore[arg-type]
    if not points:
        raise UrdfError("the tool has no collision geometry: nothing could touch an object")
    return prune_spheres(tuple(points))


def prune_spheres(
    points: tuple[ToolPoint, ...], *, slack: float = TOOL_SPHERE_SLACK
) -> tuple[ToolPoint, ...]:
    """``points`` without the spheres that reach less than ``slack`` (m) beyond a larger one (a finger's
    pads, a mesh's overlapping parts), the smallest considered first; the others are kept as they are. The
    world model places and checks every sphere at every imagined step, so each one it need not carry is
    planning and training time saved."""
    centres = np.array([p.xyz for p in points]).reshape(-1, 3)
    radii = np.array([p.radius for p in points])
    kept = np.ones(len(points), dtype=bool)
    for i in np.argsort(radii, kind="stable"):
        reach = np.linalg.norm(centres - centres[i], axis=1) + radii[i]
        covering = kept & (radii >= radii[i]) & (reach <= radii + slack)
        covering[i] = False
        kept[i] = not covering.any()
    return tuple(p for p, keep in zip(points, kept, strict=True) if keep)


def _tool_bodies(model: mujoco.MjModel, chain: UrdfChain) -> list[int]:
    """The bodies the chain's last joint carries (its child link and everything fixed below it)."""
    last = model.body(chain.joints[-1].child).id
    bodies = [last]
    for body in range(model.nbody):
        parent = body
        while parent not in (0, last):
            parent = int(model.body_parentid[parent])
        if parent == last and body != last and model.body_jntnum[body] == 0:
            bodies.append(body)
    return bodies


def import_robot(urdf: Path, out: Path, options: ImportOptions | None = None) -> tuple[RobotSpec, Workspace]:
    """Write the robot folder of ``urdf`` at ``out`` (which must not exist); returns its spec and
    workspace."""
    options = options or ImportOptions()
    urdf = Path(urdf)
    out = Path(out)
    if out.exists():
        raise FileExistsError(f"{out} already exists; choose a new folder for the robot")
    text = urdf.read_text()
    robot_urdf = parse_urdf(text)
    chain = robot_urdf.chain(options.base_link, options.tip_link)
    name = options.name or robot_urdf.name
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=f".{out.name}.") as tmp:
        folder = Path(tmp)
        local = _localise_meshes(text, urdf.parent, options.package_paths, folder / "meshes")
        tip_only = (ToolPoint(xyz=(0.0, 0.0, 0.0), radius=0.0),)
        tip_in_link = np.array(_tip_xyz(options))
        draft = _spec(chain, options, name, tip_only, tip_in_link)
        home = None if options.home is None else np.array(options.home, dtype=np.float64)
        if home is not None and home.shape != (draft.dof,):
            raise UrdfError(f"home pose has {home.size} values, the chain has {draft.dof} joints")
        workspace = derive_workspace(draft, home=home)
        twin = build_twin(
            local,
            chain,
            draft,
            tip_in_link=tip_in_link,
            home=np.array(workspace.home),
            reach=workspace.reach,
            meshdir=folder / "meshes",
            options=options.twin,
        )
        model = compile_twin(twin)
        tool = _tool_bodies(model, chain)
        points = tool_points_of(model, model.body(chain.tip).id, tool)
        assert draft.kinematics is not None
        robot = draft.model_copy(
            update={"kinematics": draft.kinematics.model_copy(update={"tool_points": points})}
        )
        (folder / URDF_FILE).write_text(local)
        (folder / TWIN_FILE).write_text(twin_xml(twin, meshdir="meshes"))
        (folder / ROBOT_FILE).write_text(
            _yaml(robot.model_dump(mode="json"), f"{name}, imported from {urdf.name}")
        )
        (folder / WORKSPACE_FILE).write_text(
            _yaml(workspace.model_dump(mode="json"), "derived by sim.workspace")
        )
        folder.rename(out)
    return robot, workspace


def _yaml(data: dict, comment: str) -> str:
    return f"# {comment}\n" + yaml.safe_dump(data, sort_keys=False, default_flow_style=None)
