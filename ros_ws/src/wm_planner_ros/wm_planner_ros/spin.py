"""The ``main`` of every node: init rclpy with the command line, spin until Ctrl-C, clean up."""

from __future__ import annotations

import sys
from collections.abc import Callable

import rclpy
from rclpy.executors import ExternalShutdownException
from rclpy.node import Node

__all__ = ["spin_node"]


def spin_node(make: Callable[[], Node], args: list[str] | None = None) -> int:
    rclpy.init(args=args if args is not None else sys.argv)
    node = make()
    try:
        rclpy.spin(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        node.destroy_node()
        rclpy.try_shutdown()
    return 0
