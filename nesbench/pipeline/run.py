"""The main job: data -> plan -> train + render every job -> score -> report, resumable in one folder."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nesbench.config import Benchmark, load_benchmark
from nesbench.errors import ConfigError, DataError, NesbenchError
from nesbench.fsutil import TEMP_PREFIX, holder_lock, sweep_temp_files
from nesbench.log import get_logger, tag
from nesbench.methods.options import check_options, option_fields
from nesbench.methods.registry import get_method
from nesbench.metrics.options import ScoringOptions
from nesbench.metrics.registry import get_scorer
from nesbench.paths import REPO_ROOT
from nesbench.pipeline.executors import execute
from nesbench.pipeline.plan import PLAN_FILE, make_plan, save_plan

log = get_logger(__name__)

RUN_LOCK = ".nesbench-run.lock"
SCORING_DIRS = ("cache",)  # written only by the driver (the results cache of benchmark mode)


class RunFailed(NesbenchError):
    """Some jobs of the run failed (their reasons are in the ledger and logs)."""


@dataclass
class RunOptions:
    benchmark: str = "synthetic"
    out: Path | None = None
    data: Path | None = None
    methods: list[str] | None = None
    protocols: list[str] | None = None
    subjects: str | None = None
    scorers: list[str] | None = None
    executor: str = "inline"
    scoring: ScoringOptions = field(
        default_factory=ScoringOptions
    )  # device, weights, batch, GT cache, decode
    allow_cpu: bool = False
    epochs: int | None = None  # epoch-counted upstream methods (IMavatar, PointAvatar, MonoGaussianAvatar)
    iterations: int | None = None  # iteration-counted upstream methods (NeRFace, FlashAvatar)
    overrides: dict[str, str] | None = None
    # each method's own options ({method: {option: value}}, declared by MethodSpec.config; `--<method>.<option>`)
    method_options: dict[str, dict[str, Any]] | None = None
    # old spelling (one release): test-time fitting for every chosen method that declares that option
    test_time_fitting: bool | None = None
    max_parallel: int | None = None
    slurm_profile: Path | None = None
    slurm_cluster: str | None = None
    wait: bool = True
    seeds: int = 1


def default_out_dir() -> Path:
    return REPO_ROOT / "results" / time.strftime("%Y%m%d-%H%M%S")


def prepare_data(bench: Benchmark, data: Path | None, subjects: list[str] | None) -> Path:
    """The dataset root: generated (and cached) for synthetic benchmarks, checked for real ones."""
    if data is None and bench.data_root_spec.startswith("cache:"):
        from nesbench.synth.default import ensure_synthetic_data

        return ensure_synthetic_data(bench)
    from nesbench.data.layout import find_dataset_root
    from nesbench.data.validate import validate_dataset

    root, note = find_dataset_root(Path(data) if data else bench.data_root())
    if note:
        log.info(note)
    checked = validate_dataset(root, bench, subjects=subjects, check_images=False)
    if not checked.ok:
        raise DataError(
            f"{root}: the dataset has errors; run `nesbench data check {root} --benchmark {bench.name}`"
        )
    return root


def check_method_needs(methods: list[str], allow_cpu: bool) -> None:
    import torch

    for name in methods:
        spec = get_method(name)
        if spec.needs_gpu and not allow_cpu and not torch.cuda.is_available():
            raise ConfigError(
                f"method {name!r} needs a CUDA GPU and none is visible; run on a GPU machine "
                f"(or pass --allow-cpu for a tiny smoke run)"
            )


@contextmanager
def run_lock(run_dir: Path) -> Iterator[None]:
    """Hold the run folder's driver lock: one `nesbench run` per folder at a time (released even on SIGKILL)."""

    def busy(holder: str) -> None:
        raise ConfigError(
            f"{run_dir}: another `nesbench run` is using this folder ({holder}); wait for it to finish "
            f"or stop it, then re-run"
        )

    with holder_lock(run_dir / RUN_LOCK, on_busy=busy):
        yield


def sweep_driver_files(run_dir: Path) -> int:
    """Remove partial files a killed driver left (run-folder files and the results cache); returns how many.

    Job folders are swept by their worker under the job lock (see stages.run_job), because Slurm tasks of this
    run may still be writing there while a driver starts.
    """
    n = 0
    for p in run_dir.glob(f"{TEMP_PREFIX}*"):
        if p.is_file():
            p.unlink(missing_ok=True)
            n += 1
    return n + sum(sweep_temp_files(run_dir / d) for d in SCORING_DIRS if (run_dir / d).exists())


def _counts(methods: list[str]) -> str:
    return f"{', '.join(methods)} count{'s' if len(methods) == 1 else ''}"


