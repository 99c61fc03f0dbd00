"""IMavatar, PointAvatar, MonoGaussianAvatar, NeRFace and FlashAvatar as registered methods: thin adapters over nesbench.upstream.jobs.

The upstream runners (with the NES-Bench overlays) do the work; this module only maps a pipeline Job onto an
upstream job. Each pipeline run keeps its own upstream experiment folder (``<run>/work/<method>/<protocol>/
<subject>/experiments``), so runs never share checkpoints and re-running a run resumes from its own last checkpoint.

Job options are stored in the run's plan: ``epochs`` or ``iterations`` (``nesbench run --epochs N`` for the
epoch-counted methods, ``--iterations N`` for NeRFace and FlashAvatar; default: configs/methods/<method>.conf),
``overrides`` (``--set [METHOD:]KEY=VALUE``) and PointAvatar's own options
(:class:`PointAvatarOptions`: ``nesbench run --pointavatar.test-time-fitting on|off
--pointavatar.fitting-scope split|sequence --pointavatar.tf32 on|off``; IMavatar's :class:`IMavatarOptions`:
``--imavatar.tf32 on|off``) and MonoGaussianAvatar's (:class:`MonoGaussianAvatarOptions`, the same
two as ``--monogaussianavatar.*``).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any, Literal

from nesbench.errors import NesbenchError
from nesbench.methods.spec import Job

TF32_HELP = (
    "TF32 matmuls and convolutions on Ampere+ GPUs for training and rendering (default: torch's, i.e. matmul "
    "TF32 off, cuDNN TF32 on; the benchmark's torch 1.7 had both on); may change numbers, see docs/FIDELITY.md"
)


@dataclass(frozen=True)
class IMavatarOptions:
    """IMavatar's own options (None: torch's default); recorded in method_info.json."""

    tf32: bool | None = field(default=None, metadata={"help": TF32_HELP})


@dataclass(frozen=True)
class PointAvatarOptions:
    """PointAvatar's own options (None: the value in configs/methods/pointavatar.conf); recorded in
    method_info.json."""

    test_time_fitting: bool | None = field(
        default=None,
        metadata={
            "help": "fit expression/pose/camera to the GT test images (default: on, "
            "configs/methods/pointavatar.conf, as the benchmark)"
        },
    )
    fitting_scope: Literal["split", "sequence"] | None = field(
        default=None,
        metadata={
            "help": "split = one fitting run with one shared SparseAdam over the whole test split, as the "
            "benchmark's scripts/test.py (default); sequence = a fresh run per test sequence"
        },
    )
    tf32: bool | None = field(default=None, metadata={"help": TF32_HELP})


@dataclass(frozen=True)
class MonoGaussianAvatarOptions:
    """MonoGaussianAvatar's own options (None: the value in configs/methods/monogaussianavatar.conf); it keeps
    PointAvatar's test-time fitting. Recorded in method_info.json."""

    test_time_fitting: bool | None = field(
        default=None,
        metadata={
            "help": "fit expression/pose/camera to the GT test images (default: on, "
            "configs/methods/monogaussianavatar.conf, as upstream's scripts/test.py)"
        },
    )
    fitting_scope: Literal["split", "sequence"] | None = field(
        default=None,
        metadata={
            "help": "split = one fitting run over the whole test split (default); sequence = a fresh run per test "
            "sequence"
        },
    )


class UpstreamJobFailed(NesbenchError):
    """The upstream runner failed; the message holds the tail of its log."""


