"""What benchmark mode scores: the methods, protocols, subjects and scorers chosen from a benchmark and a runs
folder, checked before anything loads."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from nesbench.config import Benchmark, Protocol
from nesbench.errors import DataError
from nesbench.metrics.registry import get_scorer
from nesbench.names import check_names

if TYPE_CHECKING:
    from nesbench.metrics.scorers import Scorer


class RecordKey(NamedTuple):
    """Which per-sequence record: one scorer's result of one method on one test sequence."""

    method: str
    protocol: str
    scorer: str
    subject: str
    sequence: str


@dataclass(frozen=True)
class Selection:
    """Methods x protocols x subjects x scorers of one scoring run, in output order."""

    methods: list[str]
    protocols: list[Protocol]
    subjects: list[str]
    scorers: list[Scorer]

    def sequences(self) -> Iterator[tuple[Protocol, str, str]]:
        """(protocol, subject, sequence) of every test sequence, in scoring order."""
        for p in self.protocols:
            for subj in self.subjects:
                for seq in p.test_sequences:
                    yield p, subj, seq


def split_names(items: Iterable[str] | str | None, what: str) -> list[str] | None:
    """A comma list (or list of comma lists) as names checked by the name rule, repeats removed, or None."""
    if items is None:
        return None
    if isinstance(items, str):
        items = items.split(",")
    out = [x.strip() for i in items for x in str(i).split(",") if x.strip()]
    return check_names(out, what) or None


def select(
    bench: Benchmark,
    runs: Path,
    methods: Iterable[str] | str | None = None,
    protocols: Iterable[str] | str | None = None,
    subjects: Iterable[str] | str | None = None,
    scorers: Iterable[str] | str | None = None,
) -> Selection:
    """The selection (default: every method folder in ``runs``, every protocol and subject, the benchmark's
    scorers); DataError/ConfigError naming the folder or the name and the fix."""
    if not runs.is_dir():
        raise DataError(
            f"{runs}: runs folder not found; pass --runs with <method>/<protocol>/<subject>/<seq>/rgb/"
        )
    method_list = split_names(methods, "method") or check_names(
        sorted(p.name for p in runs.iterdir() if p.is_dir() and p.name[0] != "."),
        "method folder",
        f"{runs} (rename the folder, or pass --methods)",
    )
    if not method_list:
        raise DataError(f"{runs}: no method folders; render predictions first (see docs/RESULTS_FORMAT.md)")
    proto_list = [bench.protocol(p) for p in (split_names(protocols, "protocol") or list(bench.protocols))]
    subject_list = bench.resolve_subjects(split_names(subjects, "subject or test set"))
    scorer_objs = [
        get_scorer(n, resolution=bench.resolution)
        for n in (split_names(scorers, "scorer") or bench.scorers or ["unified"])
    ]
    return Selection(method_list, proto_list, subject_list, scorer_objs)
