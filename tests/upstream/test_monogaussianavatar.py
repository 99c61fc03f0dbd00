"""MonoGaussianAvatar through the harness on fake trees: pin, named patches (status), overlays, confs per subject x
protocol with the explicit epoch schedule, the overlay runner (toy upstream classes), the registry entry, the header
patches of the CUDA extensions and the refusals of scripts/build_gaussian_splatting.sh before any build.

The real repository is covered by test_checkout.py::test_real_mirror_install_applies_every_patch
(NESBENCH_TEST_MIRROR); the CUDA builds and a training run need a GPU (docs/VALIDATION.md)."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import types
from pathlib import Path

import pytest
import torch
from pyhocon import ConfigFactory

from nesbench.config import load_benchmark
from nesbench.errors import AssetError
from nesbench.methods.registry import get_method, list_methods
from nesbench.upstream import confs, extensions, preflight
from nesbench.upstream.checkout import ensure_checkout
from nesbench.upstream.install import install, status
from nesbench.upstream.patches import patch_states, patches_for
from nesbench.upstream.pins import load_build_pin, load_pins
from tests.upstream.conftest import make_repo, pin_for

REPO = Path(__file__).resolve().parents[2]
MGA = "monogaussianavatar"
RUNNER = REPO / "novel_expression_synthesis" / MGA / "scripts" / "nes_runner.py"
BUILD = REPO / "scripts" / "build_gaussian_splatting.sh"


@pytest.fixture
def mga(tmp_path):
    root = tmp_path / "mirror"
    root.mkdir()
    _, c1, _c2 = make_repo(root / "MonoGaussianAvatar", MGA, bare=True)
    return root, pin_for(MGA, c1)


def test_pins_of_the_method_and_its_cuda_extensions():
    pin = load_pins()[MGA]
    assert pin.commit == "a44d1e33b3bacaf70a40311f0b48d1201ec50fbf" and pin.name == "MonoGaussianAvatar"
    assert load_build_pin("diff_gaussian_rasterization").commit.startswith("59f5f77")
    assert load_build_pin("simple_knn").commit.startswith("44f7642")
    assert load_build_pin("glm").commit.startswith("5c46b9c")  # the rasterizer's submodule at 59f5f77


def test_install_applies_named_patches_once_and_status_lists_them(mga, tmp_path):
    root, pin = mga
    code = install(pin, mirror=root, root=tmp_path / "up", say=lambda m: None)
    names = [p.name for p in patches_for(MGA)]
    assert names == [
        "no-wandb",
        "functorch-torch-func",
        "vgg16-from-cache",
        "torch-load-weights-only",
        "imageio-mode-f",
    ]
    st = status(pin, root=tmp_path / "up")
    assert st["patches"] == dict.fromkeys(names, "applied") and st["overlays"] == "installed"
    assert set(st["modules"]) == {"torch", "torchvision", "pytorch3d", "diff_gaussian_rasterization"}
    model = (code / "model/monogaussian_avatar_model.py").read_text()
    assert "from torch.func import jacfwd, vmap" in model and "functorch import" not in model
    assert "weights_only=False" in (code / "scripts/test.py").read_text()
    before = {p: (code / p).read_text() for p in ("scripts/train.py", "model/monogaussian_avatar_model.py")}
    install(pin, mirror=root, root=tmp_path / "up", say=lambda m: None)  # idempotent
    assert {p: (code / p).read_text() for p in before} == before
    assert (code / "scripts/nes_runner.py").read_bytes() == RUNNER.read_bytes()


def test_a_changed_upstream_line_is_a_conflict_with_the_fix(mga, tmp_path):
    root, pin = mga
    dest = tmp_path / "up" / pin.name
    ensure_checkout(pin, dest, mirror=root)
    model = dest / "code/model/monogaussian_avatar_model.py"
    model.write_text(model.read_text().replace("from functorch import jacfwd, vmap", "import functorch"))
    assert patch_states(MGA, dest / "code")["functorch-torch-func"] == "conflict"
    with pytest.raises(AssetError, match="functorch-torch-func.*--methods monogaussianavatar --force"):
        install(pin, mirror=root, root=tmp_path / "up", say=lambda m: None)


def test_confs_per_subject_and_protocol_with_the_explicit_schedule(mga, tmp_path):
    root, pin = mga
    checkout = tmp_path / "up" / pin.name
    ensure_checkout(pin, checkout, mirror=root)
    tpl = confs.load_template(MGA)
    assert tpl.epochs == {"expression": 120, "speech": 120}  # the author's ~120, not upstream's default 600
    assert tpl.final_epoch(120) == 121 and tpl.prediction == "rgb_erode_dilate"
    assert tpl.test_time_fitting is True and tpl.fitting_scope == "split"
    bench = load_benchmark("renderme360_nes")
    for protocol, proto in bench.protocols.items():
        for subject in bench.subjects:
            path, _, _ = confs.write_conf(
                pin, checkout, bench, subject, protocol, data_root=tmp_path / "data"
            )
            c = ConfigFactory.parse_file(str(path))
            assert c.get("dataset.subject_name") == subject
            assert c.get_list("dataset.train.sub_dir") == list(proto.train)
            assert c.get_list("dataset.test.sub_dir") == list(proto.test_sequences)
            assert c.get_string("train.methodname") == MGA
            assert c.get_string("train.dataset_class") == "datasets.nes_dataset.NesFaceDataset"
            assert c.get_int("dataset.test.subsample") == 200  # training-time plots only; eval renders all
            assert c.get_string("train.exps_folder").endswith(
                "audio_audio_multiflame" if protocol == "speech" else "MonoGaussianAvatar/data/experiments"
            )


class ToyTrainRunner:
    """Stands in for upstream scripts.train.TrainRunner (needs CUDA): records its arguments."""

    seen: dict = {}

    def __init__(self, **kw):
        c = ConfigFactory.parse_file(kw["conf"])
        split = "+".join(str(s) for s in c.get_list("dataset.train.sub_dir"))
        exp = Path(c.get_string("train.exps_folder")) / c.get_string("dataset.subject_name")
        self.train_dir = str(exp / c.get_string("train.methodname") / split / "train")
        self.nepochs = kw["nepochs"]
        ToyTrainRunner.seen = kw

    def run(self):
        Path(self.train_dir).mkdir(parents=True, exist_ok=True)


class ToyTestRunner:
    """Stands in for upstream scripts.test.TestRunner: renders one PNG per test frame of its conf's split."""

    runs: list = []

    def __init__(self, conf, checkpoint, load_path, only_json):
        c = ConfigFactory.parse_file(conf)
        split = "+".join(str(s) for s in c.get_list("dataset.train.sub_dir"))
        exp = Path(c.get_string("train.exps_folder")) / c.get_string("dataset.subject_name")
        self.eval_dir = str(exp / c.get_string("train.methodname") / split / "eval")
        self.start_epoch = 121
        self.sub_dirs = [str(s) for s in c.get_list("dataset.test.sub_dir")]
        self.fit = c.get_bool("train.optimize_expression")
        ToyTestRunner.runs.append(self)

    def run(self):
        for seq in self.sub_dirs:
            out = Path(self.eval_dir) / seq / f"epoch_{self.start_epoch}" / "rgb_erode_dilate"
            out.mkdir(parents=True, exist_ok=True)
            for k in (1, 2):
                (out / f"{k}.png").write_bytes(b"toy")


