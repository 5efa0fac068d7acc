"""Learning from its own experience (``wm-planner improve``): rounds of act, add, retrain.

A model trained on exploration is wrong where the planner goes, and the planner finds those errors. So,
as PETS, MBPO and TD-MPC2 do, every round collects episodes with the current bundle's planner (with
exploration: noise on the executed plan and a share of random episodes), adds them to the data,
fine-tunes the last run on all of it, exports, and evaluates on held-out seeds, reporting success beside
the imagination gap (:mod:`wm_planner.imagination`) on the planner's own trajectories.

The loop is the same for every world: an :class:`Experience` collects and evaluates (the simulated arm
through the robot's control loop, any gymnasium environment through its adapter). Each round's outputs
live in their own folder and ``improve.json`` records the finished rounds, so a crashed run resumes where
it stopped: collection completes its datasets, training resumes its checkpoint.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

from wm_planner.config import TrainConfig
from wm_planner.imagination import ImaginationGap

__all__ = [
    "Collected",
    "Evaluated",
    "Experience",
    "ImproveSettings",
    "Round",
    "Start",
    "best_round",
    "foresight",
    "improve",
    "plot_rounds",
    "round_table",
]

RECORD = "improve.json"


@dataclass(frozen=True)
class Collected:
    """What a collection wrote: dataset folders and the environment steps they took."""

    datasets: tuple[Path, ...]
    steps: int
    planned: Path | None = None
    """The one of ``datasets`` the planner collected (the others are exploration), if any."""

    @classmethod
    def of(cls, explored: Path | None, planned: Path | None) -> Collected:
        """The datasets written, their steps counted from the files (so that a resumed round counts what
        an earlier attempt collected)."""
        datasets = tuple(d for d in (explored, planned) if d is not None)
        return cls(datasets, _transitions(datasets), planned)


@dataclass(frozen=True)
class Evaluated:
    """Closed-loop success on held-out seeds, the imagination gap along those episodes, and the report's
    one-line summary."""

    success_rate: float
    gap: ImaginationGap | None
    summary: str


class Experience(Protocol):
    """A world the agent acts in: it collects episodes into datasets and evaluates bundles."""

    def collect(self, bundle: Path | None, out: Path, *, episodes: int, seed: int) -> Collected:
        """``episodes`` episodes into dataset folders under ``out`` (completing any already begun there):
        with the planner on ``bundle`` plus exploration, or with exploration alone when it is None."""
        ...

    def evaluate(self, bundle: Path, report: Path) -> Evaluated:
        """Closed-loop episodes on held-out seeds with the planner on ``bundle``; metrics to ``report``."""
        ...


@dataclass(frozen=True)
class ImproveSettings:
    rounds: int = 4
    episodes: int = 50
    """Episodes collected per round."""
    train_steps: int = 1000
    """Fine-tuning steps per round (on all the data so far)."""
    learning_rate: float = 5e-4
    own_share: float = 0.5
    """Share of every fine-tuning batch drawn from the planner's own episodes (all rounds'), so that what
    the planner does weighs as much as the starting data, however much larger that is."""
    budget: int | None = None
    """Total environment steps (starting data included); no round starts once it is spent."""
    initial_episodes: int = 100
    """Exploration episodes of round 0 when there is no starting model."""
    initial_train_steps: int = 3000
    samples: int = 128
    horizon: int = 16
    """The exported bundles' planning shapes."""
    threads: int = 1
    seed: int = 0

    def __post_init__(self) -> None:
        if not 0.0 <= self.own_share < 1.0:
            raise ValueError(f"own_share (--own-share) must be in [0, 1), got {self.own_share}")


@dataclass(frozen=True)
class Start:
    """Where improvement starts: a training run and its bundle (None: from exploration, in round 0) and
    the datasets it was trained on."""

    run: Path | None = None
    bundle: Path | None = None
    data: tuple[Path, ...] = ()


@dataclass(frozen=True)
class Round:
    """One finished round: its bundle and run, the datasets it added, environment steps (the round's and
    all so far), held-out success, the imagination gap there, and the wall time of each phase (s)."""

    index: int
    bundle: str
    run: str | None
    added: list[str]
    env_steps: int
    total_env_steps: int
    success_rate: float
    gap: dict[str, Any] | None
    seconds: dict[str, float] = field(default_factory=dict)
    foresight: dict[str, Any] | None = None
    """The last round's model on this round's planner episodes, before it trains on them: where that
    model's planner took the world, and how wrong it was there (:func:`foresight`). None in round 0."""

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Round:
        return cls(**data)


