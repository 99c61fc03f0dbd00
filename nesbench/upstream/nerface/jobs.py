"""NeRFace train / eval jobs: one job = (subject, protocol), idempotent and resumable.

Folders of a job (``work`` defaults to ``<runs>/<run>/<protocol>/<subject>/work``)::

    work/dataset/        the converted subject (convert.convert_subject; redone only when its inputs change)
    work/config.yml      upstream's YAML config for this job (settings.build_config)
    work/logs/nerface/   upstream's checkpoints checkpoint<iter>.ckpt (the newest one resumes an interrupted run)
    work/renders/<seq>/  the renderer's frames of the final checkpoint

Train runs upstream's ``train_transformed_rays.py`` (patched) and is done when ``checkpoint<iterations-1>`` exists;
eval runs the overlay ``nes_nerface_render.py`` per test sequence and maps its frames into the canonical layout
``<runs>/<run>/<protocol>/<subject>/<seq>/rgb/<k>.png`` with method_info.json beside them.

Both record into the one job ledger as the other upstream methods do (nesbench.upstream.job_records: stages train
and render; `nesbench run`'s own ledger, else ``<runs>/.ledger/``); done-markers of older runs folders migrate.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from nesbench.config import Benchmark
from nesbench.data.layout import frame_files, numbered, prediction_dir, sequence_dir
from nesbench.errors import ConfigError
from nesbench.fsutil import write_json_atomic, write_text_atomic
from nesbench.upstream import confs as confs_mod
from nesbench.upstream import flame as flame_mod
from nesbench.upstream import patches as patches_mod
from nesbench.upstream import preflight as preflight_mod
from nesbench.upstream.iteration_jobs import IterationJob
from nesbench.upstream.job_records import finished, recorded
from nesbench.upstream.jobs import (
    JobResult,
    _read_json,
    _run,
    _tail,
    map_predictions,
)
from nesbench.upstream.nerface import convert, settings
from nesbench.upstream.pins import get_pin

TRAIN_SCRIPT = "train_transformed_rays.py"
RENDERER = "nes_nerface_render.py"
RENDER_DONE = "nes_eval_done.json"
IDENTITY = "nesbench_identity.json"
CKPT_RE = re.compile(r"^checkpoint(\d+)\.ckpt$")
MODULES = ("yaml", "imageio", "cv2", "tqdm", "matplotlib")


class NerfaceJob(IterationJob):
    """NeRFace's job: upstream's checkpoints in ``<work>/logs/nerface``."""

    @property
    def ckpt_dir(self) -> Path:
        return self.work_dir / "logs" / "nerface"


def make_job(
    bench: Benchmark,
    subject: str,
    protocol: str,
    runs: Path | None = None,
    upstream_root: Path | None = None,
    data_root: Path | None = None,
    seed: int | None = None,
    work: Path | None = None,
) -> NerfaceJob:
    return NerfaceJob.make(
        get_pin("nerface"), RENDERER, bench, subject, protocol, runs, upstream_root, data_root, seed, work
    )


def checkpoints(folder: Path) -> dict[int, Path]:
    """{iteration: file} of upstream's checkpoint<iter>.ckpt files (ordered numerically)."""
    return numbered(folder, CKPT_RE)


def _plain(overrides: dict[str, Any] | None) -> dict[str, Any]:
    """`nesbench run` passes --set values as text: parse them as the CLI does."""
    return {k: confs_mod.parse_value(k, v) if isinstance(v, str) else v for k, v in (overrides or {}).items()}


def problems(job: NerfaceJob, python: str) -> list[str]:
    """What would make the upstream scripts fail, one line each (checkout, patches, FLAME, data, modules)."""
    out = []
    for rel in (TRAIN_SCRIPT, RENDERER):
        if not (job.code_dir / rel).is_file():
            out.append(f"{job.code_dir / rel}: missing; run `bash setup.sh --methods nerface`")
    if not out:
        pending = [n for n, s in patches_mod.patch_states("nerface", job.code_dir).items() if s != "applied"]
        if pending:
            out.append(
                f"{job.code_dir}: patches not applied ({', '.join(pending)}); run `nesbench upstream install "
                "--methods nerface`"
            )
    if flame_mod.flame_state(job.pin, job.code_dir) in ("missing", "chumpy"):
        out.append(
            f"{job.code_dir / flame_mod.FLAME_DIR / flame_mod.MODEL}: no chumpy-free FLAME model (the head-pose "
            "pivots need it); run `nesbench upstream flame --from generic_model.pkl --methods nerface` (or "
            "--synthetic for synthetic subjects)"
        )
    states = preflight_mod.module_states(python, MODULES)
    out += [
        f"{python}: cannot import {m} ({s}); pip install it"
        for m, s in states.items()
        if m != "torch" and s != "ok"
    ]
    if states.get("torch") is None:
        out.append(f"{python}: torch is not installed")
    return out


