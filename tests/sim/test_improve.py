"""``improve`` on the simulated arm: a round collects exploration and planner episodes through the
robot's loop, fine-tunes the starting run on all the data and reports the imagination gap, and how wrong
the starting model was on its planner's episodes."""

from __future__ import annotations

from pathlib import Path

from sim.improve import ArmExperience
from sim.robots import RobotFolder
from wm_planner.data import EpisodeDataset
from wm_planner.improve import ImproveSettings, Start, improve
from wm_planner.model.checkpoint import CHECKPOINT_NAME, Checkpoint
from wm_planner.model_eval import evaluate_prediction


def test_a_round_on_the_arm_adds_planner_data_and_fine_tunes_the_start(
    tiny_run: Path, tiny_bundle: Path, reach_dataset: Path, tmp_path: Path
) -> None:
    experience = ArmExperience(
        "reach", RobotFolder.shipped(), random_share=0.5, eval_episodes=1, progress=False
    )
    settings = ImproveSettings(rounds=1, episodes=2, train_steps=5, samples=32, horizon=6)
    start = Start(run=tiny_run, bundle=tiny_bundle, data=(reach_dataset,))
    rounds = improve(experience, start, tmp_path / "improve", settings, progress=False)
    assert [r.index for r in rounds] == [0, 1]
    first, second = rounds
    # Round 0 is the start as it is: its data counted, nothing added.
    assert first.bundle == str(tiny_bundle) and first.added == []
    assert first.env_steps == 12 * 40 and first.gap is not None
    planner = EpisodeDataset(Path(second.added[1]))
    assert [Path(d).name for d in second.added] == ["explore", "planner"]
    assert planner.manifest.source["policy"] == str(tiny_bundle)
    assert second.env_steps == 2 * 150 and second.total_env_steps == 12 * 40 + 2 * 150
    checkpoint = Checkpoint.read(Path(second.run) / CHECKPOINT_NAME)
    assert checkpoint.step == 5 and len(checkpoint.data_hashes) == 3  # start's data and both new sets
    assert second.gap is not None and second.gap["k"] == 6
    # The start's model on the episodes its own planner collected, before training on them: what
    # model-eval says of that bundle on that dataset, at the planner's horizon.
    assert first.foresight is None and second.foresight is not None
    report = evaluate_prediction(tiny_bundle, Path(second.added[1]), ks=(), progress=False)
    assert second.foresight["k"] == 6 and second.foresight["blocks"] == report["k"]["6"]
    assert second.foresight["blocks"]["ee_pos_m"]["p90"] > 0.0