@pytest.fixture
def runner(tmp_path, monkeypatch):
    mods = {"scripts": types.ModuleType("scripts"), "scripts.test": types.ModuleType("scripts.test")}
    mods["scripts.train"] = types.ModuleType("scripts.train")
    mods["scripts.test"].TestRunner = ToyTestRunner
    mods["scripts.train"].TrainRunner = ToyTrainRunner
    for name, mod in mods.items():
        monkeypatch.setitem(sys.modules, name, mod)
    monkeypatch.setattr(sys, "path", list(sys.path))
    spec = importlib.util.spec_from_file_location("nes_runner_mga_toy", RUNNER)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    exps = tmp_path / "exps"
    ckpt = exps / "0100" / MGA / "e_0+e_1" / "train" / "checkpoints" / "ModelParameters"
    ckpt.mkdir(parents=True)
    torch.save({"epoch": 121}, ckpt / "121.pth")
    conf = tmp_path / "job.conf"
    conf.write_text(
        f'train {{ exps_folder = "{exps}", methodname = {MGA}, optimize_expression = true, optimize_camera = true }}\n'
        'dataset { subject_name = "0100", train { sub_dir = [e_0, e_1] }, test { sub_dir = [e_6, e_7] } }\n'
    )

    def run(*extra: str) -> None:
        ToyTestRunner.runs = []
        argv = ["nes_runner.py", "--conf", str(conf), "--workdir", str(tmp_path), *extra]
        monkeypatch.setattr(sys, "argv", argv)
        assert mod.main() == 0

    run.exp = exps / "0100" / MGA / "e_0+e_1"
    return run


def test_runner_trains_without_chained_eval_and_marks_the_final_epoch(runner):
    runner("--nepoch", "120")
    assert ToyTrainRunner.seen["nepochs"] == 120 and ToyTrainRunner.seen["is_continue"] is False
    assert not ToyTestRunner.runs  # upstream exp_runner chains an eval; the harness runs it as its own job
    marker = json.loads((runner.exp / "train" / "nes_train_done.json").read_text())
    assert marker["final_epoch"] == 121 and marker["nepochs"] == 120
    assert marker["speed"]["speedups"] == ["eval-mesh", "eval-plots", "train-plots"]  # the runner's settings
    runner("--nepoch", "120", "--is_continue")
    assert ToyTrainRunner.seen["is_continue"] is True


