"""The files benchmark mode writes: frames.csv (every expected frame), summary.json and results.md, atomically."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nesbench.fsutil import write_json_atomic, write_text_atomic
from nesbench.metrics.records import Records
from nesbench.metrics.results_md import markdown_table
from nesbench.metrics.spec import ORDER

if TYPE_CHECKING:
    from nesbench.metrics.scorers import Scorer

CSV_METRICS = ORDER  # every metric of the catalogue, in its order
CSV_KEYS = (
    "method",
    "protocol",
    "scorer",
    "scorer_version",
    "subject",
    "sequence",
    "frame",
    "status",
    "reason",
)


def frames_csv(records: Records, scorers: list[Scorer]) -> str:
    """One row per expected frame of every record: ok (with its values), failed or dropped (with the reason)."""
    versions = {s.name: s.version for s in scorers}
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow([*CSV_KEYS, *CSV_METRICS])
    for (m, p, s, subj, seq), r in sorted(records.items()):
        rows = {int(k): ("ok", "", v) for k, v in r.frames.items()}
        rows.update({int(k): ("failed", reason, {}) for k, reason in r.failed.items()})
        rows.update({int(k): ("dropped", reason, {}) for k, reason in r.dropped.items()})
        for k in sorted(rows):
            status, reason, vals = rows[k]
            values = ("" if vals.get(n) is None else repr(float(vals[n])) for n in CSV_METRICS)
            w.writerow([m, p, s, versions[s], subj, seq, k, status, reason, *values])
    return buf.getvalue()


def write_results(out: Path, summary: dict[str, Any], records: Records, scorers: list[Scorer]) -> None:
    """frames.csv, summary.json and results.md in ``out``."""
    write_text_atomic(out / "frames.csv", frames_csv(records, scorers))
    write_json_atomic(out / "summary.json", summary)
    write_text_atomic(out / "results.md", markdown_table(summary))
