"""`nesbench upstream train|eval --methods flashavatar` (train.sh / eval.sh): the FlashAvatar jobs of those commands."""

from __future__ import annotations

import argparse

from nesbench.config import Benchmark
from nesbench.errors import ConfigError
from nesbench.upstream.jobs import JobResult


def run_jobs(
    args: argparse.Namespace, bench: Benchmark, protocols: list[str], subjects: list[str], alone: bool = True
) -> list[JobResult]:
    """Train or render FlashAvatar for every protocol x subject; ``alone``: no other method was chosen, so options
    that only other methods take are refused instead of left to them."""
    from nesbench.upstream import confs
    from nesbench.upstream.flashavatar import jobs

    if alone and args.action == "train" and args.epochs is not None:
        raise ConfigError("--epochs: FlashAvatar trains for a number of iterations; use --iterations N")
    overrides = confs.parse_overrides(args.overrides) if args.action == "train" else None
    if alone and args.action == "eval":
        for opt in ("test_time_fitting", "fitting_scope"):
            if getattr(args, opt, None) is not None:
                raise ConfigError(f"--{opt.replace('_', '-')}: not a FlashAvatar option; drop it")
    results = []
    for protocol in protocols:
        for subject in subjects:
            job = jobs.make_job(bench, subject, protocol, runs=args.runs, data_root=args.data)
            print(f"[{args.action}] {job.name} ...", flush=True)
            if args.action == "train":
                res = jobs.train_job(job, iterations=args.iterations, overrides=overrides, force=args.force)
            else:
                res = jobs.eval_job(job, force=args.force, checkpoint=args.checkpoint)
            print(
                f"[{args.action}] {res.job}: {res.status} - {res.detail}"
                + (f" (log: {res.log})" if res.log else ""),
                flush=True,
            )
            results.append(res)
    return results
