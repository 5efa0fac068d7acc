import json
import logging
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.conftest import run_cli
from wm_planner.config import default_robot_spec
from wm_planner.data import Layout
from wm_planner.model import load_checkpoint
from wm_planner.model.export import ExportError, RolloutGraph, export_bundle
from wm_planner.runtime import BundleError, OnnxWorldModel, read_bundle_metadata, select_providers


def random_plan_inputs(model: OnnxWorldModel, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    meta = model.meta
    mean, std = np.array(meta.normalization.obs_mean), np.array(meta.normalization.obs_std)
    step = meta.robot.max_step()
    return {
        "obs0": (mean + std * rng.standard_normal(mean.size)).astype(np.float32),
        "actions": rng.uniform(-step, step, (meta.samples, meta.horizon, step.size)).astype(np.float32),
        "goal": (mean + std * rng.standard_normal(mean.size)).astype(np.float32),
        "weights": rng.uniform(0, 1, mean.size).astype(np.float32),
    }


def copy_bundle(bundle: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(bundle, tmp_path / "bundle"))


def test_torch_and_onnx_agree_on_random_inputs(tiny_run: Path, tiny_bundle: Path) -> None:
    model = OnnxWorldModel(tiny_bundle, runtime=None)
    torch_model, _ = load_checkpoint(tiny_run)
    for seed in range(3):
        x = random_plan_inputs(model, seed)
        cost, features = model.rollout(
            x["obs0"], x["actions"], x["goal"], x["weights"], uncertainty_weight=0.3
        )
        with torch.no_grad():
            ref_cost, ref_features = RolloutGraph(torch_model)(
                *(torch.from_numpy(x[k]) for k in ("obs0", "actions", "goal", "weights")), torch.tensor(0.3)
            )
        assert cost.shape == (32,) and features.shape == (32, 6, 24)
        assert np.abs(cost - ref_cost.numpy()).max() / np.abs(ref_cost.numpy()).max() < 1e-4
        assert np.abs(features - ref_features.numpy()).max() / np.abs(ref_features.numpy()).max() < 1e-4
    assert model.meta.parity.worst < 1e-4


def test_rollout_matches_stepwise_dynamics(tiny_bundle: Path) -> None:
    model = OnnxWorldModel(tiny_bundle)
    x = random_plan_inputs(model)
    cost, features = model.rollout(x["obs0"], x["actions"], x["goal"], np.ones(24, np.float32))
    z, offset = model.encode(np.repeat(x["obs0"][None], model.samples, axis=0))
    for h in range(model.horizon):
        z, step_features, disagreement = model.step(z, x["actions"][:, h])
        np.testing.assert_allclose(step_features + offset, features[:, h], rtol=1e-4, atol=1e-4)
        assert np.all(disagreement == 0.0)  # one dynamics head
    np.testing.assert_allclose(cost, ((features - x["goal"]) ** 2).sum(axis=(1, 2)), rtol=1e-4)


def test_metadata_describes_the_model(tiny_run: Path, tiny_bundle: Path, reach_dataset: Path) -> None:
    meta = read_bundle_metadata(tiny_bundle)
    torch_model, state = load_checkpoint(tiny_run)
    assert (meta.samples, meta.horizon) == (32, 6)
    # The arm is modelled in joint space and the dataset's cube is carried as an object: the state of the
    # dynamics graph is q, qd and the command lead (21), the joint anchor (7), the cube (pose, last change
    # and heading: 12), the periods into the interaction step (1) and the tool's 9 spheres at its start.
    assert meta.model.robot_model == "joint" and [o.name for o in meta.model.objects or ()] == ["cube"]
    assert meta.latent_size == torch_model.state_size == 21 + 7 + 12 + 1 + 27
    assert meta.robot == default_robot_spec() and meta.control_period == 0.02
    assert meta.observation_layout.names == ("joint_pos", "joint_vel", "ee_pos", "cube_pos", "cube_quat")
    assert np.array_equal(np.array(meta.normalization.obs_mean, np.float32), torch_model.obs_mean.numpy())
    assert meta.data_hash == state.data_hash and meta.training_data[0].path == str(reach_dataset)


def test_runtime_needs_neither_torch_nor_mujoco(tiny_bundle: Path) -> None:
    script = textwrap.dedent(
        f"""
        import sys
        class Block:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in ("torch", "mujoco"):
                    raise ImportError(f"{{name}} is not installed on the robot")
        sys.meta_path.insert(0, Block())
        import numpy as np
        from wm_planner.config import default_robot_spec
        from wm_planner.runtime import OnnxWorldModel
        from sim_free_check import inputs
        model = OnnxWorldModel({str(tiny_bundle)!r}, robot=default_robot_spec())
        cost, features = model.rollout(*inputs(model))
        assert np.all(np.isfinite(cost)), cost
        assert not any(m.split(".")[0] in ("torch", "mujoco") for m in sys.modules)
        print("scored", cost.shape[0], "sequences with", model.providers[0])
        """
    )
    helper = tiny_bundle.parent / "sim_free_check.py"
    helper.write_text(
        "import numpy as np\n"
        "def inputs(model):\n"
        "    m = model.meta\n"
        "    a = np.zeros((m.samples, m.horizon, m.action_layout.size), np.float32)\n"
        "    obs = np.array(m.normalization.obs_mean, np.float32)\n"
        "    return obs, a, obs, np.ones_like(obs)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, cwd=tiny_bundle.parent
    )
    assert done.returncode == 0, done.stderr
    assert "scored 32 sequences with CPUExecutionProvider" in done.stdout


def test_missing_bundle(tmp_path: Path) -> None:
    with pytest.raises(BundleError, match="no such model bundle"):
        OnnxWorldModel(tmp_path / "nothing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(BundleError, match=r"metadata\.json: missing"):
        OnnxWorldModel(tmp_path / "empty")


@pytest.mark.parametrize("damage", ["truncate", "flip", "delete"])
def test_damaged_graph_file_is_named(tiny_bundle: Path, tmp_path: Path, damage: str) -> None:
    bundle = copy_bundle(tiny_bundle, tmp_path)
    graph = bundle / "rollout.onnx"
    data = graph.read_bytes()
    if damage == "truncate":
        graph.write_bytes(data[: len(data) // 3])
    elif damage == "flip":
        graph.write_bytes(data[:1000] + bytes(b ^ 0x5A for b in data[1000:1100]) + data[1100:])
    else:
        graph.unlink()
    with pytest.raises(BundleError, match=r"rollout\.onnx: (checksum differs|missing)"):
        OnnxWorldModel(bundle)


def test_corrupt_graph_with_matching_checksum_is_named(tiny_bundle: Path, tmp_path: Path) -> None:
    bundle = copy_bundle(tiny_bundle, tmp_path)
    graph = bundle / "encoder.onnx"
    graph.write_bytes(b"\x08\x07garbage" * 10)
    meta = json.loads((bundle / "metadata.json").read_text())
    meta["files"]["encoder.onnx"] = __import__("hashlib").sha256(graph.read_bytes()).hexdigest()
    (bundle / "metadata.json").write_text(json.dumps(meta))
    with pytest.raises(BundleError, match=r"encoder\.onnx: ONNX Runtime cannot load it"):
        OnnxWorldModel(bundle)


def test_corrupt_metadata_is_named(tiny_bundle: Path, tmp_path: Path) -> None:
    bundle = copy_bundle(tiny_bundle, tmp_path)
    (bundle / "metadata.json").write_text('{"schema_version": 1, "horizon": "six"')
    with pytest.raises(BundleError, match=r"metadata\.json: unreadable"):
        OnnxWorldModel(bundle)
    meta = json.loads((tiny_bundle / "metadata.json").read_text())
    (bundle / "metadata.json").write_text(json.dumps({**meta, "horizon": "six"}))
    with pytest.raises(BundleError, match=r"field 'horizon'"):
        OnnxWorldModel(bundle)


def test_mismatched_robot_is_refused_with_the_differences(tiny_bundle: Path) -> None:
    spec = default_robot_spec()
    renamed = spec.model_copy(update={"joint_names": tuple(f"panda_joint{i}" for i in range(1, 8))})
    with pytest.raises(BundleError, match=r"joint names: bundle \['joint1'.* vs robot \['panda_joint1'"):
        OnnxWorldModel(tiny_bundle, robot=renamed)
    faster = spec.model_copy(update={"control_period": 0.01})
    with pytest.raises(BundleError, match=r"control period: bundle 0.02 s vs robot 0.01 s"):
        OnnxWorldModel(tiny_bundle, robot=faster)
    small = Layout.of(("joint_pos", 7, "rad"), ("joint_vel", 7, "rad/s"))
    with pytest.raises(BundleError, match=r"observation layout: .*size 24\) vs expected .*size 14\)"):
        OnnxWorldModel(tiny_bundle, robot=spec, observation_layout=small)


def test_providers_fall_back_to_cpu_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    requested = ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"]
    with caplog.at_level(logging.WARNING):
        assert select_providers(requested, ["CPUExecutionProvider"]) == ["CPUExecutionProvider"]
    assert "TensorrtExecutionProvider, CUDAExecutionProvider" in caplog.text
    assert select_providers(["CUDAExecutionProvider"], ["CUDAExecutionProvider", "CPUExecutionProvider"]) == [
        "CUDAExecutionProvider",
        "CPUExecutionProvider",
    ]


def test_export_refuses_when_parity_is_out_of_tolerance(tiny_run: Path, tmp_path: Path) -> None:
    with pytest.raises(ExportError, match="above the tolerance 1e-12"):
        export_bundle(tiny_run, tmp_path / "b", samples=8, horizon=4, tolerance=1e-12)
    assert not (tmp_path / "b").exists() and not (tmp_path / "b.partial").exists()
    export_bundle(tiny_run, tmp_path / "b", samples=8, horizon=4)
    with pytest.raises(FileExistsError, match="pass --force"):
        export_bundle(tiny_run, tmp_path / "b", samples=8, horizon=4)


def test_model_eval_cli_reports_k_step_errors(tiny_bundle: Path, reach_dataset: Path, tmp_path: Path) -> None:
    out = tmp_path / "eval.json"
    done = run_cli(
        "model-eval", "--model", str(tiny_bundle), "--data", str(reach_dataset), "--json", str(out)
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(out.read_text())
    assert set(report["k"]) == {"1", "6", "10", "30"}  # 6: the bundle's horizon
    for per_k in report["k"].values():
        assert set(per_k) == {"ee_pos_m", "joint_pos_rad", "cube_pos_m"}
        for stats in per_k.values():
            assert 0.0 <= stats["median"] <= stats["p90"]
    assert report["held_out"] == "validation split of the training data"
    assert report["episodes"] == 2  # 20% of 12 episodes
    assert report["k"]["30"]["ee_pos_m"]["median"] >= report["k"]["1"]["ee_pos_m"]["median"]
    # Reaching never touches the cube: the contact section measures over the bundle's horizon and finds
    # no motion, real or imagined.
    contact = report["contact"]
    assert contact["horizon"] == 6 and contact["moving_windows"] == 0
    assert contact["false_motion_rate"] == 0.0 and contact["missed_motion_rate"] is None
    assert done.stdout.strip().endswith(f"-> {out}")


def test_ensemble_disagreement_reaches_the_planner_cost(tmp_path: Path, reach_dataset: Path) -> None:
    from wm_planner.config import ModelConfig, TrainConfig
    from wm_planner.model import train

    config = TrainConfig(steps=5, batch_size=8, horizon=4, eval_every=5, checkpoint_every=5)
    model_config = ModelConfig(latent_size=8, hidden_size=16, layers=1, ensemble=3)
    train([reach_dataset], tmp_path / "run", model_config=model_config, train_config=config, progress=False)
    export_bundle(tmp_path / "run", tmp_path / "bundle", samples=4, horizon=3)
    model = OnnxWorldModel(tmp_path / "bundle")
    assert model.meta.ensemble == 3
    x = random_plan_inputs(model)
    z, _ = model.encode(np.repeat(x["obs0"][None], 4, axis=0))
    _, _, disagreement = model.step(z, x["actions"][:, 0])
    assert np.all(disagreement > 0)
    plain, _ = model.rollout(x["obs0"], x["actions"], x["goal"], x["weights"])
    penalised, _ = model.rollout(x["obs0"], x["actions"], x["goal"], x["weights"], uncertainty_weight=10.0)
    assert np.all(penalised > plain)


def test_sharded_rollout_equals_one_session(tiny_bundle: Path) -> None:
    from wm_planner.config import RuntimeConfig

    one = OnnxWorldModel(tiny_bundle, runtime=RuntimeConfig(cpu_shards=1))
    three = OnnxWorldModel(tiny_bundle, runtime=RuntimeConfig(cpu_shards=3))
    x = random_plan_inputs(one)
    for a, b in zip(one.rollout(**x), three.rollout(**x), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_onnx_and_torch_rollout_backends_agree(tiny_bundle: Path) -> None:
    from wm_planner.model import TorchRollout, load_bundle_model
    from wm_planner.runtime import OnnxRollout

    model = OnnxWorldModel(tiny_bundle)
    x = random_plan_inputs(model)
    onnx = OnnxRollout(model).bind(x["obs0"])(x["actions"])
    torch_side = TorchRollout(load_bundle_model(tiny_bundle)).bind(x["obs0"])(x["actions"])
    np.testing.assert_allclose(onnx.features, torch_side.features, rtol=1e-4, atol=1e-4)
    assert onnx.penalty is None and torch_side.penalty is None
