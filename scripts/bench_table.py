"""The before/after table of scripts/bench_upstream.sh: one row per (method, variant) from OUT/<method>/<variant>/.

    python scripts/bench_table.py OUT

Per variant: seconds per training epoch (wall of the training command / epochs, which includes start-up and the
between-epoch plots; and the mean "Epoch time:" IMavatar prints, which excludes the plots), seconds per rendered frame
(wall / frames, including start-up and PointAvatar's test-time fitting; and the mean "Plot time per frame:" IMavatar
prints), whether the renders are byte for byte those of `off`, the largest pixel difference to `on`, and the unified
scorer's mean metrics against the GT (score.json of calculate_metric.py).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
from pathlib import Path

import numpy as np
from PIL import Image

VARIANT_ORDER = ("off", "on", "on-again", "tf32")


def _mean_of(pattern: str, path: Path) -> float | None:
    if not path.is_file():
        return None
    values = [float(m) for m in re.findall(pattern, path.read_text(errors="replace"))]
    return sum(values) / len(values) if values else None


def _digests(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.glob("*.png"))}


def compare(a: Path, b: Path) -> str:
    """'identical (n/n)' when every PNG of ``a`` and ``b`` has the same bytes, else how many differ and by how much."""
    da, db = _digests(a), _digests(b)
    if not da or set(da) != set(db):
        return f"frames differ ({len(da)} vs {len(db)})"
    differ = [k for k in da if da[k] != db[k]]
    if not differ:
        return f"identical ({len(da)}/{len(da)})"
    return f"{len(differ)}/{len(da)} frames differ, max abs {max_abs(a, b):.0f}/255"


def max_abs(a: Path, b: Path) -> float:
    """Largest absolute pixel difference (0-255) between same-named PNGs of ``a`` and ``b``."""
    out = 0.0
    for p in sorted(a.glob("*.png")):
        q = b / p.name
        if q.is_file():
            x = np.asarray(Image.open(p), dtype=np.int16)
            y = np.asarray(Image.open(q), dtype=np.int16)
            out = max(out, float(np.abs(x - y).max()) if x.shape == y.shape else float("inf"))
    return out


def _fmt(x: float | None, digits: int = 2) -> str:
    return "—" if x is None else f"{x:.{digits}f}"


def rows(out: Path) -> list[list[str]]:
    table = []
    for method_dir in sorted(p for p in out.iterdir() if p.is_dir()):
        variants = {p.name: p for p in method_dir.iterdir() if (p / "times.json").is_file()}
        for name in sorted(variants, key=lambda v: VARIANT_ORDER.index(v) if v in VARIANT_ORDER else 99):
            d = variants[name]
            t = json.loads((d / "times.json").read_text())
            score = json.loads((d / "score.json").read_text()) if (d / "score.json").is_file() else {}
            mean = score.get("mean", {}) if isinstance(score, dict) else {}
            table.append(
                [
                    t["method"],
                    name,
                    t["speedups"],
                    str(t["tf32"]),
                    str(t["epochs"]),
                    _fmt(t["train_s"] / t["epochs"], 1),
                    _fmt(_mean_of(r"Epoch time: ([0-9.eE+-]+)", d / "train.log"), 1),
                    str(t["frames"]),
                    _fmt(t["eval_s"] / t["frames"] if t["frames"] else None),
                    _fmt(_mean_of(r"Plot time per frame: ([0-9.eE+-]+)", d / "eval.out")),
                    compare(variants["off"] / "renders", d / "renders") if "off" in variants else "—",
                    _fmt(max_abs(variants["on"] / "renders", d / "renders"), 0) if "on" in variants else "—",
                    *(_fmt(mean.get(k), 4) for k in ("psnr", "ssim", "lpips", "l1")),
                ]
            )
    return table


HEADERS = [
    "method",
    "variant",
    "speed-ups",
    "TF32",
    "epochs",
    "s/epoch (wall)",
    "s/epoch (runner)",
    "frames",
    "s/frame (wall)",
    "s/frame (runner)",
    "renders vs off",
    "max abs vs on (/255)",
    "PSNR",
    "SSIM",
    "LPIPS",
    "L1",
]


def markdown(out: Path) -> str:
    body = rows(out)
    if not body:
        raise SystemExit(
            f"bench_table: {out}: no <method>/<variant>/times.json (run scripts/bench_upstream.sh)"
        )
    seqs = set()
    for p in out.glob("*/*/times.json"):
        t = json.loads(p.read_text())
        seqs.add(f"sequence {t['sequence']}, deterministic {t['deterministic']}")
    lines = [
        f"Before/after GPU cost ({'; '.join(sorted(seqs))}); unified scorer against the GT.",
        "",
        "| " + " | ".join(HEADERS) + " |",
        "|" + "---|" * len(HEADERS),
    ]
    lines += ["| " + " | ".join(r) + " |" for r in body]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("out", type=Path)
    a = p.parse_args(argv)
    if not a.out.is_dir():
        print(f"bench_table: {a.out}: no such folder (run scripts/bench_upstream.sh first)", file=sys.stderr)
        return 2
    sys.stdout.write(markdown(a.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
