import mujoco
import numpy as np
import pytest

from sim import HOME_QPOS, SCENE_PATH, check_scene_matches, load_scene
from wm_planner.config import default_robot_spec


def test_scene_ships_with_the_package_and_loads() -> None:
    assert SCENE_PATH.is_file()
    model = load_scene()
    assert model.opt.timestep == pytest.approx(0.002)
    assert (model.njnt, model.nu) == (8, 7)  # 7 arm hinges + the cube's free joint


def test_every_element_is_named() -> None:
    model = load_scene()
    kinds = {
        "body": (model.nbody, mujoco.mjtObj.mjOBJ_BODY),
        "joint": (model.njnt, mujoco.mjtObj.mjOBJ_JOINT),
        "geom": (model.ngeom, mujoco.mjtObj.mjOBJ_GEOM),
        "actuator": (model.nu, mujoco.mjtObj.mjOBJ_ACTUATOR),
        "site": (model.nsite, mujoco.mjtObj.mjOBJ_SITE),
        "sensor": (model.nsensor, mujoco.mjtObj.mjOBJ_SENSOR),
    }
    for kind, (count, obj) in kinds.items():
        # Body 0 is MuJoCo's implicit world body.
        unnamed = [
            i for i in range(1 if kind == "body" else 0, count) if not mujoco.mj_id2name(model, obj, i)
        ]
        assert not unnamed, f"unnamed {kind}s: {unnamed}"


def test_joint_ranges_match_the_robot_spec() -> None:
    model = load_scene()
    spec = default_robot_spec()
    check_scene_matches(model, spec)
    wrong = spec.model_copy(update={"position_upper": (9.0, *spec.position_upper[1:])})
    with pytest.raises(ValueError, match="joint1: scene range"):
        check_scene_matches(model, wrong)


def test_links_have_realistic_masses_and_inertias() -> None:
    model = load_scene()
    arm = [mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY, f"link{i}") for i in range(1, 8)]
    # Franka's published link masses sum to about 16 kg (links 1-7); the tool adds 0.4 kg.
    assert 15.0 < model.body_mass[arm].sum() < 18.0
    assert np.all(model.body_inertia[arm] > 1e-4)
    cube = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY, "cube")
    assert model.body_mass[cube] == pytest.approx(0.1)


def test_home_pose_puts_the_tool_above_the_table_and_holds_still() -> None:
    model = load_scene()
    data = mujoco.MjData(model)
    mujoco.mj_resetDataKeyframe(model, data, 0)
    mujoco.mj_forward(model, data)
    tip = data.site("ee_site").xpos.copy()
    np.testing.assert_allclose(tip, [0.307, 0.0, 0.485], atol=0.005)
    for _ in range(500):
        mujoco.mj_step(model, data)
    np.testing.assert_allclose(data.qpos[:7], HOME_QPOS, atol=2e-3)
    np.testing.assert_allclose(data.site("cube_site").xpos[2], 0.025, atol=1e-3)


def test_timestep_override() -> None:
    assert load_scene(timestep=0.001).opt.timestep == 0.001
    with pytest.raises(ValueError, match="timestep must be positive"):
        load_scene(timestep=0.0)


def test_the_robot_specs_kinematics_place_the_tool_where_the_scene_does() -> None:
    from sim.scene import SceneHandles
    from wm_planner.kinematics import ForwardKinematics

    model, spec = load_scene(), default_robot_spec()
    data = mujoco.MjData(model)
    handles = SceneHandles.of(model, spec.joint_names)
    pusher = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY, "pusher")
    fk = ForwardKinematics(spec.kinematics)
    local = np.array([p.xyz for p in spec.kinematics.tool_points])
    rng = np.random.default_rng(0)
    for q in rng.uniform(spec.lower(), spec.upper(), size=(20, 7)):
        data.qpos[handles.arm_qpos] = q
        mujoco.mj_kinematics(model, data)
        np.testing.assert_allclose(fk.tip(q), data.site_xpos[handles.ee_site], atol=1e-9)
        expected = data.xpos[pusher] + local @ data.xmat[pusher].reshape(3, 3).T
        np.testing.assert_allclose(fk.tool_points(q), expected, atol=1e-9)


def test_the_cube_object_spec_is_the_scenes_cube() -> None:
    from sim.tasks import CUBE

    model = load_scene()
    geom = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_GEOM, "cube_geom")
    np.testing.assert_allclose(CUBE.half_extents, model.geom_size[geom])
