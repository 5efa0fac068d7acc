"""A robot's URDF (its ``robot_description``) read into the serial chain the planner needs, in numpy.

The robot side builds its arm from the description its robot_state_publisher already publishes, so this
module needs only the standard library's XML parser and numpy: no MuJoCo, no ROS. What it reads:

- the kinematic tree (links, joints, ``<origin xyz rpy>``, ``<axis>``, ``<limit>``), checked to be a tree
  (a link with two parents is a closed loop), and the one chain from a base link to a tip link;
- the chain's movable joints (revolute and continuous; a prismatic, floating or planar joint on the chain
  is refused, naming it), with fixed joints folded into the frames around them;
- each joint's frame re-chosen so the joint turns about its own z axis (``P_a`` maps z onto the URDF axis
  ``a``, and ``Rot(a, q) = P_a Rz(q) P_aᵀ``): the :class:`~wm_planner.config.Kinematics` the numpy and
  torch forward kinematics evaluate, unchanged whatever the axes.

Continuous joints have no position limits in URDF; the planner's filter needs finite ones, so they get
``±CONTINUOUS_RANGE`` (two turns each way), which a real continuous joint never has to exceed.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from wm_planner.config import FixedTransform, Kinematics, RobotSpec, ToolPoint

__all__ = [
    "CONTINUOUS_RANGE",
    "MOVABLE",
    "UrdfChain",
    "UrdfError",
    "UrdfJoint",
    "UrdfRobot",
    "frame_of",
    "matrix_to_quat",
    "parse_urdf",
    "robot_from_description",
    "rpy_matrix",
]

CONTINUOUS_RANGE = 2.0 * math.pi
"""rad: the position range (±) given to continuous joints, which URDF leaves unlimited."""
MOVABLE = ("revolute", "continuous")
_KNOWN_TYPES = (*MOVABLE, "fixed", "prismatic", "floating", "planar")


class UrdfError(ValueError):
    """The URDF cannot be turned into an arm; the message names the link, joint or element."""


def rpy_matrix(rpy: np.ndarray) -> np.ndarray:
    """Rotation ``[3, 3]`` of URDF fixed-axis roll, pitch, yaw: ``Rz(yaw) Ry(pitch) Rx(roll)``."""
    r, p, y = (float(v) for v in rpy)
    cr, sr, cp, sp, cy, sy = math.cos(r), math.sin(r), math.cos(p), math.sin(p), math.cos(y), math.sin(y)
    return np.array(
        [
            [cy * cp, cy * sp * sr - sy * cr, cy * sp * cr + sy * sr],
            [sy * cp, sy * sp * sr + cy * cr, sy * sp * cr - cy * sr],
            [-sp, cp * sr, cp * cr],
        ]
    )


def matrix_to_quat(rotation: np.ndarray) -> np.ndarray:
    """Unit quaternion ``[4]`` (w x y z, w >= 0) of a rotation matrix ``[3, 3]``."""
    m = np.asarray(rotation, dtype=np.float64)
    trace = m[0, 0] + m[1, 1] + m[2, 2]
    if trace > 0.0:
        s = 2.0 * math.sqrt(1.0 + trace)
        q = [0.25 * s, (m[2, 1] - m[1, 2]) / s, (m[0, 2] - m[2, 0]) / s, (m[1, 0] - m[0, 1]) / s]
    else:
        i = int(np.argmax(np.diag(m)))
        j, k = (i + 1) % 3, (i + 2) % 3
        s = 2.0 * math.sqrt(max(1.0 + m[i, i] - m[j, j] - m[k, k], 1e-300))
        q = [0.0, 0.0, 0.0, 0.0]
        q[0] = (m[k, j] - m[j, k]) / s
        q[1 + i] = 0.25 * s
        q[1 + j] = (m[j, i] + m[i, j]) / s
        q[1 + k] = (m[k, i] + m[i, k]) / s
    quat: np.ndarray = np.array(q) / np.linalg.norm(q)
    return -quat if quat[0] < 0.0 else quat


def frame_of(xyz: np.ndarray, rotation: np.ndarray) -> np.ndarray:
    """Homogeneous transform ``[4, 4]``."""
    transform = np.eye(4)
    transform[:3, :3], transform[:3, 3] = rotation, xyz
    return transform


def _z_onto(axis: np.ndarray) -> np.ndarray:
    """A rotation ``[3, 3]`` whose z column is the unit ``axis``: the joint's frame re-chosen so it turns
    about z. The x column is the axis most orthogonal to it, so an axis already along z keeps the frame."""
    z = axis / np.linalg.norm(axis)
    helper = np.eye(3)[int(np.argmin(np.abs(z)))] if abs(z[2]) < 1.0 - 1e-12 else np.array([1.0, 0.0, 0.0])
    x = helper - z * float(helper @ z)
    x /= np.linalg.norm(x)
    return np.stack([x, np.cross(z, x), z], axis=1)


@dataclass(frozen=True)
class UrdfJoint:
    """A joint as the URDF writes it; ``origin [4, 4]`` is the child frame in the parent's."""

    name: str
    kind: str
    parent: str
    child: str
    origin: np.ndarray
    axis: np.ndarray
    lower: float | None
    upper: float | None
    velocity: float | None
    effort: float | None


