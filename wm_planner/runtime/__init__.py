"""Running an exported world-model bundle with ONNX Runtime: numpy in, numpy out, no torch."""

from wm_planner.runtime.bundle import (
    BUNDLE_SCHEMA_VERSION,
    GRAPH_FILES,
    BundleError,
    BundleMetadata,
    check_compatible,
    read_bundle_metadata,
    robot_differences,
)
from wm_planner.runtime.rollout import OnnxRollout
from wm_planner.runtime.session import OnnxWorldModel, select_providers

__all__ = [
    "BUNDLE_SCHEMA_VERSION",
    "GRAPH_FILES",
    "BundleError",
    "BundleMetadata",
    "OnnxRollout",
    "OnnxWorldModel",
    "check_compatible",
    "read_bundle_metadata",
    "robot_differences",
    "select_providers",
]
