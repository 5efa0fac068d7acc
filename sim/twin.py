"""The simulated twin of a robot described by URDF: MuJoCo compiles the URDF (``MjSpec``) and this module
adds what a URDF lacks to make it a ros2_control-like arm on a table.

Added, each by a stated rule:

- position servos on the chain's joints, gains from each joint's reflected inertia ``I`` at the home pose
  (the joint-space mass matrix's diagonal, rotor inertia included): ``kp = I ω²``, ``kv = 2 ζ I ω`` with
  ``ω = 2π · servo_hz``, force limits from the URDF's ``<limit effort>``. At ``servo_hz`` = 8 and a 2 ms
  step, ``ω·dt`` = 0.1: well inside the implicit integrator's stable range;
- gravity compensation on every arm body (as the arm's own controller does), joint damping, rotor inertia
  (``armature``) and friction loss;
- joints that are not on the chain (a gripper's fingers) locked at zero: the tool is rigid;
- the table, its top at the base's height and in front of it, sized by the arm's reach; the cube on a free
  joint; the reach and push target sites; the ``ee_site`` at the tool tip; lights.

Arm geoms collide with the table and the cube, not with each other (contype 2, conaffinity 1), as in the
shipped scene.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import mujoco
import numpy as np

from wm_planner.config import RobotSpec
from wm_planner.urdf import UrdfChain, UrdfError

__all__ = ["TwinOptions", "build_twin", "compile_twin", "reflected_inertia", "twin_xml"]


@dataclass(frozen=True)
class TwinOptions:
    """What the twin adds to the URDF."""

    timestep: float = 0.002
    servo_hz: float = 8.0
    """Natural frequency of each joint's position servo (Hz)."""
    damping_ratio: float = 1.0
    armature: float = 0.1
    """Rotor inertia reflected at each joint (kg m²), which a URDF does not carry."""
    joint_damping: float = 1.0
    """Viscous joint damping (N m s/rad)."""
    frictionloss: float = 0.1
    tool_length: float = 0.0
    """m; a pusher rod mounted on the tip link along its z axis (the tool frame's convention), 0: none."""
    tool_radius: float = 0.015
    cube_half_size: float = 0.025
    cube_mass: float = 0.1


TABLE_START = 0.2
"""Where the table begins in front of the base, as a fraction of the arm's reach (the task regions start
at 0.35 of it)."""


def _set_first(element: object, name: str, value: float) -> None:
    """Set a scalar attribute that MuJoCo 4 made a polynomial (its linear term first) and 3.x a float."""
    current = getattr(element, name)
    if np.ndim(current):
        current = np.zeros_like(current)
        current[0] = value
        setattr(element, name, current)
    else:
        setattr(element, name, value)


def _arm_bodies(spec: mujoco.MjSpec, base: str) -> list[mujoco.MjsBody]:
    """The base link's body and everything below it."""
    found, stack = [], [spec.body(base)]
    while stack:
        body = stack.pop()
        found.append(body)
        stack.extend(body.bodies)
    return found


def _prepare_arm(spec: mujoco.MjSpec, chain: UrdfChain, robot: RobotSpec, options: TwinOptions) -> None:
    """Chain joints limited and damped, other joints locked, arm bodies gravity-compensated and kept off
    each other."""
    on_chain = set(chain.joint_names)
    locked = {joint.name for joint in spec.joints if joint.name not in on_chain}
    for equality in list(spec.equalities):  # a mimic joint's coupling goes with it
        if {equality.name1, equality.name2} & locked:
            spec.delete(equality)
    for joint in list(spec.joints):
        if joint.name in locked:
            spec.delete(joint)
    limits = dict(
        zip(robot.joint_names, zip(robot.position_lower, robot.position_upper, strict=True), strict=True)
    )
    for joint in spec.joints:
        joint.range = limits[joint.name]
        joint.limited = mujoco.mjtLimited.mjLIMITED_TRUE
        joint.armature = options.armature
        _set_first(joint, "damping", options.joint_damping)
        joint.frictionloss = options.frictionloss
    for body in _arm_bodies(spec, chain.base):
        body.gravcomp = 1.0
        for geom in body.geoms:
            geom.contype, geom.conaffinity = 2, 1


