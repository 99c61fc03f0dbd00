"""Throughput of the metric engine: frames/s per scorer at 512x512 on N generated frames (decode + all metrics).

    python scripts/bench_metrics.py --frames 64 --device cpu
    python scripts/bench_metrics.py --frames 2048 --device cuda --batch-size 64     # on the GPU machine

LPIPS runs with randomly initialised AlexNet weights of the real shapes (speed does not depend on the values), so
the script needs no download. Results go to stdout as a Markdown table (paste into docs/PERFORMANCE.md).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nesbench.metrics.engine import Engine, PredSource, describe_device  # noqa: E402
from nesbench.metrics.registry import get_scorer, list_scorers  # noqa: E402

ALEX_SHAPES = {"0": (64, 3, 11, 11), "3": (192, 64, 5, 5), "6": (384, 192, 3, 3), "8": (256, 384, 3, 3),
               "10": (256, 256, 3, 3)}  # fmt: skip


def make_data(root: Path, n: int, res: int, methods: int) -> None:
    """n GT frames (image, soft mask, semantic, flame json) and `methods` prediction folders of n frames."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:res, :res]
    disc = np.clip((res * 0.4 - np.hypot(yy - res / 2, xx - res / 2)) * 4, 0, 255).astype(np.uint8)
    sem = np.where(disc > 0, 1, 0).astype(np.uint8)
    sem[int(res * 0.85) :] = 16
    base = cv2.GaussianBlur(rng.integers(0, 256, (res, res, 3), dtype=np.uint8), (0, 0), 3)
    for d in ("gt/image", "gt/mask", "gt/semantic", *[f"m{i}" for i in range(methods)]):
        (root / d).mkdir(parents=True, exist_ok=True)
    frames = []
    for k in range(1, n + 1):
        img = np.roll(base, k, axis=1)
        cv2.imwrite(str(root / "gt/image" / f"{k}.png"), img)
        cv2.imwrite(str(root / "gt/mask" / f"{k}.png"), np.dstack([disc] * 3))
        cv2.imwrite(str(root / "gt/semantic" / f"{k}.png"), sem)
        for i in range(methods):
            noisy = np.clip(img.astype(int) + rng.integers(-8, 9, img.shape), 0, 255).astype(np.uint8)
            cv2.imwrite(str(root / f"m{i}" / f"{k}.png"), noisy)
        frames.append({"file_path": f"./image/{k}", "flame_keypoints": np.zeros((70, 2)).tolist()})
    (root / "gt/flame_params.json").write_text(json.dumps({"frames": frames}))
    g = torch.Generator().manual_seed(0)
    torch.save(
        {f"{i}.{p}": torch.randn(s if p == "weight" else s[:1], generator=g) * 0.05 for i, s in ALEX_SHAPES.items()
         for p in ("weight", "bias")},
        root / "alexnet_random.pth",
    )  # fmt: skip


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=48)
    ap.add_argument("--res", type=int, default=512)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--batch-size", type=int, default=None)
    ap.add_argument(
        "--methods", type=int, default=1, help="methods scored against the same GT (shares GT work)"
    )
    ap.add_argument("--scorers", default=",".join(list_scorers()))
    ap.add_argument(
        "--repeat", type=int, default=2, help="timed repetitions (best is reported); one warm-up first"
    )
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        make_data(root, args.frames, args.res, args.methods)
        preds = {f"m{i}": PredSource({k: root / f"m{i}" / f"{k}.png" for k in range(1, args.frames + 1)})
                 for i in range(args.methods)}  # fmt: skip
        rows = []
        for name in args.scorers.split(","):
            sc = get_scorer(name, resolution=args.res)
            eng = Engine([sc], device=args.device, lpips_backbone=root / "alexnet_random.pth",
                         batch_size=args.batch_size)  # fmt: skip
            eng.score(root / "gt", {"m0": PredSource({1: preds["m0"].files[1]})})  # warm-up
            best = float("inf")
            for _ in range(args.repeat):
                if eng.device.type == "cuda":
                    torch.cuda.synchronize()
                t = time.perf_counter()
                res = eng.score(root / "gt", preds)
                if eng.device.type == "cuda":
                    torch.cuda.synchronize()
                best = min(best, time.perf_counter() - t)
            assert all(len(r.frames) == args.frames for r in res.values()), "not every frame was scored"
            n = args.frames * args.methods
            rows.append((name, n, best, n / best))
        print(f"device: {describe_device(eng.device)}; torch {torch.__version__}; os.cpu_count()={os.cpu_count()}; "
              f"batch {eng.batch_size}; decode threads {eng.workers}; {args.res}x{args.res}; "
              f"{args.methods} method(s) per GT; load {os.getloadavg()[0]:.2f}")  # fmt: skip
        print("| scorer | frames | seconds | frames/s |\n|---|---|---|---|")
        for name, n, secs, fps in rows:
            print(f"| {name} | {n} | {secs:.2f} | {fps:.1f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
