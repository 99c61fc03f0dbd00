from __future__ import annotations

import json
import multiprocessing as mp
from pathlib import Path

from nesbench.ledger import Ledger


def _hammer(run_dir: str, n: int) -> None:
    ledger = Ledger(Path(run_dir))
    for i in range(n):
        ledger.start("m/p/0001", "train")
        ledger.finish("m/p/0001", "train", ok=i % 2 == 0, reason="" if i % 2 == 0 else f"boom {i}")


def test_states_and_attempts(tmp_path):
    ledger = Ledger(tmp_path)
    assert ledger.get("m/p/s", "train").state == "pending"
    ledger.start("m/p/s", "train")
    assert ledger.get("m/p/s", "train").state == "running"
    ledger.start("m/p/s", "train")  # the first attempt was interrupted (never finished)
    rec = ledger.finish("m/p/s", "train", ok=False, reason="ValueError: x")
    assert (rec.state, rec.attempts, rec.reason) == ("failed", 2, "ValueError: x")
    assert rec.history[0]["state"] == "interrupted"
    ledger.start("m/p/s", "train")
    assert ledger.finish("m/p/s", "train", ok=True).state == "done"
    assert ledger.is_done("m/p/s", "train")
    assert ledger.summary() == {"pending": 0, "running": 0, "done": 1, "failed": 0}


def test_concurrent_writers_count_every_attempt(tmp_path):
    n_proc, n_each = 4, 25
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_hammer, args=(str(tmp_path), n_each)) for _ in range(n_proc)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    rec = Ledger(tmp_path).get("m/p/0001", "train")
    assert rec.attempts == n_proc * n_each
    assert sum(h["state"] in ("done", "failed") for h in rec.history) == n_proc * n_each
    # the record is always complete JSON, and no temp files are left behind
    json.loads((tmp_path / "ledger" / "m/p/0001" / "train.json").read_text())
    assert not [p for p in tmp_path.rglob(".nbtmp.*")]