def _add_pusher(tip: mujoco.MjsBody, options: TwinOptions) -> None:
    """A flat-ended rod from the tip link's origin along its z axis: a tool to push with, for an arm whose
    description ends at a bare flange."""
    rod = tip.add_geom(
        name="pusher_rod",
        type=mujoco.mjtGeom.mjGEOM_CYLINDER,
        fromto=[0.0, 0.0, 0.0, 0.0, 0.0, options.tool_length],
        size=[options.tool_radius, 0.0, 0.0],
        mass=0.1,
        friction=[0.3, 0.005, 0.0001],
        rgba=[0.2, 0.45, 0.85, 1.0],
    )
    rod.contype, rod.conaffinity = 2, 1


def _add_world(spec: mujoco.MjSpec, reach: float, options: TwinOptions) -> None:
    """Lights, the table in front of the base, the cube and the target sites."""
    world = spec.worldbody
    world.add_light(name="key_light", pos=[0.6, -0.6, 2.0], dir=[-0.3, 0.3, -1.0], castshadow=True)
    world.add_light(name="fill_light", pos=[-0.5, 0.8, 1.5], dir=[0.3, -0.5, -1.0], castshadow=False)
    # In front of the base, as a bench beside the arm's mount: the links next to the shoulder swing
    # clear of it, whatever their collision meshes' hulls.
    x_low, x_high, half_y = TABLE_START * reach, 1.1 * reach, 0.75 * reach
    world.add_geom(
        name="table_top",
        type=mujoco.mjtGeom.mjGEOM_BOX,
        pos=[(x_low + x_high) / 2, 0.0, -0.02],
        size=[(x_high - x_low) / 2, half_y, 0.02],
        rgba=[0.62, 0.47, 0.33, 1.0],
        friction=[0.4, 0.005, 0.0001],
    )
    half = options.cube_half_size
    cube = world.add_body(name="cube", pos=[0.5 * reach, 0.0, half])
    cube.add_freejoint(name="cube_joint")
    cube.add_geom(
        name="cube_geom",
        type=mujoco.mjtGeom.mjGEOM_BOX,
        size=[half, half, half],
        mass=options.cube_mass,
        rgba=[0.85, 0.2, 0.15, 1.0],
        friction=[0.4, 0.005, 0.0001],
    )
    cube.add_site(name="cube_site", size=[0.005, 0.005, 0.005], rgba=[1, 1, 1, 0.5])
    green = [0.1, 0.8, 0.2, 0.45]
    world.add_site(
        name="reach_target", type=mujoco.mjtGeom.mjGEOM_SPHERE, size=[0.02, 0, 0], rgba=green, group=2
    )
    world.add_site(
        name="push_target", type=mujoco.mjtGeom.mjGEOM_CYLINDER, size=[0.03, 0.001, 0], rgba=green, group=2
    )


def reflected_inertia(model: mujoco.MjModel, qpos: np.ndarray, dofs: np.ndarray) -> np.ndarray:
    """The joint-space mass matrix's diagonal ``[J]`` at ``qpos``, rotor inertia included."""
    data = mujoco.MjData(model)
    data.qpos[: len(qpos)] = qpos
    mujoco.mj_forward(model, data)
    # M e_k through mj_mulM: the same call on MuJoCo 3 and 4, whose mass-matrix storage differs.
    unit, column = np.zeros(model.nv), np.zeros(model.nv)
    diagonal = []
    for dof in dofs:
        unit[:] = 0.0
        unit[dof] = 1.0
        mujoco.mj_mulM(model, data, column, unit)
        diagonal.append(column[dof])
    return np.array(diagonal)


def compile_twin(spec: mujoco.MjSpec) -> mujoco.MjModel:
    """Compile, turning MuJoCo's error (which names the element: a mesh, a body) into a :class:`UrdfError`."""
    try:
        return spec.compile()
    except ValueError as error:
        raise UrdfError(f"MuJoCo cannot compile the twin: {error}") from None


