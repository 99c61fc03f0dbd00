"""`nesbench assets ...`: convert and install the assets methods need."""

from __future__ import annotations

import argparse
from pathlib import Path


def _flame(args: argparse.Namespace) -> int:
    from nesbench.assets.flame import convert_flame_pickle

    dst = convert_flame_pickle(Path(args.src), Path(args.dst))
    print(f"wrote {dst} (plain NumPy, no chumpy needed)")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("assets", help="convert and install assets (FLAME)")
    s = p.add_subparsers(dest="assets_command", metavar="SUBCOMMAND", required=True)
    f = s.add_parser("flame", help="convert a FLAME 2020 generic_model.pkl (chumpy) to plain NumPy")
    f.add_argument(
        "--from", dest="src", required=True, metavar="PATH", help="the user's FLAME generic_model.pkl"
    )
    f.add_argument(
        "--to", dest="dst", required=True, metavar="DIR", help="folder for the converted generic_model.pkl"
    )
    f.set_defaults(func=_flame)
