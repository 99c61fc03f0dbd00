"""Train / eval of IMavatar, PointAvatar and MonoGaussianAvatar for one job = (method, subject, protocol).

Idempotent and resumable through the one job ledger (nesbench.upstream.job_records): train is skipped when the job's
ledger record says it finished with the same epochs, conf and commit; an interrupted one resumes from its latest
checkpoint (--is_continue). Under `nesbench run` the records are the run's own (stages train and render);
train.sh/eval.sh record into ``<runs>/.ledger/``; done-markers of older runs folders are migrated. Each job appends to
one log, <runs>/<method>/<protocol>/<subject>/logs/{train,eval}.log; method_info.json is written atomically.
Eval renders and maps exactly the evaluated epoch (``epoch_<final>``, the checkpoint the benchmark rendered) of every
test sequence into the canonical prediction layout; another epoch folder is never mapped.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nesbench.config import Benchmark
from nesbench.data.layout import epoch_dir, epoch_of, frame_files, prediction_dir, sequence_dir
from nesbench.errors import AssetError, ConfigError, DataError
from nesbench.fsutil import write_json_atomic
from nesbench.ledger import Ledger, ledger_for_runs
from nesbench.openmp_wait import without_our_wait_policy
from nesbench.paths import REPO_ROOT, upstream_dir
from nesbench.upstream import confs as confs_mod
from nesbench.upstream import dataset_checks, speed
from nesbench.upstream import preflight as preflight_mod
from nesbench.upstream.job_records import finished, recorded
from nesbench.upstream.pins import Upstream, get_pin

RUNNER = "scripts/nes_runner.py"
RUNNER_TRAIN_DONE = "nes_train_done.json"
RUNNER_EVAL_DONE = "nes_eval_done.json"


def default_runs_dir() -> Path:
    return Path(os.environ.get("NESBENCH_RUNS", REPO_ROOT / "runs")).expanduser()


@dataclass(frozen=True)
class UpstreamJob:
    """One upstream train/eval job (method pin, subject, protocol, seed) and where things are. Not the pipeline's
    job (:class:`nesbench.methods.spec.Job`, what a method is given); an upstream method's adapter makes one from it.
    Both share one ledger key (:attr:`key`)."""

    pin: Upstream
    bench: Benchmark
    subject: str
    protocol: str
    runs: Path
    checkout: Path
    data_root: Path
    seed: int | None = None  # training seed ($NESBENCH_SEED of the runner); None: the runner's default (0)

    @property
    def run_name(self) -> str:
        """The results' method name: the upstream key, or ``<key>-seed<k>`` for a seeded run."""
        return self.pin.key if self.seed is None else f"{self.pin.key}-seed{self.seed}"

    @property
    def conf_variant(self) -> str:
        """Seeded runs get their own conf file (their experiment folders differ)."""
        return "" if self.seed is None else f"seed{self.seed}"

    @property
    def key(self) -> str:
        """The job's key in the ledger (the pipeline's ``Job.key``): <run name>/<protocol>/<subject>."""
        return f"{self.run_name}/{self.protocol}/{self.subject}"

    @property
    def ledger(self) -> Ledger:
        """The ledger of the runs folder (the run's own under `nesbench run`, else ``<runs>/.ledger``)."""
        return ledger_for_runs(self.runs)

    @property
    def job_dir(self) -> Path:
        return self.runs / self.run_name / self.protocol / self.subject

    @property
    def log_dir(self) -> Path:
        return self.job_dir / "logs"

    def exp_dir(self, conf: Any) -> Path:
        """exps_folder/subject/methodname/<train_split> (the upstream output layout)."""
        return (
            Path(conf.get_string("train.exps_folder"))
            / self.subject
            / self.pin.methodname
            / self.bench.protocol(self.protocol).train_split
        )


@dataclass(frozen=True)
class JobResult:
    job: str
    status: str  # done | skipped | failed
    detail: str
    log: Path | None = None
    warnings: tuple[str, ...] = ()  # data warnings (recorded in the ledger record and method_info.json)
    result: dict[str, Any] = field(default_factory=dict)  # what a finished job produced (its ledger result)


def require_installed(pin: Upstream, bench: Benchmark, subject: str, protocol: str, path: Path) -> None:
    """ConfigError unless ``bench`` has the protocol and the subject; AssetError unless ``path``, a file of the
    installed code, exists (the method is not set up)."""
    bench.protocol(protocol)
    bench.testset_of(subject)
    if not path.is_file():
        raise AssetError(f"{path}: missing; run `bash setup.sh --methods {pin.key}` first")