def _add_servos(spec: mujoco.MjSpec, robot: RobotSpec, home: np.ndarray, options: TwinOptions) -> None:
    model = compile_twin(spec)
    dofs = np.array([model.jnt_dofadr[model.joint(n).id] for n in robot.joint_names])
    inertia = reflected_inertia(model, home, dofs)
    omega = 2.0 * math.pi * options.servo_hz
    efforts = robot.effort_limits or (None,) * robot.dof
    for name, lo, hi, moment, effort in zip(
        robot.joint_names, robot.position_lower, robot.position_upper, inertia, efforts, strict=True
    ):
        actuator = spec.add_actuator(name=f"{name}_servo", target=name, trntype=mujoco.mjtTrn.mjTRN_JOINT)
        actuator.set_to_position(kp=moment * omega**2, kv=2.0 * options.damping_ratio * moment * omega)
        actuator.ctrlrange = [lo, hi]
        actuator.ctrllimited = mujoco.mjtLimited.mjLIMITED_TRUE
        if effort is not None:
            actuator.forcerange = [-effort, effort]
            actuator.forcelimited = mujoco.mjtLimited.mjLIMITED_TRUE


def build_twin(
    urdf_text: str,
    chain: UrdfChain,
    robot: RobotSpec,
    *,
    tip_in_link: np.ndarray,
    home: np.ndarray,
    reach: float,
    meshdir: Path | None = None,
    options: TwinOptions | None = None,
) -> mujoco.MjSpec:
    """The twin's spec: the URDF compiled by MuJoCo plus what :mod:`sim.twin` adds.

    ``tip_in_link [3]`` places the tool tip (``ee_site``) in the tip link's frame; ``home [J]`` is the pose
    the servo gains are set at; ``reach`` (m) sizes the table; ``meshdir`` is where the URDF's (rewritten)
    mesh paths are relative to.
    """
    options = options or TwinOptions()
    spec = mujoco.MjSpec.from_string(urdf_text)
    spec.compiler.fusestatic = False  # keep the tool's and the tip's frames as bodies
    spec.compiler.balanceinertia = True
    spec.compiler.boundmass, spec.compiler.boundinertia = 1e-3, 1e-6
    if meshdir is not None:
        spec.meshdir = str(meshdir)
    spec.modelname = f"wm_planner_{robot.name}_twin"
    spec.option.timestep = options.timestep
    spec.option.integrator = mujoco.mjtIntegrator.mjINT_IMPLICITFAST
    spec.visual.global_.offwidth, spec.visual.global_.offheight = 1280, 720
    _prepare_arm(spec, chain, robot, options)
    if options.tool_length > 0.0:
        _add_pusher(spec.body(chain.tip), options)
    spec.body(chain.tip).add_site(
        name="ee_site", pos=list(tip_in_link), size=[0.006, 0.006, 0.006], rgba=[1, 1, 0, 1]
    )
    _add_world(spec, reach, options)
    # The tool tip as a sensor: what the true-physics rollouts (sim.oracle) record of it.
    spec.add_sensor(
        name="ee_pos",
        type=mujoco.mjtSensor.mjSENS_FRAMEPOS,
        objtype=mujoco.mjtObj.mjOBJ_SITE,
        objname="ee_site",
    )
    _add_servos(spec, robot, home, options)
    return spec


def _exact(values: np.ndarray) -> str:
    return " ".join(repr(float(v)) for v in values)


def twin_xml(spec: mujoco.MjSpec, *, meshdir: str | None = None) -> str:
    """The spec as MJCF with the frames of bodies, joints and sites at full precision (MuJoCo writes six
    significant digits, which would move a tool tip by ~1e-7 m from the chain the planner computes), and
    its meshes looked up in ``meshdir`` (relative to the file) when given."""
    root = ET.fromstring(spec.to_xml())
    compiler = root.find("compiler")
    if meshdir is not None and compiler is not None:
        compiler.set("meshdir", meshdir)
    frames = {
        "body": {b.name: {"pos": b.pos, "quat": b.quat} for b in spec.bodies if b.name},
        "joint": {j.name: {"pos": j.pos, "axis": j.axis} for j in spec.joints if j.name},
        "site": {s.name: {"pos": s.pos, "quat": s.quat} for s in spec.sites if s.name},
    }
    for tag, by_name in frames.items():
        for element in root.iter(tag):
            for attribute, value in by_name.get(element.get("name", ""), {}).items():
                element.set(attribute, _exact(np.asarray(value)))
    return ET.tostring(root, encoding="unicode")
