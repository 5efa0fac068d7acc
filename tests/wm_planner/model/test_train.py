import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from tests.conftest import run_cli
from wm_planner.config import ModelConfig, TrainConfig
from wm_planner.model import load_checkpoint, train, train_apart

TINY_MODEL = ModelConfig(latent_size=16, hidden_size=32, layers=1)


def tiny_train(steps: int = 40, **kw) -> TrainConfig:
    return TrainConfig(steps=steps, batch_size=16, horizon=6, eval_every=10, checkpoint_every=20, **kw)


def metrics(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def test_loss_falls_and_validation_is_reported(tiny_run: Path) -> None:
    records = metrics(tiny_run)
    assert [r["step"] for r in records] == [25, 50, 75, 100, 125, 150]
    assert records[-1]["loss"] < 0.5 * records[0]["loss"]
    assert records[-1]["val_ee_pos_error_8step"] < records[0]["val_ee_pos_error_8step"]
    config = json.loads((tiny_run / "config.json").read_text())
    assert config["step"] == 150 and config["model_config"]["latent_size"] == 16


def test_same_seed_same_weights(tmp_path: Path, reach_dataset: Path) -> None:
    a = train(
        [reach_dataset], tmp_path / "a", model_config=TINY_MODEL, train_config=tiny_train(), progress=False
    )
    train([reach_dataset], tmp_path / "b", model_config=TINY_MODEL, train_config=tiny_train(), progress=False)
    train(
        [reach_dataset],
        tmp_path / "c",
        model_config=TINY_MODEL,
        train_config=tiny_train(seed=1),
        progress=False,
    )
    assert a.steps == 40
    wa, wb, wc = (load_checkpoint(tmp_path / n)[0].state_dict() for n in "abc")
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    assert not all(torch.equal(wa[k], wc[k]) for k in wa)


def test_training_apart_gives_the_weights_of_training_here(tmp_path: Path, reach_dataset: Path) -> None:
    options = {"model_config": TINY_MODEL, "train_config": tiny_train(steps=10), "progress": False}
    here = train([reach_dataset], tmp_path / "here", **options)
    apart = train_apart([reach_dataset], tmp_path / "apart", **options)
    assert apart.steps == here.steps == 10 and apart.run == tmp_path / "apart"
    wa, wb = (load_checkpoint(tmp_path / n)[0].state_dict() for n in ("here", "apart"))
    assert all(torch.equal(wa[k], wb[k]) for k in wa)


def test_checkpoint_round_trip_is_exact(tiny_run: Path) -> None:
    model, state = load_checkpoint(tiny_run)
    again, _ = load_checkpoint(tiny_run / "checkpoint.pt")
    obs = torch.randn(5, model.obs_size) * model.obs_std + model.obs_mean
    actions = torch.randn(5, 4, model.action_size) * 0.01
    with torch.no_grad():
        assert torch.equal(model.imagine(obs, actions)[0], again.imagine(obs, actions)[0])
    assert state.manifest.task == "reach"
    assert state.step == 150


def test_existing_run_needs_resume_and_bad_checkpoint_is_named(tmp_path: Path, reach_dataset: Path) -> None:
    run = tmp_path / "r"
    train([reach_dataset], run, model_config=TINY_MODEL, train_config=tiny_train(steps=10), progress=False)
    with pytest.raises(FileExistsError, match="pass --resume"):
        train(
            [reach_dataset], run, model_config=TINY_MODEL, train_config=tiny_train(steps=10), progress=False
        )
    with pytest.raises(FileNotFoundError, match=r"no checkpoint\.pt to resume"):
        train([reach_dataset], tmp_path / "new", train_config=tiny_train(), resume=True, progress=False)
    (run / "checkpoint.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match=r"checkpoint\.pt: unreadable checkpoint"):
        load_checkpoint(run)


@pytest.mark.slow
def test_interrupted_run_resumes_to_the_same_weights(tmp_path: Path, reach_dataset: Path) -> None:
    config = tmp_path / "cfg.yaml"
    config.write_text(
        "model: {latent_size: 16, hidden_size: 32, layers: 1}\n"
        "train: {steps: 1200, batch_size: 16, horizon: 6, eval_every: 20, checkpoint_every: 100000}\n"
    )
    args = ["train", "--data", str(reach_dataset), "--config", str(config)]
    straight = run_cli(*args, "--out", str(tmp_path / "straight"))
    assert straight.returncode == 0, straight.stderr

    run = tmp_path / "interrupted"
    cmd = [sys.executable, "-m", "wm_planner.cli", *args, "--out", str(run)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not (run / "metrics.jsonl").exists() or not (run / "metrics.jsonl").read_text():
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    stopped_at = json.loads((run / "config.json").read_text())["step"]
    assert 20 <= stopped_at < 1200

    resumed = run_cli(*args, "--out", str(run), "--resume")
    assert resumed.returncode == 0, resumed.stderr
    a, b = load_checkpoint(tmp_path / "straight")[0].state_dict(), load_checkpoint(run)[0].state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.slow
def test_torchrun_trains_with_two_gloo_processes(
    tmp_path: Path, reach_dataset: Path, tiny_config: Path
) -> None:
    run = tmp_path / "ddp"
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node=2",
        "-m",
        "wm_planner.cli",
        "train",
        "--data",
        str(reach_dataset),
        "--out",
        str(run),
        "--config",
        str(tiny_config),
        "--steps",
        "60",
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MASTER_ADDR": "127.0.0.1"}
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=240, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.count("trained 60 steps") == 1, "only rank 0 reports"
    _, state = load_checkpoint(run)
    assert state.step == 60
    assert len(state.rng) == 2, "each rank's sampler state is saved"
    assert state.rng[0] != state.rng[1], "ranks draw different batches"
    records = metrics(run)
    # Validation error, not one batch's loss: a batch's loss at 60 steps is mostly which batch it was.
    error = next(key for key in records[0] if key.startswith("val_"))
    assert records[-1][error] < records[0][error]


def test_extra_interaction_updates_fit_the_objects_better(tmp_path: Path, push_dataset: Path) -> None:
    """The interaction module underfits with one update per step; its own extra updates (cheap: no robot
    rollout) lower its loss on the same windows after the same number of training steps."""
    import numpy as np

    from wm_planner.model.train import MultiStepObjective
    from wm_planner.model.windows import ToolSpheres, contact_classes, load_split

    losses = []
    for updates in (0, 3):
        config = tiny_train(steps=30, object_updates=updates, object_horizon=6)
        run = train(
            [push_dataset],
            tmp_path / str(updates),
            model_config=TINY_MODEL,
            train_config=config,
            progress=False,
        )
        model, _ = load_checkpoint(run.run)
        manifest, data, _ = load_split([push_dataset], horizon=6, val_fraction=0.1, seed=0, cut_unsound=True)
        layout = manifest.observation_layout
        spheres = ToolSpheres.of(manifest.robot.kinematics, None, layout)
        classes = contact_classes(data, layout, model.config.objects, spheres)
        windows, _ = data.sample_balanced(np.random.default_rng(5), 256, classes)
        with torch.no_grad():
            losses.append(MultiStepObjective(model, 0.0, 1.0).object_loss(torch.from_numpy(windows)).item())
    assert losses[1] < 0.8 * losses[0]
