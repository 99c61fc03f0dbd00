"""`nesbench synth ...`: the FLAME stand-in, synthetic subjects and the embedded default dataset."""

from __future__ import annotations

import argparse
import re
import time
from pathlib import Path

from nesbench.errors import NesbenchError

TESTSET_RE = re.compile(r"^testset\d+$")


def _flame(args: argparse.Namespace) -> int:
    from nesbench.synth.flame_model import write_synthetic_flame

    out = write_synthetic_flame(Path(args.out_dir), seed=args.seed)
    print(
        f"wrote {out / 'generic_model.pkl'}, {out / 'landmark_embedding.npy'} and {out / 'FLAME_masks.pkl'} "
        f"(synthetic stand-in, seed {args.seed})"
    )
    return 0


def _subject(args: argparse.Namespace) -> int:
    from nesbench.synth.subject import SEQUENCES, render_subject

    if not args.subject.isdigit():
        raise NesbenchError(
            f"--subject {args.subject!r}: use a numeric id like 9001 (RenderMe-360 ids are digits)"
        )
    if not TESTSET_RE.match(args.testset):
        raise NesbenchError(f"--testset {args.testset!r}: use testset<N>, e.g. testset1")
    if args.res < 32 or args.frames < 1:
        raise NesbenchError("--res must be >= 32 and --frames >= 1")
    sequences = args.sequences.split(",") if args.sequences else list(SEQUENCES)
    bad = [s for s in sequences if s not in SEQUENCES]
    if bad:
        raise NesbenchError(f"--sequences: unknown {', '.join(bad)}; choose from {', '.join(SEQUENCES)}")
    start = time.perf_counter()
    path = render_subject(
        Path(args.out_root),
        args.subject,
        testset=args.testset,
        res=args.res,
        frames=args.frames,
        seed=args.seed,
        sequences=sequences,
        progress=not args.quiet,
    )
    n = len(sequences) * args.frames
    print(
        f"wrote {path} ({len(sequences)} sequences, {n} frames at {args.res}px in {time.perf_counter() - start:.1f} s)"
    )
    return 0


def _default(args: argparse.Namespace) -> int:
    from nesbench.config import load_benchmark
    from nesbench.synth.default import ensure_synthetic_data

    root = ensure_synthetic_data(load_benchmark(args.benchmark), args.data_root, progress=not args.quiet)
    print(root)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("synth", help="synthetic FLAME stand-in and subjects (no licensed data needed)")
    s = p.add_subparsers(dest="synth_command", metavar="SUBCOMMAND", required=True)

    f = s.add_parser(
        "flame", help="write a FLAME-structured stand-in generic_model.pkl + landmark_embedding.npy"
    )
    f.add_argument("out_dir")
    f.add_argument("--seed", type=int, default=0)
    f.set_defaults(func=_flame)

    j = s.add_parser("subject", help="render a synthetic subject in the RenderMe-360 NES layout")
    j.add_argument("out_root", help="dataset root; the subject goes to OUT_ROOT/<testset>/<id>/<id>/")
    j.add_argument("--subject", default="9001")
    j.add_argument("--testset", default="testset1")
    j.add_argument("--res", type=int, default=256)
    j.add_argument("--frames", type=int, default=20, help="frames per sequence")
    j.add_argument("--seed", type=int, default=0)
    j.add_argument("--sequences", help="comma list (default: e_0..e_11,s_1..s_6)")
    j.add_argument("--quiet", action="store_true")
    j.set_defaults(func=_subject)

    d = s.add_parser(
        "default", help="generate (or reuse) the embedded default dataset of a synthetic benchmark"
    )
    d.add_argument("--benchmark", default="synthetic")
    d.add_argument("--data-root", help="override the benchmark's data root")
    d.add_argument("--quiet", action="store_true")
    d.set_defaults(func=_default)
