"""The job ledger: one small JSON record per (method, protocol, subject, stage), written atomically.

One ledger records every job of an output folder, whoever runs it: `nesbench run` (``<run>/ledger/``; its stages
prepare, train, render, the upstream methods' train and render included) and `nesbench upstream train|eval`
(train.sh/eval.sh) writing straight into a runs folder (``<runs>/.ledger/``). A finished stage keeps what it
produced (``result``, e.g. the trained epochs and conf hash), which is how a re-run knows it can skip the stage.

States: pending -> running -> done | failed (with reason). Each record is its own file, so concurrent workers
(local processes, Slurm array tasks) never write the same file unless they run the same stage; updates of one record
take an exclusive ``fcntl`` lock on a sidecar lock file so attempts are counted exactly.
"""

from __future__ import annotations

import fcntl
import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

from nesbench.errors import ConfigError
from nesbench.fsutil import TEMP_PREFIX, read_json_strict, write_json_atomic

STAGES = ("prepare", "train", "render")
PLAN_FILE = "plan.json"  # a `nesbench run` folder: plan.json, runs/, work/, logs/, ledger/
STATES = ("pending", "running", "done", "failed")


@dataclass
class StageRecord:
    job: str
    stage: str
    state: str = "pending"
    attempts: int = 0
    reason: str = ""
    host: str = ""
    pid: int = 0
    started: float = 0.0
    finished: float = 0.0
    history: list[dict] = field(default_factory=list)
    result: dict = field(
        default_factory=dict
    )  # what the finished stage produced (records before issue 14: {})


class Ledger:
    """Stage states of every job of a run, stored under ``<run>/ledger/<method>/<protocol>/<subject>/<stage>.json``
    (``folder`` names another subfolder: ``.ledger`` in a runs folder, see :func:`ledger_for_runs`)."""

    def __init__(self, run_dir: Path, folder: str = "ledger") -> None:
        self.root = Path(run_dir) / folder

    def _path(self, job: str, stage: str) -> Path:
        return self.root / job / f"{stage}.json"

    def get(self, job: str, stage: str) -> StageRecord:
        path = self._path(job, stage)
        try:
            data = read_json_strict(path)
        except FileNotFoundError:
            return StageRecord(job=job, stage=stage)
        except (OSError, ValueError) as exc:
            raise _corrupt(path, str(exc)) from None
        return _record(path, data)

    @contextmanager
    def _locked(self, job: str, stage: str) -> Iterator[None]:
        lock = self._path(job, stage).with_suffix(".lock")
        lock.parent.mkdir(parents=True, exist_ok=True)
        with open(lock, "a") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def _put(self, rec: StageRecord) -> None:
        write_json_atomic(self._path(rec.job, rec.stage), asdict(rec))

    def start(self, job: str, stage: str) -> StageRecord:
        """Mark a stage running (one more attempt). An earlier 'running' record means that attempt was interrupted."""
        with self._locked(job, stage):
            rec = self.get(job, stage)
            if rec.state == "running":
                rec.history.append(
                    {"state": "interrupted", "attempt": rec.attempts, "host": rec.host, "pid": rec.pid}
                )
            rec.state, rec.attempts, rec.reason = "running", rec.attempts + 1, ""
            rec.host, rec.pid, rec.started, rec.finished = socket.gethostname(), os.getpid(), time.time(), 0.0
            self._put(rec)
            return rec

    def finish(
        self, job: str, stage: str, ok: bool, reason: str = "", result: dict | None = None
    ) -> StageRecord:
        """Mark the attempt done (keeping ``result``, what it produced) or failed with ``reason``."""
        with self._locked(job, stage):
            rec = self.get(job, stage)
            rec.state = "done" if ok else "failed"
            rec.reason = reason
            rec.result = dict(result or {}) if ok else {}
            rec.finished = time.time()
            rec.history.append({"state": rec.state, "attempt": rec.attempts, "reason": reason})
            self._put(rec)
            return rec

    def result(self, job: str, stage: str) -> dict | None:
        """What the stage produced when it is done (None when it is not, or was recorded without a result)."""
        rec = self.get(job, stage)
        return rec.result if rec.state == "done" and rec.result else None

    def adopt(self, job: str, stage: str, result: dict, source: Path) -> StageRecord:
        """Record a stage finished before this ledger existed (an older done-marker file ``source``) as done."""
        with self._locked(job, stage):
            rec = self.get(job, stage)
            rec.state, rec.reason, rec.result = "done", "", dict(result)
            rec.history.append({"state": "done", "attempt": rec.attempts, "migrated_from": str(source)})
            self._put(rec)
            return rec

    def job_records(self, job: str) -> list[StageRecord]:
        """The records of every stage of one job, in stage order."""
        return [self.get(job, s) for s in STAGES]

    def is_done(self, job: str, stage: str) -> bool:
        return self.get(job, stage).state == "done"

    def records(self) -> list[StageRecord]:
        if not self.root.exists():
            return []
        paths = sorted(p for p in self.root.rglob("*.json") if not p.name.startswith(TEMP_PREFIX))
        out = []
        for p in paths:
            try:
                out.append(_record(p, read_json_strict(p)))
            except (OSError, ValueError) as exc:
                raise _corrupt(p, str(exc)) from None
        return out

    def summary(self) -> dict[str, int]:
        counts = dict.fromkeys(STATES, 0)
        for rec in self.records():
            counts[rec.state] += 1
        return counts


def ledger_for_runs(runs: Path) -> Ledger:
    """The ledger of the jobs writing into the runs folder ``runs``: the run's own ledger when ``runs`` is the
    ``runs/`` of a `nesbench run` folder (so pipeline and upstream layer share one record per job and stage), else
    ``<runs>/.ledger/`` (hidden: scoring takes every other folder in a runs folder for a method)."""
    runs = Path(runs)
    if runs.name == "runs" and (runs.parent / PLAN_FILE).is_file():
        return Ledger(runs.parent)
    return Ledger(runs, folder=".ledger")


def _corrupt(path: Path, why: str) -> ConfigError:
    return ConfigError(
        f"{path}: corrupt ledger record ({why}); delete it and re-run the same command (that stage is redone)"
    )


def _record(path: Path, data: object) -> StageRecord:
    """A StageRecord from parsed JSON, or ConfigError naming the file when it is not one."""
    try:
        rec = StageRecord(**data)  # type: ignore[arg-type]
    except TypeError:
        raise _corrupt(path, "not the object the ledger writes") from None
    if rec.state not in STATES or not isinstance(rec.attempts, int) or not isinstance(rec.history, list):
        raise _corrupt(path, f"state {rec.state!r}, attempts {rec.attempts!r}")
    return rec
