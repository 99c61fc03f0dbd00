"""NES -> FlashAvatar converter: the converted .frame files and cameras put the FLAME landmarks where NES put them.

The check rebuilds the head the way FlashAvatar's FLAME does from a .frame (6D rotations through PyTorch3D's
rotation_6d_to_matrix, shape 300 / expression 100, metres), projects the landmarks with the converted OpenCV camera
and compares them with the keypoints NES stores (the projection through IMavatar's camera, spec 1.2). The pose
convention is the main risk of the converter, so it is also tested with a rotated camera and a global rotation."""

from __future__ import annotations

import json
import pickle

import imageio.v3 as iio
import numpy as np
import pytest
import torch

from nesbench.cli import main
from nesbench.errors import DataError
from nesbench.synth.flame_model import FLAME_MASK_NAMES, LABELS, write_synthetic_flame
from nesbench.synth.flame_numpy import load_flame
from nesbench.synth.subject import project
from nesbench.upstream import flashavatar_convert as fc

RES, FRAMES = 96, 3


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    root = tmp_path_factory.mktemp("nes")
    argv = ["synth", "subject", str(root), "--subject", "9001", "--res", str(RES), "--frames", str(FRAMES)]
    assert main([*argv, "--sequences", "e_0,e_1,e_6", "--quiet"]) == 0
    subject_dir = root / "testset1" / "9001" / "9001"
    out = root / "flashavatar" / "9001"
    manifest = fc.convert_subject(subject_dir, ["e_0", "e_1"], ["e_6"], out)
    flame_dir = write_synthetic_flame(root / "flame", seed=0)
    flame = load_flame(flame_dir / "generic_model.pkl", flame_dir / "landmark_embedding.npy")
    return subject_dir, out, manifest, flame, flame_dir


def flashavatar_landmarks(payload: dict, flame) -> np.ndarray:
    """FLAME landmarks (metres) from a .frame as FlashAvatar's FLAME builds them (with the neck/rot patch)."""
    f = payload["flame"]
    assert not np.any(f["shape"][0, 100:]) and not np.any(f["exp"][0, 50:])  # zero padding
    six = np.concatenate([f["rot"], f["neck"], f["jaw"], f["eyes"].reshape(2, 6)], axis=0)
    rots = fc.rotation_6d_to_matrix(six)
    _verts, lmks = flame.forward_rotations(f["shape"][0, :100], f["exp"][0, :50], rots)
    return lmks / fc.FLAME_FACTOR


def project_opencv(points: np.ndarray, payload: dict) -> np.ndarray:
    cv = payload["opencv"]
    R, t, K = (np.asarray(cv[k][0], dtype=np.float64) for k in ("R", "t", "K"))
    p = points @ R.T + t
    assert np.all(p[:, 2] > 0)  # in front of an OpenCV camera
    uv = p @ K.T
    return uv[:, :2] / uv[:, 2:3]


def test_every_converted_frame_reprojects_onto_the_nes_keypoints(converted):
    subject_dir, out, manifest, flame, _ = converted
    assert manifest["train"] == [0, 2 * FRAMES] and manifest["test"] == [2 * FRAMES, 3 * FRAMES]
    worst = 0.0
    for entry in manifest["frames"]:
        payload = torch.load(out / "checkpoint" / f"{entry['index']:05d}.frame", weights_only=False)
        params = json.loads((subject_dir / entry["sequence"] / "flame_params.json").read_text())
        frame = params["frames"][entry["frame"] - 1]
        # NES keypoints: normalised [-1,1], pixel i spans [i,i+1)
        kp = (np.asarray(frame["flame_keypoints"])[:68] + 1) * RES / 2
        uv = project_opencv(flashavatar_landmarks(payload, flame)[:68], payload)
        worst = max(worst, float(np.abs(uv - kp).max()))
        assert payload["img_size"].tolist() == [RES, RES]
        for key, n in (("shape", 300), ("exp", 100), ("jaw", 6), ("eyes", 12), ("eyelids", 2)):
            assert payload["flame"][key].shape == (1, n)
    assert worst < 1e-3, f"landmarks land {worst:.4f} px away from the NES keypoints"


def test_the_pose_convention_holds_for_a_rotated_camera_and_a_global_rotation(converted):
    _s, _o, _m, flame, _ = converted
    rng = np.random.default_rng(3)
    rot = fc.rotation_6d_to_matrix(rng.normal(size=6))  # an arbitrary rotation
    world_mat = np.concatenate([rot, np.array([[0.1], [-0.2], [-4.5]])], axis=1)
    pose = rng.normal(scale=0.2, size=15)
    frame = {
        "pose": pose.tolist(),
        "expression": rng.normal(size=50).tolist(),
        "world_mat": world_mat.tolist(),
    }
    shape = rng.normal(size=100)
    intr = [-1.9, 1.9, 0.52, 0.47]  # off-centre principal point
    _v, lmks4 = flame.forward(shape, frame["expression"], pose)
    want, depth = project(lmks4, world_mat, intr, RES)
    assert np.all(depth > 0)
    payload = fc.frame_payload(frame, shape, intr, RES, RES)
    got = project_opencv(flashavatar_landmarks(payload, flame), payload)
    assert np.abs(got - want).max() < 1e-3
    # a wrong convention is caught: folding nothing, dropping the global rotation moves the landmarks
    payload["flame"]["rot"] = fc.matrix_to_rotation_6d(np.eye(3))[None].astype(np.float32)
    assert np.abs(project_opencv(flashavatar_landmarks(payload, flame), payload) - want).max() > 1.0


