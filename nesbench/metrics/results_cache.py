"""The per-sequence results cache of benchmark mode (``<out>/cache/<method>/<protocol>/<subject>/<seq>.json``).

A sequence's records are reused only when everything they depend on is unchanged: the prediction and GT files
(names and content hashes), the scorer versions, the resolution, the LPIPS backbone and which metrics were
unavailable. Not to be confused with the GT cache (:mod:`nesbench.metrics.engine.gt_cache`: decoded ground truth kept
between runs, for speed) or the per-batch LPIPS feature memo of the engine.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from nesbench.fsutil import file_digests, read_json_strict, write_json_atomic
from nesbench.metrics.records import REQUIRED_FIELDS, SequenceRecord

GT_PARTS = ("image", "mask", "semantic")


def content_files(folder: Path) -> list[list]:
    """[name, content hash] of every regular file in ``folder``: what the results cache is keyed by (a file
    rewritten with the same size and mtime is a new key); FIFOs and devices are listed, never opened."""
    if not folder.is_dir():
        return []
    paths = sorted(p for p in folder.iterdir() if not p.is_dir())
    return [[p.name, d] for p, d in zip(paths, file_digests(paths), strict=True)]


def gt_contents(gt_dir: Path) -> dict[str, list[list]]:
    """The content listing of a GT sequence folder (its image/, mask/, semantic/ and its own files)."""
    stat = {d: content_files(gt_dir / d) for d in GT_PARTS}
    stat["json"] = content_files(gt_dir)
    return stat


class ResultsCache:
    """Records of scored sequences under ``root``, keyed by ``state`` (scorer versions, resolution, LPIPS
    backbone, unavailable metrics) and the sequence's inputs."""

    def __init__(self, root: Path, state: dict[str, Any], scorers: list[str]):
        self.root = Path(root)
        self.state = state
        self.scorers = scorers

    def key(self, gt_stat: dict[str, list[list]], pred_folder: Path, pred_error: str | None) -> str:
        parts = {"state": self.state, "gt": gt_stat, "pred": content_files(pred_folder), "err": pred_error}
        return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()

    def path(self, method: str, protocol: str, subject: str, sequence: str) -> Path:
        return self.root / method / protocol / subject / f"{sequence}.json"

    def read(self, path: Path, key: str) -> dict[str, SequenceRecord] | None:
        """The cached records (scorer -> record) when the entry is intact and its key matches, else None."""
        try:
            data = read_json_strict(path)
        except (OSError, ValueError):
            return None
        if not isinstance(data, dict) or data.get("key") != key or not isinstance(data.get("records"), dict):
            return None
        records = data["records"]
        for name in self.scorers:
            rec = records.get(name)
            if not isinstance(rec, dict) or not all(
                isinstance(rec.get(f), t) for f, t in REQUIRED_FIELDS.items()
            ):
                return None
        return {name: SequenceRecord.from_dict(records[name]) for name in self.scorers}

    @staticmethod
    def write(path: Path, key: str, records: dict[str, SequenceRecord]) -> None:
        write_json_atomic(path, {"key": key, "records": {name: r.to_dict() for name, r in records.items()}})
