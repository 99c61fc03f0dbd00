"""Convert one subject from the NES layout (IMavatar ``flame_params.json`` + images + masks) to NeRFace's input.

NeRFace (``nerf/load_flame.py``) reads ``transforms_{train,val,test}.json``: per frame ``file_path`` (without
``.png``), ``transform_matrix`` (camera-to-world, 4x4, OpenGL axes: x right, y up, looking down -z), ``expression``
(76 floats) and ``bbox`` ``[y0, y1, x0, x1]`` as fractions of the image; per file ``intrinsics`` ``[fx, fy, cx, cy]``
(fx, fy in pixels, cx, cy as fractions of the width/height, ``nerf_helpers.get_ray_bundle``) and ``camera_angle_x``.
Training conditions on the fixed background ``bg/00050.png``.

How the NES data maps onto it (docs/FIDELITY.md, "NeRFace"):

* **Head pose folded into the camera.** NeRFace has no FLAME inside, so the rigid head motion of FLAME's global
  (joint 0) and neck (joint 1) rotations becomes camera motion: with ``P`` the world->camera ``world_mat`` and ``H``
  the head's canonical->world transform ``x -> Rg (Rn (x - J1) + J1 - J0) + J0`` (FLAME's kinematic chain; ``J0``,
  ``J1`` regressed from the shaped, expressive mesh, so the FLAME model is needed for the pivots), the camera of a
  frame in canonical head space is ``(P H)^-1``. Jaw and eyes stay in the expression condition.
* **Scale.** The scene is scaled by ``s = head_distance / median camera distance`` (training frames) so the head sits
  where NeRFace's near/far planes (0.2/0.8) expect it (maintainer, issue #13: about 0.5 from the camera).
* **Intrinsics.** IMavatar's normalised ``[-fx/W, fy/H, cx/W, cy/H]`` (negative fx, spec 1.2) become
  ``[fx_px, fy_px, cx/W, cy/H]``: the same pixel for the same ray (IMavatar and NeRFace both cast pixel ``(i, j)``
  through ``u = i, v = j``).
* **Expression.** The 50 FLAME expression coefficients fill slots 0..49 of NeRFace's 76-wide expression input
  (built for 76 Face2Face blendshapes); slots 50..75 are zero. The network's first layer sees a constant zero there,
  so the padding changes nothing but the unused weights.
* **Images.** GT composited on the background colour with the mask (the same masked, white-background images
  IMavatar/PointAvatar train on and the scorers compare with); the background image is that colour.
"""

from __future__ import annotations

import hashlib
import json
import math
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from nesbench.data.layout import FLAME_JSON, frame_files, frame_number_of, read_flame_json, sequence_dir
from nesbench.errors import AssetError, DataError
from nesbench.fsutil import make_temp_dir, write_json_atomic

NERFACE_EXPRESSION_DIM = 76
FLAME_EXPRESSION_DIM = 50
BACKGROUND_FILE = "bg/00050.png"  # the name train_transformed_rays.py loads
META = "nesbench_nerface.json"
CONVERTER_VERSION = 1


@dataclass(frozen=True)
class ConvertSettings:
    """What the conversion depends on (configs/methods/nerface.conf)."""

    resolution: int = 512
    background: tuple[float, float, float] = (1.0, 1.0, 1.0)  # RGB in [0, 1]
    head_distance: float = 0.5
    bbox_margin: float = 0.05  # fraction of the image added on each side of the mask's bounding box
    val_frames: int = 2  # training frames also listed in transforms_val/test.json (upstream's validation log)


@dataclass(frozen=True)
class FrameRecord:
    sequence: str
    frame: int
    world_mat: np.ndarray  # (4,4) world -> camera
    pose: np.ndarray  # (15,)
    expression: np.ndarray  # (50,)


# ---- geometry -------------------------------------------------------------------------------------------------


def rodrigues(rotvec: np.ndarray) -> np.ndarray:
    """Axis-angle -> rotation matrix, exactly as FLAME's lbs.batch_rodrigues (with its +1e-8 in the angle)."""
    from nesbench.synth.flame_numpy import batch_rodrigues

    return batch_rodrigues(np.asarray(rotvec, dtype=np.float64).reshape(1, 3))[0]


def head_transform(pose: np.ndarray, j0: np.ndarray, j1: np.ndarray) -> np.ndarray:
    """4x4 canonical -> world rigid motion of the head: global rotation about J0 after neck rotation about J1."""
    rg, rn = rodrigues(pose[0:3]), rodrigues(pose[3:6])
    out = np.eye(4)
    out[:3, :3] = rg @ rn
    out[:3, 3] = rg @ (j1 - rn @ j1 - j0) + j0
    return out


