"""Helpers shared by the overlay runners (novel_expression_synthesis/<method>/scripts/nes_runner.py).

They run inside the upstream `code/` folder with the harness importable; nothing here imports upstream code.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import types
from pathlib import Path
from typing import Any

from pyhocon import ConfigFactory, ConfigTree, HOCONConverter

from nesbench.data.layout import epoch_dir
from nesbench.fsutil import write_json_atomic, write_text_atomic

EVAL_DONE = "nes_eval_done.json"
TRAIN_DONE = "nes_train_done.json"
FIT_MARKER = "nes_fitted_for.json"


def load_conf(path: str | Path) -> ConfigTree:
    return ConfigFactory.parse_file(str(path))


def dump_conf(conf: ConfigTree, path: Path) -> Path:
    write_text_atomic(path, HOCONConverter.to_hocon(conf) + "\n")
    return path


def sequence_conf(
    conf_path: str | Path, seq: str | list[str], out: Path, overrides: dict[str, Any] | None = None
) -> Path:
    """Copy of the job conf whose test split is the sequence ``seq`` (the explicit per-sequence eval loop), or the
    list of sequences ``seq`` (one split-wide test-time fitting run).

    A part of the split gets ``dataset.test.nes_values_from`` = the split's last sequence: the NES dataset overlay
    then uses that sequence's shape_params/intrinsics, as the benchmark's one dataset over the whole split did."""
    conf = load_conf(conf_path)
    whole = [str(s) for s in conf.get_list("dataset.test.sub_dir")]
    part = [seq] if isinstance(seq, str) else [str(s) for s in seq]
    conf.put("dataset.test.sub_dir", part)
    if part != whole and whole:
        conf.put("dataset.test.nes_values_from", whole[-1])
    for key, value in (overrides or {}).items():
        conf.put(key, value)
    return dump_conf(conf, out)


def test_sequences(conf_path: str | Path, only: str | None) -> list[str]:
    """The conf's test sub_dirs, or the comma list ``only`` (each must be in the conf)."""
    conf = load_conf(conf_path)
    seqs = [str(s) for s in conf.get_list("dataset.test.sub_dir")]
    if not only:
        return seqs
    wanted = [s for s in only.split(",") if s]
    unknown = [s for s in wanted if s not in seqs]
    if unknown:
        raise SystemExit(f"error: {conf_path}: sequences {unknown} are not in dataset.test.sub_dir {seqs}")
    return wanted


def fitting_groups(seqs: list[str], scope: str | None) -> list[list[str]]:
    """The test-time fitting runs of an eval: 'split' = one run over every sequence of the test split (the
    benchmark's scripts/test.py: one dataset, one SparseAdam, so its step counts carry across sequences);
    'sequence' or None (no fitting) = one run per sequence."""
    if scope == "split":
        return [list(seqs)] if seqs else []
    if scope not in (None, "sequence"):
        raise ValueError(f"fitting scope {scope!r}; expected split or sequence")
    return [[s] for s in seqs]


def clear_stale_test_fit(checkpoints: Path, seq: str | list[str], epoch: int) -> bool:
    """Delete TestInputParameters unless they were fitted for exactly (sequences, epoch); returns True if deleted.

    PointAvatar reuses TestInputParameters/latest.pth for any test split of the same length (spec 7.2).
    """
    folder = checkpoints / "TestInputParameters"
    marker = folder / FIT_MARKER
    if not folder.exists():
        return False
    import json

    try:
        info = json.loads(marker.read_text())
    except (OSError, ValueError):
        info = None
    if info == {"sub_dirs": _as_list(seq), "epoch": epoch}:
        return False
    shutil.rmtree(folder)
    return True


def mark_test_fit(checkpoints: Path, seq: str | list[str], epoch: int) -> None:
    folder = checkpoints / "TestInputParameters"
    if folder.exists():
        write_json_atomic(folder / FIT_MARKER, {"sub_dirs": _as_list(seq), "epoch": epoch})


def _as_list(seq: str | list[str]) -> list[str]:
    return [seq] if isinstance(seq, str) else [str(s) for s in seq]


def disable_upstream_metrics() -> None:
    """PointAvatar's TestRunner scores one folder with its e_11 hack; the harness scores every sequence instead."""
    mod = types.ModuleType("utils.metrics")

    def run(**_kw: Any) -> None:
        print("[nesbench] upstream inline metrics skipped: score with calculate_metric.py", flush=True)

    mod.run = run  # type: ignore[attr-defined]
    sys.modules["utils.metrics"] = mod


def write_marker(path: Path, info: dict[str, Any]) -> None:
    write_json_atomic(path, info)


def seed_everything(seed: int | None = None) -> int:
    """Seed Python, NumPy and torch (CPU and CUDA) so runs of the same job are repeatable.

    The seed comes from ``seed`` or $NESBENCH_SEED (default 0). With $NESBENCH_DETERMINISTIC=1, torch also uses
    deterministic kernels where they exist (slower; warns where none exists), which makes GPU runs of the same job
    bit-comparable across processes and GPUs.
    """
    import os
    import random

    import numpy as np
    import torch

    seed = int(os.environ.get("NESBENCH_SEED", "0")) if seed is None else int(seed)
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # also seeds every CUDA device
    if os.environ.get("NESBENCH_DETERMINISTIC") == "1":
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.backends.cudnn.benchmark = False
        torch.use_deterministic_algorithms(True, warn_only=True)
    return seed


