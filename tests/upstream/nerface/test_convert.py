"""The NES -> NeRFace converter on a synthetic subject: cameras and expressions round-trip exactly."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from nesbench.errors import DataError
from nesbench.synth.flame_model import write_synthetic_flame
from nesbench.synth.flame_numpy import load_flame
from nesbench.synth.subject import project, render_subject
from nesbench.upstream.nerface import convert as C

RES = 32
SUBJECT = "9001"


@pytest.fixture(scope="module")
def converted(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path, dict]:
    root = tmp_path_factory.mktemp("nerface-convert")
    render_subject(root / "data", SUBJECT, res=RES, frames=3, seed=0, sequences=["e_0", "e_1", "e_6"])
    write_synthetic_flame(root / "flame", seed=0)
    model = root / "flame" / "generic_model.pkl"
    meta = C.convert_subject(
        root / "data",
        "testset1",
        SUBJECT,
        ["e_0", "e_1"],
        ["e_6"],
        root / "out",
        model,
        C.ConvertSettings(RES),
    )
    return root / "data", root / "out", model, meta


def _seq(data: Path, seq: str) -> dict:
    return json.loads((data / "testset1" / SUBJECT / SUBJECT / seq / "flame_params.json").read_text())


@pytest.mark.parametrize("seq,split", [("e_0", "train"), ("e_6", "e_6")])
def test_cameras_project_like_the_nes_camera(converted, seq: str, split: str) -> None:
    """Every head vertex (not skinned to the root) lands on the same pixel through NeRFace's camera of the canonical
    head as through IMavatar's camera of the posed head (pose correctives off: they are not rigid)."""
    data, out, model, meta = converted
    flame = load_flame(model)
    flame = dataclasses.replace(flame, posedirs=np.zeros_like(flame.posedirs))
    head = flame.weights[:, 0] < 1e-6
    src = _seq(data, seq)
    dst = json.loads((out / f"transforms_{split}.json").read_text())
    frames = [f for f in dst["frames"] if f["sequence"] == seq]
    assert [f["frame"] for f in frames] == [1, 2, 3]
    fx, fy, cx, cy = dst["intrinsics"]
    shape = np.array(src["shape_params"])
    for fr, nf in zip(src["frames"], frames, strict=True):
        pose = np.array(fr["pose"])
        posed, _ = flame.forward(shape, np.array(fr["expression"]), pose)
        uv, _ = project(posed, fr["world_mat"], src["intrinsics"], RES)
        rest = pose.copy()
        rest[:6] = 0.0
        canon, _ = flame.forward(shape, np.array(fr["expression"]), rest)
        w2c = np.linalg.inv(np.array(nf["transform_matrix"]))
        pc = canon * meta["scale"] @ w2c[:3, :3].T + w2c[:3, 3]
        depth = -pc[:, 2]
        mine = np.stack([cx * RES + fx * pc[:, 0] / depth, cy * RES - fy * pc[:, 1] / depth], axis=1)
        assert np.abs(mine - uv)[head].max() < 1e-9


def test_cameras_and_expressions_round_trip(converted) -> None:
    data, out, model, meta = converted
    pivots = C.Pivots(model, np.array(_seq(data, "e_6")["shape_params"]))
    dst = json.loads((out / "transforms_e_6.json").read_text())
    for fr, nf in zip(_seq(data, "e_6")["frames"], dst["frames"], strict=True):
        exp = np.array(fr["expression"])
        assert len(nf["expression"]) == 76
        assert nf["expression"][:50] == pytest.approx(exp.tolist(), abs=0) and not any(nf["expression"][50:])
        j0, j1 = pivots(exp)
        want = C.as_4x4(fr["world_mat"], "t") @ C.head_transform(np.array(fr["pose"]), j0, j1)
        np.testing.assert_allclose(
            C.canonical_to_camera(nf["transform_matrix"], meta["scale"]), want, atol=1e-10
        )
    cams = [
        np.linalg.norm(np.array(f["transform_matrix"])[:3, 3])
        for f in json.loads((out / "transforms_train.json").read_text())["frames"]
    ]
    assert np.median(cams) == pytest.approx(0.5)  # head_distance


def test_intrinsics_images_background_and_bbox(converted) -> None:
    data, out, _model, meta = converted
    src = _seq(data, "e_0")
    k = src["intrinsics"]
    assert meta["intrinsics"] == pytest.approx([-k[0] * RES, k[1] * RES, k[2], k[3]])
    train = json.loads((out / "transforms_train.json").read_text())
    assert len(train["frames"]) == meta["train_frames"] == 6
    assert json.loads((out / "transforms_val.json").read_text())["frames"] == train["frames"][:2]
    bg = cv2.imread(str(out / C.BACKGROUND_FILE))
    assert bg.shape == (RES, RES, 3) and (bg == 255).all()
    seq = data / "testset1" / SUBJECT / SUBJECT / "e_0"
    mask = cv2.imread(str(seq / "mask" / "1.png"), cv2.IMREAD_GRAYSCALE)
    img = cv2.imread(str(out / "images" / "e_0" / "1.png"))
    gt = cv2.imread(str(seq / "image" / "1.png"))
    assert (img[mask == 0] == 255).all() and (img[mask == 255] == gt[mask == 255]).all()
    y0, y1, x0, x1 = train["frames"][0]["bbox"]
    ys, xs = np.nonzero(mask)
    assert (
        y0 <= ys.min() / RES
        and y1 >= (ys.max() + 1) / RES
        and x0 <= xs.min() / RES
        and x1 >= (xs.max() + 1) / RES
    )


def test_conversion_is_skipped_when_inputs_are_unchanged(converted) -> None:
    data, out, model, meta = converted
    stamp = (out / "transforms_train.json").stat().st_mtime_ns
    again = C.convert_subject(
        data, "testset1", SUBJECT, ["e_0", "e_1"], ["e_6"], out, model, C.ConvertSettings(RES)
    )
    assert again == meta and (out / "transforms_train.json").stat().st_mtime_ns == stamp


def test_bad_expression_length_names_the_file(converted, tmp_path: Path) -> None:
    import shutil

    data, _out, model, _meta = converted
    shutil.copytree(data, tmp_path / "data")
    path = tmp_path / "data" / "testset1" / SUBJECT / SUBJECT / "e_1" / "flame_params.json"
    doc = json.loads(path.read_text())
    doc["frames"][1]["expression"] = doc["frames"][1]["expression"][:49]
    path.write_text(json.dumps(doc))
    with pytest.raises(DataError, match=r"e_1/flame_params.json: frames\[1\]: expression must be 50"):
        C.convert_subject(
            tmp_path / "data", "testset1", SUBJECT, ["e_0", "e_1"], ["e_6"], tmp_path / "o", model
        )
    assert not (tmp_path / "o").exists()
