"""PointAvatar's eval runner (the overlay) with a toy TestRunner: split-wide test-time fitting shares one SparseAdam
across the test sequences, as the benchmark's pointavatar/scripts/test.py:96-182 does; per-sequence fitting makes a
fresh optimizer per sequence.

The toy stands in for upstream ``scripts.test.TestRunner`` (which needs CUDA and PyTorch3D): it builds the same kind
of state (one sparse Embedding row per test frame of the conf's split, one SparseAdam over it, 20 steps per batch of
consecutive frames, batches crossing sequence boundaries) and renders one PNG per frame into
``eval/<seq>/epoch_<E>/rgb_erode_dilate/``."""

from __future__ import annotations

import importlib.util
import json
import sys
import types
from pathlib import Path

import pytest
import torch
from pyhocon import ConfigFactory

REPO = Path(__file__).resolve().parents[2]
RUNNER = REPO / "novel_expression_synthesis" / "pointavatar" / "scripts" / "nes_runner.py"
FRAMES = {"e_6": 5, "e_7": 3, "s_4": 6}
BATCH = 4
STEPS = 20


class ToyTestRunner:
    runs: list[ToyTestRunner] = []

    def __init__(self, conf: str, checkpoint: str, load_path: str, only_json: bool):
        c = ConfigFactory.parse_file(conf)
        self.sub_dirs = [str(s) for s in c.get_list("dataset.test.sub_dir")]
        split = "+".join(str(s) for s in c.get_list("dataset.train.sub_dir"))
        exp = Path(c.get_string("train.exps_folder")) / c.get_string("dataset.subject_name")
        self.eval_dir = str(exp / c.get_string("train.methodname") / split / "eval")
        ckpt = exp / c.get_string("train.methodname") / split / "train" / "checkpoints" / "ModelParameters"
        self.start_epoch = torch.load(ckpt / f"{checkpoint}.pth", weights_only=False)["epoch"]
        self.frames = [(seq, k) for seq in self.sub_dirs for k in range(1, FRAMES[seq] + 1)]
        self.fit = c.get_bool("train.optimize_expression") or c.get_bool("train.optimize_camera")
        init = torch.zeros(len(self.frames), 2)
        self.expression = torch.nn.Embedding(len(self.frames), 2, _weight=init, sparse=True)
        self.optimizer = torch.optim.SparseAdam(list(self.expression.parameters()), 0.01)
        ToyTestRunner.runs.append(self)

    def target(self, idx: torch.Tensor) -> torch.Tensor:
        """A per-frame GT 'expression' the toy model should reach (depends on the sequence and frame number)."""
        return torch.tensor([[len(seq) + k / 10.0, -k / 7.0] for seq, k in (self.frames[i] for i in idx)])

    def run(self) -> None:
        if self.fit:
            for start in range(0, len(self.frames), BATCH):
                idx = torch.arange(start, min(start + BATCH, len(self.frames)))
                for _ in range(STEPS):
                    loss = (self.expression(idx) * 1.5 - self.target(idx)).abs().mean()
                    self.optimizer.zero_grad()
                    loss.backward()
                    self.optimizer.step()
        for seq, k in self.frames:
            out = Path(self.eval_dir) / seq / f"epoch_{self.start_epoch}" / "rgb_erode_dilate"
            out.mkdir(parents=True, exist_ok=True)
            (out / f"{k}.png").write_bytes(b"toy")

    def steps(self) -> int:
        (param,) = self.expression.parameters()
        return int(self.optimizer.state[param]["step"]) if param in self.optimizer.state else 0

    def fitted(self, seq: str) -> torch.Tensor:
        rows = [i for i, (s, _k) in enumerate(self.frames) if s == seq]
        return self.expression.weight.detach()[rows].clone()


