"""Render synthetic subjects in the exact RenderMe-360 NES layout (spec 1.1-1.2).

``ROOT/testsetK/<id>/<id>/<seq>/{image,mask,semantic}/<k>.png`` + ``flame_params.json``: 1-based unpadded frames,
FLAME parameters in FLAME's x4 space, ``world_mat = [I | t]``, normalised intrinsics with a negative fx, bbox and
70 keypoints (68 + 2 iris) in [-1, 1], one shape and one intrinsics per subject. Each frame is the stand-in FLAME
head (``flame_model``) posed by its json parameters, textured (per-vertex albedo) and shaded (Lambert + a little
specular, one fixed light per subject) above a static torso in "cloth", on a fixed procedural room background.
The image is a pure function of (json parameters, subject, seed): :func:`render_frame` re-renders any frame.
"""

from __future__ import annotations

import os
import shutil
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

from nesbench.data.layout import FLAME_JSON
from nesbench.fsutil import make_temp_dir, write_json_atomic
from nesbench.synth.flame_model import LABELS, build_head
from nesbench.synth.flame_numpy import FlameNumpy
from nesbench.synth.motion import sequence_parameters
from nesbench.synth.raster import rasterize, vertex_normals

SEQUENCES = tuple(f"e_{k}" for k in range(12)) + tuple(f"s_{k}" for k in range(1, 7))
FOCAL = 2.4  # focal length / image width
CAMERA_T = (0.0, 0.2, -4.0)  # world -> camera translation (x4 FLAME units); rotation is the identity
DECIMALS = 6  # json parameters are rounded before rendering, so the stored values reproduce the image exactly


@dataclass
class RenderedFrame:
    image: np.ndarray  # (H,W,3) uint8 RGB
    mask: np.ndarray  # (H,W) uint8 0/255
    semantic: np.ndarray  # (H,W) uint8 face-parsing labels
    keypoints: np.ndarray  # (70,2) normalised [-1,1] (x right, y down)


@dataclass(frozen=True)
class Appearance:
    """Everything about a subject that is fixed across its frames."""

    flame: FlameNumpy
    faces: np.ndarray
    albedo: np.ndarray  # (V,3) head
    labels: np.ndarray  # (V,)
    specular: np.ndarray  # (V,)
    torso_verts: np.ndarray
    torso_faces: np.ndarray
    torso_albedo: np.ndarray
    light: np.ndarray  # (3,) unit, world
    background: np.ndarray  # (res,res,3) float RGB in [0,1]
    shape_params: np.ndarray  # (100,)


def subject_rng(subject: str, seed: int, salt: int) -> np.random.Generator:
    return np.random.default_rng([seed, zlib.crc32(subject.encode()), salt])


def camera(res: int) -> tuple[list[list[float]], list[float]]:
    """(world_mat 3x4, intrinsics [-fx/W, fy/H, cx/W, cy/H]) of every synthetic frame."""
    world_mat = [[1.0, 0.0, 0.0, CAMERA_T[0]], [0.0, 1.0, 0.0, CAMERA_T[1]], [0.0, 0.0, 1.0, CAMERA_T[2]]]
    return world_mat, [-FOCAL, FOCAL, 0.5, 0.5]


