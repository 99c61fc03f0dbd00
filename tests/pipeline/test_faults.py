"""SIGKILL of a whole `nesbench run --executor local` (driver and workers) at >= 10 points, then a re-run: the
results equal those of an uninterrupted run and no partial file survives."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import pandas as pd
import pytest

from nesbench.fsutil import TEMP_PREFIX
from nesbench.ledger import Ledger

pytestmark = pytest.mark.slow


def _done(run: Path) -> int:
    try:
        return Ledger(run).summary()["done"]
    except (OSError, ValueError):  # a record being replaced right now
        return 0


def _kill_points(run: Path, cache: Path) -> list[tuple[str, Callable[[], bool]]]:
    """Conditions on the run's progress, in order: data generation, each third of the stages, scoring, report."""
    return [
        ("data generation", lambda: any(p.name.startswith(".") for p in cache.glob("synthetic/*"))),
        ("plan written", lambda: (run / "plan.json").exists()),
        *[(f"{k} stages done", lambda k=k: _done(run) >= k) for k in (1, 3, 5, 8, 11, 14, 17)],
        ("scoring", lambda: (run / "cache").is_dir()),
        ("report", lambda: (run / "summary.json").exists()),
    ]


def _run_cmd(run: Path) -> list[str]:
    return [sys.executable, "-m", "nesbench", "run", "--benchmark", "synthetic_tiny", "--executor", "local",
            "--out", str(run)]  # fmt: skip


def _kill_when(run: Path, cond: Callable[[], bool], jitter_s: float, env: dict) -> bool:
    """Start a run in its own process group; SIGKILL the group once ``cond`` holds (plus jitter).

    Returns False when the run finished before the condition was met."""
    proc = subprocess.Popen(
        _run_cmd(run), env=env, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        while not cond():
            if proc.poll() is not None:
                return False
            time.sleep(0.01)
        time.sleep(jitter_s)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        return True
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def test_sigkill_at_any_point_then_rerun_gives_identical_results(tmp_path, tiny_summary, metric_values):
    run = tmp_path / "killed"
    cache = tmp_path / "cache"  # its own cache, so that data generation is killed too
    env = {**os.environ, "NESBENCH_CACHE": str(cache)}
    rng = random.Random(7)
    killed = []
    for name, cond in _kill_points(run, cache):
        if _kill_when(run, cond, rng.uniform(0.0, 0.25), env):
            killed.append(name)
    assert len(killed) >= 10, killed
    final = subprocess.run(_run_cmd(run), env=env, capture_output=True, text=True)
    assert final.returncode == 0, final.stderr[-2000:]

    summary = json.loads((run / "summary.json").read_text())
    assert metric_values(summary) == metric_values(tiny_summary)
    ledger = Ledger(run)
    assert ledger.summary() == {"pending": 0, "running": 0, "done": 18, "failed": 0}
    assert any(h["state"] == "interrupted" for r in ledger.records() for h in r.history)  # kills hit stages
    # no partial file survives: no temp files, every PNG decodes, every JSON and CSV parses
    files = [p for p in run.rglob("*") if p.is_file()]
    assert not [p for p in files if p.name.startswith(TEMP_PREFIX)]
    assert not [p for p in cache.rglob(f"{TEMP_PREFIX}*")]
    pngs = [p for p in files if p.suffix == ".png"]
    n_frames = summary["counts"]["n_expected"] // len(summary["metrics"])  # expected frames, any one scorer
    assert len(pngs) == n_frames
    data_root = Path(summary["provenance"]["data_root"])  # the generated dataset, also killed midway
    pngs += list(data_root.rglob("*.png"))
    assert all(cv2.imread(str(p), cv2.IMREAD_UNCHANGED) is not None for p in pngs)
    for p in files:
        if p.suffix == ".json":
            json.loads(p.read_text())
    assert len(pd.read_csv(run / "frames.csv")) > 0