class UpstreamMethod:
    """prepare: check the checkout and write the conf; train: train_job; render: eval_job (maps predictions)."""

    upstream: str = ""

    def _job(self, job: Job) -> Any:
        from nesbench.upstream.jobs import make_job

        return make_job(
            self.upstream,
            job.bench,
            job.subject,
            job.protocol,
            runs=job.runs_dir,
            data_root=job.data_root,
            seed=job.seed,
        )

    def _overrides(self, job: Job) -> dict[str, Any]:
        overrides = dict(job.options.get("overrides", {}))
        overrides.setdefault("train.exps_folder", str(job.work_dir / "experiments"))
        return overrides

    @staticmethod
    def _check(result: Any) -> dict[str, Any]:
        """The job's result for the pipeline's ledger record, or UpstreamJobFailed with the reason."""
        if result.status == "failed":
            raise UpstreamJobFailed(f"{result.job}: {result.detail}")
        return dict(result.result)

    def prepare(self, job: Job) -> None:
        job.work_dir.mkdir(parents=True, exist_ok=True)
        self._job(job)  # raises AssetError with the fix when the checkout is missing

    # The pipeline's stage runner records train and render in the run's ledger (record=False here) with the
    # returned result, which eval reads back (the trained epochs, conf provenance, data warnings).
    def train(self, job: Job) -> dict[str, Any]:
        from nesbench.upstream.jobs import train_job

        epochs = job.options.get("epochs")
        return self._check(
            train_job(
                self._job(job),
                epochs=int(epochs) if epochs else None,
                overrides=self._overrides(job),
                tf32=job.options.get("tf32"),
                record=False,
            )
        )

    def render(self, job: Job) -> dict[str, Any]:
        from nesbench.upstream.jobs import eval_job

        return self._check(
            eval_job(
                self._job(job),
                test_time_fitting=job.options.get("test_time_fitting"),
                fitting_scope=job.options.get("fitting_scope"),
                tf32=job.options.get("tf32"),
                record=False,
            )
        )


class IMavatarMethod(UpstreamMethod):
    upstream = "imavatar"


class PointAvatarMethod(UpstreamMethod):
    upstream = "pointavatar"


class MonoGaussianAvatarMethod(UpstreamMethod):
    upstream = "monogaussianavatar"


class IterationMethod:
    """An upstream method counted in iterations and run by its own scripts (``jobs``: its module with make_job,
    train_job and eval_job). Options: ``iterations`` (``nesbench run --iterations N``; default: the method's
    configs/methods/<name>.conf) and ``overrides`` (``--set KEY=VALUE``). Its files live in the run's
    work folder, so runs never share checkpoints; a re-run resumes from the newest checkpoint."""

    jobs = ""

    def _jobs(self) -> Any:
        return importlib.import_module(self.jobs)

    def _job(self, job: Job) -> Any:
        return self._jobs().make_job(
            job.bench,
            job.subject,
            job.protocol,
            runs=job.runs_dir,
            data_root=job.data_root,
            seed=job.seed,
            work=job.work_dir,
        )

    def prepare(self, job: Job) -> None:
        job.work_dir.mkdir(parents=True, exist_ok=True)
        self._job(job)

    # recorded by the pipeline's stage runner, as for the other upstream methods
    def train(self, job: Job) -> dict[str, Any]:
        iterations = job.options.get("iterations")
        return UpstreamMethod._check(
            self._jobs().train_job(
                self._job(job),
                iterations=int(iterations) if iterations else None,
                overrides=dict(job.options.get("overrides", {})),
                record=False,
            )
        )

    def render(self, job: Job) -> dict[str, Any]:
        return UpstreamMethod._check(self._jobs().eval_job(self._job(job), record=False))


class NeRFaceMethod(IterationMethod):
    """NeRFace (nesbench.upstream.nerface): converts the subject, trains upstream's script, renders every test
    sequence with the NES-Bench renderer; ``overrides`` are upstream YAML keys."""

    jobs = "nesbench.upstream.nerface.jobs"


class FlashAvatarMethod(IterationMethod):
    """FlashAvatar (nesbench.upstream.flashavatar): converts the subject to metrical-tracker frames, trains upstream's
    train.py, renders every test frame with its test.py; ``overrides`` are the settable keys of
    configs/methods/flashavatar.conf (e.g. ``perceptual_loss=off``)."""

    jobs = "nesbench.upstream.flashavatar.jobs"

    def prepare(self, job: Job) -> None:
        from nesbench.upstream.flashavatar import settings

        settings.with_overrides(
            settings.load_settings(), job.options.get("overrides")
        )  # refuse bad --set early
        super().prepare(job)
