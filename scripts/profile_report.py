"""Where the seconds of profiled processes go: one markdown section per process (scripts/profile_upstream.sh).

    python scripts/profile_report.py PROFILE_DIR [--match nes_runner.py] [--top 25]

Reads the ``<pid>.prof``/``<pid>.json`` pairs that scripts/profiling/sitecustomize.py writes, keeps the processes
whose argv contains ``--match``, and prints for each its wall time, the functions with the largest cumulative time
and those with the largest own time (pstats; file paths shortened to their last two parts).
"""

from __future__ import annotations

import argparse
import io
import json
import pstats
import sys
from pathlib import Path


def _short(path: str) -> str:
    return "/".join(Path(path).parts[-2:])


def rows(prof: Path, sort: str, top: int) -> list[tuple[str, int, float, float]]:
    """(function, calls, own seconds, cumulative seconds) of the ``top`` entries by ``sort`` (tottime|cumulative)."""
    st = pstats.Stats(str(prof), stream=io.StringIO())
    out = []
    for (file, line, func), (_cc, nc, tt, ct, _callers) in st.stats.items():
        out.append((f"{_short(file)}:{line}({func})", nc, tt, ct))
    key = 2 if sort == "tottime" else 3
    return sorted(out, key=lambda r: r[key], reverse=True)[:top]


def report(folder: Path, match: str, top: int) -> str:
    parts = []
    for meta_path in sorted(folder.glob("*.json")):
        meta = json.loads(meta_path.read_text())
        argv = " ".join(meta["argv"])
        prof = meta_path.with_suffix(".prof")
        if match not in argv or not prof.is_file():
            continue
        parts.append(f"### `{argv[:160]}`\n\nwall {meta['wall_s']:.1f} s\n")
        for sort, title in (("cumulative", "cumulative time"), ("tottime", "own time")):
            parts.append(f"| top {top} by {title} | calls | own s | cumulative s |\n|---|---|---|---|")
            parts += [f"| `{f}` | {n} | {tt:.2f} | {ct:.2f} |" for f, n, tt, ct in rows(prof, sort, top)]
            parts.append("")
    return "\n".join(parts) if parts else f"no profiled process matching {match!r} in {folder}"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("folder", type=Path)
    p.add_argument("--match", default="nes_runner.py", help="keep processes whose argv contains this")
    p.add_argument("--top", type=int, default=25)
    a = p.parse_args(argv)
    if not a.folder.is_dir():
        print(
            f"profile_report: {a.folder}: no such folder (run scripts/profile_upstream.sh first)",
            file=sys.stderr,
        )
        return 2
    print(report(a.folder, a.match, a.top))
    return 0


if __name__ == "__main__":
    sys.exit(main())