def prepare(
    job: NerfaceJob, iterations: int, overrides: dict[str, Any] | None
) -> tuple[Path, dict[str, Any]]:
    """Convert the subject (if needed) and write the job's YAML config; returns (config path, config)."""
    tpl = settings.load_settings()
    proto = job.bench.protocol(job.protocol)
    convert.convert_subject(
        job.data_root,
        job.bench.testset_of(job.subject),
        job.subject,
        proto.train,
        proto.test_sequences,
        job.work_dir / "dataset",
        job.code_dir / flame_mod.FLAME_DIR / flame_mod.MODEL,
        tpl.convert_settings(job.bench.resolution),
    )
    cfg = settings.build_config(
        job.code_dir,
        tpl,
        (job.work_dir / "dataset").resolve(),
        (job.work_dir / "logs").resolve(),
        iterations,
        job.seed,
        _plain(overrides),
    )
    path = job.work_dir / "config.yml"
    text = settings.config_text(cfg)
    if not path.is_file() or path.read_text(encoding="utf-8") != text:
        write_text_atomic(path, text)
    return path, cfg


def train_job(
    job: NerfaceJob,
    iterations: int | None = None,
    overrides: dict[str, Any] | None = None,
    python: str = sys.executable,
    force: bool = False,
    record: bool = True,
) -> JobResult:
    """Train to ``iterations`` (default: configs/methods/nerface.conf per protocol); resumes from the newest
    checkpoint of the same configuration; skips a job whose ledger record says it finished with the same
    iterations, config and commit. ``record``: record the attempt in the ledger (False under `nesbench run`, whose
    stage runner records it with the returned ``result``)."""
    tpl = settings.load_settings()
    iterations = int(tpl.iterations[job.protocol] if iterations is None else iterations)
    if iterations <= 0:
        raise ConfigError(f"iterations must be a positive integer, got {iterations}")
    ledger = job.ledger if record else None
    if found := problems(job, python):
        refused = JobResult(job.name, "failed", "not launched: " + "; ".join(found))
        return recorded(ledger, job.key, "train", lambda: refused)
    cfg_path, cfg = prepare(job, iterations, overrides)
    cfg_sha = hashlib.sha256(cfg_path.read_bytes()).hexdigest()
    identity = settings.identity_sha(cfg)
    want = {"iterations": iterations, "config_sha256": cfg_sha, "commit": job.pin.commit}
    done = finished(job.ledger, job.runs, job.key, "train")
    if not force and done and all(done.get(k) == v for k, v in want.items()):
        return JobResult(job.name, "skipped", f"already trained ({iterations} iterations)", result=done)

    def attempt() -> JobResult:
        ident_file = job.ckpt_dir / IDENTITY
        old = _read_json(ident_file)
        if force or (old is not None and old.get("identity") != identity):
            # another configuration: its checkpoints must not resume
            shutil.rmtree(job.ckpt_dir, ignore_errors=True)
        job.ckpt_dir.mkdir(parents=True, exist_ok=True)
        write_json_atomic(ident_file, {"identity": identity})
        final = iterations - 1
        ckpts = checkpoints(job.ckpt_dir)
        usable = {i: p for i, p in ckpts.items() if i <= final}
        latest = max(usable) if usable else None
        log = job.log_dir / "train.log"
        per_iteration = None
        if final not in ckpts:
            cmd = [python, TRAIN_SCRIPT, "--config", str(cfg_path.resolve())]
            if latest is not None:
                cmd += ["--load-checkpoint", str(usable[latest].resolve())]
            header = f"train {job.name} iterations={iterations} resume_from={latest}"
            started = time.monotonic()
            rc = _run(cmd, job.code_dir, log, header, job.seed)
            if rc != 0 or final not in checkpoints(job.ckpt_dir):
                return JobResult(job.name, "failed", f"exit {rc}: {_tail(log)}", log)
            # wall time of this launch (data loading and validation logs included) over the iterations it ran
            per_iteration = (time.monotonic() - started) / (final - (latest if latest is not None else -1))
        result = {
            **want,
            "final_checkpoint": str(checkpoints(job.ckpt_dir)[final]),
            "resumed_from": latest,
            "seconds_per_iteration": per_iteration,
            "work_dir": str(job.work_dir.resolve()),
        }
        how = f" (resumed from iteration {latest})" if latest is not None else ""
        return JobResult(job.name, "done", f"trained to iteration {final}{how}", log, result=result)

    return recorded(ledger, job.key, "train", attempt)


