"""Running one job through its stages (prepare -> train -> render), recording each in the ledger.

Every stage is idempotent; a stage already 'done' is skipped, so re-running resumes where a run stopped, and a
stage left 'running' by a killed worker is simply run again (methods resume from their own last checkpoint).
A worker holds an exclusive ``fcntl`` lock on the job while it runs: a second worker for the same job (a second
driver, a re-submitted Slurm task) waits for the first instead of writing the same files. The kernel drops the
lock when its holder dies, even by SIGKILL, so a stale lock never blocks a resume.
Failures are recorded with their reason and the traceback goes to the job's log file.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from nesbench.fsutil import holder_lock, sweep_temp_files
from nesbench.ledger import STAGES, Ledger
from nesbench.methods.registry import get_method
from nesbench.methods.spec import Job


def job_log_path(run_dir: Path, job: Job) -> Path:
    return Path(run_dir) / "logs" / f"{job.run_name}__{job.protocol}__{job.subject}.log"


def job_folders(job: Job, ledger: Ledger) -> list[Path]:
    """The folders only this job's worker writes: its work dir, its prediction tree and its ledger records."""
    return [job.work_dir, job.method_dir, ledger.root / job.key]


@contextmanager
def job_lock(ledger: Ledger, job: Job, logger: logging.Logger | None = None) -> Iterator[None]:
    """Hold the job's exclusive lock (waiting for another holder); released on exit or process death."""

    def busy(holder: str) -> None:
        if logger:
            logger.info("job is running in another worker (%s); waiting for it", holder)

    with holder_lock(ledger.root / job.key / "job.lock", on_busy=busy):
        yield


def run_job(job: Job, run_dir: Path, ledger: Ledger | None = None) -> bool:
    """Run the job's pending stages; return True when every stage is done."""
    ledger = ledger or Ledger(run_dir)
    if all(ledger.is_done(job.key, s) for s in STAGES):
        return True
    log_path = job_log_path(run_dir, job)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    logger = logging.getLogger(f"nesbench.job.{job.key}")
    handler = logging.FileHandler(log_path)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False  # the job's log file only, not the package's stderr notes
    try:
        with job_lock(ledger, job, logger):
            # Under the lock no other writer is active in the job's folders: drop what killed writers left.
            swept = sum(sweep_temp_files(d) for d in job_folders(job, ledger) if d.exists())
            if swept:
                logger.info("removed %d partial file(s) left by an interrupted attempt", swept)
            method = get_method(job.method).create()
            for stage in STAGES:
                if ledger.is_done(job.key, stage):
                    logger.info("%s: already done, skipped", stage)
                    continue
                rec = ledger.start(job.key, stage)
                logger.info("%s: attempt %d", stage, rec.attempts)
                try:
                    produced = getattr(method, stage)(job)  # a dict is kept as the record's result
                except Exception as exc:  # a method failure is recorded, not raised: other jobs go on
                    reason = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}".strip()
                    logger.error("%s failed: %s\n%s", stage, reason, traceback.format_exc())
                    ledger.finish(job.key, stage, ok=False, reason=f"{reason} (log: {log_path})")
                    return False
                ledger.finish(
                    job.key, stage, ok=True, result=produced if isinstance(produced, dict) else None
                )
                logger.info("%s: done", stage)
            return True
    finally:
        logger.removeHandler(handler)
        handler.close()
