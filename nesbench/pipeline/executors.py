"""Executors: who runs the jobs of a plan.

- ``inline``: one after the other in this process.
- ``local``: one worker process per job, at most one job per visible GPU at a time (CUDA_VISIBLE_DEVICES is set
  for each worker), or ``--max-parallel`` CPU workers when no GPU is visible.
- ``slurm``: a Slurm job array through submitit; jobs that time out or are preempted are requeued and resume.

Every worker runs ``nesbench.pipeline.stages.run_job`` on a job rebuilt from the run's plan.json, so all executors
share the same idempotent stages and ledger.
"""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from pyhocon import ConfigFactory
from tqdm import tqdm

from nesbench.errors import ConfigError
from nesbench.fsutil import write_json_atomic
from nesbench.methods.spec import Job
from nesbench.paths import CONFIGS_DIR
from nesbench.pipeline.ledger import STAGES, Ledger
from nesbench.pipeline.plan import Plan, load_plan
from nesbench.pipeline.stages import run_job

EXECUTORS = ("inline", "local", "slurm")
SLURM_JOBS_FILE = "slurm_jobs.json"


def run_inline(plan: Plan, jobs: list[Job], **_: Any) -> dict[str, bool]:
    """Run every job in this process; returns job key -> success."""
    ledger = Ledger(plan.run_dir)
    results: dict[str, bool] = {}
    with tqdm(jobs, desc="jobs", unit="job") as bar:
        for job in bar:
            bar.set_postfix_str(job.key)
            results[job.key] = run_job(job, plan.run_dir, ledger)
    return results


def run_worker(run_dir: Path, key: str) -> bool:
    """Entry point of a worker (local process or Slurm task): run one job of the plan by its key."""
    plan = load_plan(run_dir)
    for job in plan.jobs():
        if job.key == key:
            return run_job(job, plan.run_dir)
    raise ConfigError(f"{run_dir / 'plan.json'}: no job {key!r} in this plan")


def visible_gpus() -> list[str]:
    """GPU ids this process may use: CUDA_VISIBLE_DEVICES if set, else every device torch sees."""
    env = os.environ.get("CUDA_VISIBLE_DEVICES")
    if env is not None:
        return [x.strip() for x in env.split(",") if x.strip() and x.strip() != "-1"]
    import torch

    return [str(i) for i in range(torch.cuda.device_count())]


def worker_slots(max_parallel: int | None) -> list[str | None]:
    """One slot per visible GPU (capped by max_parallel); CPU slots (None) when no GPU is visible."""
    gpus = visible_gpus()
    if gpus:
        return list(gpus[: max_parallel or len(gpus)])
    return [None] * max(1, max_parallel or 1)


def worker_command(run_dir: Path, key: str) -> list[str]:
    return [sys.executable, "-m", "nesbench", "jobs", "worker", str(run_dir), key]


def run_local(plan: Plan, jobs: list[Job], max_parallel: int | None = None, **_: Any) -> dict[str, bool]:
    """Run each job in its own worker process, one per slot (GPU) at a time; logs in <run>/logs/<job>.worker.log."""
    ledger = Ledger(plan.run_dir)
    slots: queue.Queue[str | None] = queue.Queue()
    for slot in worker_slots(max_parallel):
        slots.put(slot)
    n_slots = slots.qsize()
    pending = [j for j in jobs if not all(ledger.is_done(j.key, s) for s in STAGES)]
    results = {j.key: True for j in jobs if j not in pending}
    lock = threading.Lock()
    bar = tqdm(total=len(jobs), initial=len(results), desc=f"jobs (local, {n_slots} slot(s))", unit="job")

    def launch(job: Job) -> None:
        slot = slots.get()
        try:
            env = dict(os.environ)
            if slot is not None:
                env["CUDA_VISIBLE_DEVICES"] = slot
            log = plan.run_dir / "logs" / f"{job.method}__{job.protocol}__{job.subject}.worker.log"
            log.parent.mkdir(parents=True, exist_ok=True)
            with open(log, "ab") as fh:
                fh.write(f"--- worker start {time.strftime('%Y-%m-%d %H:%M:%S')} slot={slot}\n".encode())
                fh.flush()
                proc = subprocess.run(
                    worker_command(plan.run_dir, job.key), env=env, stdout=fh, stderr=subprocess.STDOUT
                )
            ok = proc.returncode == 0 and all(ledger.is_done(job.key, s) for s in STAGES)
            with lock:
                results[job.key] = ok
                bar.update(1)
        finally:
            slots.put(slot)

    with ThreadPoolExecutor(max_workers=n_slots) as pool:
        list(pool.map(launch, pending))
    bar.close()
    return results


