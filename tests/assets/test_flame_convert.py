"""FLAME 2020 pickle conversion: a pickle that references chumpy and scipy.sparse like the official file."""

from __future__ import annotations

import pickle
import sys
import types

import numpy as np
import pytest
import scipy.sparse as sp

from nesbench.assets.flame import convert_flame_pickle
from nesbench.cli import main
from nesbench.errors import AssetError


def _fake_chumpy(monkeypatch):
    """Register importable `chumpy.ch.Ch` and `chumpy.reordering.transpose` so pickle can reference them."""
    ch_mod, re_mod = types.ModuleType("chumpy.ch"), types.ModuleType("chumpy.reordering")

    class Ch:
        pass

    class transpose:  # noqa: N801 - chumpy's own class name
        pass

    Ch.__module__, Ch.__qualname__ = "chumpy.ch", "Ch"
    transpose.__module__, transpose.__qualname__ = "chumpy.reordering", "transpose"
    ch_mod.Ch, re_mod.transpose = Ch, transpose
    for name, mod in (
        ("chumpy", types.ModuleType("chumpy")),
        ("chumpy.ch", ch_mod),
        ("chumpy.reordering", re_mod),
    ):
        monkeypatch.setitem(sys.modules, name, mod)
    return Ch, transpose


def _flame_like(monkeypatch, V=30, n_dirs=400, **override):
    Ch, transpose = _fake_chumpy(monkeypatch)
    rng = np.random.default_rng(0)
    shapedirs = Ch()
    shapedirs.__dict__.update(x=rng.normal(size=(V, 3, n_dirs)))
    posedirs_t = Ch()
    posedirs_t.__dict__.update(x=rng.normal(size=(36, 3, V)))
    posedirs = transpose()  # a reordering node: the value is computed from its child
    posedirs.__dict__.update(a=posedirs_t, axes=(2, 1, 0))
    jreg = sp.csc_matrix(np.abs(rng.normal(size=(5, V))) * (rng.random((5, V)) < 0.3))
    model = {
        "f": rng.integers(0, V, size=(40, 3)).astype(np.uint32),
        "v_template": rng.normal(size=(V, 3)),
        "shapedirs": shapedirs,
        "posedirs": posedirs,
        "J_regressor": jreg,
        "kintree_table": np.array([[4294967295, 0, 1, 1, 1], [0, 1, 2, 3, 4]]),
        "weights": np.full((V, 5), 0.2),
        "J": rng.normal(size=(5, 3)),
        "bs_style": "lbs",
        "bs_type": "lrotmin",
    }
    model.update(override)
    return model, posedirs_t.__dict__["x"].transpose(2, 1, 0), jreg.toarray(), shapedirs.__dict__["x"]


def _write_py2_style(model, path) -> None:
    """Protocol 2 with Python-2 module names (numpy.core, scipy.sparse.csc), as the official file has."""
    data = pickle.dumps(model, protocol=2)
    for new, old in (
        (b"numpy._core.multiarray\n", b"numpy.core.multiarray\n"),
        (b"scipy.sparse._csc\n", b"scipy.sparse.csc\n"),
    ):
        data = data.replace(new, old)
    assert (
        b"chumpy.ch\nCh\n" in data
        and b"chumpy.reordering\ntranspose\n" in data
        and b"scipy.sparse.csc\n" in data
    )
    path.write_bytes(data)


def test_converts_chumpy_pickle_to_plain_numpy(tmp_path, monkeypatch):
    model, posedirs, jreg, shapedirs = _flame_like(monkeypatch)
    src = tmp_path / "generic_model.pkl"
    _write_py2_style(model, src)
    for name in ("chumpy", "chumpy.ch", "chumpy.reordering"):
        monkeypatch.delitem(sys.modules, name)  # the converter must not need chumpy
    dst = convert_flame_pickle(src, tmp_path / "out")
    with open(dst, "rb") as f:
        out = pickle.load(f, encoding="latin1")
    assert sorted(out) == sorted(
        ["f", "v_template", "shapedirs", "posedirs", "J_regressor", "kintree_table", "weights"]
    )
    assert all(type(v) is np.ndarray for v in out.values())
    np.testing.assert_array_equal(out["shapedirs"], shapedirs)
    np.testing.assert_array_equal(out["posedirs"], posedirs)
    np.testing.assert_array_equal(out["J_regressor"], jreg)
    np.testing.assert_array_equal(out["v_template"], model["v_template"])
    assert out["kintree_table"][0].tolist() == [4294967295, 0, 1, 1, 1]


def test_cli_converts_and_reports(tmp_path, monkeypatch, capsys):
    model, *_ = _flame_like(monkeypatch)
    src = tmp_path / "generic_model.pkl"
    _write_py2_style(model, src)
    assert main(["assets", "flame", "--from", str(src), "--to", str(tmp_path / "flame")]) == 0
    assert (tmp_path / "flame" / "generic_model.pkl").exists()
    assert "plain NumPy" in capsys.readouterr().out


@pytest.mark.parametrize(
    "override, message",
    [
        ({"kintree_table": np.zeros((2, 4), int)}, "kintree_table has shape (2, 4)"),
        ({"weights": np.zeros((30, 4))}, "weights has shape (30, 4)"),
        ({"f": np.array([[0, 1, 99]])}, "face indices reach 99"),
    ],
)
def test_refuses_wrong_shapes(tmp_path, monkeypatch, override, message):
    model, *_ = _flame_like(monkeypatch, **override)
    src = tmp_path / "m.pkl"
    _write_py2_style(model, src)
    with pytest.raises(AssetError, match="not a usable FLAME model") as exc:
        convert_flame_pickle(src, tmp_path / "out")
    assert message in str(exc.value) and "\n" not in str(exc.value)
    assert not (tmp_path / "out" / "generic_model.pkl").exists()


def test_refuses_too_few_blendshapes(tmp_path, monkeypatch):
    model, *_ = _flame_like(monkeypatch, n_dirs=300)
    src = tmp_path / "m.pkl"
    _write_py2_style(model, src)
    with pytest.raises(AssetError, match=r"shapedirs has shape \(30, 3, 300\)"):
        convert_flame_pickle(src, tmp_path / "out")


class Evil:
    def __reduce__(self):
        import os

        return (os.system, ("echo pwned",))


def test_refuses_foreign_code_and_non_flame_files(tmp_path, capsys):
    evil = tmp_path / "evil.pkl"
    evil.write_bytes(pickle.dumps({"f": Evil()}, protocol=2))
    with pytest.raises(AssetError, match="refusing to load"):
        convert_flame_pickle(evil, tmp_path / "out")
    text = tmp_path / "notes.pkl"
    text.write_text("hello")
    other = tmp_path / "other.pkl"
    other.write_bytes(pickle.dumps({"a": np.zeros(3)}, protocol=2))
    for path, msg in (
        (text, "not a FLAME model pickle"),
        (other, "missing f, v_template"),
        (tmp_path / "nope.pkl", "no such file"),
    ):
        assert main(["assets", "flame", "--from", str(path), "--to", str(tmp_path / "out")]) == 1
        err = capsys.readouterr().err
        assert (
            err.startswith("error: ")
            and msg in err
            and str(path) in err
            and len(err.strip().splitlines()) == 1
        )