@dataclass(frozen=True)
class UrdfChain:
    """The movable joints from ``base`` to ``tip``.

    ``joints`` in order; ``frames [J, 4, 4]``: each joint's z-aligned frame in the previous one's (the
    first in the base link's frame), before it turns; ``tip_frame [4, 4]``: the tip link's frame in the
    last joint's z-aligned frame.
    """

    base: str
    tip: str
    joints: tuple[UrdfJoint, ...]
    frames: np.ndarray
    tip_frame: np.ndarray

    @property
    def joint_names(self) -> tuple[str, ...]:
        return tuple(j.name for j in self.joints)

    def joint_transforms(self) -> tuple[FixedTransform, ...]:
        """The z-aligned joint frames as :class:`~wm_planner.config.Kinematics` writes them."""
        return tuple(_transform(frame) for frame in self.frames)

    def kinematics(
        self,
        tool_points: tuple[ToolPoint, ...],
        *,
        tool: np.ndarray | None = None,
        tip: np.ndarray | None = None,
    ) -> Kinematics:
        """The chain's :class:`~wm_planner.config.Kinematics`: the tool frame is ``tool [4, 4]`` in the
        tip link's frame (default: the tip link's), ``tip [3]`` the tool tip in the tool frame and
        ``tool_points`` spheres in the tool frame."""
        tool_frame = self.tip_frame @ (np.eye(4) if tool is None else tool)
        return Kinematics(
            base_link=self.base,
            tip_link=self.tip,
            joints=self.joint_transforms(),
            tool=_transform(tool_frame),
            tip=tuple(float(v) for v in (np.zeros(3) if tip is None else tip)),  # type: ignore[arg-type]
            tool_points=tool_points,
        )

    def velocity_limits(self) -> np.ndarray:
        """``[J]`` rad/s from each joint's ``<limit velocity>``; an error names a joint without one."""
        for joint in self.joints:
            if not joint.velocity or joint.velocity <= 0.0:
                raise UrdfError(
                    f"joint {joint.name!r} has no positive <limit velocity>: the planner needs it"
                )
        return np.array([j.velocity for j in self.joints], dtype=np.float64)

    def limits(self) -> tuple[np.ndarray, np.ndarray]:
        """Position limits ``([J], [J])`` (rad); continuous joints get ``±CONTINUOUS_RANGE``."""
        lower = [-CONTINUOUS_RANGE if j.kind == "continuous" else j.lower for j in self.joints]
        upper = [CONTINUOUS_RANGE if j.kind == "continuous" else j.upper for j in self.joints]
        return np.array(lower, dtype=np.float64), np.array(upper, dtype=np.float64)


