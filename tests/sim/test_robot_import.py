"""``wm-planner robot import``: a URDF becomes a robot folder whose chain is the twin's to 1e-9 m, whose
twin holds its home pose on its servos, and whose workspace is the arm's own; bad input writes nothing."""

from __future__ import annotations

import shutil
import struct
from pathlib import Path

import mujoco
import numpy as np
import pytest
import yaml

from sim.robot_import import ROBOT_FILE, TWIN_FILE, WORKSPACE_FILE, ImportOptions, import_robot, prune_spheres
from sim.robots import RobotFolder
from sim.twin import TwinOptions, reflected_inertia
from sim.workspace import derive_workspace
from tests.conftest import run_cli
from tests.robots import mesh_link, write_small_arm
from wm_planner.config import RobotSpec, ToolPoint, default_robot_spec, load_yaml_model
from wm_planner.kinematics import ForwardKinematics
from wm_planner.urdf import UrdfError

TIP = (0.0, 0.0, 0.08)


def _twin(folder: Path) -> tuple[RobotSpec, mujoco.MjModel]:
    return load_yaml_model(folder / ROBOT_FILE, RobotSpec), mujoco.MjModel.from_xml_path(
        str(folder / TWIN_FILE)
    )


def test_the_chain_matches_the_twin_to_a_nanometre(small_arm: Path) -> None:
    check = RobotFolder.load(small_arm).check(configurations=1000)
    assert check.tip_error_m < 1e-9 and check.settle_error_rad < 0.01
    done = run_cli("robot", "check", str(small_arm))
    assert done.returncode == 0 and done.stdout.startswith("robot check ok: small_arm"), done.stdout


def test_joint_origins_are_where_the_twin_puts_its_joints(small_arm: Path) -> None:
    robot, model = _twin(small_arm)
    assert robot.kinematics is not None
    data = mujoco.MjData(model)
    qpos = [model.jnt_qposadr[model.joint(n).id] for n in robot.joint_names]
    chain = ForwardKinematics(robot.kinematics)
    for q in np.random.default_rng(3).uniform(robot.lower(), robot.upper(), (50, robot.dof)):
        data.qpos[qpos] = q
        mujoco.mj_kinematics(model, data)
        anchors = np.array([data.xanchor[model.joint(n).id] for n in robot.joint_names])
        np.testing.assert_allclose(chain.joint_origins(q), anchors, atol=1e-9)


def test_a_folder_whose_chain_left_its_twin_fails_the_check(small_arm: Path, tmp_path: Path) -> None:
    moved = tmp_path / "moved"
    shutil.copytree(small_arm, moved)
    spec = yaml.safe_load((moved / ROBOT_FILE).read_text())
    spec["kinematics"]["joints"][2]["xyz"][0] += 0.001  # the elbow a millimetre further out
    (moved / ROBOT_FILE).write_text(yaml.safe_dump(spec))
    check = RobotFolder.load(moved).check(configurations=50)
    assert 1e-4 < check.tip_error_m < 3e-3
    done = run_cli("robot", "check", str(moved))
    assert done.returncode == 1 and "FAILED" in done.stdout


def test_servo_gains_come_from_reflected_inertia_and_forces_from_the_urdf(small_arm: Path) -> None:
    robot, model = _twin(small_arm)
    home = np.array(yaml.safe_load((small_arm / WORKSPACE_FILE).read_text())["home"])
    dofs = np.array([model.jnt_dofadr[model.joint(n).id] for n in robot.joint_names])
    data = mujoco.MjData(model)
    qpos = [model.jnt_qposadr[model.joint(n).id] for n in robot.joint_names]
    data.qpos[qpos] = home
    omega = 2 * np.pi * TwinOptions().servo_hz
    expected = reflected_inertia(model, data.qpos, dofs) * omega**2
    np.testing.assert_allclose(model.actuator_gainprm[:, 0], expected, rtol=1e-5)  # MJCF's six digits
    np.testing.assert_allclose(model.actuator_forcerange[:, 1], [80, 80, 40, 12])


def test_the_twin_has_the_table_cube_and_targets_the_tasks_use(small_arm: Path) -> None:
    _, model = _twin(small_arm)
    for kind, name in [
        (mujoco.mjtObj.mjOBJ_GEOM, "table_top"),
        (mujoco.mjtObj.mjOBJ_BODY, "cube"),
        (mujoco.mjtObj.mjOBJ_JOINT, "cube_joint"),
        (mujoco.mjtObj.mjOBJ_SITE, "reach_target"),
        (mujoco.mjtObj.mjOBJ_SITE, "push_target"),
        (mujoco.mjtObj.mjOBJ_SITE, "ee_site"),
    ]:
        assert mujoco.mj_name2id(model, kind, name) >= 0, name
    assert model.nu == 4 and model.njnt == 5  # four servos; four arm joints and the cube's


def test_the_home_pose_points_the_tool_down_above_the_table(small_arm: Path) -> None:
    robot, model = _twin(small_arm)
    workspace = yaml.safe_load((small_arm / WORKSPACE_FILE).read_text())
    assert robot.kinematics is not None
    chain = ForwardKinematics(robot.kinematics)
    home, reach = np.array(workspace["home"]), workspace["reach"]
    np.testing.assert_allclose(chain.tip(home), [0.36 * reach, 0.0, 0.56 * reach], atol=0.03)
    # Elbow up: the joints past the shoulder sit high above the table the tool works on.
    assert np.all(chain.joint_origins(home)[2:, 2] > 0.5 * reach)
    # The table lies in front of the base, clear of the links around the shoulder.
    table = model.geom("table_top")
    assert table.pos[0] - table.size[0] == pytest.approx(0.2 * reach, rel=1e-6)


