"""Running one job through its stages (prepare -> train -> render), recording each in the ledger.

Every stage is idempotent; a stage already 'done' is skipped, so re-running resumes where a run stopped.
Failures are recorded with their reason and the traceback goes to the job's log file.
"""

from __future__ import annotations

import logging
import traceback
from pathlib import Path

from nesbench.methods.registry import get_method
from nesbench.methods.spec import Job
from nesbench.pipeline.ledger import STAGES, Ledger


def job_log_path(run_dir: Path, job: Job) -> Path:
    return Path(run_dir) / "logs" / f"{job.method}__{job.protocol}__{job.subject}.log"


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
    try:
        method = get_method(job.method).create()
        for stage in STAGES:
            if ledger.is_done(job.key, stage):
                logger.info("%s: already done, skipped", stage)
                continue
            rec = ledger.start(job.key, stage)
            logger.info("%s: attempt %d", stage, rec.attempts)
            try:
                getattr(method, stage)(job)
            except Exception as exc:  # a method failure is recorded, not raised: other jobs go on
                reason = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}".strip()
                logger.error("%s failed: %s\n%s", stage, reason, traceback.format_exc())
                ledger.finish(job.key, stage, ok=False, reason=f"{reason} (log: {log_path})")
                return False
            ledger.finish(job.key, stage, ok=True)
            logger.info("%s: done", stage)
        return True
    finally:
        logger.removeHandler(handler)
        handler.close()