@dataclass(frozen=True)
class UrdfRobot:
    """A parsed URDF: its ``name``, its ``links`` and its ``joints`` by name. Geometry is MuJoCo's to read
    (the twin); the planner needs only the kinematic tree."""

    name: str
    links: tuple[str, ...]
    joints: dict[str, UrdfJoint]

    def parent_joint(self) -> dict[str, UrdfJoint]:
        """Child link -> the joint that holds it."""
        return {j.child: j for j in self.joints.values()}

    def roots(self) -> list[str]:
        children = self.parent_joint()
        return [name for name in self.links if name not in children]

    def leaves(self) -> list[str]:
        parents = {j.parent for j in self.joints.values()}
        return [name for name in self.links if name not in parents]

    def chain(self, base: str | None = None, tip: str | None = None) -> UrdfChain:
        """The serial chain from ``base`` (default: the tree's root) to ``tip`` (default: its one leaf)."""
        base = base or self._only(self.roots(), "root link", "--base-link")
        tip = tip or self._only(self.leaves(), "leaf link", "--tip-link")
        for role, link in (("base", base), ("tip", tip)):
            if link not in self.links:
                raise UrdfError(f"{role} link {link!r} is not in the URDF (links: {', '.join(self.links)})")
        path = self._path(base, tip)
        return _fold(base, tip, path)

    @staticmethod
    def _only(names: list[str], what: str, option: str) -> str:
        if len(names) != 1:
            raise UrdfError(f"the URDF has {len(names)} {what}s ({', '.join(names)}): pass {option}")
        return names[0]

    def _path(self, base: str, tip: str) -> list[UrdfJoint]:
        """Joints from ``base`` down to ``tip``."""
        parents, link = self.parent_joint(), tip
        path: list[UrdfJoint] = []
        while link != base:
            joint = parents.get(link)
            if joint is None:
                raise UrdfError(
                    f"no chain from base link {base!r} to tip link {tip!r}: {link!r} has no parent"
                )
            if joint.name in {j.name for j in path}:
                raise UrdfError(f"joint {joint.name!r} closes a loop above link {tip!r}")
            path.append(joint)
            link = joint.parent
        path.reverse()
        for joint in path:
            if joint.kind not in (*MOVABLE, "fixed"):
                raise UrdfError(
                    f"joint {joint.name!r} on the chain is {joint.kind}: only revolute, continuous and fixed "
                    f"joints are handled"
                )
        if not any(j.kind in MOVABLE for j in path):
            raise UrdfError(f"no revolute or continuous joint between {base!r} and {tip!r}")
        return path


def _transform(frame: np.ndarray) -> FixedTransform:
    xyz, quat = frame[:3, 3], matrix_to_quat(frame[:3, :3])
    return FixedTransform(xyz=tuple(float(v) for v in xyz), quat=tuple(float(v) for v in quat))  # type: ignore[arg-type]


def _fold(base: str, tip: str, path: list[UrdfJoint]) -> UrdfChain:
    """Fixed joints folded into their neighbours; each movable joint's frame turned so it rotates about z."""
    pending, frames, movable = np.eye(4), [], []
    for joint in path:
        pending = pending @ joint.origin
        if joint.kind in MOVABLE:
            turn = _z_onto(joint.axis)
            frames.append(pending @ frame_of(np.zeros(3), turn))
            movable.append(joint)
            pending = frame_of(np.zeros(3), turn.T)
    return UrdfChain(
        base=base,
        tip=tip,
        joints=tuple(movable),
        frames=np.array(frames),
        tip_frame=pending,
    )


def _floats(text: str | None, count: int, default: float, where: str) -> np.ndarray:
    if text is None:
        return np.full(count, default)
    try:
        values = np.array([float(v) for v in text.split()])
    except ValueError:
        raise UrdfError(f"{where}: {text!r} is not {count} numbers") from None
    if values.shape != (count,) or not np.all(np.isfinite(values)):
        raise UrdfError(f"{where}: {text!r} is not {count} finite numbers")
    return values


def _origin(element: ET.Element | None, where: str) -> np.ndarray:
    if element is None:
        return np.eye(4)
    xyz = _floats(element.get("xyz"), 3, 0.0, f"{where} <origin xyz>")
    rpy = _floats(element.get("rpy"), 3, 0.0, f"{where} <origin rpy>")
    return frame_of(xyz, rpy_matrix(rpy))


def _optional_float(element: ET.Element | None, key: str, where: str) -> float | None:
    if element is None or element.get(key) is None:
        return None
    return float(_floats(element.get(key), 1, 0.0, f"{where} <limit {key}>")[0])


