"""A tiny plugin method for the executor tests: records where and when it ran, trains in checkpointed steps.

Registered with NESBENCH_METHODS="trace-method=nbtest_trace_method:SPEC" (this folder on PYTHONPATH). Options
(from the plan): steps (train steps), sleep (seconds per step), rendezvous (wait in train until that many jobs
of the run have started training: proves they run at the same time without measuring time).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from nesbench.fsutil import write_json_atomic
from nesbench.methods.spec import Job, MethodSpec

SPEC = MethodSpec(name="trace-method", description="test plugin", target="nbtest_trace_method:TraceMethod")


def _event(job: Job, **fields: object) -> None:
    with open(job.work_dir / "trace.jsonl", "a") as fh:
        fh.write(
            json.dumps({"pid": os.getpid(), "cuda": os.environ.get("CUDA_VISIBLE_DEVICES"), **fields}) + "\n"
        )


def read_trace(work_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (Path(work_dir) / "trace.jsonl").read_text().splitlines()]


class TraceMethod:
    def prepare(self, job: Job) -> None:
        job.work_dir.mkdir(parents=True, exist_ok=True)

    def train(self, job: Job) -> None:
        ckpt = job.work_dir / "ckpt.json"
        step = json.loads(ckpt.read_text())["step"] if ckpt.exists() else 0
        _event(job, stage="train", event="start", t=time.time(), resumed_from=step)
        n = int(job.options.get("rendezvous", 0))
        if n:
            rdv = job.runs_dir.parent / "rendezvous"
            rdv.mkdir(exist_ok=True)
            (rdv / job.key.replace("/", "__")).touch()
            deadline = time.time() + 60
            while len(list(rdv.iterdir())) < n:
                if time.time() > deadline:
                    raise TimeoutError(f"only {len(list(rdv.iterdir()))} of {n} jobs started together")
                time.sleep(0.05)
        for k in range(step, int(job.options.get("steps", 1))):
            time.sleep(float(job.options.get("sleep", 0.0)))
            write_json_atomic(ckpt, {"step": k + 1})
        _event(job, stage="train", event="end", t=time.time())

    def render(self, job: Job) -> None:
        write_json_atomic(job.work_dir / "rendered.json", {"key": job.key})
