"""`nesbench benchmark list|show`: what a benchmark contains, as tables."""

from __future__ import annotations

import argparse

from tabulate import tabulate

from nesbench.config import DEFAULT_BENCHMARK, Benchmark, list_benchmarks, load_benchmark
from nesbench.fsutil import dumps_strict
from nesbench.metrics.spec import METRICS, PUBLISHED_COMPARED


def render_benchmark(bench: Benchmark) -> str:
    """A human-readable description: protocols with their splits, then subjects per test set."""
    lines = [
        f"{bench.title}  [{bench.name}]  config: {bench.source}  hash: {bench.config_hash}",
        f"evaluation resolution: {bench.resolution}x{bench.resolution}   data root: {bench.data_root()}",
        "",
    ]
    rows = []
    for p in bench.protocols.values():
        rows.append([p.name, "train", ", ".join(p.train)])
        rows.extend([p.name, f"test: {s.name}", ", ".join(s.sequences)] for s in p.splits)
    lines.append(tabulate(rows, headers=["protocol", "role", "sequences"], tablefmt="github"))
    lines.append("")
    lines.append(
        tabulate(
            [[ts, len(subs), " ".join(subs)] for ts, subs in bench.testsets.items()],
            headers=["test set", "#", "subjects"],
            tablefmt="github",
        )
    )
    lines.append(
        f"\n{len(bench.subjects)} subjects, {len(bench.protocols)} protocols; "
        f"methods: {', '.join(bench.methods) or '-'}; scorers: {', '.join(bench.scorers) or '-'}"
    )
    if bench.published:
        lines.append(f"\npublished: {bench.published_source}")
        keys = list(PUBLISHED_COMPARED)
        lines.append(
            tabulate(
                [
                    [r.display, r.protocol, r.split, r.scorer, *[r.values.get(k, "") for k in keys]]
                    for r in bench.published
                ],
                headers=["method", "protocol", "split", "scorer", *(METRICS[k].label for k in keys)],
                tablefmt="github",
            )
        )
    return "\n".join(lines)


def benchmark_as_dict(bench: Benchmark) -> dict:
    return {
        "name": bench.name,
        "title": bench.title,
        "resolution": bench.resolution,
        "config": str(bench.source),
        "config_hash": bench.config_hash,
        "testsets": {k: list(v) for k, v in bench.testsets.items()},
        "protocols": {
            p.name: {"train": list(p.train), "splits": {s.name: list(s.sequences) for s in p.splits}}
            for p in bench.protocols.values()
        },
        "methods": list(bench.methods),
        "scorers": list(bench.scorers),
    }


def _show(args: argparse.Namespace) -> int:
    bench = load_benchmark(args.name)
    print(dumps_strict(benchmark_as_dict(bench)) if args.json else render_benchmark(bench))
    return 0


def _list(args: argparse.Namespace) -> int:  # noqa: ARG001
    for name in list_benchmarks():
        print(f"{name:20s} {load_benchmark(name).title}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("benchmark", help="show benchmark definitions (configs/benchmarks/*.conf)")
    bsub = p.add_subparsers(dest="benchmark_command", metavar="ACTION", required=True)
    show = bsub.add_parser("show", help="print protocols, splits and subjects of a benchmark")
    show.add_argument("name", nargs="?", default=DEFAULT_BENCHMARK, help="benchmark name or .conf path")
    show.add_argument("--json", action="store_true", help="machine-readable output")
    show.set_defaults(func=_show)
    ls = bsub.add_parser("list", help="list the available benchmarks")
    ls.set_defaults(func=_list)