def project(points: np.ndarray, world_mat, intrinsics, res: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel coordinates (N,2; pixel i spans [i,i+1), y down) and depths of world points, with IMavatar's camera
    convention: the camera looks down -z, the stored fx is negative (spec 1.2)."""
    P = np.asarray(world_mat, dtype=np.float64)
    pc = points @ P[:, :3].T + P[:, 3]
    depth = -pc[:, 2]
    fx, fy, cx, cy = -intrinsics[0] * res, intrinsics[1] * res, intrinsics[2] * res, intrinsics[3] * res
    u = cx + fx * pc[:, 0] / depth
    v = cy - fy * pc[:, 1] / depth
    return np.stack([u, v], axis=1), depth


def _noise(shape: tuple[int, int], rng: np.random.Generator, sigma: float) -> np.ndarray:
    n = cv2.GaussianBlur(rng.normal(size=shape).astype(np.float32), (0, 0), sigma)
    return n / (n.std() + 1e-8)


def _background(res: int, rng: np.random.Generator) -> np.ndarray:
    """A soft-focus room: a lit wall with a gradient, a bright window, a door frame, a shelf, a floor."""
    yy, xx = np.mgrid[0:res, 0:res] / res
    wall = rng.uniform(0.45, 0.75, 3) * np.array([1.0, 0.95, 0.85])
    img = wall[None, None] * (0.75 + 0.35 * (1 - yy[..., None]) + 0.15 * (xx[..., None] - 0.5))
    img *= 1 + 0.04 * _noise((res, res), rng, res / 24)[..., None]
    wx = rng.uniform(0.02, 0.18) if rng.random() < 0.5 else rng.uniform(0.62, 0.78)
    win = (np.abs(xx - wx - 0.1) < 0.1) & (yy > 0.08) & (yy < 0.45)
    img[win] = img[win] * 0.3 + np.array([0.92, 0.95, 1.0]) * 0.75
    bars = win & ((np.abs(xx - wx - 0.1) < 0.006) | (np.abs(yy - 0.26) < 0.006))
    img[bars] *= 0.5
    dx = 0.8 - wx * 0.6
    door = (xx > dx) & (xx < dx + 0.17) & (yy > 0.15)
    img[door] = img[door] * 0.6 + rng.uniform(0.2, 0.45, 3) * 0.4
    shelf = (yy > 0.55) & (yy < 0.58) & (xx < 0.3)
    img[shelf] = np.array([0.35, 0.24, 0.15])
    for _ in range(4):  # objects on the shelf
        x0 = rng.uniform(0.0, 0.27)
        w = rng.uniform(0.02, 0.05)
        h = rng.uniform(0.05, 0.12)
        obj = (xx > x0) & (xx < x0 + w) & (yy > 0.55 - h) & (yy < 0.55)
        img[obj] = rng.uniform(0.1, 0.9, 3)
    floor = yy > 0.86
    img[floor] = img[floor] * 0.5 + np.array([0.4, 0.3, 0.22]) * 0.5
    img = cv2.GaussianBlur(img.astype(np.float32), (0, 0), res / 200)  # depth of field
    return np.clip(img, 0, 1).astype(np.float64)


def _torso(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A static superquadric torso (shoulders and chest), x4 FLAME units, with a shirt texture."""
    n_lat, n_lon = 22, 44
    th = np.linspace(0.02, np.pi - 0.02, n_lat)
    ph = np.linspace(0, 2 * np.pi, n_lon, endpoint=False)
    T, P = np.meshgrid(th, ph, indexing="ij")

    def spow(a: np.ndarray, p: float) -> np.ndarray:
        return np.sign(a) * np.abs(a) ** p

    center, radii = np.array([0.0, -1.27, -0.12]), np.array([0.9, 0.58, 0.36])
    x = spow(np.sin(T), 0.6) * spow(np.sin(P), 0.7)
    y = spow(np.cos(T), 0.8)
    z = spow(np.sin(T), 0.6) * spow(np.cos(P), 0.7)
    verts = center + np.stack([x, y, z], -1).reshape(-1, 3) * radii
    i, j = np.meshgrid(np.arange(n_lat - 1), np.arange(n_lon), indexing="ij")
    a, b = i * n_lon + j, (i + 1) * n_lon + j
    c, d = (i + 1) * n_lon + (j + 1) % n_lon, i * n_lon + (j + 1) % n_lon
    faces = np.concatenate([np.stack([a, c, b], -1).reshape(-1, 3), np.stack([a, d, c], -1).reshape(-1, 3)])
    shirt = rng.uniform(0.1, 0.8, 3)
    stripes = 0.5 + 0.5 * np.sin(verts[:, 1] * rng.uniform(25, 45))
    collar = np.exp(-(((verts[:, 1] + 0.72) / 0.06) ** 2))
    albedo = shirt * (0.85 + 0.15 * stripes[:, None]) * (1 - 0.45 * collar[:, None])
    return verts, faces, albedo


@lru_cache(maxsize=8)
def appearance(subject: str, seed: int, res: int) -> Appearance:
    """The fixed look of a subject: model, textures, light, background and identity shape (cached)."""
    head = build_head(seed)
    flame = FlameNumpy.from_dict(head.model, head.embedding)
    rng = subject_rng(subject, seed, 1)
    y, phi = head.uv[:, 0], head.uv[:, 1]
    lab = head.labels
    skin = np.array([0.85, 0.62, 0.5]) * rng.uniform(0.75, 1.1) + rng.normal(0, 0.03, 3)
    hair = rng.choice([[0.12, 0.08, 0.05], [0.35, 0.22, 0.1], [0.05, 0.05, 0.05], [0.55, 0.4, 0.2]])
    blotch = np.sin(40 * y + 3 * phi) * np.sin(17 * phi + 60 * y)
    albedo = np.tile(skin, (len(y), 1)) * (1 + 0.05 * blotch[:, None])
    cheeks = np.exp(-(((y + 0.02) / 0.02) ** 2)) * np.exp(-(((np.abs(phi) - 0.55) / 0.2) ** 2))
    albedo *= 1 - 0.12 * cheeks[:, None] * np.array([0.0, 1.0, 1.0])
    hair_c = np.asarray(hair) * (0.8 + 0.4 * (0.5 + 0.5 * np.sin(60 * phi + 15 * y)))[:, None]
    albedo[lab == LABELS["hair"]] = hair_c[lab == LABELS["hair"]]
    albedo[(lab == LABELS["l_brow"]) | (lab == LABELS["r_brow"])] = np.asarray(hair) * 0.8
    lip = np.array([0.7, 0.3, 0.3]) * rng.uniform(0.8, 1.05)
    albedo[(lab == LABELS["u_lip"]) | (lab == LABELS["l_lip"])] = lip
    albedo[lab == LABELS["neck"]] *= 0.93
    eye = (head.part == 1) | (head.part == 2)
    gaze = head.uv[:, 0]
    iris = rng.choice([[0.3, 0.18, 0.08], [0.25, 0.4, 0.6], [0.3, 0.45, 0.3]])
    albedo[eye] = np.array([0.92, 0.9, 0.88])
    albedo[eye & (gaze < 0.55)] = iris
    albedo[eye & (gaze < 0.25)] = [0.02, 0.02, 0.02]
    cav = head.part == 3
    tv = head.model["v_template"]
    cav_c = tv[cav].mean(0)
    albedo[cav] = [0.3, 0.06, 0.07]
    teeth = cav & (tv[:, 2] > cav_c[2] + 0.012) & (tv[:, 1] > cav_c[1] - 0.003)
    albedo[teeth] = [0.9, 0.88, 0.8]
    specular = np.where(np.isin(lab, [LABELS["hair"], LABELS["mouth"]]), 0.05, 0.25)
    specular[eye] = 0.6
    torso_v, torso_f, torso_a = _torso(subject_rng(subject, seed, 2))
    light = np.array([rng.uniform(-0.6, 0.6), rng.uniform(0.3, 0.7), 1.0])
    shape = subject_rng(subject, seed, 3).normal(0, 1.0, 100).round(DECIMALS)
    return Appearance(
        flame=flame,
        faces=head.model["f"].astype(np.int64),
        albedo=np.clip(albedo, 0, 1),
        labels=lab.astype(np.uint8),
        specular=specular,
        torso_verts=torso_v,
        torso_faces=torso_f,
        torso_albedo=torso_a,
        light=light / np.linalg.norm(light),
        background=_background(res, subject_rng(subject, seed, 4)),
        shape_params=shape,
    )


def render_frame(
    frame: dict, *, shape_params, intrinsics, res: int, subject: str, seed: int = 0
) -> RenderedFrame:
    """Render one frame from its flame_params.json entry (``expression``, ``pose``, ``world_mat``)."""
    app = appearance(subject, seed, res)
    verts, lmks = app.flame.forward(shape_params, frame["expression"], frame["pose"])
    n_head = len(verts)
    all_v = np.concatenate([verts, app.torso_verts])
    all_f = np.concatenate([app.faces, app.torso_faces + n_head])
    uv, depth = project(all_v, frame["world_mat"], intrinsics, res)
    frags = rasterize(uv, depth, all_f, res, res)
    hit = frags.face >= 0
    fid = frags.face[hit]
    tri = all_f[fid]
    w = frags.bary[hit]
    normals = vertex_normals(all_v, all_f)
    n = np.einsum("pk,pkc->pc", w, normals[tri])
    n /= np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-12)
    cam_center = -np.asarray(frame["world_mat"], dtype=np.float64)[:, 3]  # R = I
    pos = np.einsum("pk,pkc->pc", w, all_v[tri])
    view = cam_center - pos
    view /= np.linalg.norm(view, axis=1, keepdims=True)
    n = np.where((np.sum(n * view, 1) < 0)[:, None], -n, n)  # shade the side facing the camera
    albedo_all = np.concatenate([app.albedo, app.torso_albedo])
    spec_all = np.concatenate([app.specular, np.full(len(app.torso_verts), 0.05)])
    albedo = np.einsum("pk,pkc->pc", w, albedo_all[tri])
    ks = np.einsum("pk,pk->p", w, spec_all[tri])
    diffuse = np.clip(n @ app.light, 0, None)
    half = app.light[None] + view
    half /= np.linalg.norm(half, axis=1, keepdims=True)
    spec = ks * np.clip(np.sum(n * half, 1), 0, None) ** 24
    color = albedo * (0.38 + 0.7 * diffuse[:, None]) + 0.35 * spec[:, None]
    image = app.background.copy()
    image[hit] = color
    labels_all = np.concatenate([app.labels, np.full(len(app.torso_verts), LABELS["cloth"], np.uint8)])
    semantic = np.zeros((res, res), np.uint8)
    semantic[hit] = labels_all[tri[np.arange(len(tri)), np.argmax(w, axis=1)]]
    kp_uv, _ = project(lmks, frame["world_mat"], intrinsics, res)
    return RenderedFrame(
        image=np.clip(np.round(image * 255), 0, 255).astype(np.uint8),
        mask=np.where(hit, 255, 0).astype(np.uint8),
        semantic=semantic,
        keypoints=kp_uv / (res / 2.0) - 1.0,
    )