def make_job(
    method: str,
    bench: Benchmark,
    subject: str,
    protocol: str,
    runs: Path | None = None,
    upstream_root: Path | None = None,
    data_root: Path | None = None,
    seed: int | None = None,
) -> UpstreamJob:
    pin = get_pin(method)
    checkout = pin.checkout_dir(upstream_root or upstream_dir())
    require_installed(pin, bench, subject, protocol, checkout / "code" / RUNNER)
    return UpstreamJob(
        pin,
        bench,
        str(subject),
        protocol,
        Path(runs or default_runs_dir()),
        checkout,
        Path(data_root) if data_root else bench.data_root(),
        seed,
    )


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _run(
    cmd: list[str],
    cwd: Path,
    log: Path,
    header: str,
    seed: int | None = None,
    strict: bool = False,
    tf32: bool | None = None,
) -> int:
    """Run ``cmd`` appending stdout+stderr to ``log`` (one log per job, one section per attempt); ``seed`` goes to
    the runner as $NESBENCH_SEED (runner_support.seed_everything), ``strict`` as $NESBENCH_STRICT_DATA=1 (the
    dataset overlays then refuse what they otherwise only warn about), ``tf32`` (None: as inherited) as
    $NESBENCH_TF32 (nesbench.upstream.speed; the runner records what it used)."""
    log.parent.mkdir(parents=True, exist_ok=True)
    env = {**without_our_wait_policy(os.environ), "PYTHONUNBUFFERED": "1", "WANDB_MODE": "disabled"}
    if tf32 is not None:
        env[speed.TF32_ENV] = "1" if tf32 else "0"
    env.pop(dataset_checks.STRICT_ENV, None)
    if seed is not None:
        env["NESBENCH_SEED"] = str(seed)
    if strict:
        env[dataset_checks.STRICT_ENV] = "1"
    with open(log, "a", encoding="utf-8") as f:
        f.write(f"\n===== {time.strftime('%Y-%m-%d %H:%M:%S')} {header}\n$ {' '.join(cmd)}\n")
        f.flush()
        return subprocess.run(cmd, cwd=cwd, stdout=f, stderr=subprocess.STDOUT, env=env).returncode


ERROR_LINE_RE = re.compile(r"^(?:[A-Za-z_][\w]*\.)*(?P<type>[A-Za-z_]\w*(?:Error|Exception)): (?P<msg>.+)$")
HARNESS_ERRORS = {"DataError", "AssetError", "ConfigError", "NesbenchError"}


def _tail(log: Path, n: int = 3) -> str:
    """Why the last attempt in ``log`` failed: its last exception line (a harness error as its message alone),
    else its last ``n`` lines."""
    try:
        text = log.read_text(errors="replace")
    except OSError:
        return ""
    lines = [ln for ln in text.rsplit("\n===== ", 1)[-1].splitlines() if ln.strip()]
    for line in reversed(lines):
        if m := ERROR_LINE_RE.match(line.strip()):
            return m["msg"] if m["type"] in HARNESS_ERRORS else f"{m['type']}: {m['msg']}"[:300]
    return " | ".join(lines[-n:])[-300:]


def preflight(job: UpstreamJob, conf: Any, sequences: list[str], python: str) -> list[str]:
    """Problems that would make the upstream runner fail (checkout, FLAME, data, torchvision/pytorch3d), one line
    each; cheap file checks first, then the import probe of ``python``."""
    problems = preflight_mod.checkout_problems(job.pin, job.checkout, RUNNER)
    problems += preflight_mod.weights_problems(job.pin, conf)
    problems += preflight_mod.data_problems(
        job.data_root,
        Path(conf.get_string("dataset.data_folder")),
        conf.get_string("dataset.subject_name"),
        conf.get_string("dataset.json_name", "flame_params.json"),
        sequences,
    )
    return problems + preflight_mod.module_problems(job.pin, python)


def data_warnings(conf: Any, splits: tuple[str, ...], strict: bool = False) -> list[str]:
    """What the dataset overlays will warn about for each split's dataset (one dataset per split, as the upstream
    runners build them): frames not numbered 1..N, shape_params/intrinsics differing across its sequences
    (:func:`~nesbench.upstream.dataset_checks.check_subject_sequences`); DataError instead with ``strict``."""
    out: list[str] = []
    for split in splits:
        out += dataset_checks.check_subject_sequences(
            conf.get_string("dataset.data_folder"),
            conf.get_string("dataset.subject_name"),
            conf.get_string("dataset.json_name", "flame_params.json"),
            [str(s) for s in conf.get_list(f"dataset.{split}.sub_dir")],
            strict=strict,
        )
    return list(dict.fromkeys(out))


