"""The FLAME-structured stand-in: file format (spec 6.2/6.3), geometry and blendshape behaviour."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch

from nesbench.cli import main
from nesbench.synth.flame_numpy import batch_rodrigues, load_flame


@pytest.fixture(scope="module")
def flame_dir(tmp_path_factory):
    from nesbench.synth.flame_model import write_synthetic_flame

    return write_synthetic_flame(tmp_path_factory.mktemp("flame"), seed=0)


def test_pickle_has_exactly_flames_keys_and_shapes(flame_dir):
    with open(flame_dir / "generic_model.pkl", "rb") as f:
        m = pickle.load(f, encoding="latin1")  # how upstream FLAME.py reads it
    assert sorted(m) == sorted(
        ["f", "v_template", "shapedirs", "posedirs", "J_regressor", "kintree_table", "weights"]
    )
    V = m["v_template"].shape[0]
    assert m["v_template"].shape == (V, 3) and m["f"].shape[1] == 3 and m["f"].max() < V
    assert m["shapedirs"].shape == (V, 3, 400) and m["posedirs"].shape == (V, 3, 36)
    assert m["J_regressor"].shape == (5, V) and np.allclose(m["J_regressor"].sum(1), 1)
    assert m["kintree_table"].tolist() == [[4294967295, 0, 1, 1, 1], [0, 1, 2, 3, 4]]
    assert m["weights"].shape == (V, 5) and np.allclose(m["weights"].sum(1), 1) and m["weights"].min() >= 0


def test_landmark_embedding_in_pointavatar_format(flame_dir):
    with open(flame_dir / "generic_model.pkl", "rb") as f:
        F = len(pickle.load(f)["f"])
    e = np.load(flame_dir / "landmark_embedding.npy", allow_pickle=True, encoding="latin1")[()]
    assert e["static_lmk_faces_idx"].shape == (51,) and e["static_lmk_bary_coords"].shape == (51, 3)
    assert (
        isinstance(e["dynamic_lmk_faces_idx"], torch.Tensor)
        and e["dynamic_lmk_faces_idx"].dtype == torch.int64
    )
    assert (
        isinstance(e["dynamic_lmk_bary_coords"], torch.Tensor)
        and e["dynamic_lmk_bary_coords"].dtype == torch.float32
    )
    assert tuple(e["dynamic_lmk_faces_idx"].shape) == (79, 17) and tuple(
        e["dynamic_lmk_bary_coords"].shape
    ) == (79, 17, 3)
    assert e["full_lmk_faces_idx"].shape == (1, 68) and e["full_lmk_bary_coords"].shape == (1, 68, 3)
    for key in ("static_lmk_faces_idx", "full_lmk_faces_idx", "iris_lmk_faces_idx"):
        assert e[key].min() >= 0 and e[key].max() < F
    assert int(e["dynamic_lmk_faces_idx"].max()) < F
    assert np.allclose(e["full_lmk_bary_coords"].sum(-1), 1) and e["full_lmk_bary_coords"].min() >= -1e-9


def test_deterministic_per_seed(tmp_path, flame_dir):
    assert main(["synth", "flame", str(tmp_path / "a")]) == 0
    assert (tmp_path / "a" / "generic_model.pkl").read_bytes() == (
        flame_dir / "generic_model.pkl"
    ).read_bytes()
    assert main(["synth", "flame", str(tmp_path / "b"), "--seed", "1"]) == 0
    with open(tmp_path / "b" / "generic_model.pkl", "rb") as f:
        other = pickle.load(f)
    with open(flame_dir / "generic_model.pkl", "rb") as f:
        base = pickle.load(f)
    assert not np.array_equal(other["shapedirs"][:, :, 20], base["shapedirs"][:, :, 20])


def test_head_fits_bounding_sphere_and_jaw_opens_the_mouth(flame_dir):
    fl = load_flame(flame_dir / "generic_model.pkl", flame_dir / "landmark_embedding.npy")
    v0, l0 = fl.forward(np.zeros(100), np.zeros(50), np.zeros(15))
    np.testing.assert_allclose(v0, fl.v_template)  # zero parameters give the x4 template
    assert l0.shape == (70, 3)
    rng = np.random.default_rng(0)
    for _ in range(5):
        pose = np.zeros(15)
        pose[3:6] = rng.normal(0, 0.1, 3)
        pose[6] = rng.uniform(0, 0.3)
        v, _ = fl.forward(rng.normal(0, 1, 100), rng.normal(0, 1.5, 50), pose)
        assert np.linalg.norm(v, axis=1).max() < 1.2  # IMavatar's object_bounding_sphere
    assert 0.7 < v0[:, 1].max() - v0[:, 1].min() < 1.3  # a ~0.25 m head (with neck), x4
    pose = np.zeros(15)
    pose[6] = 0.25
    _, l1 = fl.forward(np.zeros(100), np.zeros(50), pose)
    gap0, gap1 = l0[66, 1] - l0[62, 1], l1[66, 1] - l1[62, 1]  # inner lower lip minus inner upper lip (y up)
    assert abs(gap0) < 1e-9 and gap1 < -0.05
    np.testing.assert_allclose(l1[17:27], l0[17:27], atol=1e-9)  # brows do not move with the jaw
    # jaw rotation is rigid about the jaw joint for fully jaw-skinned vertices
    J = fl.J_regressor @ fl.v_template
    v1, _ = fl.forward(np.zeros(100), np.zeros(50), pose)
    jaw_only = fl.weights[:, 2] > 0.999
    R = batch_rodrigues(pose[6:9][None])[0]
    expected = (fl.v_template[jaw_only] - J[2]) @ R.T + J[2]
    np.testing.assert_allclose(v1[jaw_only], expected, atol=1e-9)
    assert np.all(v1[jaw_only, 1] <= v0[jaw_only, 1] + 1e-6)  # the chin goes down


def test_expression_blendshapes_are_visible_smooth_and_distinct(flame_dir):
    fl = load_flame(flame_dir / "generic_model.pkl")
    E = fl.shapedirs[:, :, 100:]  # the 50 expression directions upstream uses, x4
    mags = np.linalg.norm(E, axis=1).max(0)
    assert (mags[:12] > 0.011).all()  # designed ones: > 2.7 mm per unit coefficient in real scale
    assert (mags > 0).all()
    flat = E[:, :, :12].reshape(-1, 12)
    corr = np.corrcoef(flat.T)
    assert np.abs(corr[np.triu_indices(12, 1)]).max() < 0.9
    # smooth: along mesh edges the displacement changes little compared with its size
    f = fl.faces
    edges = np.concatenate([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]])
    for k in range(12):
        d = np.linalg.norm(E[edges[:, 0], :, k] - E[edges[:, 1], :, k], axis=1)
        assert np.percentile(d, 99) < 0.5 * mags[k]
