import pickle
import sysconfig

import numpy as np
import pytest

from nesbench.cli import main
from nesbench.upstream import flame
from nesbench.upstream.builds import build_libmise, libmise_state
from nesbench.upstream.checkout import ensure_checkout
from nesbench.upstream.install import install, status
from nesbench.upstream.overlays import overlay_files, overlay_state


def test_install_places_overlays_under_code_and_status_lists_everything(mirror, tmp_path, monkeypatch):
    pin = mirror["pointavatar"]
    code = install(pin, mirror=mirror["root"], root=tmp_path, say=lambda m: None)
    assert code == tmp_path / "PointAvatar" / "code"
    files = overlay_files("pointavatar")
    assert {"scripts/nes_runner.py", "datasets/nes_dataset.py"} <= set(files)
    for rel, src in files.items():
        assert (code / rel).read_bytes() == src.read_bytes()
    assert not (
        tmp_path / "PointAvatar" / "scripts"
    ).exists()  # not the README's (wrong) repository-root paths
    st = status(pin, root=tmp_path)
    assert st["commit"] == pin.commit and st["overlays"] == "installed" and st["flame"] == "missing"
    assert set(st["patches"].values()) == {"applied"}
    (code / "scripts/nes_runner.py").write_text("# edited\n")
    assert overlay_state("pointavatar", code) == "pending"
    install(pin, mirror=mirror["root"], root=tmp_path, say=lambda m: None)
    assert overlay_state("pointavatar", code) == "installed"


@pytest.mark.slow
def test_libmise_builds_with_cython3_and_is_idempotent(mirror, tmp_path):
    pytest.importorskip("Cython")
    pin = mirror["imavatar"]
    ensure_checkout(pin, tmp_path / "IMavatar", mirror=mirror["root"])
    code = tmp_path / "IMavatar" / "code"
    assert libmise_state(code) == "pending"
    assert build_libmise(code) == "pending"
    assert (code / f"utils/libmise/mise{sysconfig.get_config_var('EXT_SUFFIX')}").is_file()
    stale = code / "utils/libmise/mise.cpp"
    assert (
        not stale.exists() or "old Cython" not in stale.read_text()
    )  # the stale generated source is not reused
    assert build_libmise(code) == "built"


def test_flame_state_synthetic_and_chumpy_detection(mirror, tmp_path, monkeypatch):
    monkeypatch.setenv("NESBENCH_UPSTREAM", str(tmp_path))
    for m in ("imavatar", "pointavatar"):
        ensure_checkout(mirror[m], tmp_path / mirror[m].name, mirror=mirror["root"])
    pins = [mirror["imavatar"], mirror["pointavatar"]]
    dirs = {p.key: tmp_path / p.name / "code" for p in pins}
    flame.install_synthetic_flame(pins, dirs, seed=0)
    for p in pins:
        assert flame.flame_state(p, dirs[p.key]) == "synthetic"
        with open(dirs[p.key] / "flame/FLAME2020/generic_model.pkl", "rb") as f:
            model = pickle.load(f, encoding="latin1")  # plain pickle: no chumpy needed
        assert model["shapedirs"].shape[-1] >= 350 and isinstance(model["J_regressor"], np.ndarray)
    lmk = dirs["pointavatar"] / "flame/FLAME2020/landmark_embedding.npy"
    assert lmk.read_bytes() != b"shipped\n"  # synthetic embedding matches the synthetic mesh
    chumpy_pkl = dirs["imavatar"] / "flame/FLAME2020/generic_model.pkl"
    chumpy_pkl.write_bytes(b"\x80\x02cchumpy.ch\nCh\n)\x81.")
    assert flame.flame_state(pins[0], dirs["imavatar"]) == "chumpy"
    assert main(["upstream", "flame", "--from", str(tmp_path / "missing.pkl"), "--methods", "imavatar"]) == 1


def test_status_reports_torchvision_and_pytorch3d(tmp_path, monkeypatch, capsys):
    site = tmp_path / "site"
    (site / "torchvision").mkdir(parents=True)
    (site / "torchvision" / "__init__.py").write_text("")
    (site / "pytorch3d").mkdir()
    (site / "pytorch3d" / "__init__.py").write_text("raise ImportError('undefined symbol: _ZN3c10')\n")
    monkeypatch.setenv("PYTHONPATH", str(site))
    monkeypatch.setenv("NESBENCH_UPSTREAM", str(tmp_path / "none"))
    from nesbench.cli import main
    from nesbench.upstream.pins import get_pin

    mods = status(get_pin("pointavatar"), root=tmp_path)["modules"]
    assert mods["torchvision"] == "ok" and mods["pytorch3d"] == "ImportError: undefined symbol: _ZN3c10"
    assert set(status(get_pin("imavatar"), root=tmp_path)["modules"]) == {"torch", "torchvision"}
    assert main(["upstream", "status"]) == 0
    out = capsys.readouterr().out
    assert (
        "torchvision                  ok" in out
        and "pytorch3d                    missing (ImportError" in out
    )
