"""Robot descriptions the tests write: a small arm whose URDF has what real ones have and the shipped arm
lacks (joint axes off z, a continuous joint, a fixed joint to a tool, a base link that is not the world)."""

from __future__ import annotations

from pathlib import Path

__all__ = ["SMALL_ARM_JOINTS", "mesh_link", "small_arm_urdf", "write_small_arm"]

SMALL_ARM_JOINTS = ("shoulder_pan", "shoulder_lift", "elbow", "wrist")

_INERTIAL = """<inertial><origin xyz="{com}"/><mass value="{mass}"/>
      <inertia ixx="{i}" iyy="{i}" izz="{i}" ixy="0" ixz="0" iyz="0"/></inertial>"""


def _link(name: str, *, mass: float, com: str, shape: str, rpy: str = "0 0 0") -> str:
    """A link with its centre of mass and its one collision shape both at ``com``."""
    inertial = _INERTIAL.format(com=com, mass=mass, i=0.02 * mass)
    collision = f'<origin xyz="{com}" rpy="{rpy}"/><geometry>{shape}</geometry>'
    return f'<link name="{name}">{inertial}<collision>{collision}</collision></link>'


def _cylinder(radius: float, length: float) -> str:
    return f'<cylinder radius="{radius}" length="{length}"/>'


def small_arm_urdf(*, extra: str = "") -> str:
    """A 4-joint arm: pan about z, lift about a y axis tilted by the joint's rpy, a continuous elbow about
    an oblique axis, a wrist about -x, then a fixed joint to a pusher tool. ``extra`` is inserted before
    ``</robot>`` (a bad joint or link, for the error tests)."""
    return f"""<?xml version="1.0"?>
<robot name="small_arm">
  <link name="world"/>
  <joint name="mount" type="fixed">
    <parent link="world"/><child link="base"/><origin xyz="0 0 0.02" rpy="0 0 0.1"/>
  </joint>
  {_link("base", mass=3.0, com="0 0 0.05", shape=_cylinder(0.07, 0.1))}
  <joint name="shoulder_pan" type="revolute">
    <parent link="base"/><child link="upper"/><origin xyz="0 0 0.12"/><axis xyz="0 0 1"/>
    <limit lower="-2.8" upper="2.8" velocity="2.0" effort="80"/>
  </joint>
  {_link("upper", mass=2.0, com="0 0 0.05", shape=_cylinder(0.05, 0.1))}
  <joint name="shoulder_lift" type="revolute">
    <parent link="upper"/><child link="arm"/><origin xyz="0 0 0.1" rpy="0.2 0 0"/><axis xyz="0 1 0"/>
    <limit lower="-0.5" upper="2.2" velocity="2.0" effort="80"/>
  </joint>
  {_link("arm", mass=1.5, com="0.15 0 0", shape=_cylinder(0.04, 0.3), rpy="0 1.5708 0")}
  <joint name="elbow" type="continuous">
    <parent link="arm"/><child link="forearm"/><origin xyz="0.3 0 0" rpy="0 0 -0.3"/><axis xyz="0 0.6 0.8"/>
    <limit velocity="2.5" effort="40"/>
  </joint>
  {_link("forearm", mass=1.0, com="0.12 0 0", shape=_cylinder(0.035, 0.24), rpy="0 1.5708 0")}
  <joint name="wrist" type="revolute">
    <parent link="forearm"/><child link="hand"/><origin xyz="0.25 0 0" rpy="0 1.5708 0"/><axis xyz="-1 0 0"/>
    <limit lower="-3.0" upper="3.0" velocity="3.0" effort="12"/>
  </joint>
  {_link("hand", mass=0.4, com="0 0 0.03", shape='<box size="0.06 0.06 0.06"/>')}
  <joint name="tool_mount" type="fixed">
    <parent link="hand"/><child link="pusher"/><origin xyz="0 0 0.06" rpy="0 0 0.4"/>
  </joint>
  {_link("pusher", mass=0.1, com="0 0 0.04", shape=_cylinder(0.015, 0.08))}
  {extra}
</robot>
"""


def write_small_arm(folder: Path, *, extra: str = "") -> Path:
    """The small arm's URDF written to ``folder/small_arm.urdf``."""
    path = folder / "small_arm.urdf"
    path.write_text(small_arm_urdf(extra=extra))
    return path


def mesh_link(name: str, filename: str, parent: str) -> str:
    """A link with one collision mesh, fixed to ``parent`` (a camera, say): for ``extra``."""
    geometry = f'<collision><geometry><mesh filename="{filename}"/></geometry></collision>'
    joint = f'<joint name="{name}_mount" type="fixed"><parent link="{parent}"/><child link="{name}"/></joint>'
    return f'<link name="{name}">{geometry}</link>{joint}'
