"""What a method is: a small spec (name, needs) plus an implementation with prepare / train / render steps.

A method reads a :class:`Job` (method, subject, protocol and where things are) and writes its renders of every test
sequence into the canonical prediction layout ``<runs>/<method>/<protocol>/<subject>/<seq>/rgb/<k>.png``. That is
all the scorers read, so a new method only has to render.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from nesbench.config import Benchmark
from nesbench.data.layout import prediction_dir, sequence_dir
from nesbench.errors import ConfigError
from nesbench.loading import ObjectLoadError, load_object


@dataclass(frozen=True)
class Job:
    """One unit of work: a method trained on one subject under one protocol, then rendered on its test sequences."""

    method: str
    bench: Benchmark
    subject: str
    protocol: str
    data_root: Path
    runs_dir: Path
    work_dir: Path
    options: dict[str, Any] = field(default_factory=dict)
    seed: int | None = (
        None  # training seed of this run (`nesbench run --seeds N`); None: the method's default
    )

    @property
    def run_name(self) -> str:
        """The name the predictions and results carry: the method, or ``<method>-seed<k>`` for a seeded run."""
        return seed_run_name(self.method, self.seed)

    @property
    def key(self) -> str:
        return f"{self.run_name}/{self.protocol}/{self.subject}"

    @property
    def testset(self) -> str:
        return self.bench.testset_of(self.subject)

    @property
    def train_sequences(self) -> tuple[str, ...]:
        return self.bench.protocol(self.protocol).train

    @property
    def test_sequences(self) -> tuple[str, ...]:
        return self.bench.protocol(self.protocol).test_sequences

    def gt_dir(self, sequence: str) -> Path:
        return sequence_dir(self.data_root, self.testset, self.subject, sequence)

    def pred_dir(self, sequence: str) -> Path:
        return prediction_dir(self.runs_dir, self.run_name, self.protocol, self.subject, sequence)

    @property
    def method_dir(self) -> Path:
        """Per-job folder inside the runs dir for method metadata (method_info.json)."""
        return self.runs_dir / self.run_name / self.protocol / self.subject


SEED_RUN_RE = re.compile(r"^(?P<method>.+)-seed(?P<seed>\d+)$")


def seed_run_name(method: str, seed: int | None) -> str:
    return method if seed is None else f"{method}-seed{seed}"


def parse_run_name(name: str) -> tuple[str, int | None]:
    """(method, seed) of a run name: ``linear-expression-seed2`` -> ('linear-expression', 2)."""
    m = SEED_RUN_RE.match(name)
    return (m.group("method"), int(m.group("seed"))) if m else (name, None)


class Method(Protocol):
    """The steps a method implements. Each must be idempotent: re-running after a crash redoes or resumes.
    A step may return a dict of what it produced; the run's ledger keeps it with the finished stage."""

    def prepare(self, job: Job) -> dict[str, Any] | None: ...

    def train(self, job: Job) -> dict[str, Any] | None: ...

    def render(self, job: Job) -> dict[str, Any] | None: ...


@dataclass(frozen=True)
class MethodSpec:
    """A registered method: its name, what it needs, and where its implementation lives (lazy 'module:object')."""

    name: str
    description: str
    target: str
    needs_gpu: bool = False
    needs_assets: tuple[str, ...] = ()
    upstream: str | None = None
    # the method's own options: a dataclass whose fields become `--<name>.<field>` flags (nesbench.methods.options)
    config: type | None = None
    deterministic: bool = False  # True: the same inputs give the same renders, so extra seeds are not run

    def create(self) -> Method:
        """Import and instantiate the implementation (a class or a zero-argument factory)."""
        try:
            obj = load_object(self.target)
        except ObjectLoadError as exc:
            raise ConfigError(f"method {self.name!r}: cannot load {self.target!r} ({exc})") from None
        return obj()
