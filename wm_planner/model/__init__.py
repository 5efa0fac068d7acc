"""The world model in PyTorch: network, training and ONNX export. Imports torch; not on the robot's path."""

from wm_planner.model.checkpoint import Checkpoint
from wm_planner.model.export import load_bundle_model
from wm_planner.model.rollout import TorchRollout
from wm_planner.model.train import TrainResult, load_checkpoint, train, train_apart
from wm_planner.model.world import WorldModel

__all__ = [
    "Checkpoint",
    "TorchRollout",
    "TrainResult",
    "WorldModel",
    "load_bundle_model",
    "load_checkpoint",
    "train",
    "train_apart",
]
