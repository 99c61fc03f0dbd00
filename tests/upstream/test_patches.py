import pytest

from nesbench.errors import AssetError
from nesbench.upstream.checkout import ensure_checkout
from nesbench.upstream.patches import apply_patches, patch_states, patches_for


@pytest.fixture
def checkouts(mirror, tmp_path):
    out = {}
    for m in ("imavatar", "pointavatar"):
        pin = mirror[m]
        ensure_checkout(pin, tmp_path / pin.name, mirror=mirror["root"])
        out[m] = tmp_path / pin.name / "code"
    return out


def snapshot(code):
    return {p: p.read_bytes() for p in sorted(code.rglob("*.py"))}


@pytest.mark.parametrize("method", ["imavatar", "pointavatar"])
def test_patches_apply_once_and_are_idempotent(checkouts, method):
    code = checkouts[method]
    assert set(patch_states(method, code).values()) == {"pending"}
    before = apply_patches(method, code)
    assert set(before.values()) == {"pending"}
    assert set(patch_states(method, code).values()) == {"applied"}
    snap = snapshot(code)
    assert set(apply_patches(method, code).values()) == {"applied"}
    assert snapshot(code) == snap  # a second run changes nothing


def test_patch_contents(checkouts):
    im, pa = checkouts["imavatar"], checkouts["pointavatar"]
    apply_patches("imavatar", im)
    apply_patches("pointavatar", pa)
    train = (im / "scripts/train.py").read_text()
    assert "import wandb" not in train and "pygit2.Repository" not in train
    assert "torch.load(weights_only=False, f=" in train and "torch.load(\n" not in train
    assert "nes_skip_step" in train
    assert (im / "utils/rend_util.py").read_text().count("mode='F'") == 3
    assert "as_gray" not in (pa / "datasets/real_dataset.py").read_text()
    model = (pa / "model/point_avatar_model.py").read_text()
    assert "from torch.func import jacfwd, vmap" in model and "functorch import" not in model
    assert "composite_with_weights(self.compositor," in model
    assert "dim=-1" in (im / "model/implicit_morphable_model.py").read_text()
    assert "pytorch3d" not in (im / "model/implicit_morphable_model.py").read_text().split("#")[0]
    assert ".cuda()" not in (pa / "flame/FLAME.py").read_text()
    assert "TWO_D" in (im / "utils/calculate_metrics.py").read_text()
    vgg = (pa / "model/vgg_feature.py").read_text()
    assert "pretrained=True" not in vgg and vgg.count("vgg16_features()") == 4
    assert "from nesbench.upstream.shims.vgg16 import vgg16_features" in vgg


def test_conflict_is_reported_not_silently_skipped(checkouts):
    code = checkouts["pointavatar"]
    f = code / "model/point_avatar_model.py"
    f.write_text(f.read_text().replace("from functorch import jacfwd, vmap", "from jax import vmap"))
    assert patch_states("pointavatar", code)["functorch-torch-func"] == "conflict"
    with pytest.raises(AssetError, match="functorch-torch-func"):
        apply_patches("pointavatar", code)


def test_every_patch_has_a_summary_and_unique_name():
    for m in ("imavatar", "pointavatar"):
        names = [p.name for p in patches_for(m)]
        assert len(names) == len(set(names))
        assert all(p.summary and p.edits for p in patches_for(m))


def test_pointavatar_eval_honours_the_conf_test_subsample(tmp_path):
    """Upstream PointAvatar's TestRunner forces dataset.test.subsample = 1; the benchmark commented that line out
    (its pointavatar/scripts/test.py:18), and so does the patch, once."""
    code = tmp_path / "code"
    (code / "scripts").mkdir(parents=True)
    upstream = (
        "        self.conf = ConfigFactory.parse_file(kwargs['conf'])\n"
        "        self.conf.put('dataset.test.subsample', 1)\n"
        "        self.conf.put('dataset.test.load_images', False)\n"
    )
    (code / "scripts/test.py").write_text(upstream)
    patch = next(p for p in patches_for("pointavatar") if p.name == "test-subsample-from-conf")
    assert patch.state(code) == "pending"
    assert patch.apply(code) == "pending"
    text = (code / "scripts/test.py").read_text()
    active = [ln for ln in text.splitlines() if not ln.lstrip().startswith("#")]
    assert not any("dataset.test.subsample" in ln for ln in active)
    assert "self.conf.put('dataset.test.load_images', False)" in active[-1]
    assert patch.state(code) == "applied" and patch.apply(code) == "applied"
    assert (code / "scripts/test.py").read_text() == text