def test_runner_eval_fits_the_whole_split_once_and_marks_every_sequence(runner):
    runner("--is_eval", "--checkpoint", "121")
    assert len(ToyTestRunner.runs) == 1 and ToyTestRunner.runs[0].sub_dirs == ["e_6", "e_7"]
    for seq in ("e_6", "e_7"):
        info = json.loads((runner.exp / "eval" / seq / "epoch_121" / "nes_eval_done.json").read_text())
        assert info["frames"] == 2 and info["test_time_fitting"] is True and info["fitting_scope"] == "split"
    runner("--is_eval", "--checkpoint", "121", "--test-time-fitting", "off")
    assert [r.sub_dirs for r in ToyTestRunner.runs] == [["e_6"], ["e_7"]]
    assert not any(r.fit for r in ToyTestRunner.runs)


def test_registered_method_drives_the_upstream_job(capsys):
    from nesbench.cli import main
    from nesbench.methods.upstream_methods import MonoGaussianAvatarMethod

    spec = get_method(MGA)
    assert MGA in [m.name for m in list_methods()]
    assert spec.upstream == MGA and spec.needs_gpu
    from nesbench.methods.options import option_fields

    flags = [f.flag for f in option_fields(MGA, spec.config)]
    assert flags == ["--monogaussianavatar.test-time-fitting", "--monogaussianavatar.fitting-scope"]
    impl = spec.create()
    assert isinstance(impl, MonoGaussianAvatarMethod) and impl.upstream == MGA
    assert main(["methods"]) == 0 and "| monogaussianavatar |" in capsys.readouterr().out


def test_missing_rasterizer_names_the_build_script(monkeypatch):
    monkeypatch.setattr(
        preflight,
        "module_states",
        lambda python, mods: {
            "torch": "2.11.0",
            **dict.fromkeys(mods, "ok"),
            "diff_gaussian_rasterization": "x",
        },
    )
    (line,) = preflight.module_problems(load_pins()[MGA], "py")
    assert "diff_gaussian_rasterization" in line and "scripts/build_gaussian_splatting.sh" in line


RASTER_H = "#pragma once\n\n#include <iostream>\n#include <vector>\n"
KNN_CU = '#define BOX_SIZE 1024\n\n#include "cuda_runtime.h"\n#include <vector>\n'


def test_extension_header_patches_apply_once_and_refuse_other_trees(tmp_path, capsys):
    src = tmp_path / "raster"
    (src / "cuda_rasterizer").mkdir(parents=True)
    (src / "cuda_rasterizer/rasterizer_impl.h").write_text(RASTER_H)
    assert extensions.apply_extension_patches("diff_gaussian_rasterization", src) == {
        "cstdint-rasterizer-impl": "pending"
    }
    text = (src / "cuda_rasterizer/rasterizer_impl.h").read_text()
    assert text.count("#include <cstdint>") == 1 and text.count("#include <iostream>") == 1
    assert extensions.main(["apply", "diff_gaussian_rasterization", str(src)]) == 0
    assert (src / "cuda_rasterizer/rasterizer_impl.h").read_text() == text
    knn = tmp_path / "knn"
    knn.mkdir()
    (knn / "simple_knn.cu").write_text(KNN_CU.replace('"cuda_runtime.h"', "<cuda.h>"))
    assert extensions.main(["apply", "simple_knn", str(knn)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "simple_knn.cu: patch 'cfloat-simple-knn' does not match" in err[0]
    (knn / "simple_knn.cu").write_text(KNN_CU)
    assert extensions.main(["status", "simple_knn", str(knn)]) == 0
    assert "cfloat-simple-knn: pending" in capsys.readouterr().out
    assert extensions.main(["apply", "simple_knn", str(knn)]) == 0
    assert "#include <cfloat>" in (knn / "simple_knn.cu").read_text()


def _git(cwd: Path, *args: str) -> str:
    env = {
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@t",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@t",
    }
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True, env=env).stdout


def _build(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", str(BUILD), "--python", sys.executable, *args],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "NESBENCH_BUILD_DIR": str(tmp_path / "build"), "HOME": str(tmp_path)},
    )


def test_build_script_refuses_incomplete_mirrors_and_other_commits_before_building(tmp_path):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    res = _build(tmp_path, "--src", str(mirror))
    assert res.returncode == 1
    (line,) = res.stderr.strip().splitlines()
    assert "no diff-gaussian-rasterization/" in line and "git clone --mirror" in line
    repo = tmp_path / "r"
    repo.mkdir()
    _git(repo, "init", "-q")
    (repo / "setup.py").write_text("raise SystemExit('must never be built')\n")
    _git(repo, "add", ".")
    _git(repo, "commit", "-qm", "x")
    for name in ("diff-gaussian-rasterization", "glm", "simple-knn"):
        _git(repo, "archive", "--format=tar.gz", "-o", str(mirror / f"{name}.tar.gz"), "HEAD")
    res = _build(tmp_path, "--src", str(mirror))
    assert res.returncode == 1
    (line,) = res.stderr.strip().splitlines()
    assert "diff-gaussian-rasterization.tar.gz: a tarball of commit" in line
    assert "59f5f77e3ddbac3ed9db93ec2cfe99ed6c5d121d" in line
    assert _build(tmp_path, "--src", str(tmp_path / "nope")).returncode == 2
