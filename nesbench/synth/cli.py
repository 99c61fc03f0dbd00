"""`nesbench` subcommands of this area (filled in by the issue that builds it)."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:  # noqa: ARG001
    return None