def _load(out: Path, resume: bool, header: dict[str, Any]) -> list[Round]:
    record = out / RECORD
    if not record.exists():
        if out.exists() and any(out.iterdir()) and not resume:
            raise FileExistsError(f"{out}: not empty; pass --resume to continue an improvement run there")
        return []
    if not resume:
        raise FileExistsError(f"{out}: already holds an improvement run ({RECORD}); pass --resume")
    saved = json.loads(record.read_text())
    if saved["start"] != header["start"]:
        raise ValueError(f"{out / RECORD}: was started from {saved['start']}, not {header['start']}")
    return [Round.from_json(r) for r in saved["rounds"]]


def best_round(rounds: Sequence[Round]) -> Round:
    """The round whose bundle to use: the best held-out success, the latest among equals (it has seen
    the most of the planner's own experience). Held-out seeds are the round's own, never a report's."""
    return max(reversed(rounds), key=lambda r: r.success_rate)


def _save(out: Path, header: dict[str, Any], rounds: Sequence[Round]) -> None:
    record = {**header, "rounds": [asdict(r) for r in rounds], "best": best_round(rounds).index}
    text = json.dumps(record, indent=2) + "\n"
    temporary = out / (RECORD + ".tmp")
    temporary.write_text(text)
    temporary.replace(out / RECORD)  # a crash mid-write keeps the last finished round


def _transitions(data: Sequence[Path]) -> int:
    from wm_planner.data import verify_dataset

    return sum(verify_dataset(d).transitions for d in data)


def foresight(bundle: Path, planned: Path) -> dict[str, Any]:
    """How wrong ``bundle``'s model is on ``planned``, episodes its own planner collected and it has not
    trained on: the open-loop error after the planner's horizon per observation block (median, p90) and,
    with objects, their error while they move. This is the quantity learning from experience is for (a
    model right where its planner goes); unlike the imagination gap of each round's evaluation, it sets
    one model against fresh data of its own making, before that data can teach it."""
    from wm_planner.model_eval import evaluate_prediction

    report = evaluate_prediction(bundle, planned, ks=(), progress=False)
    horizon = max(report["k"], key=int)
    contact = report.get("contact", {})
    return {
        "k": int(horizon),
        "blocks": report["k"][horizon],
        "object_error_moving": contact.get("object_error_moving_m"),
        "missed_motion_rate": contact.get("missed_motion_rate"),
        "windows": report["windows"],
    }


class _Rounds:
    """The phases of one round, each timed: collect, train, export, evaluate."""

    def __init__(self, experience: Experience, settings: ImproveSettings, *, verbose: bool) -> None:
        self.experience, self.settings, self.verbose = experience, settings, verbose
        self.seconds: dict[str, float] = {}

    def say(self, text: str) -> None:
        if self.verbose:
            print(text, flush=True)

    def _timed(self, phase: str, start: float) -> None:
        self.seconds[phase] = round(time.perf_counter() - start, 1)

    def collect(self, bundle: Path | None, folder: Path, episodes: int, seed: int) -> Collected:
        start = time.perf_counter()
        collected = self.experience.collect(bundle, folder, episodes=episodes, seed=seed)
        self._timed("collect", start)
        return collected

    def train(
        self, data: Sequence[Path], run: Path, init: Path | None, steps: int, own: Sequence[Path] = ()
    ) -> None:
        """Train on ``data`` (fine-tuning ``init``), with the planner's ``own`` episodes among them making
        up ``own_share`` of every batch."""
        from wm_planner.model import train_apart

        start = time.perf_counter()
        s = self.settings
        config = TrainConfig(
            steps=steps,
            seed=s.seed,
            threads=s.threads,
            learning_rate=s.learning_rate if init is not None else TrainConfig().learning_rate,
            focus_share=s.own_share,
        )
        resume = (run / "checkpoint.pt").exists()
        train_apart(list(data), run, train_config=config, init=init, resume=resume, focus=list(own))
        self._timed("train", start)

    def export(self, run: Path, bundle: Path) -> None:
        from wm_planner.model.export import export_bundle

        start = time.perf_counter()
        s = self.settings
        export_bundle(run, bundle, samples=s.samples, horizon=s.horizon, overwrite=True, seed=s.seed)
        self._timed("export", start)

    def evaluate(self, bundle: Path, report: Path) -> Evaluated:
        start = time.perf_counter()
        evaluated = self.experience.evaluate(bundle, report)
        self._timed("evaluate", start)
        self.say(evaluated.summary)
        return evaluated

    def finish(
        self,
        index: int,
        bundle: Path,
        run: Path | None,
        added: Sequence[Path],
        steps: int,
        total: int,
        evaluated: Evaluated,
        seen: dict[str, Any] | None = None,
    ) -> Round:
        seconds, self.seconds = self.seconds, {}
        return Round(
            index=index,
            bundle=str(bundle),
            run=None if run is None else str(run),
            added=[str(d) for d in added],
            env_steps=steps,
            total_env_steps=total,
            success_rate=evaluated.success_rate,
            gap=None if evaluated.gap is None else evaluated.gap.to_json(),
            seconds=seconds,
            foresight=seen,
        )