def _joint(element: ET.Element) -> UrdfJoint:
    name = element.get("name") or "?"
    where = f"joint {name!r}"
    kind = element.get("type", "")
    if kind not in _KNOWN_TYPES:
        raise UrdfError(f"{where} has type {kind!r}; URDF joint types are {', '.join(_KNOWN_TYPES)}")
    parent, child = element.find("parent"), element.find("child")
    if parent is None or child is None or not parent.get("link") or not child.get("link"):
        raise UrdfError(f"{where} needs <parent link=...> and <child link=...>")
    axis_element = element.find("axis")
    axis = (
        np.array([1.0, 0.0, 0.0])  # the URDF default
        if axis_element is None
        else _floats(axis_element.get("xyz"), 3, 0.0, f"{where} <axis xyz>")
    )
    if kind in MOVABLE and np.linalg.norm(axis) < 1e-9:
        raise UrdfError(f"{where} has a zero <axis>")
    limit = element.find("limit")
    joint = UrdfJoint(
        name=name,
        kind=kind,
        parent=str(parent.get("link")),
        child=str(child.get("link")),
        origin=_origin(element.find("origin"), where),
        axis=axis,
        lower=_optional_float(limit, "lower", where),
        upper=_optional_float(limit, "upper", where),
        velocity=_optional_float(limit, "velocity", where),
        effort=_optional_float(limit, "effort", where),
    )
    if kind == "revolute" and (joint.lower is None or joint.upper is None or joint.lower >= joint.upper):
        raise UrdfError(f"{where} is revolute but its <limit lower upper> are missing or not increasing")
    return joint


def parse_urdf(source: str | Path) -> UrdfRobot:
    """Read a URDF from its text or its path, checking it is a tree of known links and joint types."""
    text = Path(source).read_text() if isinstance(source, Path) else source
    try:
        root = ET.fromstring(text)
    except ET.ParseError as error:
        raise UrdfError(f"not valid XML: {error}") from None
    if root.tag != "robot":
        raise UrdfError(f"the root element is <{root.tag}>, not <robot>")
    links: list[str] = []
    for link in root.findall("link"):
        name = link.get("name")
        if not name:
            raise UrdfError("a <link> has no name")
        if name in links:
            raise UrdfError(f"link {name!r} is defined twice")
        links.append(name)
    joints: dict[str, UrdfJoint] = {}
    held_by: dict[str, str] = {}
    for element in root.findall("joint"):
        joint = _joint(element)
        for end in (joint.parent, joint.child):
            if end not in links:
                raise UrdfError(
                    f"joint {joint.name!r} refers to link {end!r}, which the URDF does not define"
                )
        if joint.child in held_by:
            raise UrdfError(
                f"link {joint.child!r} is the child of joints {held_by[joint.child]!r} and {joint.name!r}: "
                f"a closed loop; only kinematic trees are handled"
            )
        if joint.name in joints:
            raise UrdfError(f"joint {joint.name!r} is defined twice")
        held_by[joint.child] = joint.name
        joints[joint.name] = joint
    robot = UrdfRobot(name=root.get("name") or "robot", links=tuple(links), joints=joints)
    if links and not robot.roots():
        raise UrdfError("every link has a parent: the joints form a closed loop")
    return robot


def robot_from_description(description: str, reference: RobotSpec) -> RobotSpec:
    """The robot a ``robot_description`` describes, along the chain ``reference`` (a bundle's robot) was
    imported with: names, position and velocity limits and joint frames from the URDF; what a URDF does not
    carry (acceleration limits, control period, the tool) from ``reference``. Compare the two with
    :func:`wm_planner.runtime.check_compatible` to see what differs."""
    kinematics = reference.kinematics
    if kinematics is None or kinematics.base_link is None or kinematics.tip_link is None:
        raise UrdfError(
            f"robot {reference.name!r} was not imported from a URDF (its kinematics name no base and tip "
            f"link): it cannot be checked against a robot_description"
        )
    chain = parse_urdf(description).chain(kinematics.base_link, kinematics.tip_link)
    lower, upper = chain.limits()
    velocity = chain.velocity_limits()
    acceleration = reference.acceleration_limits
    if len(acceleration) != len(chain.joints):
        acceleration = (max(acceleration),) * len(chain.joints)
    return RobotSpec(
        name=reference.name,
        joint_names=chain.joint_names,
        position_lower=tuple(lower.tolist()),
        position_upper=tuple(upper.tolist()),
        velocity_limits=tuple(velocity.tolist()),
        acceleration_limits=acceleration,
        control_period=reference.control_period,
        kinematics=kinematics.model_copy(update={"joints": chain.joint_transforms()}),
    )
