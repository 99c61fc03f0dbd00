"""Compare two scored result folders value by value: summary.json (every field except the run's own provenance:
time, commit, paths), frames.csv and results.md (below its provenance line) must be identical, bit for bit.

    python scripts/compare_results.py BEFORE_DIR AFTER_DIR

Used to show that a refactor changes no number (docs/ARCHITECTURE.md). Exit 0 when identical, 1 otherwise
(the first differences are printed).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

RUN_SPECIFIC = ("created", "harness_commit", "runs_dir", "data_root", "device", "harness_version")


def _diff(a: object, b: object, path: str, out: list[str]) -> None:
    if type(a) is not type(b):
        out.append(f"{path}: {a!r} != {b!r}")
    elif isinstance(a, dict):
        if list(a) != list(b):
            out.append(f"{path}: keys {list(a)} != {list(b)}")
        for k in a:
            if k in b:
                _diff(a[k], b[k], f"{path}.{k}", out)
    elif isinstance(a, list):
        if len(a) != len(b):
            out.append(f"{path}: {len(a)} items != {len(b)}")
        for i, (x, y) in enumerate(zip(a, b, strict=False)):
            _diff(x, y, f"{path}[{i}]", out)
    elif a != b and not (isinstance(a, float) and a != a and b != b):  # NaN == NaN here
        out.append(f"{path}: {a!r} != {b!r}")


def compare(before: Path, after: Path) -> list[str]:
    out: list[str] = []
    sa, sb = (json.loads((d / "summary.json").read_text()) for d in (before, after))
    for s in (sa, sb):
        for k in RUN_SPECIFIC:
            s["provenance"].pop(k, None)
    _diff(sa, sb, "summary", out)
    for name, skip in (("frames.csv", 0), ("results.md", 3)):
        la = (before / name).read_text().splitlines()[skip:]
        lb = (after / name).read_text().splitlines()[skip:]
        if la != lb:
            first = next(
                (i for i, (x, y) in enumerate(zip(la, lb, strict=False)) if x != y), min(len(la), len(lb))
            )
            out.append(f"{name}: line {first + skip + 1} differs ({len(la)} vs {len(lb)} lines)")
    return out


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    before, after = map(Path, argv)
    diffs = compare(before, after)
    rows = len((before / "frames.csv").read_text().splitlines()) - 1
    if diffs:
        print(f"{len(diffs)} difference(s):", *diffs[:20], sep="\n  ")
        return 1
    print(
        f"identical: summary.json (without run-specific provenance), frames.csv ({rows} frame rows), results.md"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
