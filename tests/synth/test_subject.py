"""Synthetic subjects: NES layout and json conventions (spec 1.1-1.2), keypoints on the face, exact re-rendering."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from nesbench.cli import main
from nesbench.synth.flame_model import LABELS, write_synthetic_flame
from nesbench.synth.flame_numpy import load_flame
from nesbench.synth.motion import sequence_parameters
from nesbench.synth.subject import render_frame

RES, FRAMES, SEQS = 128, 4, ("e_0", "e_6", "s_5")


@pytest.fixture(scope="module")
def subject_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("synth")
    assert (
        main(
            [
                "synth",
                "subject",
                str(root),
                "--subject",
                "9001",
                "--res",
                str(RES),
                "--frames",
                str(FRAMES),
                "--sequences",
                ",".join(SEQS),
                "--quiet",
            ]
        )
        == 0
    )
    return root / "testset1" / "9001" / "9001"


def _read(path: Path, flags=cv2.IMREAD_UNCHANGED) -> np.ndarray:
    img = cv2.imread(str(path), flags)
    assert img is not None, path
    return img


def test_layout_and_json_conventions(subject_dir):
    assert sorted(p.name for p in subject_dir.iterdir()) == sorted(SEQS)
    shapes, intrinsics = set(), set()
    for seq in SEQS:
        d = subject_dir / seq
        data = json.loads((d / "flame_params.json").read_text())
        assert [f["file_path"] for f in data["frames"]] == [f"./image/{k}" for k in range(1, FRAMES + 1)]
        for sub in ("image", "mask", "semantic"):
            assert sorted(p.name for p in (d / sub).iterdir()) == sorted(
                f"{k}.png" for k in range(1, FRAMES + 1)
            )
        assert data["intrinsics"][0] < 0 < data["intrinsics"][1] and data["intrinsics"][2:] == [0.5, 0.5]
        assert len(data["shape_params"]) == 100
        shapes.add(tuple(data["shape_params"]))
        intrinsics.add(tuple(data["intrinsics"]))
        for f in data["frames"]:
            wm = np.array(f["world_mat"])
            assert wm.shape == (3, 4) and np.array_equal(wm[:, :3], np.eye(3)) and wm[2, 3] == -4.0
            assert len(f["expression"]) == 50 and len(f["pose"]) == 15
            kp = np.array(f["flame_keypoints"])
            assert kp.shape == (70, 2) and np.abs(kp).max() < 1
            x0, y0, x1, y1 = f["bbox"]
            assert -1 < x0 < x1 < 1 and -1 < y0 < y1 < 1
        img, mask, sem = (_read(d / s / "2.png") for s in ("image", "mask", "semantic"))
        assert img.shape == (RES, RES, 3) and mask.shape == (RES, RES, 3) and sem.shape == (RES, RES)
        assert set(np.unique(mask)) == {0, 255} and np.array_equal(mask[..., 0] > 0, sem > 0)
        assert {LABELS[k] for k in ("skin", "hair", "nose", "neck", "cloth", "u_lip", "l_lip")} <= set(
            np.unique(sem)
        )
    assert len(shapes) == 1 and len(intrinsics) == 1


def test_model_landmarks_projected_with_the_written_camera_land_on_the_face(subject_dir, tmp_path):
    flame_dir = write_synthetic_flame(tmp_path, seed=0)
    fl = load_flame(flame_dir / "generic_model.pkl", flame_dir / "landmark_embedding.npy")
    data = json.loads((subject_dir / "e_0" / "flame_params.json").read_text())
    fx, fy, cx, cy = data["intrinsics"]
    for k, f in enumerate(data["frames"], start=1):
        _, lmk = fl.forward(data["shape_params"], f["expression"], f["pose"])
        wm = np.array(f["world_mat"])
        pc = lmk @ wm[:, :3].T + wm[:, 3]
        # IMavatar's camera: looks down -z, negative fx, y up in camera / down in the image
        u = (cx + (-fx) * pc[:, 0] / -pc[:, 2]) * RES
        v = (cy - fy * pc[:, 1] / -pc[:, 2]) * RES
        np.testing.assert_allclose(np.stack([u, v], 1) / (RES / 2) - 1, f["flame_keypoints"], atol=1e-5)
        sem = _read(subject_dir / "e_0" / "semantic" / f"{k}.png")
        at = sem[np.clip(v.astype(int), 0, RES - 1), np.clip(u.astype(int), 0, RES - 1)]
        face = {
            LABELS[n]
            for n in ("skin", "nose", "l_brow", "r_brow", "l_eye", "r_eye", "u_lip", "l_lip", "mouth")
        }
        assert np.mean([a in face for a in at[17:68]]) > 0.9  # inner landmarks sit on the face
        assert at[30] == LABELS["nose"] and at[68] == LABELS["l_eye"] and at[69] == LABELS["r_eye"]
    # the mouth is open at the peak of e_0: mouth pixels between the inner lips
    kp = (np.array(data["frames"][-1]["flame_keypoints"]) + 1) * RES / 2
    sem = _read(subject_dir / "e_0" / "semantic" / f"{FRAMES}.png")
    col = int(kp[62, 0])
    between = sem[int(kp[62, 1]) + 1 : int(kp[66, 1]), col]
    assert kp[66, 1] - kp[62, 1] > 3 and (between == LABELS["mouth"]).any()


@pytest.mark.parametrize("seq, k", [("e_6", 3), ("s_5", 2)])
def test_rerender_from_json_equals_stored_frame(subject_dir, seq, k):
    data = json.loads((subject_dir / seq / "flame_params.json").read_text())
    out = render_frame(
        data["frames"][k - 1],
        shape_params=data["shape_params"],
        intrinsics=data["intrinsics"],
        res=RES,
        subject="9001",
        seed=0,
    )
    assert np.array_equal(out.image, _read(subject_dir / seq / "image" / f"{k}.png")[..., ::-1])
    assert np.array_equal(out.mask, _read(subject_dir / seq / "mask" / f"{k}.png")[..., 0])
    assert np.array_equal(out.semantic, _read(subject_dir / seq / "semantic" / f"{k}.png"))


def test_frames_change_with_expression_and_sequences_differ(subject_dir):
    first = _read(subject_dir / "e_0" / "image" / "1.png").astype(int)
    last = _read(subject_dir / "e_0" / "image" / f"{FRAMES}.png").astype(int)
    assert np.abs(first - last).mean() > 1.0
    e0 = sequence_parameters("e_0", 12, subject="9001", seed=0)[0]
    e6 = sequence_parameters("e_6", 12, subject="9001", seed=0)[0]
    assert np.linalg.norm(e0[-3] - e6[-3]) > 1.0


def test_test_expressions_are_novel_but_inside_the_training_span():
    train = np.concatenate([sequence_parameters(f"e_{k}", 12, subject="9001", seed=0)[0] for k in range(6)])
    for k in range(6, 12):
        ex = sequence_parameters(f"e_{k}", 12, subject="9001", seed=0)[0]
        peak = ex[np.argmax(np.linalg.norm(ex, axis=1))]
        coef, *_ = np.linalg.lstsq(train.T, peak, rcond=None)
        assert np.linalg.norm(train.T @ coef - peak) < 1e-8 * np.linalg.norm(peak)
        assert np.linalg.norm(train - peak, axis=1).min() > 0.3 * np.linalg.norm(peak)


def test_speech_is_small_and_fast():
    ex, pose = sequence_parameters("s_4", 12, subject="9001", seed=0)
    e, _ = sequence_parameters("e_0", 12, subject="9001", seed=0)
    assert np.abs(np.diff(ex, axis=0)).sum(1).mean() > 0.1
    assert np.linalg.norm(ex, axis=1).max() < np.linalg.norm(e, axis=1).max()
    assert pose[:, 6].max() < 0.15 and np.all(pose[:, :3] == 0) and np.all(pose[:, 9:] == 0)


def test_cli_rejects_bad_subject(tmp_path, capsys):
    assert main(["synth", "subject", str(tmp_path), "--subject", "ab"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: --subject 'ab'") and len(err.strip().splitlines()) == 1
