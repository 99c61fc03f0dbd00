"""Decoding throughput of the metric engine's input stage versus the number of threads, without any scoring:
how many frames/s the host can feed a GPU (prediction PNGs; GT frames from PNGs or from the GT cache; the whole
per-frame preparation of a scorer).

    python scripts/bench_decode.py --frames 256 --threads 1,2,4,8,16

Rows: `pred png` = one prediction PNG per frame (read_rgb); `gt png` = GT image + mask + semantic PNGs
(read_gt_frame); `gt cache` = the same frame from the GT cache (os.preadv); `frame (png)` and
`frame (cache)` = the engine's whole per-frame work for the chosen scorer and one method (_load_frame);
`frame (cache, batch)` = the same when the scorer evaluates at the cached frames' size: the GT components are read
and the prediction decoded straight into batch buffers (what the engine does then).
Columns: frames/s at each thread count and, in brackets, thread-ms per frame (wall time x threads / frames).
`--processes`: the same work in forked worker processes (what decoding in processes would gain over the GIL-bound
threads; the decoded frames stay in the workers, so a transfer back is not included).
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "scripts"))

import numpy as np  # noqa: E402
from bench_metrics import make_data  # noqa: E402

from nesbench.metrics.engine import Engine, PredSource  # noqa: E402
from nesbench.metrics.engine.gt_cache import GtCache  # noqa: E402
from nesbench.metrics.frames import load_gt_sequence, read_gt_frame  # noqa: E402
from nesbench.metrics.images import read_rgb  # noqa: E402
from nesbench.metrics.registry import get_scorer  # noqa: E402

ROWS: dict[str, Callable[[int], object]] = {}  # read by forked worker processes (--processes)


def _in_worker(item: tuple[str, int]) -> None:
    ROWS[item[0]](item[1])  # the result stays in the worker: this measures the work, not a transfer


def rate(name: str, ks: list[int], workers: int, processes: bool = False) -> tuple[float, float]:
    """(frames/s, worker-ms per frame) of row `name` over ks in a pool of `workers` threads or forked processes
    (best of 2)."""
    best = float("inf")
    if processes:
        pool, fn, items = (
            ProcessPoolExecutor(workers, mp_context=mp.get_context("fork")),
            _in_worker,
            [(name, k) for k in ks],
        )
    else:
        pool, fn, items = ThreadPoolExecutor(workers), ROWS[name], ks
    with pool:
        list(pool.map(fn, items[: workers * 2]))  # warm-up
        for _ in range(2):
            t = time.perf_counter()
            list(pool.map(fn, items, chunksize=4 if processes else 1))
            best = min(best, time.perf_counter() - t)
    return len(ks) / best, best * workers * 1000 / len(ks)


def batch_frame(eng: Engine, seq, k: int, preds: dict, cached, slots: dict[str, np.ndarray]) -> dict:
    """The engine's per-frame work when the GT comes from the cache in batches: read the GT components and decode
    the prediction straight into the batch buffers (frame k's row)."""
    i = cached.rows[k]
    for name, frames in cached.components.items():
        frames.read_into(i, slots[name][i])
    return eng._load_frame(seq, k, preds, cached, True, {"m0": slots["m0"][i]})


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=256)
    ap.add_argument("--res", type=int, default=512)
    ap.add_argument("--threads", default="1,2,4,8,16")
    ap.add_argument("--scorer", default="unified")
    ap.add_argument("--processes", action="store_true",
                    help="run the work in forked worker processes instead of threads (no GIL between them)")  # fmt: skip
    args = ap.parse_args()
    counts = [int(x) for x in args.threads.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        make_data(root, args.frames, args.res, 1)
        ks = list(range(1, args.frames + 1))
        seq = load_gt_sequence(root / "gt")
        cached = GtCache(root / "cache").load(seq, True)
        eng = Engine([get_scorer(args.scorer, resolution=args.res)], device="cpu", lpips_backbone=None,
                     missing_lpips="unavailable")  # fmt: skip
        preds = {"m0": PredSource({k: root / "m0" / f"{k}.png" for k in ks})}
        slots = {n: np.empty((args.frames, *f.shape[1:]), f.dtype) for n, f in cached.components.items()}
        slots["m0"] = np.empty((args.frames, args.res, args.res, 3), np.uint8)
        ROWS.update({
            "pred png": lambda k: read_rgb(root / "m0" / f"{k}.png"),
            "gt png": lambda k: read_gt_frame(seq, k, True),
            "gt cache": lambda k: cached.raw(seq, k),
            "frame (png)": lambda k: eng._load_frame(seq, k, preds),
            "frame (cache)": lambda k: eng._load_frame(seq, k, preds, cached),
            "frame (cache, batch)": lambda k: batch_frame(eng, seq, k, preds, cached, slots),
        })  # fmt: skip
        print(f"command: python scripts/bench_decode.py {' '.join(sys.argv[1:])}")
        print(
            f"{args.frames} frames at {args.res}x{args.res}; scorer {args.scorer}; frames/s (thread-ms/frame)\n"
        )
        unit = "processes" if args.processes else "threads"
        print("| input | " + " | ".join(f"{t} {unit}" for t in counts) + " |")
        print("|---|" + "---|" * len(counts))
        for name in ROWS:
            cells = [rate(name, ks, t, args.processes) for t in counts]
            print(f"| {name} | " + " | ".join(f"{f:.0f} ({ms:.1f})" for f, ms in cells) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