class SlurmWorker:
    """A submitit callable: runs one job; on timeout/preemption submitit calls ``checkpoint`` and requeues it."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = Path(run_dir)

    def __call__(self, key: str) -> bool:
        return run_worker(self.run_dir, key)

    def checkpoint(self, key: str) -> Any:
        import submitit

        # Stages are idempotent and methods resume from their last checkpoint: requeue the same call.
        return submitit.helpers.DelayedSubmission(SlurmWorker(self.run_dir), key)


def load_slurm_profile(path: Path | None = None) -> dict[str, Any]:
    path = Path(path) if path else CONFIGS_DIR / "slurm" / "default.conf"
    try:
        conf = ConfigFactory.parse_file(str(path))
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such Slurm profile") from None
    except Exception as exc:
        raise ConfigError(f"{path}: cannot parse HOCON: {str(exc).splitlines()[0]}") from None
    return {k: (dict(v) if hasattr(v, "items") else v) for k, v in conf.items()}


def make_submitit_executor(run_dir: Path, profile: dict[str, Any], cluster: str | None = None) -> Any:
    import submitit

    params = dict(profile)
    max_num_timeout = int(params.pop("max_num_timeout", 3))
    kwargs: dict[str, Any] = {}
    if cluster != "local" and cluster != "debug":
        kwargs["slurm_max_num_timeout"] = max_num_timeout
    executor = submitit.AutoExecutor(folder=Path(run_dir) / "slurm" / "%j", cluster=cluster, **kwargs)
    valid = executor._valid_parameters() | {k for k in params if k.startswith(f"{executor.cluster}_")}
    executor.update_parameters(name="nesbench", **{k: v for k, v in params.items() if k in valid})
    return executor


def run_slurm(
    plan: Plan,
    jobs: list[Job],
    slurm_profile: Path | None = None,
    cluster: str | None = None,
    wait: bool = True,
    **_: Any,
) -> dict[str, bool]:
    """Submit the pending jobs as one job array; wait for them (with progress) unless wait=False."""
    ledger = Ledger(plan.run_dir)
    pending = [j.key for j in jobs if not all(ledger.is_done(j.key, s) for s in STAGES)]
    results = {j.key: True for j in jobs if j.key not in pending}
    if not pending:
        return results
    executor = make_submitit_executor(plan.run_dir, load_slurm_profile(slurm_profile), cluster)
    worker = SlurmWorker(plan.run_dir)
    submitted = executor.map_array(worker, pending)
    record = {"cluster": executor.cluster, "submitted": time.time(), "jobs": {}}
    for key, sj in zip(pending, submitted, strict=True):
        record["jobs"][key] = sj.job_id
    write_json_atomic(plan.run_dir / SLURM_JOBS_FILE, record)
    print(
        f"[slurm] submitted {len(pending)} job(s) as {submitted[0].job_id.split('_')[0]} ({executor.cluster})",
        file=sys.stderr,
    )
    if not wait:
        return {**results, **dict.fromkeys(pending, False)}
    for key, sj in tqdm(list(zip(pending, submitted, strict=True)), desc="jobs (slurm)", unit="job"):
        try:
            ok = bool(sj.result())
        except Exception as exc:  # a failed task: its reason is in the ledger and the submitit log
            print(
                f"[slurm] {key}: {type(exc).__name__}: {str(exc).splitlines()[-1] if str(exc) else ''}",
                file=sys.stderr,
            )
            ok = False
        results[key] = ok and all(ledger.is_done(key, s) for s in STAGES)
    return results


def execute(plan: Plan, jobs: list[Job], executor: str = "inline", **options: Any) -> dict[str, bool]:
    runners = {"inline": run_inline, "local": run_local, "slurm": run_slurm}
    if executor not in runners:
        raise ConfigError(f"unknown executor {executor!r}; choose one of {', '.join(EXECUTORS)}")
    return runners[executor](plan, jobs, **options)
