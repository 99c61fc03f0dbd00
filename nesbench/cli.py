"""The `nesbench` command: a thin argparse front over the library. Each area registers its own subcommands."""

from __future__ import annotations

import argparse
import errno
import importlib
import os
import sys
import traceback
from pathlib import Path

from nesbench import __version__
from nesbench.errors import NesbenchError
from nesbench.openmp_wait import prefer_passive_wait

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
    prefer_passive_wait()  # before anything imports torch (nesbench.openmp_wait)
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
    except OSError as exc:
        print(f"error: {os_error_line(exc)}", file=sys.stderr)
        return 1
    except Exception as exc:  # a bug: one line (the traceback with NESBENCH_DEBUG=1), never a wall of text
        if os.environ.get("NESBENCH_DEBUG"):
            raise
        where = traceback.extract_tb(exc.__traceback__)[-1]
        print(
            f"error: internal error {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''} "
            f"(at {Path(where.filename).name}:{where.lineno}); rerun with NESBENCH_DEBUG=1 for the traceback "
            "and report it",
            file=sys.stderr,
        )
        return 70


FIXES = {
    errno.ENOSPC: "free disk space (or choose another folder) and re-run: finished work is kept",
    errno.EDQUOT: "free disk space within your quota and re-run: finished work is kept",
    errno.EACCES: "check the permissions, or choose a folder you can write",
    errno.EPERM: "check the permissions, or choose a folder you can write",
    errno.EROFS: "the file system is read-only; choose a writable folder",
    errno.ENOTDIR: "a part of this path is a file where a folder is expected; remove or rename it",
    errno.EISDIR: "this is a folder where a file is expected; pass a file path",
    errno.EEXIST: "a file is in the way; remove or rename it",
    errno.ENOENT: "check the path",
    errno.ENAMETOOLONG: "use a shorter path",
}


def os_error_line(exc: OSError) -> str:
    """One line for an OS error: the file, what went wrong and the fix."""
    what = exc.strerror or str(exc)
    where = exc.filename if exc.filename is not None else ""
    if exc.filename2 is not None:
        where = f"{where} -> {exc.filename2}"
    fix = FIXES.get(exc.errno or 0, "check the path and the disk, then re-run")
    return f"{where}: {what}; {fix}" if where else f"{what}; {fix}"


if __name__ == "__main__":
    raise SystemExit(main())
