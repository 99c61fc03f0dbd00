"""The job of an upstream method counted in iterations and run by its own scripts (NeRFace, FlashAvatar): where a
protocol x subject job lives in a runs folder and how it is made (each method adds its checkpoint folder), and the
train/eval loop of `nesbench upstream train|eval` (train.sh / eval.sh) over such jobs."""

from __future__ import annotations

import argparse
import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from nesbench.config import Benchmark
from nesbench.errors import ConfigError
from nesbench.ledger import Ledger, ledger_for_runs
from nesbench.paths import upstream_dir
from nesbench.upstream.jobs import JobResult, default_runs_dir, require_installed
from nesbench.upstream.pins import Upstream, get_pin

J = TypeVar("J", bound="IterationJob")
JOB_MODULES = {  # pin key -> the module with make_job, train_job and eval_job
    "nerface": "nesbench.upstream.nerface.jobs",
    "flashavatar": "nesbench.upstream.flashavatar.jobs",
}


@dataclass(frozen=True)
class IterationJob:
    pin: Upstream
    bench: Benchmark
    subject: str
    protocol: str
    runs: Path
    code_dir: Path
    data_root: Path
    seed: int | None = None
    work: Path | None = None

    @property
    def run_name(self) -> str:
        return self.pin.key if self.seed is None else f"{self.pin.key}-seed{self.seed}"

    @property
    def job_dir(self) -> Path:
        return self.runs / self.run_name / self.protocol / self.subject

    @property
    def work_dir(self) -> Path:
        return self.work or self.job_dir / "work"

    @property
    def log_dir(self) -> Path:
        return self.job_dir / "logs"

    @property
    def name(self) -> str:
        return f"{self.run_name}/{self.protocol}/{self.subject}"

    @property
    def key(self) -> str:
        """The job's key in the ledger (the pipeline's ``Job.key``)."""
        return self.name

    @property
    def ledger(self) -> Ledger:
        """The ledger of the runs folder (the run's own under `nesbench run`, else ``<runs>/.ledger``)."""
        return ledger_for_runs(self.runs)

    @classmethod
    def make(
        cls: type[J],
        pin: Upstream,
        required: str,
        bench: Benchmark,
        subject: str,
        protocol: str,
        runs: Path | None = None,
        upstream_root: Path | None = None,
        data_root: Path | None = None,
        seed: int | None = None,
        work: Path | None = None,
    ) -> J:
        """The job of the method pinned by ``pin`` for protocol x subject; ``required``: a file of the installed code
        (relative to its code folder) whose absence means the method is not set up."""
        code = pin.code_dir(upstream_root or upstream_dir())
        require_installed(pin, bench, subject, protocol, code / required)
        return cls(
            pin,
            bench,
            str(subject),
            protocol,
            Path(runs or default_runs_dir()),
            code,
            Path(data_root) if data_root else bench.data_root(),
            seed,
            Path(work) if work else None,
        )


def run_jobs(
    method: str,
    args: argparse.Namespace,
    bench: Benchmark,
    protocols: list[str],
    subjects: list[str],
    alone: bool = True,
) -> list[JobResult]:
    """Train or render ``method`` (a key of :data:`JOB_MODULES`) for every protocol x subject; ``alone``: no other
    method was chosen, so options that only other methods take are refused instead of left to them."""
    from nesbench.upstream import confs

    jobs = importlib.import_module(JOB_MODULES[method])
    display = get_pin(method).name
    if alone and args.action == "train" and args.epochs is not None:
        raise ConfigError(f"--epochs: {display} trains for a number of iterations; use --iterations N")
    if alone and args.action == "eval":
        for opt in ("test_time_fitting", "fitting_scope"):
            if getattr(args, opt, None) is not None:
                raise ConfigError(f"--{opt.replace('_', '-')}: not a {display} option; drop it")
    overrides = confs.parse_overrides(args.overrides) if args.action == "train" else None
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
