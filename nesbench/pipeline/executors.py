"""Executors: who runs the jobs of a plan.

- ``inline``: one after the other in this process.
- ``local``: one worker process per job, at most one job per visible GPU at a time (CUDA_VISIBLE_DEVICES is set
  for each worker), or ``--max-parallel`` CPU workers when no GPU is visible.
- ``slurm``: a Slurm job array through submitit (or submitit's ``local``/``debug`` clusters for testing); jobs that
  time out or are preempted are requeued and resume. The submission is recorded in <run>/slurm_jobs.json so that
  ``nesbench jobs status|cancel`` and a re-run find the queued jobs instead of submitting them twice.

Every worker runs ``nesbench.pipeline.stages.run_job`` on a job rebuilt from the run's plan.json, so all executors
share the same idempotent stages and ledger.
"""

from __future__ import annotations

import json
import os
import queue
import signal
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
from nesbench.ledger import STAGES, Ledger
from nesbench.log import get_logger, tag
from nesbench.methods.spec import Job
from nesbench.paths import CONFIGS_DIR
from nesbench.pipeline.plan import Plan, load_plan
from nesbench.pipeline.stages import run_job

log = get_logger(__name__)

EXECUTORS = ("inline", "local", "slurm")
SLURM_JOBS_FILE = "slurm_jobs.json"
SUBMITIT_DIR = "slurm"


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

        # Stages are idempotent and methods resume from their last checkpoint: requeue the same call. The stage
        # that was interrupted stays 'running' in the ledger and is started again by the requeued task.
        return submitit.helpers.DelayedSubmission(SlurmWorker(self.run_dir), key)


def load_slurm_profile(path: Path | None = None) -> dict[str, Any]:
    """Read a Slurm profile (HOCON): submitit AutoExecutor parameters plus ``max_num_timeout``."""
    path = Path(path) if path else CONFIGS_DIR / "slurm" / "default.conf"
    try:
        conf = ConfigFactory.parse_file(str(path))
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such Slurm profile") from None
    except Exception as exc:
        raise ConfigError(f"{path}: cannot parse HOCON: {str(exc).splitlines()[0]}") from None
    profile = {k: (dict(v) if hasattr(v, "items") else v) for k, v in conf.items()}
    profile["_source"] = str(path)
    return profile


def make_submitit_executor(run_dir: Path, profile: dict[str, Any], cluster: str | None = None) -> Any:
    """A submitit AutoExecutor writing under <run>/slurm/, configured from the profile (unknown keys are errors)."""
    import submitit

    params = dict(profile)
    source = params.pop("_source", "Slurm profile")
    max_num_timeout = int(params.pop("max_num_timeout", 3))
    kwargs: dict[str, Any] = {}
    if cluster not in ("local", "debug"):
        kwargs["slurm_max_num_timeout"] = max_num_timeout
    executor = submitit.AutoExecutor(folder=Path(run_dir) / SUBMITIT_DIR / "%j", cluster=cluster, **kwargs)
    try:
        executor.update_parameters(name="nesbench", **params)
    except (NameError, ValueError, TypeError) as exc:
        raise ConfigError(f"{source}: {str(exc).splitlines()[0]}; fix or remove that key") from None
    return executor


def read_submission(run_dir: Path) -> dict[str, Any] | None:
    path = Path(run_dir) / SLURM_JOBS_FILE
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except ValueError:
        raise ConfigError(f"{path}: not valid JSON; delete it if no job of this run is queued") from None


def _squeue_active(job_ids: list[str]) -> set[str]:
    """Ids (``123`` or array task ``123_4``) that Slurm still lists as queued or running."""
    if not job_ids:
        return set()
    try:
        out = subprocess.run(
            ["squeue", "-h", "-r", "-o", "%i %T", "-j", ",".join(job_ids)],
            capture_output=True,
            text=True,
            timeout=60,
        )
    except FileNotFoundError:
        raise ConfigError(
            "squeue not found: run this where the Slurm client commands are installed"
        ) from None
    if out.returncode != 0 and "Invalid job id" not in out.stderr:
        raise ConfigError(
            f"squeue failed: {out.stderr.strip().splitlines()[-1] if out.stderr else out.returncode}"
        )
    listed = {line.split()[0] for line in out.stdout.splitlines() if line.split()}
    return {j for j in job_ids if j in listed}


def _local_controller_alive(job_id: str) -> bool:
    """A submitit local job id is its controller's pid: alive when that pid still runs submitit's controller."""
    try:
        cmdline = Path(f"/proc/{int(job_id)}/cmdline").read_bytes()
    except (OSError, ValueError):
        return False
    return b"submitit.local._local" in cmdline


def active_jobs(record: dict[str, Any]) -> dict[str, str]:
    """Job key -> submitit job id for the recorded jobs that are still queued or running."""
    jobs: dict[str, str] = record.get("jobs", {})
    cluster = record.get("cluster")
    if cluster == "slurm":
        alive = _squeue_active(list(jobs.values()))
        return {k: j for k, j in jobs.items() if j in alive}
    if cluster == "local":
        return {k: j for k, j in jobs.items() if _local_controller_alive(j)}
    return {}  # debug: jobs ran inside the submitting process, which is gone


def _job_done(ledger: Ledger, key: str) -> bool:
    return all(ledger.is_done(key, s) for s in STAGES)