def as_4x4(world_mat: Any, where: str) -> np.ndarray:
    m = np.asarray(world_mat, dtype=np.float64)
    if m.shape not in ((3, 4), (4, 4)) or not np.isfinite(m).all():
        raise DataError(f"{where}: world_mat must be a finite 3x4 (or 4x4) matrix, got shape {m.shape}")
    out = np.eye(4)
    out[: m.shape[0]] = m
    return out


def camera_to_canonical(world_mat: np.ndarray, head: np.ndarray, scale: float) -> np.ndarray:
    """NeRFace's transform_matrix: camera -> canonical head space, translation scaled by ``scale``."""
    c2w = np.linalg.inv(world_mat @ head)
    c2w[:3, 3] *= scale
    return c2w


def canonical_to_camera(transform_matrix: Any, scale: float) -> np.ndarray:
    """Inverse of :func:`camera_to_canonical`: the unscaled canonical -> camera matrix ``P H`` (x4 FLAME units)."""
    c2w = np.array(transform_matrix, dtype=np.float64)
    c2w[:3, 3] /= scale
    return np.linalg.inv(c2w)


def nerface_intrinsics(intrinsics: Any, resolution: int, where: str) -> list[float]:
    """IMavatar ``[-fx/W, fy/H, cx/W, cy/H]`` -> NeRFace ``[fx_px, fy_px, cx/W, cy/H]`` at ``resolution``."""
    k = np.asarray(intrinsics, dtype=np.float64).reshape(-1)
    if k.shape != (4,) or not np.isfinite(k).all() or k[0] >= 0 or k[1] <= 0:
        raise DataError(
            f"{where}: intrinsics must be [-fx/W, fy/H, cx/W, cy/H] with a negative fx (IMavatar format), got "
            f"{k.tolist()}"
        )
    return [float(-k[0] * resolution), float(k[1] * resolution), float(k[2]), float(k[3])]


def pad_expression(expression: np.ndarray) -> list[float]:
    out = np.zeros(NERFACE_EXPRESSION_DIM)
    out[:FLAME_EXPRESSION_DIM] = expression
    return [float(x) for x in out]


class Pivots:
    """FLAME root and neck joints (x4 units) of a subject's shaped, expressive mesh, from a FLAME model file."""

    def __init__(self, model_path: Path, shape: np.ndarray) -> None:
        from nesbench.synth.flame_numpy import N_SHAPE, load_flame

        if not Path(model_path).is_file():
            raise AssetError(
                f"{model_path}: FLAME model missing; NeRFace needs it for the head-pose pivots: run "
                "`nesbench upstream flame --from generic_model.pkl --methods nerface` (or --synthetic for the "
                "synthetic subject)"
            )
        flame = load_flame(Path(model_path))
        jr = flame.J_regressor[:2]
        self.base = jr @ (flame.v_template + flame.shapedirs[:, :, :N_SHAPE] @ shape)  # (2,3)
        self.exp_dirs = np.einsum("jv,vdk->jdk", jr, flame.shapedirs[:, :, N_SHAPE:])  # (2,3,50)

    def __call__(self, expression: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        j = self.base + self.exp_dirs @ expression
        return j[0], j[1]


# ---- reading the NES layout -----------------------------------------------------------------------------------


def read_sequence(seq_dir: Path) -> tuple[list[FrameRecord], dict[str, Any]]:
    """Frames (in json order) and the top-level fields of one sequence's flame_params.json."""
    path = seq_dir / FLAME_JSON
    data = read_flame_json(path)
    images = frame_files(seq_dir / "image")
    out = []
    for i, fr in enumerate(data["frames"]):
        where = f"{path}: frames[{i}]"
        k = frame_number_of(str(fr.get("file_path", "")))
        if k is None:
            raise DataError(
                f"{where}: file_path {fr.get('file_path')!r} does not name a frame like ./image/12"
            )
        if k not in images:
            raise DataError(
                f"{seq_dir / 'image' / f'{k}.png'}: missing but listed in {path}; re-extract the data"
            )
        exp = np.asarray(fr.get("expression", []), dtype=np.float64).reshape(-1)
        pose = np.asarray(fr.get("pose", []), dtype=np.float64).reshape(-1)
        if exp.shape != (FLAME_EXPRESSION_DIM,) or not np.isfinite(exp).all():
            raise DataError(f"{where}: expression must be 50 finite floats, got {exp.size}")
        if pose.shape != (15,) or not np.isfinite(pose).all():
            raise DataError(f"{where}: pose must be 15 finite floats, got {pose.size}")
        out.append(FrameRecord(seq_dir.name, k, as_4x4(fr.get("world_mat"), where), pose, exp))
    if not out:
        raise DataError(f"{path}: no frames")
    return out, data


def _read_rgb_float64(path: Path, res: int) -> np.ndarray:
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        raise DataError(f"{path}: not a readable image; re-extract the data")
    if img.shape[:2] != (res, res):
        img = cv2.resize(img, (res, res), interpolation=cv2.INTER_AREA)
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB).astype(np.float64) / 255.0


