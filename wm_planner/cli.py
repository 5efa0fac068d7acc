"""The ``wm-planner`` command line.

Core subcommands live here; packages of higher layers (``sim``, ``calibration``) contribute theirs through
the ``wm_planner.commands`` entry-point group, so this module never imports them.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from importlib.metadata import entry_points

from wm_planner.config import ConfigError
from wm_planner.data import DatasetError, verify_dataset

__all__ = ["build_parser", "main"]

COMMAND_GROUP = "wm_planner.commands"


def _cmd_data_verify(args: argparse.Namespace) -> int:
    report = verify_dataset(args.dir)
    print(json.dumps(report.to_json()))
    for problem in report.corrupt:
        print(f"corrupt: {problem}", file=sys.stderr)
    return 1 if report.corrupt else 0


def _register_data(sub: argparse._SubParsersAction) -> None:
    data = sub.add_parser("data", help="inspect episode datasets")
    data_sub = data.add_subparsers(dest="data_command", required=True, metavar="ACTION")
    verify = data_sub.add_parser(
        "verify",
        help="read every episode; print JSON {episodes, transitions, corrupt}; exit 1 if any file is corrupt",
    )
    verify.add_argument("dir", help="dataset directory (holds manifest.json)")
    verify.set_defaults(func=_cmd_data_verify)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="wm-planner",
        description="Plan robot arm motions inside a learned world model.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _register_data(sub)
    for ep in sorted(entry_points(group=COMMAND_GROUP), key=lambda e: e.name):
        try:
            register = ep.load()
        except ImportError as error:
            # A command whose optional dependencies are missing is listed with the extra that brings them.
            stub = sub.add_parser(ep.name, help=f"unavailable: {error}")
            stub.set_defaults(func=_missing_extra(ep.name, error))
            continue
        register(sub)
    return parser


def _missing_extra(name: str, error: ImportError):
    def run(_: argparse.Namespace) -> int:
        print(
            f"wm-planner {name}: needs a package that is not installed ({error}); "
            "install the matching extra, e.g. pip install 'wm-planner[sim]'",
            file=sys.stderr,
        )
        return 2

    return run


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (ConfigError, DatasetError) as error:
        print(f"wm-planner {args.command}: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"wm-planner {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