def _write_png(path: Path, array: np.ndarray) -> None:
    if array.ndim == 3:
        array = cv2.cvtColor(array, cv2.COLOR_RGB2BGR)
    if not cv2.imwrite(str(path), array):
        raise OSError(f"{path}: could not write PNG")


def render_sequence(seq_dir: Path, sequence: str, *, subject: str, res: int, frames: int, seed: int) -> None:
    """Render every frame of one sequence and write its images, masks, semantics and flame_params.json."""
    app = appearance(subject, seed, res)
    world_mat, intrinsics = camera(res)
    expression, pose = sequence_parameters(sequence, frames, subject=subject, seed=seed)
    for sub in ("image", "mask", "semantic"):
        (seq_dir / sub).mkdir(parents=True, exist_ok=True)
    entries = []
    for k in range(1, frames + 1):
        frame = {
            "file_path": f"./image/{k}",
            "world_mat": world_mat,
            "expression": [round(float(x), DECIMALS) for x in expression[k - 1]],
            "pose": [round(float(x), DECIMALS) for x in pose[k - 1]],
        }
        out = render_frame(
            frame, shape_params=app.shape_params, intrinsics=intrinsics, res=res, subject=subject, seed=seed
        )
        kp = np.round(out.keypoints, DECIMALS)
        frame["bbox"] = [
            float(kp[:68, 0].min()),
            float(kp[:68, 1].min()),
            float(kp[:68, 0].max()),
            float(kp[:68, 1].max()),
        ]
        frame["flame_keypoints"] = kp.tolist()
        entries.append(frame)
        _write_png(seq_dir / "image" / f"{k}.png", out.image)
        _write_png(seq_dir / "mask" / f"{k}.png", np.repeat(out.mask[..., None], 3, axis=2))
        _write_png(seq_dir / "semantic" / f"{k}.png", out.semantic)
    payload = {
        "frames": entries,
        "intrinsics": intrinsics,
        "shape_params": [float(x) for x in app.shape_params],
    }
    write_json_atomic(seq_dir / FLAME_JSON, payload, indent=None)


