"""``scalesearch``: a thin shell. Parse flags, call the library, print, exit.

Each command lives in one module of this package, which adds its parser (``add_parsers``) and
its handler. Domain errors (``ScalesearchError``) become one ``error: ...`` line and exit code 2.
Heavy modules (torch, timm, optuna) are imported inside commands, so ``--help`` stays fast.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import NoReturn

from scalesearch import __version__
from scalesearch.cli import inspect, predict, report, results, run
from scalesearch.errors import EXIT_INTERRUPTED, EXIT_USER_ERROR, ScalesearchError

COMMAND_MODULES = (run, inspect, results, report, predict)  # the order of `scalesearch --help`


class _Parser(argparse.ArgumentParser):
    """Usage mistakes get one line and exit code 2, like every other user error."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USER_ERROR, f"error: {self.prog}: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="scalesearch",
        description="Find the image-classification model that fits your budget: a multi-objective "
                    "Optuna search over model scale, compression and training.",
    )
    parser.add_argument("--version", action="version", version=f"scalesearch {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in COMMAND_MODULES:
        module.add_parsers(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except ScalesearchError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
