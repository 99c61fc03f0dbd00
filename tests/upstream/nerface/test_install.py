"""NeRFace install from a mirror: pinned sparse checkout, named idempotent patches, overlay, status."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nesbench.errors import AssetError
from nesbench.upstream.install import install, status
from nesbench.upstream.patches import apply_patches, patch_states, patches_for
from nesbench.upstream.pins import get_pin

from .fake_tree import CODE, make_repo, pin


@pytest.fixture
def installed(tmp_path: Path) -> tuple[Path, object]:
    mirror = tmp_path / "mirror"
    p = pin(make_repo(mirror / "4D-Facial-Avatars"))
    code = install(p, mirror=mirror, root=tmp_path / "up", say=lambda m: None)
    return code, p


def test_pin_is_registered_with_code_folder_and_sparse_checkout() -> None:
    p = get_pin("nerface")
    assert len(p.commit) == 40 and p.code == CODE and p.sparse == ("nerface_code",)
    assert p.code_dir(Path("/u")) == Path("/u/NeRFace") / CODE


def test_install_patches_overlay_and_skips_large_files(installed, tmp_path: Path) -> None:
    code, p = installed
    assert code == tmp_path / "up" / "NeRFace" / CODE
    assert (code / "nes_nerface_render.py").is_file()
    assert not (tmp_path / "up" / "NeRFace" / "docs").exists()  # sparse: only nerface_code/
    st = status(p, root=tmp_path / "up")
    assert st["commit"] == p.commit and st["overlays"] == "installed"
    assert list(st["patches"]) == [x.name for x in patches_for("nerface")]
    assert set(st["patches"].values()) == {"applied"}
    assert st["flame"] == "missing"
    snap = {f: f.read_bytes() for f in sorted(code.rglob("*.py"))}
    install(p, mirror=tmp_path / "mirror", root=tmp_path / "up", say=lambda m: None)
    assert {f: f.read_bytes() for f in sorted(code.rglob("*.py"))} == snap  # idempotent


def test_patch_contents(installed) -> None:
    code, _ = installed
    helpers = (code / "nerf/nerf_helpers.py").read_text()
    assert "import torchsearchsorted" not in helpers and "torch.searchsorted(cdf.contiguous()" in helpers
    assert "indexing='ij'" in helpers and "except ImportError" in helpers
    train = (code / "train_transformed_rays.py").read_text()
    assert "import torchvision" not in train and "torch.utils.tensorboard" not in train
    assert "torch.load(weights_only=False, f=" in train and "torch.load(\n" not in train
    assert "latent_codes.data.copy_(" in train and 'checkpoint["iter"] + 1' in train
    assert "torch.nn.Parameter(checkpoint" not in train
    assert "sigma_a[:,-1] += 1e-6" not in (code / "nerf/volume_rendering_utils.py").read_text()
    metrics = (code / "nerf/metrics.py").read_text()
    assert "skimage.metrics import structural_similarity" in metrics and "multichannel" not in metrics


def test_conflict_names_the_patch(tmp_path: Path) -> None:
    mirror = tmp_path / "mirror"
    p = pin(make_repo(mirror / "4D-Facial-Avatars"))
    from nesbench.upstream.checkout import ensure_checkout

    ensure_checkout(p, tmp_path / "NeRFace", mirror=mirror)
    code = tmp_path / "NeRFace" / CODE
    f = code / "nerf/nerf_helpers.py"
    f.write_text(f.read_text().replace("import torchsearchsorted\n", "import something_else\n"))
    assert patch_states("nerface", code)["torch-searchsorted"] == "conflict"
    with pytest.raises(AssetError, match="torch-searchsorted"):
        apply_patches("nerface", code)


def test_status_cli_lists_nerface(installed, tmp_path: Path, monkeypatch, capsys) -> None:
    from nesbench.cli import main

    code, p = installed
    monkeypatch.setenv("NESBENCH_UPSTREAM", str(tmp_path / "up"))
    assert main(["upstream", "status", "--methods", "nerface", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows[0]["method"] == "nerface" and "volume-render-no-inplace" in rows[0]["patches"]
    assert "yaml" in rows[0]["modules"]


def test_shim_writer_accepts_every_add_call() -> None:
    from nesbench.upstream.shims.null_writer import SummaryWriter

    w = SummaryWriter("/nonexistent/logdir")
    w.add_scalar("a", 1.0, 0)
    w.add_image("b", None, 0, dataformats="HW")
    w.close()
    with pytest.raises(AttributeError):
        w.not_a_method  # noqa: B018
