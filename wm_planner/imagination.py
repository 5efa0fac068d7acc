"""The imagination gap: along trajectories the planner executed, what the model imagined for the next
``k`` steps against what happened.

A sampling planner picks, out of hundreds of candidates, the action sequences whose imagined outcome is
best; where the model is wrong in its favour, it picks those errors. Prediction error on exploration data
does not see this: the planner's own states and actions are what matter. So the gap is measured on
executed episodes: from each window's start the model is rolled forward with the actions that were
really executed, and its features and the planner's cost over ``k`` steps are set against the observed
ones. ``optimism`` (realised cost minus imagined cost) is the part the planner exploits: positive when
the model promises more than the world gives.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from wm_planner.model_eval import open_loop
from wm_planner.planning.planner import CostFn
from wm_planner.runtime import OnnxWorldModel

__all__ = ["GapMeter", "ImaginationGap"]


@dataclass(frozen=True)
class ImaginationGap:
    """The gap over ``windows`` windows of ``k`` steps: the planner's cost of the imagined and of the
    realised features, and for each observation block the distance between
    imagined and realised values after ``k`` steps (in the block's units); all means over windows,
    because the rare large errors are the ones a planner finds."""

    k: int
    windows: int
    imagined_cost: float
    realised_cost: float
    block_errors: dict[str, float]
    object_errors: dict[str, float] = field(default_factory=dict)
    """The model's objects by name: the distance between imagined and realised positions after ``k``
    steps (m), the figure a pushing planner lives by."""

    @property
    def optimism(self) -> float:
        """Mean realised minus imagined cost: what the model promised and the world did not give."""
        return self.realised_cost - self.imagined_cost

    @property
    def relative_optimism(self) -> float:
        """:attr:`optimism` as a share of the realised cost."""
        return self.optimism / max(abs(self.realised_cost), 1e-12)

    def to_json(self) -> dict[str, Any]:
        return {
            "k": self.k,
            "windows": self.windows,
            "imagined_cost": self.imagined_cost,
            "realised_cost": self.realised_cost,
            "optimism": self.optimism,
            "relative_optimism": self.relative_optimism,
            "block_errors": self.block_errors,
            "object_errors": self.object_errors,
        }

    def line(self) -> str:
        errors = ", ".join(f"{name} {value:.4g}" for name, value in self.block_errors.items())
        return (
            f"imagination gap over {self.k} steps ({self.windows} windows): cost imagined "
            f"{self.imagined_cost:.3f}, realised {self.realised_cost:.3f} ({self.relative_optimism:+.0%}); "
            f"error at step {self.k}: {errors}"
        )


@dataclass
class GapMeter:
    """Accumulates the imagination gap of ``model`` over executed episodes (:meth:`add`), for windows of
    ``k`` steps (default: the bundle's planning horizon) starting every ``stride`` steps."""

    model: OnnxWorldModel
    k: int | None = None
    stride: int = 5
    _imagined: list[np.ndarray] = field(default_factory=list, repr=False)
    _realised: list[np.ndarray] = field(default_factory=list, repr=False)
    _errors: dict[str, list[np.ndarray]] = field(default_factory=dict, repr=False)

    @property
    def steps(self) -> int:
        return self.k or self.model.horizon

    def add(self, observations: np.ndarray, actions: np.ndarray, cost: CostFn) -> None:
        """One executed episode: ``observations [T+1, O]``, the executed ``actions [T, A]`` and the
        planner's ``cost`` toward that episode's goal. Episodes shorter than ``k`` steps add nothing."""
        k = self.steps
        starts = np.arange(0, len(actions) - k + 1, self.stride)
        if not starts.size:
            return
        window = starts[:, None] + np.arange(k)
        imagined = open_loop(self.model, observations, actions, starts, k)
        realised = observations[window + 1].astype(np.float32)
        executed = actions[window].astype(np.float32)
        self._imagined.append(cost(imagined, executed))
        self._realised.append(cost(realised, executed))
        layout = self.model.meta.observation_layout
        for name in layout.names:
            at = layout.slice(name)
            distance = np.linalg.norm(imagined[:, -1, at] - realised[:, -1, at], axis=-1)
            self._errors.setdefault(name, []).append(distance)

    def result(self) -> ImaginationGap | None:
        """The gap over every window added so far (None before any)."""
        if not self._imagined:
            return None
        imagined, realised = np.concatenate(self._imagined), np.concatenate(self._realised)
        blocks = {name: float(np.mean(np.concatenate(v))) for name, v in self._errors.items()}
        objects = self.model.meta.model.objects or ()
        return ImaginationGap(
            k=self.steps,
            windows=int(imagined.size),
            imagined_cost=float(imagined.mean()),
            realised_cost=float(realised.mean()),
            block_errors=blocks,
            object_errors={spec.name: blocks[spec.position] for spec in objects},
        )