def _read_mask(path: Path, res: int) -> np.ndarray:
    m = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if m is None:
        raise DataError(
            f"{path}: mask missing or unreadable; NeRFace trains on masked images (add mask/<k>.png)"
        )
    if m.shape != (res, res):
        m = cv2.resize(m, (res, res), interpolation=cv2.INTER_AREA)
    return m.astype(np.float64) / 255.0


def bbox_of(mask: np.ndarray, margin: float) -> list[float]:
    """NeRFace's ``[y0, y1, x0, x1]`` (fractions) of the mask's foreground, enlarged by ``margin``; whole image when
    the mask is empty."""
    h, w = mask.shape
    ys, xs = np.nonzero(mask > 0.5)
    if ys.size == 0:
        return [0.0, 1.0, 0.0, 1.0]
    y0, y1 = ys.min() / h - margin, (ys.max() + 1) / h + margin
    x0, x1 = xs.min() / w - margin, (xs.max() + 1) / w + margin
    return [max(0.0, y0), min(1.0, y1), max(0.0, x0), min(1.0, x1)]


# ---- the conversion -------------------------------------------------------------------------------------------


def _frame_entry(
    rec: FrameRecord, pivots: Pivots, scale: float, file_path: str, bbox: list[float]
) -> dict[str, Any]:
    j0, j1 = pivots(rec.expression)
    c2w = camera_to_canonical(rec.world_mat, head_transform(rec.pose, j0, j1), scale)
    return {
        "file_path": file_path,
        "frame": rec.frame,
        "sequence": rec.sequence,
        "transform_matrix": c2w.tolist(),
        "expression": pad_expression(rec.expression),
        "bbox": [float(x) for x in bbox],
    }


def _header(intrinsics: list[float], res: int) -> dict[str, Any]:
    return {"camera_angle_x": 2.0 * math.atan(0.5 * res / intrinsics[0]), "intrinsics": intrinsics}


def _fingerprint(paths: list[Path], settings: ConvertSettings, flame_model: Path, extra: Any) -> str:
    h = hashlib.sha256(json.dumps([asdict(settings), CONVERTER_VERSION, extra]).encode())
    for p in [flame_model, *paths]:
        st = p.stat()
        h.update(f"{p}:{st.st_size}:{st.st_mtime_ns}".encode())
    return h.hexdigest()