def method_job_options(opts: RunOptions) -> dict[str, dict]:
    """Per-method job options (recorded in plan.json, applied to every job of the method): ``epochs`` for the
    epoch-counted upstream methods, ``iterations`` for the iteration-counted ones (NeRFace, FlashAvatar), so one
    run can give each its own schedule; ``overrides`` (``--set KEY=VALUE`` for every upstream method, ``--set
    METHOD:KEY=VALUE`` for one); plus each method's own declared options. A schedule that no chosen method counts in
    is refused with the flag to use instead."""
    from nesbench.upstream.confs import override_scopes, overrides_for
    from nesbench.upstream.iteration_jobs import JOB_MODULES

    chosen = opts.methods or list(load_benchmark(opts.benchmark).methods)
    out: dict[str, dict] = {}
    by_iterations, by_epochs = [], []
    for m in chosen:
        key = get_method(m).upstream
        out[m] = {}
        if not key:
            continue
        if key in JOB_MODULES:
            by_iterations.append(m)
            schedule, count = "iterations", opts.iterations
        else:
            by_epochs.append(m)
            schedule, count = "epochs", opts.epochs
        if count is not None:
            out[m][schedule] = count
        if own_overrides := overrides_for(m, opts.overrides or {}):
            out[m]["overrides"] = own_overrides
    if stray := override_scopes(opts.overrides or {}) - set(by_epochs + by_iterations):
        raise ConfigError(
            f"--set {sorted(stray)[0]}:KEY=VALUE: {sorted(stray)[0]} is not an upstream method of this run "
            f"(chosen: {', '.join(by_epochs + by_iterations) or 'none'})"
        )
    if opts.epochs is not None and by_iterations and not by_epochs:
        raise ConfigError(
            f"--epochs: {_counts(by_iterations)} training in iterations; give --iterations N instead"
        )
    if opts.iterations is not None and by_epochs and not by_iterations:
        raise ConfigError(f"--iterations: {_counts(by_epochs)} training in epochs; give --epochs N instead")
    own = {m: dict(o) for m, o in (opts.method_options or {}).items()}
    if (
        opts.test_time_fitting is not None
    ):  # the old global flag: every chosen method that declares the option
        fitting = [m for m in chosen if "test_time_fitting" in {f.name for f in _fields(m)}]
        if not fitting:
            raise ConfigError(
                "--test-time-fitting applies to PointAvatar and MonoGaussianAvatar only; none of the chosen methods fits"
            )
        for m in fitting:
            own.setdefault(m, {}).setdefault("test_time_fitting", opts.test_time_fitting)
    for m, values in own.items():
        if m not in out:
            raise ConfigError(f"options for method {m!r}, which is not among the chosen: {', '.join(chosen)}")
        spec = get_method(m)
        check_options(m, spec.config, values)
        out[m].update(values)
    return {m: o for m, o in out.items() if o}


def _fields(method: str) -> list:
    return option_fields(method, get_method(method).config)


def run_pipeline(opts: RunOptions) -> Path:
    """Run (or resume) the whole pipeline into ``opts.out``; returns the run folder.

    The plan is rebuilt from the arguments every time and must equal the one the folder was started with, so a
    re-run with the same arguments resumes and one with other arguments is refused (never silently ignored).
    """
    run_dir = Path(opts.out or default_out_dir()).resolve()
    created = not run_dir.exists()
    try:
        with run_lock(run_dir):
            return _run_locked(opts, run_dir)
    except BaseException:
        # failed before anything was planned: leave no empty run folder behind
        if created and not (run_dir / PLAN_FILE).exists():
            shutil.rmtree(run_dir, ignore_errors=True)
        raise


def _run_locked(opts: RunOptions, run_dir: Path) -> Path:
    from nesbench.metrics.benchmark_mode import incomplete_reason, score_benchmark
    from nesbench.metrics.engine import resolve_device
    from nesbench.report.document import write_report

    resolve_device(opts.scoring.device)  # an unknown device is an error now, not after training
    bench = load_benchmark(opts.benchmark)
    for scorer in opts.scorers or bench.scorers:
        get_scorer(scorer)  # an unknown scorer is an error now, not after hours of training
    subjects = bench.resolve_subjects(opts.subjects)
    data_root = prepare_data(bench, opts.data, subjects)
    plan = make_plan(
        bench,
        run_dir,
        data_root,
        opts.methods,
        opts.protocols,
        opts.subjects,
        method_job_options(opts),
        seeds=opts.seeds,
    )
    save_plan(plan)
    check_method_needs(list(plan.methods), opts.allow_cpu)
    log.info(
        f"{bench.title}: {len(plan.methods)} method(s) x {len(plan.protocols)} protocol(s) x "
        f"{len(plan.subjects)} subject(s) -> {run_dir}",
        extra=tag("run"),
    )
    swept = sweep_driver_files(run_dir)
    if swept:
        log.info(f"removed {swept} partial file(s) left by an interrupted run", extra=tag("run"))
    results = execute(
        plan,
        plan.jobs(bench),
        opts.executor,
        max_parallel=opts.max_parallel,
        slurm_profile=opts.slurm_profile,
        cluster=opts.slurm_cluster,
        wait=opts.wait,
    )
    if not opts.wait:
        log.info(
            "jobs submitted; re-run the same command when they are done to score and report", extra=tag("run")
        )
        return run_dir
    failed = [k for k, ok in results.items() if not ok]
    failed_msg = f"{len(failed)} of {len(results)} job(s) failed: {', '.join(failed)}; reasons: `nesbench jobs status {run_dir}`, logs in {run_dir / 'logs'}; re-run the same command to resume"
    if failed and len(failed) == len(results):
        raise RunFailed(failed_msg)  # nothing was rendered: scoring would only report missing predictions
    summary = score_benchmark(
        bench,
        plan.runs_dir,
        run_dir,
        data_root=plan.data_root,
        methods=plan.run_names,
        protocols=list(plan.protocols),
        subjects=list(plan.subjects),
        scorers=opts.scorers,
        options=opts.scoring,
        progress=True,
        seeds=list(plan.seeds) or None,
    )
    report = write_report(run_dir, bench, summary)
    print((run_dir / "results.md").read_text())
    log.info(f"report: {report}  summary: {run_dir / 'summary.json'}", extra=tag("run"))
    if failed:
        raise RunFailed(failed_msg)
    incomplete = incomplete_reason(summary, run_dir)
    if incomplete:
        raise RunFailed(incomplete)
    return run_dir