def eval_job(
    job: NerfaceJob,
    python: str = sys.executable,
    force: bool = False,
    checkpoint: int | None = None,
    record: bool = True,
) -> JobResult:
    """Render every test sequence with the final checkpoint (frames already rendered are kept) and map them to
    the canonical prediction layout; writes method_info.json. ``checkpoint=N`` renders the saved
    ``checkpoint<N>.ckpt`` instead and maps it as the method ``<run>-iter<N>`` (a before/after table). The train
    it renders is the job's finished train in the ledger; ``record``: record the attempt in the ledger (stage
    render of ``<run>[-iter<N>]/<protocol>/<subject>``; False under `nesbench run`)."""
    trained = finished(job.ledger, job.runs, job.key, "train")
    if not trained:
        return JobResult(
            job.name,
            "failed",
            f"not trained yet (no finished train of {job.key} in {job.ledger.root}): run train.sh first",
        )
    tpl = settings.load_settings()
    work = Path(trained.get("work_dir", job.work_dir))  # where training ran (`nesbench run` or train.sh)
    ckpt = Path(trained["final_checkpoint"])
    shown, renders = job.run_name, work / "renders"
    if checkpoint is not None:
        saved = checkpoints(ckpt.parent)
        if checkpoint not in saved:
            raise ConfigError(
                f"--checkpoint {checkpoint}: {ckpt.parent} has no checkpoint{checkpoint:05d}.ckpt; saved: "
                f"{', '.join(map(str, saved)) or 'none'}"
            )
        ckpt, shown = saved[checkpoint], f"{job.run_name}-iter{checkpoint}"
        renders = work / f"renders-iter{checkpoint}"
    cfg_path = work / "config.yml"
    finished(
        job.ledger, job.runs, f"{shown}/{job.protocol}/{job.subject}", "render"
    )  # migrates an old marker

    def attempt() -> JobResult:
        if not ckpt.is_file() or not cfg_path.is_file():
            return JobResult(job.name, "failed", f"{ckpt}: checkpoint missing; re-run train.sh with --force")
        seqs = list(job.bench.protocol(job.protocol).test_sequences)
        ckpt_sha = hashlib.sha256(ckpt.read_bytes()).hexdigest()
        want = {"checkpoint_sha256": ckpt_sha, "latent": tpl.test_latent_code, "seed": tpl.render_seed}
        log = job.log_dir / "eval.log"
        rendered_now = 0
        for seq in seqs:
            out = renders / seq
            info = _read_json(out / RENDER_DONE)
            stamp = _read_json(out / "nesbench_render.json")
            if force or stamp != want:
                shutil.rmtree(out, ignore_errors=True)  # frames of another checkpoint or rule must not mix
            elif info:
                continue
            out.mkdir(parents=True, exist_ok=True)
            write_json_atomic(out / "nesbench_render.json", want)
            cmd = [
                python,
                RENDERER,
                "--config",
                str(cfg_path.resolve()),
                "--checkpoint",
                str(ckpt.resolve()),
                "--transforms",
                str((work / "dataset" / f"transforms_{seq}.json").resolve()),
                "--out",
                str(out.resolve()),
                "--latent",
                tpl.test_latent_code,
                "--seed",
                str(tpl.render_seed),
            ]
            rc = _run(
                cmd, job.code_dir, log, f"eval {shown}/{job.protocol}/{job.subject} sequence={seq}", job.seed
            )
            if rc != 0 or not (out / RENDER_DONE).is_file():
                return JobResult(job.name, "failed", f"exit {rc}: {_tail(log)}", log)
            rendered_now += 1
        per_seq = {}
        testset = job.bench.testset_of(job.subject)
        for seq in seqs:
            gt = frame_files(sequence_dir(job.data_root, testset, job.subject, seq) / "image")
            dst = prediction_dir(job.runs, shown, job.protocol, job.subject, seq)
            per_seq[seq] = {
                "frames": map_predictions(renders / seq, dst, list(gt)),
                "source": str(renders / seq),
                "render": _read_json(renders / seq / RENDER_DONE),
            }
        meta = _read_json(work / "dataset" / convert.META) or {}
        info = {
            "method": shown,
            "seed": job.seed,
            "upstream": job.pin.name,
            "url": job.pin.url,
            "commit": job.pin.commit,
            "benchmark": job.bench.name,
            "protocol": job.protocol,
            "subject": job.subject,
            "train_iterations": trained["iterations"],
            "checkpoint": str(ckpt),
            "checkpoint_iteration": int(CKPT_RE.match(ckpt.name)[1]),  # type: ignore[index]
            "checkpoint_sha256": ckpt_sha,
            "train_seconds_per_iteration": trained.get("seconds_per_iteration"),
            "config": str(cfg_path),
            "config_sha256": trained["config_sha256"],
            "test_latent_code": tpl.test_latent_code,
            "render_seed": tpl.render_seed,
            "conversion": {
                k: meta.get(k) for k in ("scale", "intrinsics", "settings", "expression", "flame_model")
            },
            "sequences": per_seq,
        }
        info_path = job.runs / shown / job.protocol / job.subject / "method_info.json"
        write_json_atomic(info_path, info)
        return JobResult(
            job.name,
            "done" if rendered_now else "skipped",
            f"{len(per_seq)} sequences mapped ({rendered_now} rendered now)",
            log,
            result={
                "checkpoint_sha256": ckpt_sha,
                "sequences": sorted(per_seq),
                "method_info": str(info_path),
            },
        )

    return recorded(
        job.ledger if record else None, f"{shown}/{job.protocol}/{job.subject}", "render", attempt
    )
