"""`nesbench run` (the main job) and `nesbench report`."""

from __future__ import annotations

import argparse
from pathlib import Path

from nesbench import cli_args
from nesbench.config import DEFAULT_BENCHMARK, load_benchmark
from nesbench.fsutil import dumps_strict
from nesbench.methods.options import add_option_flags
from nesbench.metrics.options import ScoringOptions, add_scoring_arguments
from nesbench.pipeline.executors import EXECUTORS


def _csv(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


def option_methods() -> list:
    """The methods whose declared options become flags: every registered one (built-ins when plugin discovery
    itself is misconfigured; `nesbench run` then reports that error when it resolves the methods)."""
    from nesbench.errors import ConfigError
    from nesbench.methods.registry import BUILTIN, discover

    try:
        return sorted(discover(broken={}).values(), key=lambda s: s.name)
    except ConfigError:
        return list(BUILTIN)


def _run(args: argparse.Namespace) -> int:
    from nesbench.methods.options import chosen_options
    from nesbench.pipeline.run import RunOptions, run_pipeline
    from nesbench.upstream.confs import parse_overrides

    run_pipeline(
        RunOptions(
            benchmark=args.config or args.benchmark,
            out=args.out,
            data=args.data,
            methods=args.methods,
            protocols=args.protocols,
            subjects=args.subjects,
            scorers=args.scorers,
            executor=args.executor,
            scoring=ScoringOptions.from_args(args),
            allow_cpu=args.allow_cpu,
            epochs=args.epochs,
            iterations=args.iterations,
            overrides=parse_overrides(args.set, scoped=True) if args.set else None,
            method_options=chosen_options(args, option_methods()),
            test_time_fitting=None if args.test_time_fitting is None else args.test_time_fitting == "on",
            max_parallel=args.max_parallel,
            slurm_profile=args.slurm_profile,
            slurm_cluster=args.slurm_cluster,
            wait=not args.no_wait,
            seeds=args.seeds,
        )
    )
    return 0


def _report(args: argparse.Namespace) -> int:
    from nesbench.errors import DataError
    from nesbench.report.document import load_summary, write_report

    summary = load_summary(Path(args.run_dir))
    recorded = summary.get("provenance", {}).get("config_path")
    if not args.benchmark and not isinstance(recorded, str):
        raise DataError(f"{args.run_dir}/summary.json: no provenance.config_path; pass --benchmark NAME")
    bench = load_benchmark(args.benchmark or recorded)
    print(write_report(Path(args.run_dir), bench, summary))
    return 0


def _jobs_status(args: argparse.Namespace) -> int:

    from tabulate import tabulate

    from nesbench.ledger import STAGES, Ledger
    from nesbench.pipeline.executors import active_jobs, read_submission
    from nesbench.pipeline.plan import PLAN_FILE, load_plan

    if not (args.run_dir / PLAN_FILE).is_file() and (args.run_dir / ".ledger").is_dir():
        return _runs_folder_status(args)  # train.sh/eval.sh's ledger in a runs folder
    plan = load_plan(args.run_dir)
    ledger = Ledger(plan.run_dir)
    rows = []
    for job in plan.jobs():
        recs = [ledger.get(job.key, s) for s in STAGES]
        reason = next((r.reason for r in recs if r.state == "failed"), "")
        rows.append([job.key, *[f"{r.state}({r.attempts})" if r.attempts else r.state for r in recs], reason])
    if args.json:
        print(dumps_strict([dict(zip(["job", *STAGES, "reason"], r, strict=True)) for r in rows]))
    else:
        print(tabulate(rows, headers=["job", *STAGES, "reason"], tablefmt="github"))
        print(" ".join(f"{k}={v}" for k, v in ledger.summary().items()))
        record = read_submission(plan.run_dir)
        if record:
            queued = active_jobs(record)
            print(
                f"submitted to {record.get('cluster')}: {len(record.get('jobs', {}))} job(s), {len(queued)} queued/running"
            )
    return 0


def _runs_folder_status(args: argparse.Namespace) -> int:
    """The ledger of a runs folder written by `nesbench upstream train|eval` (train.sh/eval.sh)."""
    from tabulate import tabulate

    from nesbench.ledger import Ledger

    ledger = Ledger(args.run_dir, folder=".ledger")
    rows = [[r.job, r.stage, f"{r.state}({r.attempts})", r.reason] for r in ledger.records()]
    if args.json:
        print(dumps_strict([dict(zip(["job", "stage", "state", "reason"], r, strict=True)) for r in rows]))
    else:
        print(tabulate(rows, headers=["job", "stage", "state", "reason"], tablefmt="github"))
    return 0


def _jobs_cancel(args: argparse.Namespace) -> int:
    from nesbench.pipeline.executors import cancel_run

    cancelled = cancel_run(args.run_dir)
    for key, job_id in cancelled:
        print(f"cancelled {key} ({job_id})")
    if not cancelled:
        print("nothing to cancel: no job of this run is queued or running")
    return 0


def _jobs_worker(args: argparse.Namespace) -> int:
    from nesbench.pipeline.executors import run_worker

    return 0 if run_worker(args.run_dir, args.key) else 1


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "run",
        help="the main job: data -> train -> render -> score -> report (resumable)",
        description="Run the whole pipeline for a benchmark into one folder; re-running with the same --out resumes.",
    )
    p.add_argument("--benchmark", default=DEFAULT_BENCHMARK, help="benchmark name (default: %(default)s)")
    p.add_argument("--config", help="path of a benchmark .conf file (overrides --benchmark)")
    p.add_argument("--out", type=Path, help="run folder (default: results/<timestamp>)")
    p.add_argument("--data", type=Path, help="dataset root (default: the benchmark's data_root)")
    p.add_argument("--methods", type=_csv, help="comma list (default: the benchmark's methods)")
    p.add_argument("--protocols", type=_csv, help="comma list (default: all)")
    p.add_argument("--subjects", help="comma list of subject ids and/or test sets (default: all)")
    p.add_argument("--scorers", type=_csv, help="comma list (default: the benchmark's scorers)")
    p.add_argument("--executor", choices=EXECUTORS, default="inline")
    add_scoring_arguments(p.add_argument_group("scoring (as `nesbench metrics`)"))
    p.add_argument(
        "--allow-cpu", action="store_true", help="let GPU methods run on the CPU (tiny smoke runs only)"
    )
    p.add_argument(
        "--epochs",
        type=cli_args.epochs,
        help="IMavatar, PointAvatar, MonoGaussianAvatar: training epochs (default: configs/methods/<method>.conf)",
    )
    p.add_argument(
        "--iterations",
        type=cli_args.bounded_int(1, 10_000_000, "a number of iterations"),
        help="NeRFace, FlashAvatar: training iterations (default: configs/methods/<method>.conf); with --epochs, "
        "one run gives each kind of method its own schedule",
    )
    p.add_argument(
        "--set",
        action="append",
        metavar="[METHOD:]KEY=VALUE",
        help="upstream methods: override a conf key (repeatable); METHOD: sets it for that method only, e.g. "
        "--set flashavatar:save_every=1000",
    )
    p.add_argument(
        "--test-time-fitting",
        choices=["on", "off"],
        help="old spelling of --pointavatar.test-time-fitting (kept for one release)",
    )
    p.add_argument(
        "--max-parallel",
        type=cli_args.max_parallel,
        help="local executor: at most N concurrent jobs (default: one per GPU)",
    )
    p.add_argument("--slurm-profile", type=Path, help="Slurm resources (default: configs/slurm/default.conf)")
    p.add_argument(
        "--slurm-cluster", choices=["slurm", "local", "debug"], help="submitit cluster (default: auto)"
    )
    p.add_argument(
        "--seeds",
        type=cli_args.seeds,
        default=1,
        metavar="N",
        help="run each non-deterministic method N times (seeds 0..N-1) as separate results "
        "<method>-seed<k>; the report shows the between-seed spread (default: 1)",
    )
    p.add_argument("--no-wait", action="store_true", help="slurm: submit and return; re-run later to score")
    add_option_flags(p, option_methods())
    p.set_defaults(func=_run)

    j = sub.add_parser("jobs", help="job ledger of a run: status, cancel; worker entry point")
    jsub = j.add_subparsers(dest="jobs_command", metavar="ACTION", required=True)
    st = jsub.add_parser(
        "status", help="state of every (job, stage) of a run (or of a train.sh/eval.sh runs folder)"
    )
    st.add_argument(
        "run_dir", type=Path, help="a `nesbench run` folder, or a runs folder of train.sh/eval.sh"
    )
    st.add_argument("--json", action="store_true")
    st.set_defaults(func=_jobs_status)
    ca = jsub.add_parser(
        "cancel",
        help="cancel the queued jobs of a run on the cluster they were submitted to (slurm: scancel)",
    )
    ca.add_argument("run_dir", type=Path)
    ca.set_defaults(func=_jobs_cancel)
    wk = jsub.add_parser("worker", help="run one job of a plan (used by the local and slurm executors)")
    wk.add_argument("run_dir", type=Path)
    wk.add_argument("key", help="method/protocol/subject")
    wk.set_defaults(func=_jobs_worker)

    r = sub.add_parser("report", help="(re)write report.md and report.html of a scored run folder")
    r.add_argument("run_dir", type=Path)
    r.add_argument("--benchmark", help="benchmark name or .conf (default: the one recorded in summary.json)")
    r.set_defaults(func=_report)
