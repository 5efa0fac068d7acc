"""``OnnxWorldModel``: the world-model bundle under ONNX Runtime, as the robot runs it (no torch).

Execution providers are tried in the configured order (TensorRT, CUDA, CPU by default); any that this
ONNX Runtime build lacks or that fails to start is skipped with a logged warning, down to the CPU. On a
GPU provider, inputs and outputs go through IO binding with preallocated device outputs, so a planner
iteration is a single device call with no per-step host round trips.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import onnxruntime as ort

from wm_planner.config import RobotSpec, RuntimeConfig
from wm_planner.data.layout import Layout
from wm_planner.runtime.bundle import BundleError, BundleMetadata, check_compatible, read_bundle_metadata

__all__ = ["OnnxWorldModel", "select_providers"]

log = logging.getLogger(__name__)
GPU_PROVIDERS = ("TensorrtExecutionProvider", "CUDAExecutionProvider")


def select_providers(requested: Sequence[str], available: Sequence[str]) -> list[str]:
    """The requested providers this build has, in order, always ending with the CPU."""
    chosen = [p for p in requested if p in available]
    missing = [p for p in requested if p not in available]
    if missing:
        log.warning(
            "execution providers not available in this onnxruntime build, skipped: %s", ", ".join(missing)
        )
    if "CPUExecutionProvider" not in chosen:
        chosen.append("CPUExecutionProvider")
    return chosen


def _provider_options(name: str, config: RuntimeConfig) -> dict[str, str]:
    if name == "CUDAExecutionProvider":
        return {"device_id": str(config.device_id)}
    if name == "TensorrtExecutionProvider":
        options = {"device_id": str(config.device_id), "trt_fp16_enable": "False"}
        if config.trt_cache_dir:
            options |= {"trt_engine_cache_enable": "True", "trt_engine_cache_path": config.trt_cache_dir}
        return options
    return {}


class _Graph:
    """One ONNX graph with its run strategy fixed at construction (plain run or IO binding)."""

    def __init__(
        self, path: Path, providers: list[str], config: RuntimeConfig, *, threads: int | None = None
    ) -> None:
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        threads = threads or config.intra_op_threads
        if threads:
            options.intra_op_num_threads = threads
        options.log_severity_level = 3
        self.session = self._open(path, options, providers, config)
        self.providers = self.session.get_providers()
        self.output_names = [o.name for o in self.session.get_outputs()]
        self.on_gpu = self.providers[0] in GPU_PROVIDERS
        self.binding = self.session.io_binding() if self.on_gpu else None

    @staticmethod
    def _open(
        path: Path, options: ort.SessionOptions, providers: list[str], config: RuntimeConfig
    ) -> ort.InferenceSession:
        for start in range(len(providers)):
            tried = providers[start:]
            try:
                return ort.InferenceSession(
                    str(path), options, providers=[(p, _provider_options(p, config)) for p in tried]
                )
            except (
                Exception
            ) as error:  # onnxruntime raises its own types for damaged models and provider failures
                if (
                    isinstance(error, ort.capi.onnxruntime_pybind11_state.InvalidProtobuf)
                    or start == len(providers) - 1
                ):
                    raise BundleError(f"{path}: ONNX Runtime cannot load it: {error}") from None
                log.warning(
                    "%s failed to start for %s (%s); falling back to %s", tried[0], path.name, error, tried[1]
                )
        raise BundleError(f"{path}: no execution provider could load it")

    def __call__(self, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        if self.binding is None:
            outputs: list[np.ndarray] = self.session.run(self.output_names, feeds)
            return outputs
        binding = self.binding
        binding.clear_binding_inputs()
        binding.clear_binding_outputs()
        for name, value in feeds.items():
            binding.bind_cpu_input(name, value)
        for name in self.output_names:
            binding.bind_output(name, "cuda")
        self.session.run_with_iobinding(binding)
        copied: list[np.ndarray] = binding.copy_outputs_to_cpu()
        return copied


class _ShardedGraph:
    """A graph run as ``len(graphs)`` sessions in parallel threads, each on a slice of the batch axis
    of every input named in ``batched``; outputs are concatenated back. ONNX Runtime releases the GIL
    while it runs, so the shards really run on separate cores."""

    def __init__(self, graphs: list[_Graph], batched: tuple[str, ...]) -> None:
        self.graphs = graphs
        self.batched = batched
        self.providers = graphs[0].providers
        self.pool = ThreadPoolExecutor(len(graphs) - 1, thread_name_prefix="wm-rollout")

    def __call__(self, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        parts = {name: np.array_split(feeds[name], len(self.graphs)) for name in self.batched}
        shard_feeds = [
            {**feeds, **{name: parts[name][i] for name in self.batched}} for i in range(len(self.graphs))
        ]
        # The calling thread runs the first shard itself: one thread fewer to wake, which on a busy
        # computer is one scheduling delay fewer per call.
        others = self.pool.map(_Graph.__call__, self.graphs[1:], shard_feeds[1:])
        results = [self.graphs[0](shard_feeds[0]), *others]
        return [np.concatenate(outputs) for outputs in zip(*results, strict=True)]


def _rollout_graph(path: Path, providers: list[str], config: RuntimeConfig) -> _Graph | _ShardedGraph:
    """The rollout graph, sharded over the samples on the CPU when its sample axis is symbolic."""
    single = _Graph(path, providers, config)
    samples_axis = single.session.get_inputs()[1].shape[0]
    shards = config.cpu_shards or min(os.cpu_count() or 1, 4)
    if single.on_gpu or isinstance(samples_axis, int) or shards == 1:
        return single
    return _ShardedGraph([_Graph(path, providers, config, threads=1) for _ in range(shards)], ("actions",))


class OnnxWorldModel:
    """A loaded bundle. Shapes: obs ``[B, O]``, z ``[B, L]``, actions ``[N, H, A]``, features ``[..., F]``.

    ``robot`` (and ``observation_layout``) are checked against the bundle's metadata at load; a mismatch
    raises :class:`BundleError` listing every difference.
    """

    def __init__(
        self,
        bundle: str | Path,
        *,
        robot: RobotSpec | None = None,
        observation_layout: Layout | None = None,
        runtime: RuntimeConfig | None = None,
    ) -> None:
        self.path = Path(bundle)
        self.meta: BundleMetadata = read_bundle_metadata(self.path)
        if robot is not None:
            problems = check_compatible(self.meta, robot, observation_layout=observation_layout)
            if problems:
                raise BundleError(
                    f"{self.path}: bundle does not match the robot config:\n  " + "\n  ".join(problems)
                )
        config = runtime or RuntimeConfig()
        providers = select_providers(config.providers, ort.get_available_providers())
        self._encoder = _Graph(self.path / "encoder.onnx", providers, config)
        self._dynamics = _Graph(self.path / "dynamics.onnx", providers, config)
        self._rollout = _rollout_graph(self.path / "rollout.onnx", providers, config)
        self.providers: list[str] = self._rollout.providers
        if self.providers[0] != providers[0]:
            log.warning("running the world model on %s, not %s", self.providers[0], providers[0])

    @property
    def samples(self) -> int:
        return self.meta.samples

    @property
    def horizon(self) -> int:
        return self.meta.horizon

    def encode(self, obs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Latent ``[B, L]`` of ``obs [B, O]`` and its anchor offset ``[B, F]``: add the offset to every
        feature :meth:`step` decodes from that latent to get the rollout's (anchored) features."""
        obs = np.ascontiguousarray(obs, dtype=np.float32)
        z, offset = self._encoder({"obs": obs.reshape(-1, obs.shape[-1])})
        return z, offset

    def step(self, z: np.ndarray, action: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Next latent ``[B, L]``, its decoded features ``[B, F]`` and head disagreement ``[B]``."""
        z_next, features, disagreement = self._dynamics(
            {
                "z": np.ascontiguousarray(z, dtype=np.float32),
                "action": np.ascontiguousarray(action, dtype=np.float32),
            }
        )
        return z_next, features, disagreement

    def rollout(
        self,
        obs0: np.ndarray,
        actions: np.ndarray,
        goal: np.ndarray,
        weights: np.ndarray,
        *,
        uncertainty_weight: float = 0.0,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Score ``actions: [N, H, A]`` from ``obs0: [O]``: cost ``[N]`` and features ``[N, H, F]``."""
        n, h = self.meta.samples, self.meta.horizon
        if actions.shape != (n, h, self.meta.action_layout.size):
            raise ValueError(
                f"actions must have shape {(n, h, self.meta.action_layout.size)}, got {actions.shape}"
            )
        cost, features = self._rollout(
            {
                "obs0": np.ascontiguousarray(obs0, dtype=np.float32).reshape(
                    self.meta.observation_layout.size
                ),
                "actions": np.ascontiguousarray(actions, dtype=np.float32),
                "goal": np.ascontiguousarray(goal, dtype=np.float32).reshape(self.meta.feature_layout.size),
                "weights": np.ascontiguousarray(weights, dtype=np.float32).reshape(
                    self.meta.feature_layout.size
                ),
                "uncertainty_weight": np.array(uncertainty_weight, dtype=np.float32),
            }
        )
        return cost, features
