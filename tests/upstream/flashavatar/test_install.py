"""FlashAvatar install from a mirror: pinned checkout, named idempotent patches, the nes_hooks overlay, status, and
its FLAME files (synthetic stand-ins where FlashAvatar reads them; the shipped ones restored for the real model)."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest

from nesbench.cli import main
from nesbench.errors import AssetError
from nesbench.upstream import flame
from nesbench.upstream.checkout import ensure_checkout
from nesbench.upstream.flashavatar import assets
from nesbench.upstream.install import install, status
from nesbench.upstream.patches import patch_states, patches_for
from nesbench.upstream.pins import get_pin

from .fake_tree import SHIPPED, make_repo, pin

NAMES = [
    "data-paths",
    "hooks-import",
    "protocol-split",
    "neck-pose-into-flame",
    "per-frame-png",
    "png-images",
    "image-size-from-data",
    "lpips-vgg-from-cache",
    "checkpoint-cadence-and-final",
    "vertex-count-from-model",
    "torch-cross-dim",
    "torch-load-weights-only",
]


@pytest.fixture
def installed(tmp_path: Path) -> tuple[Path, object]:
    mirror = tmp_path / "mirror"
    p = pin(make_repo(mirror / "FlashAvatar-code"))
    code = install(p, mirror=mirror, root=tmp_path / "up", say=lambda m: None)
    return code, p


def test_pin_is_the_default_branch_commit_with_scripts_at_the_root() -> None:
    p = get_pin("flashavatar")
    assert p.commit == "2d4cb25ca9166b795c03692aec12114d595eff15" and p.mirror == "FlashAvatar-code"
    assert p.code_dir(Path("/u")) == Path("/u/FlashAvatar")


def test_install_applies_named_patches_once_and_status_lists_them(installed, tmp_path: Path) -> None:
    code, p = installed
    assert code == tmp_path / "up" / "FlashAvatar" and (code / "nes_hooks.py").is_file()
    assert [x.name for x in patches_for("flashavatar")] == NAMES
    st = status(p, root=tmp_path / "up")
    assert st["patches"] == dict.fromkeys(NAMES, "applied") and st["overlays"] == "installed"
    assert st["flame"] == "missing"
    assert {"pytorch3d", "diff_gaussian_rasterization", "simple_knn", "lpips"} <= set(st["modules"])
    snap = {f: f.read_bytes() for f in sorted(code.rglob("*.py"))}
    install(p, mirror=tmp_path / "mirror", root=tmp_path / "up", say=lambda m: None)
    assert {f: f.read_bytes() for f in sorted(code.rglob("*.py"))} == snap  # idempotent


def test_patch_contents(installed) -> None:
    code, _ = installed
    train, test = (code / "train.py").read_text(), (code / "test.py").read_text()
    for text in (train, test):
        assert "--datadir" in text and "args.datadir or os.path.join('dataset'" in text
        assert "import nes_hooks" in text and "nes_hooks.head_pose(viewpoint_cam)" in text
        assert "torch.load(weights_only=False, f=" in text
    assert (
        "lpips.LPIPS(net='vgg')" not in train and "nes_hooks.lpips_vgg(args.device, args.nes_percep)" in train
    )
    assert "iteration % args.nes_save_every == 0 or iteration == opt.iterations" in train
    assert (
        "cv2.VideoWriter(" not in test
        and "nes_hooks.FrameWriter(" in test
        and "out.write(frame_id, image_np)" in test
    )
    scene = (code / "scene/__init__.py").read_text()
    assert "nes_hooks.split_range(datadir, train_type" in scene and ".jpg'" not in scene
    assert "nes_hooks.attach_head_pose(camera_indiv, flame_params, device)" in scene
    assert "torch.zeros((3, 512, 512))" not in scene
    deform = (code / "src/deform_model.py").read_text()
    assert "neck_pose_params=codedict.get('neck_pose')" in deform and "range(5023)" not in deform


def test_a_changed_upstream_line_is_a_conflict_with_the_fix(tmp_path: Path) -> None:
    mirror = tmp_path / "mirror"
    p = pin(make_repo(mirror / "FlashAvatar-code"))
    dest = tmp_path / "up" / "FlashAvatar"
    ensure_checkout(p, dest, mirror=mirror)
    test = dest / "test.py"
    test.write_text(test.read_text().replace("        out.write(save_image)\n", "        out.write(img)\n"))
    assert patch_states("flashavatar", dest)["per-frame-png"] == "conflict"
    with pytest.raises(AssetError, match="per-frame-png.*--methods flashavatar --force"):
        install(p, mirror=mirror, root=tmp_path / "up", say=lambda m: None)


def test_synthetic_flame_goes_where_flashavatar_reads_it(installed) -> None:
    code, p = installed
    flame.install_synthetic_flame([p], {"flashavatar": code})
    assert flame.flame_state(p, code) == "synthetic"
    with open(code / "flame/generic_model.pkl", "rb") as f:
        model = pickle.load(f)
    n_verts = len(model["v_template"])
    with open(code / assets.MASKS, "rb") as f:
        assert "boundary" in pickle.load(f)
    for rel in assets.EYELIDS:
        lid = np.load(code / rel)
        assert lid.shape == (n_verts, 3) and not lid.any()
    obj = (code / assets.MESH).read_text().splitlines()
    assert sum(ln.startswith("v ") for ln in obj) == n_verts
    assert sum(ln.startswith("f ") for ln in obj) == len(model["f"])
    uv = np.array([[float(x) for x in ln.split()[1:]] for ln in obj if ln.startswith("vt ")])
    assert uv.min() >= 0.0 and uv.max() <= 1.0
    (code / assets.MASKS).unlink()
    assert flame.flame_state(p, code) == "masks missing"


def test_real_flame_needs_the_masks_and_restores_the_shipped_files(installed, tmp_path: Path) -> None:
    code, p = installed
    flame.install_synthetic_flame([p], {"flashavatar": code})
    assert (code / "flame/FlameMesh.obj").read_text() != SHIPPED["flame/FlameMesh.obj"]
    src = tmp_path / "flame_user"
    src.mkdir()
    with open(code / "flame/generic_model.pkl", "rb") as f:  # a chumpy-free model stands for the user's
        (src / "generic_model.pkl").write_bytes(pickle.dumps(pickle.load(f)))
    with pytest.raises(AssetError, match="FLAME_masks.pkl not found.*--masks PATH"):
        flame.install_user_flame([p], {"flashavatar": code}, src / "generic_model.pkl")
    (src / "FLAME_masks.pkl").write_bytes(pickle.dumps({"boundary": np.arange(3)}))
    flame.install_user_flame([p], {"flashavatar": code}, src / "generic_model.pkl")
    assert flame.flame_state(p, code) == "converted"
    for rel, text in SHIPPED.items():
        if rel.startswith("flame/") and "landmark" not in rel:
            assert (code / rel).read_text() == text


def test_cli_flame_synthetic_for_flashavatar(installed, tmp_path: Path, monkeypatch, capsys) -> None:
    code, p = installed
    monkeypatch.setenv("NESBENCH_UPSTREAM", str(tmp_path / "up"))
    monkeypatch.setattr("nesbench.upstream.pins.load_pins", lambda path=None: {"flashavatar": p})
    assert main(["upstream", "flame", "--synthetic", "--methods", "flashavatar"]) == 0
    assert "FlashAvatar: FLAME synthetic" in capsys.readouterr().out
    assert (code / assets.MASKS).is_file()