@pytest.fixture
def runner(tmp_path, monkeypatch):
    """The overlay runner module imported with the toy in place of upstream scripts.test / scripts.train."""
    ToyTestRunner.runs = []
    scripts = types.ModuleType("scripts")
    test_mod = types.ModuleType("scripts.test")
    test_mod.TestRunner = ToyTestRunner
    train_mod = types.ModuleType("scripts.train")
    train_mod.TrainRunner = object
    for name, mod in {"scripts": scripts, "scripts.test": test_mod, "scripts.train": train_mod}.items():
        monkeypatch.setitem(sys.modules, name, mod)
    monkeypatch.setitem(sys.modules, "utils.metrics", types.ModuleType("utils.metrics"))
    monkeypatch.setattr(sys, "path", list(sys.path))
    spec = importlib.util.spec_from_file_location("nes_runner_pointavatar_toy", RUNNER)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)

    exps = tmp_path / "exps"
    ckpt = exps / "0100" / "pointavatar" / "s_5+s_6" / "train" / "checkpoints" / "ModelParameters"
    ckpt.mkdir(parents=True)
    torch.save({"epoch": 101}, ckpt / "101.pth")
    conf = tmp_path / "job.conf"
    conf.write_text(
        f'train {{ exps_folder = "{exps}", methodname = pointavatar, optimize_expression = true, '
        "optimize_camera = true }\n"
        'dataset { subject_name = "0100", train { sub_dir = [s_5, s_6] }, test { sub_dir = [e_6, e_7, s_4] } }\n'
    )

    def run(*extra: str) -> list[ToyTestRunner]:
        ToyTestRunner.runs = []
        argv = ["nes_runner.py", "--conf", str(conf), "--is_eval", "--checkpoint", "101"]
        monkeypatch.setattr(sys, "argv", [*argv, "--workdir", str(tmp_path / "confs"), *extra])
        (tmp_path / "confs").mkdir(exist_ok=True)
        assert mod.main() == 0
        return list(ToyTestRunner.runs)

    run.eval_dir = exps / "0100" / "pointavatar" / "s_5+s_6" / "eval"
    return run


def n_batches(frames: int) -> int:
    return -(-frames // BATCH)


def test_split_wide_fitting_shares_one_optimizer_across_sequences(runner):
    (run,) = runner()  # the default: --fitting-scope split
    assert run.sub_dirs == ["e_6", "e_7", "s_4"]
    total = sum(FRAMES.values())
    # one SparseAdam stepped for every batch of the whole split: its step count carried across the sequences
    assert run.steps() == STEPS * n_batches(total)
    for seq, n in FRAMES.items():
        info = json.loads((runner.eval_dir / seq / "epoch_101" / "nes_eval_done.json").read_text())
        assert info["fitting_scope"] == "split" and info["fitted_with"] == ["e_6", "e_7", "s_4"]
        assert info["frames"] == n and info["test_time_fitting"] is True


def test_per_sequence_fitting_starts_a_fresh_optimizer_per_sequence(runner):
    split = runner()[0]
    runs = runner("--fitting-scope", "sequence")
    assert [r.sub_dirs for r in runs] == [["e_6"], ["e_7"], ["s_4"]]
    assert [r.steps() for r in runs] == [STEPS * n_batches(FRAMES[r.sub_dirs[0]]) for r in runs]
    # Adam's bias correction depends on the shared step count, so the later sequences are fitted differently
    assert torch.allclose(split.fitted("e_6")[:4], runs[0].fitted("e_6")[:4])  # same first batch, same start
    assert not torch.allclose(split.fitted("s_4"), runs[2].fitted("s_4"), atol=1e-4)
    info = json.loads((runner.eval_dir / "s_4" / "epoch_101" / "nes_eval_done.json").read_text())
    assert info["fitting_scope"] == "sequence" and info["fitted_with"] == ["s_4"]


def test_a_subset_of_sequences_still_fits_the_whole_split(runner, capsys):
    (run,) = runner("--sequences", "e_7")
    assert run.sub_dirs == ["e_6", "e_7", "s_4"]
    assert "the whole test split" in capsys.readouterr().out


def test_without_fitting_each_sequence_is_rendered_on_its_own(runner):
    runs = runner("--test-time-fitting", "off")
    assert [r.sub_dirs for r in runs] == [["e_6"], ["e_7"], ["s_4"]]
    assert all(not r.fit and r.steps() == 0 for r in runs)
    info = json.loads((runner.eval_dir / "e_6" / "epoch_101" / "nes_eval_done.json").read_text())
    assert info["fitting_scope"] is None and info["test_time_fitting"] is False
