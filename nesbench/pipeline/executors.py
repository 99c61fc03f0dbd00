"""Executors: who runs the jobs of a plan. ``inline`` runs them one after the other in this process."""

from __future__ import annotations

from tqdm import tqdm

from nesbench.methods.spec import Job
from nesbench.pipeline.ledger import Ledger
from nesbench.pipeline.plan import Plan
from nesbench.pipeline.stages import run_job

EXECUTORS = ("inline",)


def run_inline(plan: Plan, jobs: list[Job]) -> dict[str, bool]:
    """Run every job in this process; returns job key -> success."""
    ledger = Ledger(plan.run_dir)
    results: dict[str, bool] = {}
    with tqdm(jobs, desc="jobs", unit="job") as bar:
        for job in bar:
            bar.set_postfix_str(job.key)
            results[job.key] = run_job(job, plan.run_dir, ledger)
    return results


def execute(plan: Plan, jobs: list[Job], executor: str = "inline") -> dict[str, bool]:
    if executor == "inline":
        return run_inline(plan, jobs)
    raise ValueError(f"unknown executor {executor!r}; choose one of {', '.join(EXECUTORS)}")