def _refused(name: str, problems: list[str]) -> JobResult:
    return JobResult(name, "failed", "not launched: " + "; ".join(problems))


def train_job(
    job: UpstreamJob,
    epochs: int | None = None,
    overrides: dict[str, Any] | None = None,
    python: str = sys.executable,
    force: bool = False,
    strict: bool = False,
    confs: str = "auto",
    tf32: bool | None = None,
    record: bool = True,
) -> JobResult:
    """Train one job to ``epochs`` (default: the template's per-protocol value). Skips a job whose ledger record
    says it finished with the same epochs, conf and commit.

    ``confs``: the conf's base (:func:`~nesbench.upstream.confs.build_job_conf`: auto = the benchmark tarball's conf
    when the data has one). ``strict``: refuse data the benchmark's loaders accept (frames not numbered 1..N,
    shape_params/intrinsics differing across a split's sequences) instead of warning; the warnings of a run are
    recorded in its ledger record and method_info.json. ``tf32``: the TF32 opt-in (None = torch's default or an
    inherited $NESBENCH_TF32); the runner records the speed settings it used in its marker. ``record``: record the attempt in the ledger (False under
    `nesbench run`, whose stage runner records it with the returned ``result``)."""
    name = job.key
    tpl = confs_mod.load_template(job.pin.key)
    epochs = int(tpl.epochs[job.protocol] if epochs is None else epochs)
    if epochs <= 0:
        raise ConfigError(f"epochs must be a positive integer, got {epochs}")
    conf_file, conf_sha, job_conf = confs_mod.write_conf(
        job.pin,
        job.checkout,
        job.bench,
        job.subject,
        job.protocol,
        overrides,
        job.data_root,
        job.conf_variant,
        confs,
    )
    conf = confs_mod.ConfigFactory.parse_file(str(conf_file))
    train_dir = job.exp_dir(conf) / "train"
    want = {"epochs": epochs, "conf_sha256": conf_sha, "commit": job.pin.commit}
    done = finished(job.ledger, job.runs, job.key, "train")
    if (
        not force
        and done
        and all(done.get(k) == v for k, v in want.items())
        and not (strict and done.get("data_warnings"))
    ):
        return JobResult(
            name,
            "skipped",
            f"already trained ({epochs} epochs)",
            warnings=tuple(done.get("data_warnings") or ()),
            result=done,
        )

    def attempt() -> JobResult:
        seqs = [
            str(s) for s in conf.get_list("dataset.train.sub_dir") + conf.get_list("dataset.test.sub_dir")
        ]
        if problems := preflight(job, conf, list(dict.fromkeys(seqs)), python):
            return _refused(name, problems)
        try:
            warned = data_warnings(conf, ("train", "test"), strict)
        except DataError as exc:
            return _refused(name, [str(exc)])
        latest = train_dir / "checkpoints" / "ModelParameters" / "latest.pth"
        resume = latest.is_file() and not force
        if force and train_dir.exists():
            shutil.rmtree(train_dir)
        cmd = [python, RUNNER, "--conf", str(conf_file), "--nepoch", str(epochs)] + (
            ["--is_continue"] if resume else []
        )
        log = job.log_dir / "train.log"
        rc = _run(
            cmd,
            job.checkout / "code",
            log,
            f"train {name} epochs={epochs} resume={resume}",
            job.seed,
            strict,
            tf32,
        )
        info = _read_json(train_dir / RUNNER_TRAIN_DONE)
        final = tpl.final_epoch(epochs)
        if rc != 0 or not info or info.get("final_epoch") != final:
            return JobResult(name, "failed", f"exit {rc}: {_tail(log)}", log, tuple(warned))
        result = {
            **want,
            "final_epoch": final,
            "train_dir": str(train_dir),
            "runner": info,
            **job_conf.provenance(),
            "flame_distance_filter": flame_distance_filter(conf, info),
            "data_warnings": warned,
        }
        detail = (
            f"trained to epoch {final}"
            + (" (resumed)" if resume else "")
            + f"; confs: {job_conf.choice.source}"
        )
        return JobResult(name, "done", detail, log, tuple(warned), result)

    return recorded(job.ledger if record else None, job.key, "train", attempt)