def run_slurm(
    plan: Plan,
    jobs: list[Job],
    slurm_profile: Path | None = None,
    cluster: str | None = None,
    wait: bool = True,
    poll_s: float = 2.0,
    **_: Any,
) -> dict[str, bool]:
    """Submit the pending jobs as one job array (jobs still queued from an earlier call are not submitted twice).

    Waits (with progress) for every pending job to leave the queue unless wait=False; success is read from the
    ledger, so a task that was requeued and resumed counts once it has finished every stage.
    """
    ledger = Ledger(plan.run_dir)
    keys = [j.key for j in jobs]
    results = {k: True for k in keys if _job_done(ledger, k)}
    pending = [k for k in keys if k not in results]
    if not pending:
        return results
    record = read_submission(plan.run_dir) or {}
    queued = {k: j for k, j in active_jobs(record).items() if k in pending} if record else {}
    to_submit = [k for k in pending if k not in queued]
    executor = make_submitit_executor(plan.run_dir, load_slurm_profile(slurm_profile), cluster)
    if queued and record.get("cluster") != executor.cluster:
        raise ConfigError(
            f"{plan.run_dir / SLURM_JOBS_FILE}: {len(queued)} job(s) of this run are still queued on the "
            f"{record.get('cluster')!r} cluster; wait for them or `nesbench jobs cancel {plan.run_dir}`"
        )
    if queued:
        log.info(
            f"{len(queued)} job(s) still queued from an earlier submission: waiting for them",
            extra=tag("slurm"),
        )
    handles: dict[str, Any] = {}
    if to_submit:
        submitted = executor.map_array(SlurmWorker(plan.run_dir), to_submit)
        handles = dict(zip(to_submit, submitted, strict=True))
        history = record.get("history", [])
        if record.get("jobs"):
            history.append(
                {
                    "cluster": record.get("cluster"),
                    "submitted": record.get("submitted"),
                    "jobs": record["jobs"],
                }
            )
        record = {
            "cluster": executor.cluster,
            "submitted": time.time(),
            "jobs": {**queued, **{k: sj.job_id for k, sj in handles.items()}},
            "history": history,
        }
        write_json_atomic(plan.run_dir / SLURM_JOBS_FILE, record)
        log.info(
            f"submitted {len(to_submit)} job(s) as {submitted[0].job_id.split('_')[0]} ({executor.cluster})",
            extra=tag("slurm"),
        )
    if not wait:
        return {**results, **dict.fromkeys(pending, False)}
    if executor.cluster == "debug":  # debug jobs run here, lazily, when their result is asked for
        for sj in handles.values():
            _result_or_report(sj)
    else:
        _wait_for(plan, record, pending, handles, poll_s)
    for key in pending:
        results[key] = _job_done(ledger, key)
    return results


def _result_or_report(sj: Any) -> None:
    try:
        sj.result()
    except Exception as exc:  # a failed task: its reason is in the ledger and the submitit log
        msg = str(exc).strip().splitlines()
        log.info(f"job {sj.job_id}: {type(exc).__name__}: {msg[-1] if msg else ''}", extra=tag("slurm"))


def _wait_for(
    plan: Plan, record: dict[str, Any], keys: list[str], handles: dict[str, Any], poll_s: float
) -> None:
    """Poll until none of ``keys`` is queued or running any more (ledger progress shown as a bar)."""
    ledger = Ledger(plan.run_dir)
    with tqdm(total=len(keys), desc=f"jobs ({record.get('cluster')})", unit="job") as bar:
        while True:
            active = set(active_jobs({**record, "jobs": {k: record["jobs"][k] for k in keys}}))
            active |= {k for k, sj in handles.items() if record.get("cluster") == "local" and not sj.done()}
            done = sum(_job_done(ledger, k) for k in keys)
            bar.update(done - bar.n)
            if not active:
                break
            time.sleep(poll_s)
    for key in keys:
        if not _job_done(ledger, key) and not any(r.state == "failed" for r in ledger.job_records(key)):
            job_id = record["jobs"][key]
            log.info(
                f"{key}: job {job_id} left the queue unfinished; see "
                f"{plan.run_dir / SUBMITIT_DIR / job_id} (logs) and re-run to resume",
                extra=tag("slurm"),
            )


def cancel_run(run_dir: Path) -> list[tuple[str, str]]:
    """Cancel the still-queued jobs of a run on the cluster they were submitted to; returns (key, job id) pairs.

    slurm: ``scancel``; local (submitit's local cluster): SIGINT to the job's controller, which stops its task.
    The stages those jobs were running are marked failed ("cancelled"), so status shows it and a re-run redoes them.
    """
    run_dir = Path(run_dir)
    record = read_submission(run_dir)
    if record is None:
        raise ConfigError(
            f"{run_dir / SLURM_JOBS_FILE}: no submission recorded for this run; only --executor slurm runs "
            f"(Slurm or --slurm-cluster local) leave queued jobs (stop a local or inline run with Ctrl-C)"
        )
    active = active_jobs(record)
    cluster = record.get("cluster")
    for job_id in active.values():
        if cluster == "slurm":
            subprocess.run(["scancel", job_id], check=False)
        elif cluster == "local":
            os.kill(int(job_id), signal.SIGINT)
    deadline = time.time() + 30
    while (left := active_jobs({**record, "jobs": active})) and time.time() < deadline:
        time.sleep(0.2)
    if left:
        log.warning(f"still listed after 30 s (the cluster may be slow): {', '.join(left.values())}")
    ledger = Ledger(run_dir)
    for key in active:
        for rec in ledger.job_records(key):
            if rec.state == "running":
                ledger.finish(key, rec.stage, ok=False, reason="cancelled by `nesbench jobs cancel`")
    return sorted(active.items())


def execute(plan: Plan, jobs: list[Job], executor: str = "inline", **options: Any) -> dict[str, bool]:
    runners = {"inline": run_inline, "local": run_local, "slurm": run_slurm}
    if executor not in runners:
        raise ConfigError(f"unknown executor {executor!r}; choose one of {', '.join(EXECUTORS)}")
    return runners[executor](plan, jobs, **options)
