"""Projected GPU-hours of a full benchmark run (issue 18): every subject x protocol x method, training + rendering.

    python scripts/project_gpu_hours.py [--benchmark renderme360_nes] [--data DIR] [--methods imavatar,pointavatar]
                                        [--term METHOD:train=S,eval=S ...] [--json FILE]

Per job: GPU-s = E_p x F_train,p x train + F_test,p x eval, with E_p the method's epochs for protocol p
(configs/methods/<method>.conf), F the frames of the protocol's training and test sequences, ``train`` the seconds
per training frame per epoch and ``eval`` the seconds per rendered test frame at the benchmark's resolution (the
measured defaults below, docs/SCALING.md; --term replaces them). Frames are counted in the benchmark's data when it
is there (`image/*.png` of every sequence); otherwise the RenderMe-360 download page's totals give an estimate
(21 released IDs: ~1,820,000 expression and ~6,000,000 speech images over 60 cameras, i.e. ~120 frames per
expression and ~790 per speech sequence at 30 fps), marked as such in the table.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

from nesbench.config import Benchmark, load_benchmark
from nesbench.data.layout import frame_files, sequence_dir
from nesbench.errors import ConfigError
from nesbench.fsutil import write_json_atomic
from nesbench.upstream.confs import load_template

# Seconds per training frame per epoch and per rendered test frame at 512 px on one H200 (docs/SCALING.md,
# "Projected GPU-hours"): IMavatar from scripts/bench_upstream.sh on synthetic_smoke512 (runner's epoch time / 48
# frames; runner's time per frame); PointAvatar from its 100-epoch run at 128 px (grown cloud, ~15,600 points) and
# the 512/128 ratio of its early epochs and fitted renders (1.23 and 1.24).
MEASURED = {
    "imavatar": {"train": 35.1 / 48, "eval": 26.32},
    "pointavatar": {"train": 420 / 80 / 48 * 1.23, "eval": 166 / 48 * 1.24},
}
# Frames per sequence when the data is not there: RenderMe-360 download page totals / 60 cameras / 21 IDs / sequences.
ESTIMATE = {"e": 1_820_000 / 60 / 21 / 12, "s": 6_000_000 / 60 / 21 / 6}


@dataclass
class Row:
    method: str
    protocol: str
    epochs: int
    train_frames: int
    test_frames: int
    frames_from: str
    train_h: float
    eval_h: float
    subjects: int

    @property
    def total_h(self) -> float:
        return (self.train_h + self.eval_h) * self.subjects


def frames_of(root: Path, testset: str, subject: str, seq: str) -> int | None:
    """The frames of one sequence (its numbered image/<k>.png), None when the sequence is not there."""
    folder = sequence_dir(root, testset, subject, seq) / "image"
    return len(frame_files(folder)) if folder.is_dir() else None


def parse_term(text: str) -> tuple[str, dict[str, float]]:
    method, _, rest = text.partition(":")
    try:
        values = {k: float(v) for k, v in (kv.split("=", 1) for kv in rest.split(","))}
    except ValueError:
        raise SystemExit(f"--term {text!r}: write METHOD:train=SECONDS,eval=SECONDS") from None
    if not method or set(values) - {"train", "eval"}:
        raise SystemExit(f"--term {text!r}: write METHOD:train=SECONDS,eval=SECONDS")
    return method, values


def frames_per_subject(
    bench: Benchmark, root: Path, subjects: list[str], seqs: list[str]
) -> tuple[float, bool]:
    """Mean frames of ``seqs`` per subject, counted in the data or estimated per sequence kind; True when any was
    estimated."""
    total, estimated = 0.0, False
    for subject in subjects:
        ts = bench.testset_of(subject)
        for seq in seqs:
            found = frames_of(root, ts, subject, seq)
            if found is None and seq[0] not in ESTIMATE:
                raise SystemExit(
                    f"{sequence_dir(root, ts, subject, seq)}: no frames to count and no "
                    "estimate for this sequence; give the data with --data DIR"
                )
            estimated |= found is None
            total += ESTIMATE[seq[0]] if found is None else found
    return total / len(subjects), estimated


def project(benchmark: str, methods: list[str], terms: dict, data: Path | None = None) -> list[Row]:
    bench = load_benchmark(benchmark)
    root = bench.data_root(data)
    subjects = bench.resolve_subjects("all")
    rows = []
    for method in methods:
        if method not in terms:
            raise SystemExit(f"no measured cost for {method!r}: give --term {method}:train=S,eval=S")
        template = load_template(method)
        for pname, proto in bench.protocols.items():
            f_train, est_train = frames_per_subject(bench, root, subjects, list(proto.train))
            test_seqs = [s for sp in proto.splits for s in sp.sequences]
            f_test, est_test = frames_per_subject(bench, root, subjects, test_seqs)
            epochs = template.epochs[pname]
            rows.append(
                Row(
                    method=method,
                    protocol=pname,
                    epochs=epochs,
                    train_frames=round(f_train),
                    test_frames=round(f_test),
                    frames_from="estimate (download page)" if est_train or est_test else f"counted in {root}",
                    train_h=epochs * f_train * terms[method]["train"] / 3600,
                    eval_h=f_test * terms[method]["eval"] / 3600,
                    subjects=len(subjects),
                )
            )
    return rows


def table(rows: list[Row]) -> str:
    out = [
        "| method | protocol | epochs | train / test frames per subject | frames | train h / subject | render h / subject"
        " | subjects | GPU-h |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        out.append(
            f"| {r.method} | {r.protocol} | {r.epochs} | {r.train_frames:,} / {r.test_frames:,} | {r.frames_from} |"
            f" {r.train_h:.1f} | {r.eval_h:.1f} | {r.subjects} | {r.total_h:,.0f} |"
        )
    out.append(f"| **all** | | | | | | | | **{sum(r.total_h for r in rows):,.0f}** |")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--benchmark", default="renderme360_nes")
    ap.add_argument("--data", type=Path, help="dataset root (default: the benchmark's)")
    ap.add_argument("--methods", default="imavatar,pointavatar")
    ap.add_argument(
        "--term", action="append", default=[], help="METHOD:train=S,eval=S (replaces the measured cost)"
    )
    ap.add_argument("--json", type=Path, help="also write the rows as JSON")
    args = ap.parse_args(argv)
    terms = {m: dict(v) for m, v in MEASURED.items()}
    for text in args.term:
        method, values = parse_term(text)
        terms.setdefault(method, {}).update(values)
        if set(terms[method]) != {"train", "eval"}:
            raise SystemExit(f"--term {text!r}: {method} needs both train= and eval=")
    try:
        rows = project(args.benchmark, [m for m in args.methods.split(",") if m], terms, args.data)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(table(rows))
    if args.json:
        write_json_atomic(args.json, [asdict(r) | {"total_h": r.total_h} for r in rows])
    return 0


if __name__ == "__main__":
    sys.exit(main())
