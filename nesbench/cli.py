"""The `nesbench` command: a thin argparse front over the library. Each area registers its own subcommands."""

from __future__ import annotations

import argparse
import importlib
import sys

from nesbench import __version__
from nesbench.errors import NesbenchError

# One module per area; each defines register(subparsers) and sets `func` on its parsers.
COMMAND_MODULES = (
    "nesbench.benchmark_cli",
    "nesbench.data.cli",
    "nesbench.synth.cli",
    "nesbench.assets.cli",
    "nesbench.metrics.cli",
    "nesbench.methods.cli",
    "nesbench.upstream.cli",
    "nesbench.pipeline.cli",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nesbench", description="NES-Bench: novel expression synthesis benchmark harness"
    )
    parser.add_argument("--version", action="version", version=f"nesbench {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except NesbenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    raise SystemExit(main())
