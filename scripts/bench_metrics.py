"""Throughput of the metric engine at 512x512 on generated frames: frames/s per scorer (decode + every metric) and
where the time goes (ms per scored frame: decode, wait, ssim, lpips, other).

    python scripts/bench_metrics.py --frames 64 --device cpu
    python scripts/bench_metrics.py --frames 2048 --device cuda --batch-size 64     # on the GPU machine

Self-contained: it writes its own GT sequence and prediction folders to a temporary folder and runs LPIPS with the
parity fixture's stub AlexNet (tests/fixtures/metric_parity/lpips_alexnet_stub.pth; random weights of the real
shapes when the file is absent) and the `lpips` package's linear layers (random ones when it is not installed, as on
the GPU image): speed does not depend on the weight values, so no download is needed.

Columns: `frames/s` = scored frames (frames x methods) per second of wall time, best of --repeat timed runs after a
warm-up, without stage timing. The stage columns come from one more run with the stage timer on (on a GPU it
synchronises around each stage): `decode` = PNG decode + per-frame preparation, thread-seconds per frame spent in
the decode threads (they run alongside the scoring, so it is not on the wall clock unless `wait` is large);
`wait` = the scoring thread waiting for decoded frames; `ssim`, `lpips` = those metrics; `other` = the rest of the
scoring thread (L1/MSE/PSNR, compositing, stacking, host-to-device copies). `no-lpips` rows skip LPIPS (reference).
With --gt-cache: `gt-cache first run` = one run that decodes the GT and writes the cache (cold), `gt-cache` = runs
that read the GT from it (only the predictions are decoded), as a re-run or another method/epoch would.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

try:  # before torch is imported, as the nesbench commands do (NESBENCH_OPENMP_WAIT=default: libgomp's own)
    from nesbench.openmp_wait import prefer_passive_wait

    OPENMP_WAIT = prefer_passive_wait()
except ImportError:  # a checkout before issue 14's thread settings (before/after comparisons)
    OPENMP_WAIT = f"{os.environ.get('OMP_WAIT_POLICY', 'unset')} (not set by this checkout)"

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from nesbench.errors import AssetError  # noqa: E402
from nesbench.metrics.engine import Engine, PredSource, describe_device  # noqa: E402

try:
    from nesbench.metrics.engine.gt_cache import GtCache
    from nesbench.metrics.engine.memory import reuse_freed_memory
except ImportError:  # the layout before issue 14: this script also measures a checkout of it (before/after)
    from nesbench.metrics.gt_cache import GtCache

    def reuse_freed_memory() -> bool:
        return False


from nesbench.metrics.lpips_alex import linear_weights_path  # noqa: E402
from nesbench.metrics.registry import get_scorer, list_scorers  # noqa: E402

STUB = REPO / "tests" / "fixtures" / "metric_parity" / "lpips_alexnet_stub.pth"
ALEX_SHAPES = {"0": (64, 3, 11, 11), "3": (192, 64, 5, 5), "6": (384, 192, 3, 3), "8": (256, 384, 3, 3),
               "10": (256, 256, 3, 3)}  # fmt: skip


def make_data(root: Path, n: int, res: int, methods: int) -> Path:
    """n GT frames (image, soft mask, semantic, flame json) and `methods` prediction folders of n frames; returns
    the LPIPS backbone file to use."""
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
    if not STUB.is_file():
        torch.save(
            {f"{i}.{p}": torch.randn(s if p == "weight" else s[:1], generator=g) * 0.05
             for i, s in ALEX_SHAPES.items() for p in ("weight", "bias")},
            root / "alexnet_random.pth",
        )  # fmt: skip
    torch.save(
        {f"lin{i}.model.1.weight": torch.rand(1, s[0], 1, 1, generator=g) for i, s in enumerate(ALEX_SHAPES.values())},
        root / "lpips_lin_random.pth",
    )  # fmt: skip
    return STUB if STUB.is_file() else root / "alexnet_random.pth"


def linear_layers(root: Path) -> Path | None:
    """The `lpips` package's v0.1 linear layers when installed, else random ones of the same shapes (GPU images
    may lack the package; speed does not depend on the values)."""
    try:
        return linear_weights_path()
    except AssetError:
        return root / "lpips_lin_random.pth"


CPU: dict[int, list[float]] = defaultdict(list)  # engine -> CPU seconds (every thread) of each run


def run_once(eng: Engine, gt: Path, preds: dict[str, PredSource], profile: bool) -> float:
    eng.timer.enabled = profile
    eng.timer.reset()
    if eng.device.type == "cuda":
        torch.cuda.synchronize()
    t, cpu = time.perf_counter(), time.process_time()
    res = eng.score(gt, preds)
    if eng.device.type == "cuda":
        torch.cuda.synchronize()
    secs = time.perf_counter() - t
    CPU[id(eng)].append(time.process_time() - cpu)
    n = len(next(iter(preds.values())).files)
    assert all(len(r.frames) == n for r in res.values()), "not every frame was scored"
    return secs


FLOOR_CPU: list[float] = []


def trunk_floor(eng: Engine, frames: int, res: int, repeat: int) -> tuple[float, float]:
    """The physical floor of exact LPIPS scoring: frames/s of the AlexNet trunk alone (``LpipsAlex.features``) on
    a prediction and a GT image per frame, in the engine's batches, on the same device and weights; best of
    ``repeat`` after a warm-up. Nothing else (decode, SSIM, distances, bookkeeping) is included. Returns
    (frames/s, CPU ms per frame of the best run)."""
    assert eng.lpips is not None
    b = eng.batch_size
    x = (
        torch.rand((b, 3, res, res), generator=torch.Generator().manual_seed(1))
        .mul_(2)
        .sub_(1)
        .to(eng.device)
    )
    batches = -(-2 * frames // b)  # the prediction and the GT of every frame

    def once() -> float:
        if eng.device.type == "cuda":
            torch.cuda.synchronize()
        t, cpu = time.perf_counter(), time.process_time()
        with torch.inference_mode():
            for _ in range(batches):
                eng.lpips.features(x)
        if eng.device.type == "cuda":
            torch.cuda.synchronize()
        FLOOR_CPU.append(time.process_time() - cpu)
        return time.perf_counter() - t

    once()
    FLOOR_CPU.clear()
    fps = frames / min(once() for _ in range(repeat))
    return fps, min(FLOOR_CPU) * 1000 / frames


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=48)
    ap.add_argument("--res", type=int, default=512)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--batch-size", type=int, default=None)
    ap.add_argument("--workers", type=int, default=None, help="decode threads (default: the engine's)")
    ap.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's)")
    ap.add_argument(
        "--prefetch", type=int, default=None, help="batches decoded ahead (default: 1 CPU, 2 GPU)"
    )
    ap.add_argument(
        "--methods", type=int, default=1, help="methods scored against the same GT (shares GT work)"
    )
    ap.add_argument("--scorers", default=",".join(list_scorers()),
                    help="comma-separated; 'all' scores every scorer in one engine (shared decode)")  # fmt: skip
    ap.add_argument("--floor", action="store_true",
                    help="also measure the floor (the AlexNet trunk alone on prediction + GT, same batches) right "
                    "after each LPIPS row, and print each row's share of it")  # fmt: skip
    ap.add_argument("--default-malloc", action="store_true",
                    help="leave glibc's malloc settings as they are (reference for nesbench.metrics.engine.memory)")  # fmt: skip
    ap.add_argument("--no-keypoints", action="store_true",
                    help="leave out the keypoint detectors (FAN, dlib) even when installed: their per-frame face "
                    "detection is not part of the LPIPS floor")  # fmt: skip
    ap.add_argument("--no-lpips-rows", action="store_true", help="skip the reference rows without LPIPS")
    ap.add_argument("--gt-cache", action="store_true",
                    help="also time each scorer with a GT cache (--gt-cache of calculate_metric.py): one first "
                    "run that builds it ('first run' row), then the usual timed runs that reuse it")  # fmt: skip
    ap.add_argument(
        "--repeat", type=int, default=2, help="timed repetitions (best is reported); one warm-up first"
    )
    ap.add_argument("--switch-interval", type=float, default=None,
                    help="sys.setswitchinterval (seconds; Python's default 0.005): how soon a thread waiting "
                    "for the GIL gets it from a busy one")  # fmt: skip
    ap.add_argument("--no-cuda-graphs", action="store_true",
                    help="score every batch eagerly (reference for the engine's CUDA graph replay)")  # fmt: skip
    ap.add_argument("--decode-processes", default="auto",
                    help="comma list: decode predictions in N worker processes (0: the decode threads; auto: the "
                    "engine's default); each value gets its own rows, on the same data")  # fmt: skip
    args = ap.parse_args()
    if args.switch_interval:
        sys.setswitchinterval(args.switch_interval)
    if args.threads:
        torch.set_num_threads(args.threads)
    malloc = "default glibc malloc" if args.default_malloc else f"reuse_freed_memory: {reuse_freed_memory()}"
    load_before = os.getloadavg()
    rows = []
    floors: dict[str, tuple[float, float, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        backbone = make_data(root, args.frames, args.res, args.methods)
        preds = {f"m{i}": PredSource({k: root / f"m{i}" / f"{k}.png" for k in range(1, args.frames + 1)})
                 for i in range(args.methods)}  # fmt: skip
        n = args.frames * args.methods
        variants = [(True, False), (True, True)] if args.gt_cache else [(True, False)]
        if not args.no_lpips_rows:
            variants.append((False, False))
        procs_list = [None if x == "auto" else int(x) for x in args.decode_processes.split(",")]
        for lpips, cached in variants:
            for name in args.scorers.split(","):
                for procs in procs_list:
                    names = list_scorers() if name == "all" else [name]
                    eng = Engine([get_scorer(x, resolution=args.res) for x in names], device=args.device,
                                 lpips_backbone=backbone, lpips_linear=linear_layers(root),
                                 batch_size=args.batch_size, workers=args.workers, prefetch=args.prefetch,
                                 cuda_graphs=not args.no_cuda_graphs, decode_processes=procs)  # fmt: skip
                    if args.no_keypoints:
                        eng.detector = eng.dlib = None
                    if not lpips:
                        eng.lpips = None  # the scorers skip LPIPS without a network
                    run_once(
                        eng, root / "gt", {"m0": PredSource({1: preds["m0"].files[1]})}, False
                    )  # warm-up
                    label = name if lpips else f"{name} no-lpips"
                    if cached:
                        eng.gt_cache = GtCache(root / f"gt-cache-{name}-{procs}")  # cold for each variant
                        first = n / run_once(eng, root / "gt", preds, False)
                        used = eng.decode_processes_for(True)  # the GT cache is read once it is built
                        rows.append((f"{name} gt-cache first run", used, eng.batch_size, first, {}, None))
                        label = f"{name} gt-cache"
                    CPU[id(eng)].clear()
                    best = min(run_once(eng, root / "gt", preds, False) for _ in range(args.repeat))
                    cpu_ms = min(CPU[id(eng)]) * 1000 / n
                    wall = run_once(eng, root / "gt", preds, True)
                    st = {k: v * 1000 / n for k, v in eng.timer.seconds.items()}
                    other = wall * 1000 / n - st.get("wait", 0) - st.get("ssim", 0) - st.get("lpips", 0)
                    rows.append(
                        (label, eng.decode_processes_for(cached), eng.batch_size, n / best, st, other)
                    )
                    if args.floor and lpips:
                        floors[label] = (*trunk_floor(eng, n, args.res, args.repeat), cpu_ms)
                    eng.close()
    dev = describe_device(eng.device)
    print(f"command: python scripts/bench_metrics.py {' '.join(sys.argv[1:])}")
    print(f"device: {dev}; torch {torch.__version__}; intra-op threads {torch.get_num_threads()}, interop "
          f"{torch.get_num_interop_threads()}; os.cpu_count()={os.cpu_count()}; decode threads {eng.workers}, "
          f"{eng.prefetch} batch(es) ahead; "
          f"{args.res}x{args.res}; {args.frames} frames x {args.methods} method(s) per GT")  # fmt: skip
    print(
        f"{malloc}; OpenMP wait policy {OPENMP_WAIT}; GIL switch interval {sys.getswitchinterval()} s; CUDA graphs {'on' if eng.graphs.enabled else 'off'}"
    )
    print(f"load average (1/5/15 min): before {load_before[0]:.2f}/{load_before[1]:.2f}/{load_before[2]:.2f}, "
          "after {:.2f}/{:.2f}/{:.2f}".format(*os.getloadavg()))  # fmt: skip
    print(
        "\n| scorer | decode in | device | batch | frames/s | decode ms | wait ms | ssim ms | lpips ms | other ms |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    short = eng.device.type if eng.device.type == "cpu" else str(eng.device)
    for name, procs, batch, fps, st, other in rows:
        where = f"{procs} processes" if procs else "threads"
        if other is None:  # a single untimed-stage run (building the GT cache)
            print(f"| {name} | {where} | {short} | {batch} | {fps:.1f} | | | | | |")
            continue
        print(f"| {name} | {where} | {short} | {batch} | {fps:.1f} | {st.get('decode', 0):.1f} | "
              f"{st.get('wait', 0):.1f} | {st.get('ssim', 0):.1f} | {st.get('lpips', 0):.1f} | {other:.1f} |")  # fmt: skip
    if floors:
        print(
            "\n| scorer | frames/s | floor: AlexNet trunk on prediction + GT, frames/s | share of the floor "
            "| CPU ms/frame | floor CPU ms/frame | CPU share |"
        )
        print("|---|---|---|---|---|---|---|")
        for name, _, _, fps, _, _ in rows:
            if name in floors:
                f_fps, f_cpu, cpu_ms = floors[name]
                print(f"| {name} | {fps:.1f} | {f_fps:.1f} | {fps / f_fps:.2f} | {cpu_ms:.0f} | {f_cpu:.0f} | "
                      f"{f_cpu / cpu_ms:.2f} |")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
