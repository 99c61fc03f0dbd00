"""Measure the harness's own cost per job: plan, ledger bookkeeping, worker process start, executor dispatch.

Runs jobs of a no-op method (registered through NESBENCH_METHODS from a temporary module) so that everything
measured is harness: `python scripts/bench_overhead.py [--jobs 12] [--executors inline,local,submitit-local[,slurm]]` (slurm: a
reachable cluster, e.g. from scripts/start_test_slurm.sh).
Prints a Markdown table (seconds per job) for docs/SCALING.md.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

NOOP = """
from nesbench.methods.spec import MethodSpec
class Noop:
    def prepare(self, job): pass
    def train(self, job): pass
    def render(self, job): pass
SPECS = {n: MethodSpec(name=n, description="no-op", target="nb_noop_method:Noop") for n in NAMES}
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jobs", type=int, default=12, help="number of no-op jobs (rounded to a multiple of 2)")
    ap.add_argument("--executors", default="inline,local,submitit-local")
    args = ap.parse_args()
    n_methods = max(1, args.jobs // 2)  # x 2 protocols x 1 subject of synthetic_tiny
    names = [f"noop{i}" for i in range(n_methods)]
    tmp = Path(tempfile.mkdtemp(prefix="nesbench-overhead-"))
    (tmp / "nb_noop_method.py").write_text(f"NAMES = {names!r}\n" + NOOP)
    for i, n in enumerate(names):
        (tmp / f"nb_noop_{i}.py").write_text(f"from nb_noop_method import SPECS\nSPEC = SPECS[{n!r}]\n")
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(tmp), os.environ.get("PYTHONPATH")]))
    os.environ["NESBENCH_METHODS"] = ",".join(f"{n}=nb_noop_{i}:SPEC" for i, n in enumerate(names))
    os.environ["CUDA_VISIBLE_DEVICES"] = ""
    sys.path.insert(0, str(tmp))

    from nesbench.config import load_benchmark
    from nesbench.ledger import STAGES, Ledger
    from nesbench.paths import CONFIGS_DIR
    from nesbench.pipeline.executors import execute
    from nesbench.pipeline.plan import make_plan, save_plan

    bench = load_benchmark("synthetic_tiny")
    CPU_PROFILE = CONFIGS_DIR / "slurm" / "cpu-smoke.conf"  # noqa: N806
    rows = []
    t = time.perf_counter()
    plan = make_plan(bench, tmp / "plan-only", tmp / "no-data", names)
    save_plan(plan)
    n_jobs = len(plan.jobs(bench))
    rows.append(("plan (validate + write plan.json)", (time.perf_counter() - t) / n_jobs))

    ledger = Ledger(tmp / "ledger-only")
    t = time.perf_counter()
    for job in plan.jobs(bench):
        for s in STAGES:
            ledger.is_done(job.key, s)
            ledger.start(job.key, s)
            ledger.finish(job.key, s, ok=True)
    rows.append(
        (f"ledger: {len(STAGES)} stages x (check + start + finish)", (time.perf_counter() - t) / n_jobs)
    )

    done_key = plan.jobs(bench)[0].key
    for s in STAGES:
        Ledger(plan.run_dir).start(done_key, s)
        Ledger(plan.run_dir).finish(done_key, s, ok=True)
    t = time.perf_counter()
    for _ in range(3):
        cmd = [sys.executable, "-m", "nesbench", "jobs", "worker", str(plan.run_dir), done_key]
        subprocess.run(cmd, check=True)
    rows.append(("worker process start (python + imports + plan load)", (time.perf_counter() - t) / 3))

    for name in args.executors.split(","):
        run_dir = tmp / f"run-{name}"
        p = make_plan(bench, run_dir, tmp / "no-data", names)
        save_plan(p)
        executor, extra = {
            "inline": ("inline", {}),
            "local": ("local", {"max_parallel": 1}),
            "submitit-local": ("slurm", {"cluster": "local", "poll_s": 0.2}),
            "slurm": ("slurm", {"cluster": "slurm", "poll_s": 0.2, "slurm_profile": CPU_PROFILE}),
        }[name]
        t = time.perf_counter()
        ok = execute(p, p.jobs(bench), executor, **extra)
        assert all(ok.values()), ok
        label = {"inline": "inline executor, whole job", "local": "local executor (1 slot), whole job",
                 "submitit-local": "submitit local cluster (all at once), whole job",
                 "slurm": "real Slurm job array (cpu-smoke profile), whole job"}[name]  # fmt: skip
        rows.append((label, (time.perf_counter() - t) / n_jobs))

    print(f"\n{n_jobs} no-op jobs on {os.cpu_count()} CPU(s), Python {sys.version.split()[0]}\n")
    print("| what | seconds per job |\n|---|---|")
    for label, sec in rows:
        print(f"| {label} | {sec:.3f} |")


if __name__ == "__main__":
    main()
