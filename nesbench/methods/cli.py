"""`nesbench methods`: the registered methods and what they need."""

from __future__ import annotations

import argparse

from tabulate import tabulate


def _list(args: argparse.Namespace) -> int:  # noqa: ARG001
    from nesbench.methods.options import option_fields
    from nesbench.methods.registry import list_methods

    rows = [
        [
            m.name,
            "yes" if m.needs_gpu else "no",
            ", ".join(m.needs_assets) or "-",
            m.upstream or "-",
            " ".join(f.flag for f in option_fields(m.name, m.config)) or "-",
            m.description,
        ]
        for m in list_methods()
    ]
    headers = ["method", "GPU", "assets", "upstream", "options", "description"]
    print(tabulate(rows, headers=headers, tablefmt="github"))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("methods", help="list registered methods (built-in and plugins)")
    p.set_defaults(func=_list)