def flame_distance_filter(conf: Any, runner: dict[str, Any] | None = None) -> dict[str, Any] | None:
    """The IMavatar flame-distance step filter of a run (None for a method without one): the threshold from the
    conf (``nes.flame_distance_skip``; 0 = off) and, once trained, how many steps it skipped."""
    value = conf.get("nes.flame_distance_skip", None)
    if value is None:
        return None
    threshold = float(value)
    out: dict[str, Any] = {"on": threshold > 0, "threshold": threshold}
    if runner and isinstance(runner.get("skipped_steps"), dict):
        out["skipped_steps"] = int(sum(int(v) for v in runner["skipped_steps"].values()))
    return out


def map_predictions(src: Path, dst: Path, expected: list[int]) -> int:
    """Copy ``src``/<k>.png into ``dst`` (replacing it atomically as a folder); every expected frame must exist."""
    have = frame_files(src)
    missing = [k for k in expected if k not in have]
    if missing:
        raise DataError(
            f"{src}: {len(missing)} rendered frames missing (first: {missing[0]}.png); re-run eval.sh"
        )
    tmp = dst.with_name(f".{dst.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for k in expected:
        shutil.copyfile(have[k], tmp / f"{k}.png")
    old = dst.with_name(f".{dst.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    if dst.exists():
        os.replace(dst, old)
    os.replace(tmp, dst)
    shutil.rmtree(old, ignore_errors=True)
    return len(expected)


def eval_job(
    job: UpstreamJob,
    test_time_fitting: bool | None = None,
    python: str = sys.executable,
    force: bool = False,
    checkpoint: int | None = None,
    fitting_scope: str | None = None,
    strict: bool = False,
    tf32: bool | None = None,
    record: bool = True,
) -> JobResult:
    """Render every test sequence (skipping those already rendered at the final epoch) and map them to
    <runs>/<method>/<protocol>/<subject>/<seq>/rgb/<k>.png; writes method_info.json next to them.

    The final epoch is the template's (IMavatar: ``epochs``, PointAvatar: ``epochs + 1``, as the benchmark
    evaluated); exactly ``epoch_<final>`` is rendered (``--checkpoint <final>``) and mapped. ``checkpoint=N``
    renders the saved epoch N instead (e.g. 0 = IMavatar untrained) and maps it as the method
    ``<method>-epoch<N>``, so a before/after comparison is scored side by side in one table. ``fitting_scope``
    (PointAvatar): 'split' = one test-time fitting run over the whole test split (the benchmark), 'sequence' = one
    per sequence; None = the template's. ``strict``: as for :func:`train_job` (for the test split's dataset).
    ``tf32``: as for :func:`train_job`; method_info.json records the speed settings of training and rendering.
    The train it renders is the job's finished train in the ledger; ``record``: record the attempt in the ledger
    (stage render of ``<method>[-epoch<N>]/<protocol>/<subject>``; False under `nesbench run`, whose stage runner
    records it with the returned ``result``)."""
    name = job.key
    tpl = confs_mod.load_template(job.pin.key)
    trained = finished(job.ledger, job.runs, job.key, "train")
    if not trained:
        return JobResult(
            name,
            "failed",
            f"not trained yet (no finished train of {job.key} in {job.ledger.root}): run train.sh first",
        )
    if test_time_fitting is not None and tpl.test_time_fitting is None:
        raise ConfigError(
            f"--test-time-fitting: only PointAvatar and MonoGaussianAvatar have test-time fitting, not {job.pin.name}; drop the option"
        )
    fitting = tpl.test_time_fitting if test_time_fitting is None else test_time_fitting
    if fitting_scope is not None and tpl.fitting_scope is None:
        raise ConfigError(
            f"--fitting-scope: only PointAvatar and MonoGaussianAvatar have test-time fitting, not {job.pin.name}; drop the option"
        )
    if fitting_scope not in (None, *confs_mod.FITTING_SCOPES):
        raise ConfigError(f"--fitting-scope {fitting_scope!r}: give split or sequence")
    scope = (tpl.fitting_scope if fitting_scope is None else fitting_scope) if fitting else None
    conf_file = confs_mod.conf_path(job.checkout, job.bench, job.protocol, job.subject, job.conf_variant)
    conf = confs_mod.ConfigFactory.parse_file(str(conf_file))
    eval_dir = job.exp_dir(conf) / "eval"
    final = tpl.final_epoch(int(trained["epochs"])) if checkpoint is None else int(checkpoint)
    shown = job.run_name if checkpoint is None else f"{job.run_name}-epoch{checkpoint}"
    seqs = [str(s) for s in conf.get_list("dataset.test.sub_dir")]
    key = f"{shown}/{job.protocol}/{job.subject}"
    finished(job.ledger, job.runs, key, "render")  # an older runs folder's eval.done.json becomes the record

    def rendered(seq: str) -> bool:
        info = _read_json(epoch_dir(eval_dir / seq, final) / RUNNER_EVAL_DONE)
        return (
            bool(info)
            and (fitting is None or info.get("test_time_fitting") == fitting)
            and (scope is None or info.get("fitting_scope") == scope)
        )

    def attempt() -> JobResult:
        pending = seqs if force else [s for s in seqs if not rendered(s)]
        if pending and scope == "split":
            pending = seqs  # the fit of one sequence depends on the whole split: render (and fit) it whole
        log = job.log_dir / "eval.log"
        if pending and (problems := preflight(job, conf, seqs, python)):
            return _refused(name, problems)
        try:
            warned = data_warnings(conf, ("test",), strict)
        except DataError as exc:
            return _refused(name, [str(exc)])
        if pending:
            cmd = [
                python,
                RUNNER,
                "--conf",
                str(conf_file),
                "--is_eval",
                "--sequences",
                ",".join(pending),
                "--workdir",
                str(job.job_dir / "confs"),
            ]
            if fitting is not None:
                cmd += ["--test-time-fitting", "on" if fitting else "off"]
            if scope is not None:
                cmd += ["--fitting-scope", scope]
            cmd += ["--checkpoint", str(final)]
            (job.job_dir / "confs").mkdir(parents=True, exist_ok=True)
            rc = _run(
                cmd,
                job.checkout / "code",
                log,
                f"eval {name} sequences={','.join(pending)}",
                job.seed,
                strict,
                tf32,
            )
            if rc != 0:
                return JobResult(name, "failed", f"exit {rc}: {_tail(log)}", log, tuple(warned))
        per_seq: dict[str, Any] = {}
        eval_speed: list[Any] = []
        for seq in seqs:
            rendered_dir = epoch_dir(
                eval_dir / seq, final
            )  # exactly the evaluated epoch, never another folder
            if not (rendered_dir / RUNNER_EVAL_DONE).is_file():
                return JobResult(
                    name, "failed", f"{rendered_dir}: no finished render of epoch {final}; see {log}", log
                )
            gt = frame_files(
                sequence_dir(job.data_root, job.bench.testset_of(job.subject), job.subject, seq) / "image"
            )
            n = map_predictions(
                rendered_dir / tpl.prediction,
                prediction_dir(job.runs, shown, job.protocol, job.subject, seq),
                list(gt),
            )
            eval_speed.append((_read_json(rendered_dir / RUNNER_EVAL_DONE) or {}).get("speed"))
            per_seq[seq] = {
                "epoch": epoch_of(rendered_dir),
                "frames": n,
                "source": str(rendered_dir / tpl.prediction),
            }
        info = {
            "method": shown,
            "seed": job.seed,
            "upstream": job.pin.name,
            "checkpoint": "final" if checkpoint is None else checkpoint,
            "url": job.pin.url,
            "commit": job.pin.commit,
            "benchmark": job.bench.name,
            "protocol": job.protocol,
            "subject": job.subject,
            "train_epochs": trained["epochs"],
            "final_epoch": final,
            "conf": str(conf_file),
            "conf_sha256": hashlib.sha256(conf_file.read_bytes()).hexdigest(),
            "prediction": tpl.prediction,
            "test_time_fitting": fitting,
            "test_time_fitting_scope": scope,
            # where the conf came from ("benchmark tarball" | "generated from upstream examples"), its diff against
            # the generated one; a training from before these records says "unknown"
            "confs": trained.get("confs", "unknown"),
            **{k: trained.get(k) for k in ("conf_base", "conf_note", "conf_rewritten", "conf_diff")},
            "flame_distance_filter": flame_distance_filter(conf, trained.get("runner")),
            "data_warnings": list(dict.fromkeys([*trained.get("data_warnings", []), *warned])),
            "strict": strict,
            # speed-ups and TF32 of training and of rendering (nesbench.upstream.speed); None = recorded before
            # issue 18
            "speed": {
                "train": (trained.get("runner") or {}).get("speed"),
                "eval": eval_speed[0] if len(set(map(json.dumps, eval_speed))) == 1 else eval_speed,
            },
            "sequences": per_seq,
        }
        info_path = job.runs / shown / job.protocol / job.subject / "method_info.json"
        write_json_atomic(info_path, info)
        return JobResult(
            name,
            "done" if pending else "skipped",
            f"{len(per_seq)} sequences mapped ({len(pending)} rendered now)",
            log,
            tuple(info["data_warnings"]),
            {"final_epoch": final, "sequences": sorted(per_seq), "method_info": str(info_path)},
        )

    return recorded(job.ledger if record else None, key, "render", attempt)
