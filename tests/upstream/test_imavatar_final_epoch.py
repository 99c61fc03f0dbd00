"""IMavatar's training runner (the overlay) ends with the checkpoint the benchmark evaluated: epoch `nepoch`.

The toy stands in for upstream ``scripts.train.TrainRunner``: the same loop shape (``for epoch in range(start_epoch,
nepochs + 1)``: save a checkpoint at the start of every epoch, numbered every 5th, ``latest`` always; then train the
epoch), so the benchmark's ``--checkpoint latest`` after ``--nepoch N`` is the checkpoint saved at the start of epoch N,
after N trained epochs."""

from __future__ import annotations

import importlib.util
import json
import sys
import types
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
RUNNER = REPO / "novel_expression_synthesis" / "imavatar" / "scripts" / "nes_runner.py"


class ToyTrainRunner:
    def __init__(self, **kwargs):
        self.nepochs = kwargs["nepochs"]
        self.train_dir = kwargs["conf"].rsplit("/", 1)[0]
        self.start_epoch = 0
        self.trained = 0  # weights = number of trained epochs
        self.saved: dict[str, int] = {}

    def save_checkpoints(self, epoch, only_latest=False):
        if not only_latest:
            self.saved[str(epoch)] = self.trained
        self.saved["latest"] = self.trained
        self.saved["latest_epoch"] = epoch

    def run(self):
        for epoch in range(self.start_epoch, self.nepochs + 1):
            self.save_checkpoints(epoch, only_latest=epoch % 5 != 0)
            self.trained += 1


@pytest.fixture
def runner_mod(monkeypatch):
    scripts = types.ModuleType("scripts")
    test_mod = types.ModuleType("scripts.test")
    test_mod.TestRunner = object
    train_mod = types.ModuleType("scripts.train")
    train_mod.TrainRunner = ToyTrainRunner
    for name, mod in {"scripts": scripts, "scripts.test": test_mod, "scripts.train": train_mod}.items():
        monkeypatch.setitem(sys.modules, name, mod)
    monkeypatch.setattr(sys, "path", list(sys.path))
    spec = importlib.util.spec_from_file_location("nes_runner_imavatar_toy", RUNNER)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.parametrize("nepochs", [10, 7])
def test_training_ends_with_the_checkpoint_of_epoch_nepochs(runner_mod, tmp_path, nepochs):
    conf = tmp_path / "job.conf"
    conf.write_text("nes { flame_distance_skip = 0 }\n")
    runner = runner_mod.NesTrainRunner(conf=str(conf), nepochs=nepochs)
    runner.run()
    # the benchmark's eval: `latest` = saved at the start of epoch nepochs, after nepochs trained epochs
    assert runner.saved["latest_epoch"] == nepochs and runner.saved["latest"] == nepochs
    assert runner.saved[str(nepochs)] == nepochs  # also numbered, even when nepochs % 5 != 0
    assert runner.trained == nepochs  # the epoch after it (never saved) is not trained
    done = json.loads((tmp_path / "nes_train_done.json").read_text())
    assert done["final_epoch"] == nepochs and done["nepochs"] == nepochs
