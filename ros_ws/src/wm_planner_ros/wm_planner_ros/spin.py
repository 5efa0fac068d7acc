"""The ``main`` of every node: init rclpy with the command line, spin until Ctrl-C, clean up.

rclpy's own SIGINT handler shuts the context down the moment Ctrl-C arrives, while the node's threads (the
planner's control loop, the simulator's physics) are still publishing: they fail with "publisher's context
is invalid", and the planner could not send its last command. Here Ctrl-C (and SIGTERM, which launch
sends next) only sets a flag the spin loop checks; the node is destroyed (its threads stopped, its last
command sent) and only then is the context shut down. A flag, not KeyboardInterrupt: an exception raised
wherever Python happens to be can land inside rclpy's message conversion and surface as an unrelated error.
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Callable

import rclpy
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.node import Node
from rclpy.signals import SignalHandlerOptions

__all__ = ["spin_node"]

_WAKE_S = 0.1
"""s between checks for a stop request while nothing else wakes the executor."""


def spin_node(make: Callable[[], Node], args: list[str] | None = None) -> int:
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    rclpy.init(args=args if args is not None else sys.argv, signal_handler_options=SignalHandlerOptions.NO)
    node = make()
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    try:
        while rclpy.ok() and not stop.is_set():
            executor.spin_once(timeout_sec=_WAKE_S)
    except ExternalShutdownException:
        pass
    finally:
        node.destroy_node()
        executor.shutdown()
        rclpy.try_shutdown()
    return 0
