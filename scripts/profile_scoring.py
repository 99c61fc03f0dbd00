"""Where the scoring time goes on one device, without any decoding: each scorer's ``score`` on a batch of random
frames already in memory, its parts (host-to-device copy, SSIM, LPIPS features), and torch.profiler's top kernels.

    python scripts/profile_scoring.py --device cuda --batch-size 64
    python scripts/profile_scoring.py --device cpu --batch-size 8 --iters 3

It complements scripts/bench_metrics.py (end-to-end frames/s with decoding): the `ms/frame` here are the device's
share of a frame's cost, so 1000 / ms is the most frames/s the device could score if decoding were free. Uses the
parity fixture's stub AlexNet weights and random LPIPS linear layers (speed does not depend on the values).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "scripts"))

from bench_metrics import linear_layers, make_data  # noqa: E402

from nesbench.metrics.engine import describe_device, resolve_device  # noqa: E402
from nesbench.metrics.engine.prepare import channels_first, gt_arrays  # noqa: E402
from nesbench.metrics.frames import RawGt  # noqa: E402
from nesbench.metrics.lpips_alex import LpipsAlex  # noqa: E402
from nesbench.metrics.precision import full_float32, unit  # noqa: E402
from nesbench.metrics.registry import get_scorer, list_scorers  # noqa: E402
from nesbench.metrics.scorers import ScoreContext  # noqa: E402
from nesbench.metrics.ssim import ssim_map  # noqa: E402


def timed(dev: torch.device, fn: Callable[[], object], iters: int) -> float:
    """Seconds per call (after one warm-up call), synchronising the device around the loop."""
    fn()
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)
    t = time.perf_counter()
    for _ in range(iters):
        fn()
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)
    return (time.perf_counter() - t) / iters


def batch(b: int, res: int, channels: int, pin: bool) -> torch.Tensor:
    """A B x C x H x W uint8 view of B x H x W x C memory: what the engine's stacking produces."""
    x = torch.randint(0, 256, (b, res, res, channels), dtype=torch.uint8)
    return (x.pin_memory() if pin else x).permute(0, 3, 1, 2)


def stacked(a: np.ndarray, b: int, pin: bool) -> torch.Tensor:
    """B copies of one prepared frame component (H x W x C or H x W) as the engine stacks them."""
    x = torch.from_numpy(np.ascontiguousarray(np.broadcast_to(a, (b, *a.shape))))
    return x.pin_memory() if pin else x


def random_gt(res: int) -> RawGt:
    """A decoded GT frame of random pixels: soft mask, semantic labels with a cloth band."""
    rng = np.random.default_rng(0)
    semantic = np.ones((res, res), np.float32)
    semantic[int(res * 0.85) :] = 16
    image, mask = (rng.integers(0, 256, (res, res, 3), dtype=np.uint8) for _ in range(2))
    return RawGt(1, image, mask, semantic, None, None, {"image": Path("image.png"), "mask": Path("mask.png")})


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--res", type=int, default=512)
    ap.add_argument("--iters", type=int, default=10)
    ap.add_argument("--kernels", type=int, default=12, help="rows of the torch.profiler table per scorer")
    args = ap.parse_args()
    dev = resolve_device(args.device)
    with full_float32(dev):  # the engine's precision for the whole profile
        return profile(args, dev)


def profile(args: argparse.Namespace, dev: torch.device) -> int:
    b, res, it = args.batch_size, args.res, args.iters
    with tempfile.TemporaryDirectory() as tmp:
        backbone = make_data(Path(tmp), 1, 16, 1)  # (also writes random linear layers)
        lpips = LpipsAlex(backbone, dev, linear_layers(Path(tmp)))
    pin = dev.type == "cuda"
    host = {"gt": batch(b, res, 3, pin), "mask": batch(b, res, 3, pin), "labels": batch(b, res, 1, pin)}
    host["pred"] = batch(b, res, 3, pin)
    ms = lambda s: f"{s * 1000 / b:.3f}"  # noqa: E731  (seconds per batch -> ms per frame)
    print(f"device: {describe_device(dev)}; torch {torch.__version__}; batch {b}; {res}x{res}; ms per frame")
    copy = timed(dev, lambda: [t.to(dev, non_blocking=True) for t in host.values()], it)
    print(f"host-to-device copy of GT image+mask+labels and one prediction (uint8): {ms(copy)}")
    d = {k: v.to(dev) for k, v in host.items()}
    raw = random_gt(res)
    x, y = unit(d["pred"]), unit(d["gt"])
    for name, xs, ys in (("channels_last", x, y), ("contiguous", x.contiguous(), y.contiguous())):
        print(f"ssim_map, {name} input: {ms(timed(dev, lambda xs=xs, ys=ys: ssim_map(xs, ys, 1.0), it))}")
    pm1 = x * 2 - 1
    for split in (True, False) if dev.type == "cuda" else (False,):
        lpips.split_tf32 = split
        for fmt in (torch.channels_last, torch.contiguous_format):
            lpips.memory_format, default = fmt, lpips.memory_format
            t = timed(dev, lambda: lpips.features(pm1), it)
            print(f"LPIPS features of one image, {fmt}, split TF32 {split}: {ms(t)}")
            lpips.memory_format = default
    lpips.split_tf32 = dev.type == "cuda"
    if dev.type == "cuda":
        torch.backends.cudnn.benchmark = True
        print(f"  same, cudnn.benchmark: {ms(timed(dev, lambda: lpips.features(pm1), it))}")
        torch.backends.cudnn.benchmark = False
    for sname in list_scorers():
        sc = get_scorer(sname, resolution=res)
        comps = {n: stacked(a, b, pin) for n, a in gt_arrays(sc, raw).items()}
        selected = sc.select_gt(comps["image"], comps["mask"], comps.get("semantic"))
        gt = {n: t.to(dev) for n, t in channels_first(selected).items()}  # the scorer's own inputs
        pred = {"pred": d["pred"]}
        fn = lambda sc=sc, gt=gt, pred=pred: sc.score(gt, pred, ScoreContext(lpips))  # noqa: E731
        with torch.inference_mode():
            total = timed(dev, fn, it)
            print(
                f"\n{sname}: score() {ms(total)} ms/frame -> at most {1000 * b / (total * 1000):.0f} frames/s"
            )
            if not args.kernels:
                continue
            acts = [torch.profiler.ProfilerActivity.CPU]
            if dev.type == "cuda":
                acts.append(torch.profiler.ProfilerActivity.CUDA)
            with torch.profiler.profile(activities=acts) as prof:
                fn()
                if dev.type == "cuda":
                    torch.cuda.synchronize(dev)
        key = "self_cuda_time_total" if dev.type == "cuda" else "self_cpu_time_total"
        print(prof.key_averages().table(sort_by=key, row_limit=args.kernels, max_name_column_width=60))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