def improve(
    experience: Experience,
    start: Start,
    out: str | Path,
    settings: ImproveSettings | None = None,
    *,
    resume: bool = False,
    progress: bool = True,
) -> list[Round]:
    """Improve the model of ``start`` with its own experience in ``experience``, in rounds under ``out``
    (``round_<i>/``: datasets, run, bundle, report); returns every finished round, round 0 being the
    start (evaluated as it is, or trained on exploration when ``start`` has no run).

    Stops after ``settings.rounds`` rounds or when the next would pass ``settings.budget`` environment
    steps. ``resume=True`` continues an interrupted run in ``out``.
    """
    s = settings or ImproveSettings()
    out = Path(out)
    header = {
        "start": {k: None if v is None else str(v) for k, v in asdict(start).items() if k != "data"}
        | {"data": [str(d) for d in start.data]},
        "settings": asdict(s),
    }
    rounds = _load(out, resume, header)
    out.mkdir(parents=True, exist_ok=True)
    phases = _Rounds(experience, s, verbose=progress)
    data = [*start.data, *(Path(d) for r in rounds for d in r.added)]
    if not rounds:
        rounds.append(_first_round(phases, start, out / "round_0", data))
        _save(out, header, rounds)
        data = [*start.data, *(Path(d) for d in rounds[0].added)]
    while len(rounds) <= s.rounds:
        last = rounds[-1]
        steps_left = None if s.budget is None else s.budget - last.total_env_steps
        if steps_left is not None and steps_left <= 0:
            phases.say(f"the budget of {s.budget} environment steps is spent after round {last.index}")
            break
        index = last.index + 1
        folder = out / f"round_{index}"
        phases.say(f"round {index}: collecting {s.episodes} episodes with {last.bundle}")
        collected = phases.collect(Path(last.bundle), folder / "data", s.episodes, s.seed + 1000 * index)
        seen = None if collected.planned is None else foresight(Path(last.bundle), collected.planned)
        data += collected.datasets
        own = [Path(d) for r in rounds[1:] for d in r.added] + list(collected.datasets)
        assert last.run is not None
        phases.train(data, folder / "run", Path(last.run), s.train_steps, own)
        phases.export(folder / "run", folder / "bundle")
        evaluated = phases.evaluate(folder / "bundle", folder / "eval.json")
        rounds.append(
            phases.finish(
                index,
                folder / "bundle",
                folder / "run",
                collected.datasets,
                collected.steps,
                last.total_env_steps + collected.steps,
                evaluated,
                seen,
            )
        )
        _save(out, header, rounds)
    return rounds


