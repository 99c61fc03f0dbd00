"""Where a method's error sits: per-region errors of canonical predictions against GT, by semantic class.

    python scripts/region_errors.py --runs RUNS --data DATA_ROOT --benchmark NAME --protocol expression \
        --methods imavatar,pointavatar,mean-image [--picture out.png] [--json out.json]

Regions come from the GT semantic maps (CelebAMask-HQ labels, as RenderMe-360 and the synthetic data store them):
head (skin, brows, eyes, ears, nose, mouth, lips, hair, hat, ...), neck (14), torso (cloth 16) and background (label 0,
outside the mask). The GT is composited on white with mask channel 0, as the benchmark's IMavatar metrics.py does
before its full-image PSNR, and errors are taken at the data's own resolution. For every method and region the table
gives the region's share of the image, its mean absolute error, its own PSNR, and its share of the full-image squared
error (the part of the full-image PSNR loss the region is responsible for). Used for issue 18's question why IMavatar
loses under its own scorer on the synthetic subject (docs/VALIDATION.md).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from nesbench.config import load_benchmark
from nesbench.data.layout import frame_files, prediction_dir, sequence_dir

NECK, CLOTH = 14, 16
REGIONS = ("head", "neck", "torso", "background")


def region_masks(semantic: np.ndarray, mask: np.ndarray) -> dict[str, np.ndarray]:
    """Boolean masks per region from a label map (H, W) and the 0/255 mask (H, W)."""
    fg = mask > 127
    return {
        "head": fg & (semantic != NECK) & (semantic != CLOTH) & (semantic != 0),
        "neck": fg & (semantic == NECK),
        "torso": fg & (semantic == CLOTH),
        "background": ~fg,
    }


def _read(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path))


def gt_on_white(seq_dir: Path, name: str) -> tuple[np.ndarray, np.ndarray]:
    """The GT frame ``name`` composited on white with mask channel 0 (as the IMavatar scorer), and that channel;
    both in [0, 1]."""
    gt = _read(seq_dir / "image" / name).astype(np.float64) / 255
    mask = _read(seq_dir / "mask" / name)
    m0 = (mask[..., 0] if mask.ndim == 3 else mask).astype(np.float64) / 255
    return gt * m0[..., None] + (1 - m0[..., None]), m0


def collect(runs: Path, data: Path, bench_name: str, protocol: str, methods: list[str]) -> dict:
    """Per method and region: pixel count, sum of |err|, sum of err^2 (err in [0, 1], over RGB)."""
    bench = load_benchmark(bench_name)
    acc = {m: {r: np.zeros(3) for r in REGIONS} for m in methods}
    frames = 0
    test_seqs = [s for split in bench.protocol(protocol).splits for s in split.sequences]
    for subject in bench.subjects:
        testset = bench.testset_of(subject)
        for seq in test_seqs:
            seq_dir = sequence_dir(data, testset, subject, seq)
            for gt_path in frame_files(seq_dir / "image").values():
                gt, m0 = gt_on_white(seq_dir, gt_path.name)
                sem = _read(seq_dir / "semantic" / gt_path.name)
                regions = region_masks(sem if sem.ndim == 2 else sem[..., 0], (m0 * 255).astype(np.uint8))
                frames += 1
                for m in methods:
                    pred_path = prediction_dir(runs, m, protocol, subject, seq) / gt_path.name
                    pred = _read(pred_path)[..., :3].astype(np.float64) / 255
                    err = pred - gt
                    for r, sel in regions.items():
                        e = err[sel]
                        acc[m][r] += (sel.sum(), np.abs(e).sum(), (e**2).sum())
    return {"frames": frames, "acc": acc}


def table(stats: dict) -> list[dict]:
    rows = []
    for m, per in stats["acc"].items():
        total_px = sum(v[0] for v in per.values())
        total_se = sum(v[2] for v in per.values())
        full_mse = total_se / (3 * total_px)
        rows.append(
            {
                "method": m,
                "region": "full image",
                "share_px": 1.0,
                "mae": sum(v[1] for v in per.values()) / (3 * total_px),
                "psnr": float(10 * np.log10(1 / full_mse)) if full_mse > 0 else None,
                "share_sq_err": 1.0,
            }
        )
        for r in REGIONS:
            n, sa, se = per[r]
            rows.append(
                {
                    "method": m,
                    "region": r,
                    "share_px": n / total_px,
                    "mae": sa / (3 * n) if n else float("nan"),
                    "psnr": float(10 * np.log10(3 * n / se)) if se > 0 else None,  # None: exact match
                    "share_sq_err": se / total_se if total_se else None,
                }
            )
    return rows


def picture(
    runs: Path,
    data: Path,
    bench_name: str,
    protocol: str,
    methods: list[str],
    seq: str,
    frame: str,
    out: Path,
) -> None:
    """GT (on white) | each method | |error| of each method, one frame."""
    import matplotlib  # noqa: PLC0415

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    bench = load_benchmark(bench_name)
    subject = bench.subjects[0]
    seq_dir = sequence_dir(data, bench.testset_of(subject), subject, seq)
    gt, _ = gt_on_white(seq_dir, f"{frame}.png")
    preds = {
        m: _read(prediction_dir(runs, m, protocol, subject, seq) / f"{frame}.png")[..., :3] / 255
        for m in methods
    }
    fig, ax = plt.subplots(2, len(methods) + 1, figsize=(2.2 * (len(methods) + 1), 4.6))
    ax[0, 0].imshow(gt)
    ax[0, 0].set_title("GT on white", fontsize=8)
    ax[1, 0].imshow(_read(seq_dir / "semantic" / f"{frame}.png"), cmap="tab20", interpolation="nearest")
    ax[1, 0].set_title("GT semantic", fontsize=8)
    for i, m in enumerate(methods, 1):
        ax[0, i].imshow(preds[m])
        ax[0, i].set_title(m, fontsize=8)
        ax[1, i].imshow(np.abs(preds[m] - gt).mean(-1), cmap="magma", vmin=0, vmax=0.6)
        ax[1, i].set_title(f"|error| {m}", fontsize=8)
    for a in ax.ravel():
        a.axis("off")
    fig.tight_layout()
    fig.savefig(out, dpi=110)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--runs", type=Path, required=True)
    p.add_argument("--data", type=Path, required=True, help="dataset root holding testsetK/")
    p.add_argument("--benchmark", required=True)
    p.add_argument("--protocol", default="expression")
    p.add_argument("--methods", required=True, help="comma list of method folders under --runs")
    p.add_argument("--picture", type=Path, help="write one frame's GT | predictions | errors here (PNG)")
    p.add_argument("--picture-frame", default="e_6:8", help="SEQ:FRAME for --picture (default e_6:8)")
    p.add_argument("--json", type=Path, help="also write the rows as JSON")
    a = p.parse_args(argv)
    methods = [m for m in a.methods.split(",") if m]
    stats = collect(a.runs, a.data, a.benchmark, a.protocol, methods)
    rows = table(stats)
    print(f"{stats['frames']} frames; GT composited on white with mask channel 0; errors in [0, 1] units")
    print("| method | region | pixels | MAE | PSNR | share of squared error |\n|---|---|---|---|---|---|")
    for r in rows:
        psnr = "exact" if r["psnr"] is None else f"{r['psnr']:.2f}"
        print(
            f"| {r['method']} | {r['region']} | {r['share_px']:.1%} | {r['mae']:.4f} | {psnr} | "
            f"{'-' if r['share_sq_err'] is None else format(r['share_sq_err'], '.1%')} |"
        )
    if a.json:
        a.json.write_text(json.dumps(rows, indent=1, allow_nan=False) + "\n")
    if a.picture:
        seq, frame = a.picture_frame.split(":")
        picture(a.runs, a.data, a.benchmark, a.protocol, methods, seq, frame, a.picture)
        print(f"wrote {a.picture}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