def runner_parser(description: str, default_nepoch: int) -> argparse.ArgumentParser:
    """The command line both overlay runners share (upstream exp_runner's flags plus --sequences/--workdir)."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--conf", required=True)
    p.add_argument("--is_eval", action="store_true")
    p.add_argument("--is_continue", action="store_true")
    p.add_argument("--nepoch", type=int, default=default_nepoch)
    p.add_argument("--checkpoint", default="latest")
    p.add_argument("--sequences", default="", help="comma list of test sequences to render (default: all)")
    p.add_argument("--workdir", default=".", help="where per-sequence eval confs are written")
    return p


def point_train_runner(train_runner: type) -> type:
    """The upstream TrainRunner (PointAvatar's or MonoGaussianAvatar's) whose run() also writes the harness's
    done-marker: both save the final checkpoint as epoch ``nepochs + 1`` after their loop."""

    class NesTrainRunner(train_runner):  # type: ignore[misc, valid-type]
        nes_speed: dict[str, Any] = {}

        def run(self):
            super().run()
            write_marker(
                Path(self.train_dir) / TRAIN_DONE,
                {"final_epoch": self.nepochs + 1, "nepochs": self.nepochs, "speed": self.nes_speed},
            )

    return NesTrainRunner


def evaluate_point_method(
    opt: argparse.Namespace, test_runner: type, speed_settings: dict[str, Any] | None = None
) -> None:
    """Eval of a PointAvatar-family method (PointAvatar, MonoGaussianAvatar: same TestRunner interface, checkpoint
    layout and test-time fitting): render every test sequence of the conf at ``opt.checkpoint`` into
    eval/<seq>/epoch_<E>/ and mark each done. With fitting, 'split' scope = one TestRunner over the whole test split
    (one SparseAdam, as the benchmark's scripts/test.py:96-182), 'sequence' = one per sequence; without fitting, one
    per sequence. TestInputParameters fitted for other sequences or another epoch are deleted before fitting."""
    import torch

    conf = load_conf(opt.conf)
    fit = opt.test_time_fitting == "on"
    overrides = {} if fit else {"train.optimize_expression": False, "train.optimize_camera": False}
    train_split = "+".join(str(s) for s in conf.get_list("dataset.train.sub_dir"))
    train_dir = (
        Path(conf.get_string("train.exps_folder"))
        / conf.get_string("dataset.subject_name")
        / conf.get_string("train.methodname")
        / train_split
        / "train"
    )
    checkpoints = train_dir / "checkpoints"
    ckpt = checkpoints / "ModelParameters" / f"{opt.checkpoint}.pth"
    if not ckpt.is_file():
        raise SystemExit(f"error: {ckpt}: no checkpoint; train first (bash train.sh ...)")
    epoch = int(torch.load(ckpt, map_location="cpu", weights_only=False)["epoch"])
    scope = opt.fitting_scope if fit else None
    seqs = test_sequences(opt.conf, opt.sequences)
    if scope == "split" and opt.sequences:
        whole = test_sequences(opt.conf, None)
        if seqs != whole:
            print(
                f"[nesbench] split-wide fitting: the whole test split {whole} is fitted and rendered",
                flush=True,
            )
        seqs = whole
    for group in fitting_groups(seqs, scope):
        if fit and clear_stale_test_fit(checkpoints, group, epoch):
            print(
                f"[nesbench] removed TestInputParameters fitted for other sequences before fitting {group}",
                flush=True,
            )
        name = group[0] if len(group) == 1 else "split"
        runner_conf = sequence_conf(opt.conf, group, Path(opt.workdir) / f"eval_{name}.conf", overrides)
        runner = test_runner(conf=str(runner_conf), checkpoint=opt.checkpoint, load_path="", only_json=False)
        runner.run()
        if fit:
            mark_test_fit(checkpoints, group, epoch)
        for seq in group:
            out = epoch_dir(Path(runner.eval_dir) / seq, runner.start_epoch)  # upstream's folder of epoch E
            frames = sorted(int(p.stem) for p in (out / opt.prediction).glob("*.png"))
            write_marker(
                out / EVAL_DONE,
                {
                    "sequence": seq,
                    "epoch": int(runner.start_epoch),
                    "frames": len(frames),
                    "prediction": opt.prediction,
                    "test_time_fitting": fit,
                    "fitting_scope": scope,
                    "fitted_with": group if fit else [],
                    "method": conf.get_string("train.methodname"),
                    "speed": speed_settings or {},
                },
            )
            print(f"[nesbench] {seq}: {len(frames)} frames rendered into {out}", flush=True)


def point_runner_main(description: str, default_nepoch: int, train_runner: type, test_runner: type) -> int:
    """The command line of the PointAvatar-family overlay runners: train (no chained eval) or --is_eval."""
    import os

    p = runner_parser(description, default_nepoch=default_nepoch)
    p.add_argument("--test-time-fitting", choices=["on", "off"], default="on")
    p.add_argument("--fitting-scope", choices=["split", "sequence"], default="split")
    p.add_argument("--prediction", default="rgb_erode_dilate", choices=["rgb", "rgb_erode_dilate"])
    opt = p.parse_args()
    seed_everything()
    from nesbench.upstream import speed

    settings = speed.configure()
    print(f"[nesbench] speed settings: {settings}", flush=True)
    os.environ.setdefault("WANDB_MODE", "disabled")
    if opt.is_eval:
        evaluate_point_method(opt, test_runner, settings)
    else:
        runner_cls = point_train_runner(train_runner)
        runner_cls.nes_speed = settings
        runner_cls(
            conf=opt.conf,
            nepochs=opt.nepoch,
            checkpoint=opt.checkpoint,
            is_continue=opt.is_continue,
            load_path="",
            wandb_workspace=None,
            wandb_tags=[],
        ).run()
    return 0