def _first_round(phases: _Rounds, start: Start, folder: Path, data: list[Path]) -> Round:
    """Round 0: the starting model evaluated, or, without one, a model trained on exploration."""
    s = phases.settings
    if start.run is not None:
        if start.bundle is None:
            raise ValueError("a starting run needs its bundle (--model) too")
        evaluated = phases.evaluate(start.bundle, folder / "eval.json")
        steps = _transitions(data)
        return phases.finish(0, start.bundle, start.run, [], steps, steps, evaluated)
    phases.say(f"round 0: collecting {s.initial_episodes} exploration episodes")
    collected = phases.collect(None, folder / "data", s.initial_episodes, s.seed)
    phases.train([*data, *collected.datasets], folder / "run", None, s.initial_train_steps)
    phases.export(folder / "run", folder / "bundle")
    evaluated = phases.evaluate(folder / "bundle", folder / "eval.json")
    steps = _transitions(data) + collected.steps
    return phases.finish(
        0, folder / "bundle", folder / "run", collected.datasets, collected.steps, steps, evaluated
    )


def round_table(rounds: Sequence[Round]) -> str:
    """The rounds as a Markdown table: success, imagination gap, environment steps, wall time; the best
    round (:func:`best_round`) marked."""
    lines = [
        "| round | success | imagined vs realised cost | object error at k | last model on its planner's "
        "episodes | env steps (total) | wall time |",
        "|---|---|---|---|---|---|---|",
    ]
    best = best_round(rounds).index if rounds else None
    for r in rounds:
        gap = r.gap or {}
        optimism = f"{gap['relative_optimism']:+.0%}" if "relative_optimism" in gap else "n/a"
        objects = _object_error(gap)
        minutes = sum(r.seconds.values()) / 60
        name = f"{r.index} (best)" if r.index == best else str(r.index)
        lines.append(
            f"| {name} | {r.success_rate:.0%} | {optimism} | {objects} | {_foresight_text(r.foresight)} | "
            f"{r.env_steps:,} ({r.total_env_steps:,}) | {minutes:.1f} min |"
        )
    return "\n".join(lines)


def _object_error(gap: dict[str, Any]) -> str:
    named = [f"{name} {value * 100:.2f} cm" for name, value in gap.get("object_errors", {}).items()]
    return ", ".join(named) or "n/a"


def _foresight_text(seen: dict[str, Any] | None) -> str:
    """The objects' error while moving and the tool tip's p90, after ``k`` steps, in cm."""
    if seen is None:
        return "n/a"
    parts = []
    if seen.get("object_error_moving") is not None:
        parts.append(f"objects {100 * seen['object_error_moving']:.2f} cm moving")
    tip = seen["blocks"].get("ee_pos_m")
    if tip is not None:
        parts.append(f"tip p90 {100 * tip['p90']:.2f} cm")
    return ", ".join(parts) or "n/a"


def plot_rounds(rounds: Sequence[Round], path: str | Path) -> Path:
    """Success against environment steps, the imagination gap and the wall time per round, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    index = [r.index for r in rounds]
    fig, (ax_success, ax_gap, ax_seen, ax_time) = plt.subplots(1, 4, figsize=(17, 3.8))
    ax_success.plot([r.total_env_steps for r in rounds], [r.success_rate for r in rounds], "o-")
    ax_success.set(xlabel="environment steps", ylabel="held-out success", ylim=(0, 1.05), title="success")
    optimism = [(r.gap or {}).get("relative_optimism", float("nan")) for r in rounds]
    ax_gap.plot(index, optimism, "o-", color="tab:red")
    ax_gap.axhline(0.0, color="k", lw=0.8)
    ax_gap.set(xlabel="round", ylabel="(realised - imagined) / realised cost", title="imagination gap")
    seen = [
        r for r in rounds if r.foresight is not None and r.foresight.get("object_error_moving") is not None
    ]
    ax_seen.plot(
        [r.index for r in seen],
        [100 * (r.foresight or {})["object_error_moving"] for r in seen],
        "o-",
        color="tab:purple",
    )
    ax_seen.set(
        xlabel="round", ylabel="object error while moving (cm)", title="last model on its planner's episodes"
    )
    ax_seen.set_ylim(bottom=0.0)
    phases = sorted({p for r in rounds for p in r.seconds})
    bottom = [0.0] * len(rounds)
    for phase in phases:
        minutes = [r.seconds.get(phase, 0.0) / 60 for r in rounds]
        ax_time.bar(index, minutes, bottom=bottom, label=phase)
        bottom = [b + m for b, m in zip(bottom, minutes, strict=True)]
    ax_time.set(xlabel="round", ylabel="minutes", title="wall time")
    ax_time.legend(fontsize=8)
    for ax in (ax_gap, ax_seen, ax_time):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return Path(path)
