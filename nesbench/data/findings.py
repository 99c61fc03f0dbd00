"""Validation findings: issue records, per-sequence summaries and the whole result with its text / JSON renderings."""

from __future__ import annotations

import contextlib
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from tabulate import tabulate

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Issue:
    """One problem found in a dataset: which file, what is wrong, and how to fix it (each a single line)."""

    severity: Severity
    code: str
    message: str
    fix: str
    file: str = ""
    subject: str | None = None
    sequence: str | None = None

    def line(self, root: Path | None = None) -> str:
        """``ERROR <file>: <message>; fix: <fix>`` with the file shown relative to ``root`` when inside it."""
        shown = self.file
        if root is not None and shown:
            with contextlib.suppress(ValueError):
                shown = str(Path(shown).relative_to(root))
        where = f"{shown}: " if shown else ""
        return f"{self.severity.upper()} [{self.code}] {where}{self.message}; fix: {self.fix}"


@dataclass
class SequenceSummary:
    """What was found for one sequence folder."""

    testset: str
    subject: str
    sequence: str
    frames: int = 0
    size: tuple[int, int] | None = None  # (width, height) of the RGB frames

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["size"] = list(self.size) if self.size else None
        return d


@dataclass
class ValidationResult:
    """All issues of one validation run plus what was checked; ``ok`` means no errors (warnings allowed)."""

    root: Path
    benchmark: str | None = None
    notes: list[str] = field(default_factory=list)
    issues: list[Issue] = field(default_factory=list)
    sequences: list[SequenceSummary] = field(default_factory=list)
    images_checked: int = 0
    testsets: dict[str, str] = field(default_factory=dict)  # subject -> test set folder

    @property
    def errors(self) -> list[Issue]:
        return [i for i in self.issues if i.severity == "error"]

    @property
    def warnings(self) -> list[Issue]:
        return [i for i in self.issues if i.severity == "warning"]

    @property
    def ok(self) -> bool:
        return not self.errors

    def codes(self) -> set[str]:
        return {i.code for i in self.issues}

    def add(self, issue: Issue) -> None:
        self.issues.append(issue)

    def verdict(self) -> str:
        n_sub = len({(s.testset, s.subject) for s in self.sequences})
        frames = sum(s.frames for s in self.sequences)
        scope = (
            f"{n_sub} subject(s), {len(self.sequences)} sequence(s), {frames} frame(s), "
            f"{self.images_checked} image file(s) read"
        )
        counts = f"{len(self.errors)} error(s), {len(self.warnings)} warning(s)"
        return f"{'OK' if self.ok else 'FAIL'}: {counts} in {scope}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "root": str(self.root),
            "benchmark": self.benchmark,
            "notes": list(self.notes),
            "errors": len(self.errors),
            "warnings": len(self.warnings),
            "images_checked": self.images_checked,
            "sequences": [s.as_dict() for s in self.sequences],
            "issues": [asdict(i) for i in self.issues],
            "verdict": self.verdict(),
        }

    def render_text(self) -> str:
        """Readable report: dataset-level issues, then per subject a status table and its issues, then a verdict."""
        lines = [f"dataset: {self.root}" + (f"   benchmark: {self.benchmark}" if self.benchmark else "")]
        lines += [f"note: {n}" for n in self.notes]
        by_subject: dict[str | None, list[Issue]] = defaultdict(list)
        for issue in self.issues:
            by_subject[issue.subject].append(issue)
        general = by_subject.pop(None, [])
        if general:
            lines.append("")
            lines += [i.line(self.root) for i in general]
        subjects: dict[str, list[SequenceSummary]] = {}
        for s in self.sequences:
            subjects.setdefault(s.subject, []).append(s)
        for subject in [*subjects, *(s for s in by_subject if s not in subjects)]:
            seqs = subjects.get(subject, [])
            issues = by_subject.get(subject, [])
            testset = seqs[0].testset if seqs else self.testsets.get(subject or "", "?")
            lines.append("")
            lines.append(f"subject {subject} ({testset})")
            if seqs:
                rows = []
                for s in seqs:
                    mine = [i for i in issues if i.sequence == s.sequence]
                    n_err = sum(i.severity == "error" for i in mine)
                    n_warn = len(mine) - n_err
                    status = (
                        "ok"
                        if not mine
                        else ", ".join(
                            x
                            for x in (
                                f"{n_err} error(s)" if n_err else "",
                                f"{n_warn} warning(s)" if n_warn else "",
                            )
                            if x
                        )
                    )
                    size = f"{s.size[0]}x{s.size[1]}" if s.size else "-"
                    rows.append([s.sequence, s.frames, size, status])
                table = tabulate(rows, headers=["sequence", "frames", "size", "status"], tablefmt="simple")
                lines += ["  " + t for t in table.splitlines()]
            order = {s.sequence: k for k, s in enumerate(seqs)}
            for issue in sorted(
                issues, key=lambda i: (order.get(i.sequence or "", -1), i.severity != "error")
            ):
                lines.append("  " + issue.line(self.root))
        lines.append("")
        lines.append(self.verdict())
        return "\n".join(lines)
