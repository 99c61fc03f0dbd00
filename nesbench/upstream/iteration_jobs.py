"""The job of an upstream method counted in iterations and run by its own scripts (NeRFace, FlashAvatar): where a
protocol x subject job lives in a runs folder and how it is made. Each method adds its checkpoint folder."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from nesbench.config import Benchmark
from nesbench.errors import AssetError
from nesbench.ledger import Ledger, ledger_for_runs
from nesbench.paths import upstream_dir
from nesbench.upstream.jobs import default_runs_dir
from nesbench.upstream.pins import Upstream

J = TypeVar("J", bound="IterationJob")


@dataclass(frozen=True)
class IterationJob:
    pin: Upstream
    bench: Benchmark
    subject: str
    protocol: str
    runs: Path
    code_dir: Path
    data_root: Path
    seed: int | None = None
    work: Path | None = None

    @property
    def run_name(self) -> str:
        return self.pin.key if self.seed is None else f"{self.pin.key}-seed{self.seed}"

    @property
    def job_dir(self) -> Path:
        return self.runs / self.run_name / self.protocol / self.subject

    @property
    def work_dir(self) -> Path:
        return self.work or self.job_dir / "work"

    @property
    def log_dir(self) -> Path:
        return self.job_dir / "logs"

    @property
    def name(self) -> str:
        return f"{self.run_name}/{self.protocol}/{self.subject}"

    @property
    def key(self) -> str:
        """The job's key in the ledger (the pipeline's ``Job.key``)."""
        return self.name

    @property
    def ledger(self) -> Ledger:
        """The ledger of the runs folder (the run's own under `nesbench run`, else ``<runs>/.ledger``)."""
        return ledger_for_runs(self.runs)

    @classmethod
    def make(
        cls: type[J],
        pin: Upstream,
        required: str,
        bench: Benchmark,
        subject: str,
        protocol: str,
        runs: Path | None = None,
        upstream_root: Path | None = None,
        data_root: Path | None = None,
        seed: int | None = None,
        work: Path | None = None,
    ) -> J:
        """The job of the method pinned by ``pin`` for protocol x subject; ``required``: a file of the installed code
        (relative to its code folder) whose absence means the method is not set up."""
        bench.protocol(protocol)
        bench.testset_of(subject)
        code = pin.code_dir(upstream_root or upstream_dir())
        if not (code / required).is_file():
            raise AssetError(f"{code / required}: missing; run `bash setup.sh --methods {pin.key}` first")
        return cls(
            pin,
            bench,
            str(subject),
            protocol,
            Path(runs or default_runs_dir()),
            code,
            Path(data_root) if data_root else bench.data_root(),
            seed,
            Path(work) if work else None,
        )
