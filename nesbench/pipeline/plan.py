"""A run's plan: which jobs (method x protocol x subject), for which benchmark and data, saved as plan.json.

The plan is written once when a run starts; re-running with the same output folder reuses it, so every worker
(inline, local processes, Slurm tasks) rebuilds exactly the same jobs from the file.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nesbench.config import Benchmark, load_benchmark
from nesbench.errors import ConfigError
from nesbench.fsutil import read_json_strict, write_json_atomic
from nesbench.ledger import PLAN_FILE as LEDGER_PLAN_FILE
from nesbench.methods.registry import get_method
from nesbench.methods.spec import Job, seed_run_name
from nesbench.names import check_names

PLAN_FILE = LEDGER_PLAN_FILE


@dataclass(frozen=True)
class Plan:
    """Everything needed to rebuild the jobs of a run."""

    run_dir: Path
    benchmark: str  # path of the benchmark .conf
    data_root: Path
    methods: tuple[str, ...]
    protocols: tuple[str, ...]
    subjects: tuple[str, ...]
    options: dict[str, Any]
    seeds: tuple[int, ...] = ()  # `--seeds N`: each non-deterministic method runs once per seed

    def seeds_of(self, method: str) -> list[int | None]:
        """The seeds a method runs with: [None] (one run, the method's default) unless seeds were asked for and
        the method is not deterministic."""
        return list(self.seeds) if self.seeds and not get_method(method).deterministic else [None]

    @property
    def run_names(self) -> list[str]:
        """What the runs folder holds and the results list: each method, or its ``<method>-seed<k>`` runs."""
        return [seed_run_name(m, k) for m in self.methods for k in self.seeds_of(m)]

    @property
    def runs_dir(self) -> Path:
        return self.run_dir / "runs"

    def load_bench(self) -> Benchmark:
        return load_benchmark(self.benchmark)

    def jobs(self, bench: Benchmark | None = None) -> list[Job]:
        bench = bench or self.load_bench()
        return [
            Job(
                method=m,
                bench=bench,
                subject=s,
                protocol=p,
                data_root=self.data_root,
                runs_dir=self.runs_dir,
                work_dir=self.run_dir / "work" / seed_run_name(m, k) / p / s,
                options=dict(self.options.get(m, {})),
                seed=k,
            )
            for m in self.methods
            for k in self.seeds_of(m)
            for p in self.protocols
            for s in self.subjects
        ]

    def to_dict(self) -> dict[str, Any]:
        out = {
            "benchmark": self.benchmark,
            "data_root": str(self.data_root),
            "methods": list(self.methods),
            "protocols": list(self.protocols),
            "subjects": list(self.subjects),
            "options": self.options,
        }
        if self.seeds:  # only then: plans of runs without seeds stay as they were
            out["seeds"] = list(self.seeds)
        return out


def make_plan(
    bench: Benchmark,
    run_dir: Path,
    data_root: Path,
    methods: list[str] | None = None,
    protocols: list[str] | None = None,
    subjects: str | list[str] | None = None,
    options: dict[str, Any] | None = None,
    seeds: int = 1,
) -> Plan:
    """Validate the selection against the benchmark and the method registry. ``seeds`` > 1: every
    non-deterministic method runs with seeds 0..seeds-1."""
    methods = check_names(methods or bench.methods, "method")  # repeated names are scored once
    if not methods:
        raise ConfigError(f"{bench.source}: no methods configured; pass --methods")
    if seeds < 1:
        raise ConfigError(f"--seeds must be a positive number of runs, got {seeds}")
    for m in methods:
        get_method(m)
    protocols = check_names(protocols or bench.protocols, "protocol")
    for p in protocols:
        bench.protocol(p)
    return Plan(
        run_dir=Path(run_dir).resolve(),
        benchmark=str(bench.source),
        data_root=Path(data_root).resolve(),
        methods=tuple(methods),
        protocols=tuple(protocols),
        subjects=tuple(bench.resolve_subjects(subjects)),
        options=options or {},
        seeds=tuple(range(seeds)) if seeds > 1 else (),
    )


def save_plan(plan: Plan) -> None:
    """Write plan.json, or check that an existing one matches (a run folder holds exactly one plan)."""
    path = plan.run_dir / PLAN_FILE
    if path.exists():
        existing = _read_plan(path, plan.run_dir)
        wanted = plan.to_dict()
        if existing != wanted:
            diff = "; ".join(
                f"{k}: {existing.get(k)!r} there, {wanted.get(k)!r} now"
                for k in dict.fromkeys([*existing, *wanted])  # a key only one side has differs too
                if existing.get(k) != wanted.get(k)
            )
            raise ConfigError(
                f"{path}: this run folder holds another plan ({diff}); re-run with the arguments it was started "
                f"with to resume it, or choose another --out"
            )
        return
    write_json_atomic(path, plan.to_dict())


def _read_plan(path: Path, run_dir: Path) -> dict[str, Any]:
    """The plan.json of a run folder, checked: ConfigError naming the file and the fix when it is corrupt."""
    fix = f"delete {path} (or the whole folder) and start the run again, or choose another --out"
    try:
        d = read_json_strict(path)
    except FileNotFoundError:
        raise ConfigError(
            f"{path}: no plan here; start the run with `nesbench run --out {run_dir}`"
        ) from None
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path}: corrupt plan ({exc}); {fix}") from None
    lists = ("methods", "protocols", "subjects")
    if (
        not isinstance(d, dict)
        or not all(isinstance(d.get(k), str) for k in ("benchmark", "data_root"))
        or not all(isinstance(d.get(k), list) for k in lists)
        or not isinstance(d.get("options", {}), dict)
    ):
        raise ConfigError(f"{path}: corrupt plan (not the object `nesbench run` writes); {fix}")
    for k, what in zip(lists, ("method", "protocol", "subject"), strict=True):
        check_names(d[k], what, str(path))
    return d


def load_plan(run_dir: Path) -> Plan:
    path = Path(run_dir) / PLAN_FILE
    d = _read_plan(path, Path(run_dir))
    return Plan(
        run_dir=Path(run_dir).resolve(),
        benchmark=d["benchmark"],
        data_root=Path(d["data_root"]),
        methods=tuple(d["methods"]),
        protocols=tuple(d["protocols"]),
        subjects=tuple(d["subjects"]),
        options=d.get("options", {}),
        seeds=tuple(d.get("seeds", ())),
    )