def test_tool_spheres_cover_the_pusher(small_arm: Path) -> None:
    robot, _ = _twin(small_arm)
    assert robot.kinematics is not None
    points = np.array([p.xyz for p in robot.kinematics.tool_points])
    radii = np.array([p.radius for p in robot.kinematics.tool_points])
    # The pusher is a 15 mm cylinder from 0 to 8 cm along the tool's z: its axis is covered end to end.
    for z in np.linspace(0.0, 0.08, 9):
        assert np.any(np.linalg.norm(points - [0.0, 0.0, z], axis=1) <= radii + 1e-9), z


def test_a_pusher_rod_on_a_bare_flange_is_the_tool_its_end_the_tip(tmp_path: Path) -> None:
    urdf = write_small_arm(tmp_path)
    options = ImportOptions(twin=TwinOptions(tool_length=0.14, tool_radius=0.01))
    robot, _ = import_robot(urdf, tmp_path / "rod", options)
    assert robot.kinematics is not None and robot.kinematics.tip == (0.0, 0.0, 0.14)
    model = mujoco.MjModel.from_xml_path(str(tmp_path / "rod" / TWIN_FILE))
    assert model.geom("pusher_rod").size[0] == pytest.approx(0.01)
    check = RobotFolder.load(tmp_path / "rod").check(configurations=100)
    assert check.tip_error_m < 1e-9
    points = np.array([p.xyz for p in robot.kinematics.tool_points])
    radii = np.array([p.radius for p in robot.kinematics.tool_points])
    # The rod reaches past the link's own 8 cm pusher: covered to its end.
    for z in np.linspace(0.0, 0.14, 15):
        assert np.any(np.linalg.norm(points - [0.0, 0.0, z], axis=1) <= radii + 1e-9), z


def test_spheres_nearly_inside_larger_ones_are_left_out() -> None:
    big = ToolPoint(xyz=(0.0, 0.0, 0.0), radius=0.05)
    inside = ToolPoint(xyz=(0.0, 0.0, 0.01), radius=0.01)
    just_out = ToolPoint(xyz=(0.0, 0.0, 0.045), radius=0.01)  # reaches 5 mm past the big one
    beyond = ToolPoint(xyz=(0.0, 0.0, 0.055), radius=0.01)  # 15 mm past
    assert prune_spheres((inside, big, just_out, beyond), slack=0.01) == (big, beyond)
    assert prune_spheres((inside, big, just_out, beyond), slack=0.0) == (big, just_out, beyond)
    twins = (ToolPoint(xyz=(0.1, 0.0, 0.0), radius=0.02),) * 2
    assert prune_spheres(twins) == twins[:1]


def test_the_shipped_arm_derives_the_boxes_it_was_tuned_with() -> None:
    workspace = derive_workspace(default_robot_spec())
    np.testing.assert_allclose(workspace.reach_low, (0.30, -0.30, 0.12), atol=0.01)
    np.testing.assert_allclose(workspace.reach_high, (0.60, 0.30, 0.50), atol=0.01)
    np.testing.assert_allclose(workspace.cube_low, (0.42, -0.15), atol=0.01)
    np.testing.assert_allclose(workspace.push_high, (0.70, 0.30), atol=0.01)


def test_a_missing_mesh_is_named_and_nothing_is_written(tmp_path: Path) -> None:
    mesh = mesh_link("camera", "package://cams/meshes/cam.stl", "base")
    urdf = write_small_arm(tmp_path, extra=mesh)
    with pytest.raises(UrdfError, match=r"link 'camera': mesh 'package://cams/meshes/cam.stl' not found"):
        import_robot(urdf, tmp_path / "out", ImportOptions(tip_link="pusher", package_paths=(tmp_path,)))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["small_arm.urdf"]
    done = run_cli("robot", "import", str(urdf), "--out", str(tmp_path / "out"), "--tip-link", "pusher")
    assert done.returncode == 2 and "'camera'" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "out").exists()


def test_meshes_found_on_the_package_path_are_copied_into_the_folder(tmp_path: Path) -> None:
    meshes = tmp_path / "share" / "cams" / "meshes"
    meshes.mkdir(parents=True)
    _write_box_stl(meshes / "cam.stl", 0.02)
    mesh = mesh_link("camera", "package://cams/meshes/cam.stl", "pusher")
    urdf = write_small_arm(tmp_path, extra=mesh)
    options = ImportOptions(package_paths=(tmp_path / "share",), tip_xyz=TIP)
    import_robot(urdf, tmp_path / "out", options)
    assert [p.name for p in (tmp_path / "out" / "meshes").iterdir()] == ["000_cam.stl"]
    model = mujoco.MjModel.from_xml_path(str(tmp_path / "out" / TWIN_FILE))
    assert model.nmesh == 1


def _write_box_stl(path: Path, half: float) -> None:
    """A binary STL (what MuJoCo reads) of a cube of half-size ``half``."""
    corners = np.array([[x, y, z] for x in (-half, half) for y in (-half, half) for z in (-half, half)])
    faces = [(0, 1, 3), (0, 3, 2), (4, 6, 7), (4, 7, 5), (0, 4, 5), (0, 5, 1)]
    faces += [(2, 3, 7), (2, 7, 6), (0, 2, 6), (0, 6, 4), (1, 5, 7), (1, 7, 3)]
    body = b"".join(struct.pack("<12fH", 0, 0, 0, *corners[list(face)].ravel(), 0) for face in faces)
    path.write_bytes(b"\0" * 80 + struct.pack("<I", len(faces)) + body)