def convert_subject(
    data_root: Path,
    testset: str,
    subject: str,
    train_sequences: tuple[str, ...] | list[str],
    test_sequences: tuple[str, ...] | list[str],
    out_dir: Path,
    flame_model: Path,
    settings: ConvertSettings = ConvertSettings(),
) -> dict[str, Any]:
    """Write NeRFace's dataset for one subject and protocol into ``out_dir`` (replaced atomically); returns the
    metadata written to ``out_dir/nesbench_nerface.json``. Skips the work when that file matches the inputs.

    Files: ``images/<seq>/<k>.png`` (masked onto the background), ``bg/00050.png``, ``transforms_train.json`` (every
    training frame, in sequence then frame order: latent code i belongs to its i-th frame),
    ``transforms_val.json`` = ``transforms_test.json`` (the first ``val_frames`` training frames: upstream's
    training script logs validation on them; no test frame is touched while training), and
    ``transforms_<seq>.json`` per test sequence (read by the NES-Bench renderer).
    """
    res = int(settings.resolution)
    seq_dirs = {
        s: sequence_dir(data_root, testset, subject, s)
        for s in dict.fromkeys([*train_sequences, *test_sequences])
    }
    for s, d in seq_dirs.items():
        if not (d / FLAME_JSON).is_file():
            raise DataError(
                f"{d / FLAME_JSON}: missing; sequence {s} of subject {subject} is needed by NeRFace"
            )
    fingerprint = _fingerprint(
        [d / FLAME_JSON for d in seq_dirs.values()],
        settings,
        Path(flame_model),
        [list(train_sequences), list(test_sequences)],
    )
    meta_path = Path(out_dir) / META
    if meta_path.is_file():
        try:
            old = json.loads(meta_path.read_text())
            if old.get("fingerprint") == fingerprint:
                return old
        except ValueError:
            pass
    records: dict[str, list[FrameRecord]] = {}
    intrinsics = None
    shape = None
    for s, d in seq_dirs.items():
        records[s], top = read_sequence(d)
        k = nerface_intrinsics(top.get("intrinsics"), res, str(d / FLAME_JSON))
        if intrinsics is None:
            intrinsics = k
        elif not np.allclose(k, intrinsics, rtol=0, atol=1e-6 * res):
            raise DataError(
                f"{d / FLAME_JSON}: intrinsics differ from the subject's other sequences; NeRFace takes one camera"
            )
        sp = np.asarray(top.get("shape_params", np.zeros(100)), dtype=np.float64).reshape(-1)
        if sp.shape != (100,) or not np.isfinite(sp).all():
            raise DataError(f"{d / FLAME_JSON}: shape_params must be 100 finite floats, got {sp.size}")
        shape = sp if shape is None else shape
    assert intrinsics is not None and shape is not None
    pivots = Pivots(Path(flame_model), shape)
    train = [r for s in train_sequences for r in records[s]]
    dists = []
    for r in train:
        j0, j1 = pivots(r.expression)
        dists.append(np.linalg.norm(np.linalg.inv(r.world_mat @ head_transform(r.pose, j0, j1))[:3, 3]))
    scale = float(settings.head_distance / np.median(dists))

    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = make_temp_dir(out_dir.parent, f".{out_dir.name}.")
    try:
        bg = np.broadcast_to(np.asarray(settings.background, dtype=np.float64), (res, res, 3))
        (tmp / "bg").mkdir()
        _write_rgb(tmp / BACKGROUND_FILE, bg)
        entries: dict[str, list[dict[str, Any]]] = {}
        for s, recs in records.items():
            (tmp / "images" / s).mkdir(parents=True)
            entries[s] = []
            for r in recs:
                d = seq_dirs[s]
                mask = _read_mask(d / "mask" / f"{r.frame}.png", res)
                img = _read_rgb_float64(d / "image" / f"{r.frame}.png", res)
                m = mask[..., None]
                _write_rgb(tmp / "images" / s / f"{r.frame}.png", img * m + bg * (1.0 - m))
                entries[s].append(
                    _frame_entry(
                        r, pivots, scale, f"./images/{s}/{r.frame}", bbox_of(mask, settings.bbox_margin)
                    )
                )
        header = _header(intrinsics, res)
        train_frames = [e for s in train_sequences for e in entries[s]]
        val = train_frames[: max(1, settings.val_frames)]
        write_json_atomic(tmp / "transforms_train.json", {**header, "frames": train_frames})
        write_json_atomic(tmp / "transforms_val.json", {**header, "frames": val})
        write_json_atomic(tmp / "transforms_test.json", {**header, "frames": val})
        for s in test_sequences:
            write_json_atomic(tmp / f"transforms_{s}.json", {**header, "frames": entries[s]})
        meta = {
            "converter_version": CONVERTER_VERSION,
            "fingerprint": fingerprint,
            "subject": str(subject),
            "testset": testset,
            "train_sequences": list(train_sequences),
            "test_sequences": list(test_sequences),
            "train_frames": len(train_frames),
            "scale": scale,
            "intrinsics": intrinsics,
            "flame_model": str(flame_model),
            "settings": asdict(settings),
            "expression": f"FLAME expression 0..49 in NeRFace slots 0..49 of {NERFACE_EXPRESSION_DIM}, rest zero",
        }
        write_json_atomic(tmp / META, meta)
        old = out_dir.with_name(f".{out_dir.name}.old")
        shutil.rmtree(old, ignore_errors=True)
        if out_dir.exists():
            out_dir.rename(old)
        tmp.rename(out_dir)
        shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return json.loads(meta_path.read_text())


def _write_rgb(path: Path, rgb: np.ndarray) -> None:
    arr = np.clip(np.round(rgb * 255.0), 0, 255).astype(np.uint8)
    if not cv2.imwrite(str(path), cv2.cvtColor(arr, cv2.COLOR_RGB2BGR)):
        raise OSError(f"{path}: could not write PNG")