def render_subject(
    out_root: Path,
    subject: str,
    *,
    testset: str = "testset1",
    res: int = 256,
    frames: int = 20,
    seed: int = 0,
    sequences: Iterable[str] | None = None,
    progress: bool = False,
) -> Path:
    """Render a whole subject into ``out_root/testset/<id>/<id>/`` (atomically replacing an older one)."""
    if not str(subject).isdigit():
        raise ValueError(f"subject id {subject!r} must be digits like 9001 (RenderMe-360 ids are numeric)")
    if res < 32 or frames < 1:
        raise ValueError("res must be >= 32 and frames >= 1")
    sequences = tuple(sequences) if sequences is not None else SEQUENCES
    final = Path(out_root) / testset / subject
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = make_temp_dir(final.parent, f".{subject}.")
    try:
        iterator: Iterable[str] = sequences
        if progress:
            from tqdm import tqdm

            iterator = tqdm(sequences, desc=f"synth {subject}", unit="seq")
        for seq in iterator:
            render_sequence(
                tmp / subject / seq,
                seq,
                subject=subject,
                res=res,
                frames=frames,
                seed=seed,
            )
        if final.exists():
            old = final.with_name(f".{subject}.old")
            shutil.rmtree(old, ignore_errors=True)
            os.replace(final, old)
            shutil.rmtree(old, ignore_errors=True)
        os.replace(tmp, final)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return final / subject