def test_6d_round_trip_is_pytorch3d_convention():
    aa = np.array([[0.3, -0.2, 0.1], [0.0, 0.0, 0.0]])
    six = fc.axis_angle_to_6d(aa)
    from nesbench.synth.flame_numpy import batch_rodrigues

    R = batch_rodrigues(aa)
    assert np.allclose(six, R[:, :2, :].reshape(2, 6))  # first two rows, not columns
    assert np.allclose(fc.rotation_6d_to_matrix(six), R, atol=1e-12)


def test_images_alpha_and_masks_follow_flashavatars_numbering(converted):
    subject_dir, out, manifest, _f, _ = converted
    first = manifest["frames"][0]
    assert first["sequence"] == "e_0" and first["frame"] == 1 and manifest["frame_delta"] == 1
    img = iio.imread(out / "imgs" / "00001.png")  # frame index 0 -> image 00001 (FlashAvatar's frame_delta)
    assert np.array_equal(img, iio.imread(subject_dir / "e_0" / "image" / "1.png")[..., :3])
    sem = iio.imread(subject_dir / "e_0" / "semantic" / "1.png")
    neckhead = iio.imread(out / "parsing" / "00001_neckhead.png")
    mouth = iio.imread(out / "parsing" / "00001_mouth.png")
    assert np.array_equal(neckhead > 0, ~np.isin(sem, [0, LABELS["cloth"]]))
    assert np.array_equal(mouth > 0, np.isin(sem, [LABELS["mouth"], LABELS["u_lip"], LABELS["l_lip"]]))
    assert (neckhead > 0).any() and (mouth > 0).sum() < (neckhead > 0).sum()
    assert iio.imread(out / "alpha" / "00001.png").ndim == 2
    assert len(list((out / "checkpoint").glob("*.frame"))) == 3 * FRAMES
    assert manifest["principal_point_offset_px"] == pytest.approx(0.0)


def test_synthetic_flame_masks_have_flames_structure(converted):
    *_, flame_dir = converted
    with open(flame_dir / "FLAME_masks.pkl", "rb") as f:
        masks = pickle.load(f, encoding="latin1")
    n_verts = len(load_flame(flame_dir / "generic_model.pkl").v_template)
    assert set(masks) == set(FLAME_MASK_NAMES)
    for name, idx in masks.items():
        assert idx.dtype == np.int64 and idx.ndim == 1 and len(idx) > 0, name
        assert idx.min() >= 0 and idx.max() < n_verts and np.all(np.diff(idx) > 0), name
    assert not set(masks["boundary"]) & set(masks["face"])  # FlashAvatar drops the boundary from the head


def test_inconsistent_subject_is_refused(tmp_path, converted):
    subject_dir, *_ = converted
    import shutil

    bad = tmp_path / "9001"
    shutil.copytree(subject_dir, bad)
    params = json.loads((bad / "e_6" / "flame_params.json").read_text())
    params["intrinsics"][0] *= 1.1
    (bad / "e_6" / "flame_params.json").write_text(json.dumps(params))
    with pytest.raises(DataError, match="e_6/flame_params.json: shape_params/intrinsics differ"):
        fc.convert_subject(bad, ["e_0"], ["e_6"], tmp_path / "out")
    (bad / "e_1" / "mask" / "2.png").unlink()
    with pytest.raises(DataError, match="e_1/mask/2.png: missing"):
        fc.convert_subject(bad, ["e_1"], [], tmp_path / "out2")


def test_command_line_converts_a_benchmark_subject(tmp_path, capsys):
    data = tmp_path / "data"
    argv = ["synth", "subject", str(data), "--subject", "9001", "--res", "64", "--frames", "2", "--quiet"]
    assert main([*argv, "--sequences", "e_0,e_1,e_2,e_3,e_4,e_5,e_6,e_7,e_8,e_9,e_10,e_11"]) == 0
    capsys.readouterr()
    args = [
        "--subject",
        "9001",
        "--protocol",
        "expression",
        "--benchmark",
        "synthetic_smoke",
        "--data",
        str(data),
    ]
    assert fc.main([*args, "--out", str(tmp_path / "fa")]) == 0
    assert "12 train + 12 test frames for FlashAvatar" in capsys.readouterr().out
    assert fc.main([*args[:-1], str(tmp_path / "none"), "--out", str(tmp_path / "fb")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and "flame_params.json: missing" in err[0]
