"""A procedural, FLAME-structured head model (the licence-free stand-in for FLAME 2020).

The mesh is a latitude/longitude surface (crown pole to neck pole, closed) shaped into a head: cranium, chin,
nose, brow ridge, ears, eye sockets with two separate eyeballs, a lip line that is *cut* (upper and lower lip are
separate vertex rows, so the jaw joint opens the mouth) and a dark mouth cavity with teeth behind it.
It carries the seven arrays upstream ``FLAME.py`` reads (spec 6.2) in FLAME's layout and units (metres, before
FLAME.py's x4): 300 shape + 100 expression blendshapes, 36 pose correctives, 5 joints with FLAME's kinematic tree.
Expression blendshapes 0-11 are designed (mouth open, smile, brows, pucker, cheeks, ...); the rest are smooth
random local deformations of decreasing size. Everything is deterministic for a seed.

Rows of the head grid have a constant height y (features only move vertices horizontally), which is what lets
landmarks be placed exactly by (height, azimuth) on the grid.
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

from nesbench.fsutil import atomic_path

N_SHAPE_TOTAL = 300
N_EXPR_TOTAL = 100
N_LON = 64
# Template proportions in metres (FLAME's units before its x4 scale).
HEAD_CENTER_Y = 0.01
HEAD_RY, HEAD_RX, HEAD_RZ = 0.105, 0.075, 0.092
NECK_BOTTOM_Y = -0.19
NECK_RX, NECK_RZ, NECK_DZ = 0.05, 0.052, -0.018
MOUTH_Y = -0.043
MOUTH_HALF_WIDTH = 0.40  # azimuth (rad) of the lip cut on each side of the midline
EYE_Y, EYE_PHI, EYE_RADIUS = 0.028, 0.36, 0.0125
JAW_HINGE_Y = -0.012

# Face-parsing labels (CelebAMask-HQ / BiSeNet, as in the benchmark's semantic maps).
LABELS = {
    "background": 0,
    "skin": 1,
    "l_brow": 2,
    "r_brow": 3,
    "l_eye": 4,
    "r_eye": 5,
    "l_ear": 7,
    "r_ear": 8,
    "nose": 10,
    "mouth": 11,
    "u_lip": 12,
    "l_lip": 13,
    "neck": 14,
    "cloth": 16,
    "hair": 17,
}

# The 68 iBUG landmarks as (height y in metres, azimuth phi in rad; +phi is the subject's left = image right),
# plus which lip row they sit on ("u" upper / "l" lower copy of the cut row). Then 2 iris points (68 right, 69 left).
_JAW = [(0.02 - 0.112 * np.cos(a), 1.12 * np.sin(a), "u") for a in np.linspace(-np.pi / 2, np.pi / 2, 17)]
_BROWS = [
    (0.050 + 0.006 * np.sin(np.pi * (p - 0.12) / 0.43), -p, "u") for p in np.linspace(0.55, 0.12, 5)
] + [(0.050 + 0.006 * np.sin(np.pi * (p - 0.12) / 0.43), p, "u") for p in np.linspace(0.12, 0.55, 5)]
_NOSE = [(y, 0.0, "u") for y in (0.036, 0.022, 0.008, -0.006)] + [
    (-0.018 + 0.004 * abs(p) / 0.13, p, "u") for p in np.linspace(-0.13, 0.13, 5)
]


def _eye(center_phi: float, order: list[float]) -> list[tuple[float, float, str]]:
    return [(EYE_Y + 0.0085 * np.sin(t), center_phi + 0.1 * np.cos(t), "u") for t in order]


_EYES = _eye(-EYE_PHI, [np.pi, 2 * np.pi / 3, np.pi / 3, 0.0, -np.pi / 3, -2 * np.pi / 3]) + _eye(
    EYE_PHI, [np.pi, 2 * np.pi / 3, np.pi / 3, 0.0, -np.pi / 3, -2 * np.pi / 3]
)
# Outer lips 48-59: right corner, upper lip to the left corner, lower lip back.
_OUTER = (
    [(MOUTH_Y, -0.44, "u")]
    + [
        (MOUTH_Y + h, p, "u")
        for p, h in ((-0.28, 0.008), (-0.12, 0.011), (0.0, 0.009), (0.12, 0.011), (0.28, 0.008))
    ]
    + [(MOUTH_Y, 0.44, "u")]
    + [
        (MOUTH_Y - h, p, "l")
        for p, h in ((0.28, 0.010), (0.13, 0.014), (0.0, 0.015), (-0.13, 0.014), (-0.28, 0.010))
    ]
)
_INNER = (
    [(MOUTH_Y, -0.34, "u")]
    + [(MOUTH_Y, p, "u") for p in (-0.17, 0.0, 0.17)]
    + [(MOUTH_Y, 0.34, "u")]
    + [(MOUTH_Y, p, "l") for p in (0.17, 0.0, -0.17)]
)
LANDMARKS_68 = _JAW + _BROWS + _NOSE + _EYES + _OUTER + _INNER
assert len(LANDMARKS_68) == 68


@dataclass
class HeadModel:
    """The generated model: FLAME arrays (``model``), landmark embedding and per-vertex appearance regions."""

    model: dict[str, np.ndarray]
    embedding: dict[str, object]
    labels: np.ndarray  # (V,) face-parsing label per vertex
    uv: np.ndarray  # (V,2) texture coordinates: head (height y in m, azimuth); eyes (angle from gaze, 0)
    part: np.ndarray  # (V,) 0 head surface, 1 right eyeball, 2 left eyeball, 3 mouth cavity
    extra: dict[str, np.ndarray] = field(default_factory=dict)


def _smoothstep(e0: float, e1: float, x: np.ndarray) -> np.ndarray:
    t = np.clip((x - e0) / (e1 - e0), 0.0, 1.0)
    return t * t * (3 - 2 * t)


def _wrap(a: np.ndarray) -> np.ndarray:
    return (a + np.pi) % (2 * np.pi) - np.pi


def _gauss2(y: np.ndarray, phi: np.ndarray, y0: float, p0: float, sy: float, sp: float) -> np.ndarray:
    return np.exp(-0.5 * (((y - y0) / sy) ** 2 + (_wrap(phi - p0) / sp) ** 2))


def _rows() -> np.ndarray:
    """Heights of the grid rows (crown excluded, neck bottom excluded), with one row exactly at the mouth."""
    theta = np.linspace(0.0, 0.80 * np.pi, 46)[1:]
    head = HEAD_CENTER_Y + HEAD_RY * np.cos(theta)
    neck = np.linspace(head[-1], NECK_BOTTOM_Y, 9)[1:-1]
    ys = np.concatenate([head, neck])
    ys[np.argmin(np.abs(ys - MOUTH_Y))] = MOUTH_Y
    return ys


def _profile(y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Half-widths (x, z) and the z offset of the horizontal cross-section at height y."""
    c = np.clip((y - HEAD_CENTER_Y) / HEAD_RY, -1.0, 1.0)
    s = np.sqrt(1.0 - c**2)
    neck_t = _smoothstep(-0.06, -0.125, y)  # 0 on the head, 1 on the neck
    rx = (1 - neck_t) * HEAD_RX * s + neck_t * NECK_RX
    rz = (1 - neck_t) * HEAD_RZ * s + neck_t * NECK_RZ
    dz = neck_t * NECK_DZ
    return rx, rz, dz


def _head_surface() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Template head grid: vertices (R*N_LON+2, 3), their (y, phi) and the row heights."""
    ys = _rows()
    phis = np.arange(N_LON) * (2 * np.pi / N_LON)
    phis = _wrap(phis)
    Y, P = np.meshgrid(ys, phis, indexing="ij")
    rx, rz, dz = _profile(Y)
    front = np.cos(P).clip(0, None)
    # Features: radial offsets (horizontal), in metres.
    bump = (
        0.021 * _gauss2(Y, P, -0.004, 0.0, 0.016, 0.10) * _smoothstep(0.04, -0.004, Y)  # nose, tip lowest
        + 0.006 * _gauss2(Y, P, 0.050, -0.33, 0.008, 0.22)
        + 0.006 * _gauss2(Y, P, 0.050, 0.33, 0.008, 0.22)  # brow ridge
        - 0.011 * _gauss2(Y, P, EYE_Y, -EYE_PHI, 0.011, 0.13)
        - 0.011 * _gauss2(Y, P, EYE_Y, EYE_PHI, 0.011, 0.13)  # eye sockets
        + 0.014 * _gauss2(Y, P, 0.008, -np.pi / 2 - 0.15, 0.018, 0.12)
        + 0.014 * _gauss2(Y, P, 0.008, np.pi / 2 + 0.15, 0.018, 0.12)  # ears
        + 0.005 * _gauss2(Y, P, MOUTH_Y, 0.0, 0.012, 0.30)  # lips
        + 0.022 * _smoothstep(-0.02, -0.075, Y) * _smoothstep(-0.105, -0.085, Y) * front**2  # chin and jaw
        + 0.006 * _gauss2(Y, P, -0.02, -0.55, 0.02, 0.2)
        + 0.006 * _gauss2(Y, P, -0.02, 0.55, 0.02, 0.2)  # cheeks
    )
    x = (rx + bump) * np.sin(P)
    z = dz + (rz + bump) * np.cos(P)
    grid = np.stack([x, Y, z], axis=-1).reshape(-1, 3)
    top = np.array([[0.0, HEAD_CENTER_Y + HEAD_RY, 0.0]])
    bottom = np.array([[0.0, NECK_BOTTOM_Y, NECK_DZ]])
    verts = np.concatenate([grid, top, bottom])
    yphi = np.concatenate([np.stack([Y, P], -1).reshape(-1, 2), [[top[0, 1], 0.0], [bottom[0, 1], np.pi]]])
    return verts, yphi, ys


def _sphere(center: np.ndarray, radii: np.ndarray, n_lat: int, n_lon: int) -> tuple[np.ndarray, np.ndarray]:
    """A closed UV sphere facing +z: vertices and faces (poles at the front and back)."""
    th = np.linspace(0, np.pi, n_lat + 1)[1:-1]
    ph = np.arange(n_lon) * 2 * np.pi / n_lon
    T, P = np.meshgrid(th, ph, indexing="ij")
    pts = np.stack([np.sin(T) * np.cos(P), np.sin(T) * np.sin(P), np.cos(T)], -1).reshape(-1, 3)
    pts = np.concatenate([[[0, 0, 1.0]], pts, [[0, 0, -1.0]]])
    faces = _grid_faces(n_lat - 1, n_lon, first=1)
    top = [[0, 1 + (j + 1) % n_lon, 1 + j] for j in range(n_lon)]
    last = 1 + (n_lat - 2) * n_lon
    bot = [[len(pts) - 1, last + j, last + (j + 1) % n_lon] for j in range(n_lon)]
    faces = np.concatenate([np.array(top), faces, np.array(bot)])
    return center + pts * radii, faces


def _grid_faces(n_rows: int, n_cols: int, first: int = 0) -> np.ndarray:
    """Two triangles per quad of a row-major grid wrapping in columns: (a,b,c) and (a,c,d), a=(i,j), b=(i+1,j)."""
    i, j = np.meshgrid(np.arange(n_rows - 1), np.arange(n_cols), indexing="ij")
    a = first + i * n_cols + j
    b = first + (i + 1) * n_cols + j
    c = first + (i + 1) * n_cols + (j + 1) % n_cols
    d = first + i * n_cols + (j + 1) % n_cols
    return np.concatenate([np.stack([a, c, b], -1).reshape(-1, 3), np.stack([a, d, c], -1).reshape(-1, 3)])


def _field(v: np.ndarray, c: tuple[float, float, float], sigma: float) -> np.ndarray:
    return np.exp(-0.5 * np.sum((v - np.asarray(c)) ** 2, axis=1) / sigma**2)


@lru_cache(maxsize=4)
def build_head(seed: int = 0) -> HeadModel:
    """Build the stand-in model for ``seed`` (cached; treat the result as read-only)."""
    rng = np.random.default_rng([seed, 4242])
    head, yphi, ys = _head_surface()
    R = len(ys)
    n_grid = R * N_LON
    i_top, i_bot = n_grid, n_grid + 1
    faces = _grid_faces(R, N_LON)
    # Quad (i,j) triangles: see _grid_faces ordering; remember them for landmark placement.
    n_quads = (R - 1) * N_LON
    faces = np.concatenate(
        [
            faces,
            [[i_top, (j + 1) % N_LON, j] for j in range(N_LON)],
            [[i_bot, (R - 1) * N_LON + j, (R - 1) * N_LON + (j + 1) % N_LON] for j in range(N_LON)],
        ]
    )
    # Cut the lips: duplicate the mouth-row vertices inside the cut for the faces below the row.
    i_m = int(np.argmin(np.abs(ys - MOUTH_Y)))
    cut_cols = np.nonzero(np.abs(_wrap(np.arange(N_LON) * 2 * np.pi / N_LON)) < MOUTH_HALF_WIDTH)[0]
    cut_upper = i_m * N_LON + cut_cols
    n_head = len(head)
    lower_ids = n_head + np.arange(len(cut_cols))
    remap = np.arange(n_head)
    remap[cut_upper] = lower_ids
    below = np.zeros(len(faces), bool)
    below[: 2 * n_quads] = np.tile(np.repeat(np.arange(R - 1) == i_m, N_LON), 2)
    faces[below] = remap[faces[below]]
    verts = np.concatenate([head, head[cut_upper]])
    yphi = np.concatenate([yphi, yphi[cut_upper]])
    part = np.zeros(len(verts), int)
    lower_lip = np.zeros(len(verts), bool)
    lower_lip[lower_ids] = True

    # Eyeballs (1 = right eye at -x, 2 = left eye at +x) and the mouth cavity (3).
    eye_centers = []
    all_faces = [faces]
    for k, sign in ((1, -1.0), (2, 1.0)):
        idx = np.argmin(np.abs(yphi[:n_grid, 0] - EYE_Y) + np.abs(_wrap(yphi[:n_grid, 1] - sign * EYE_PHI)))
        surf = head[idx]
        center = surf - np.array([0, 0, EYE_RADIUS * 0.55])
        ev, ef = _sphere(center, np.full(3, EYE_RADIUS), 10, 16)
        all_faces.append(ef + len(verts))
        eye_centers.append(center)
        verts = np.concatenate([verts, ev])
        # texture coordinate of an eyeball vertex: angle from the gaze direction (+z)
        gaze = np.arccos(np.clip((ev[:, 2] - center[2]) / EYE_RADIUS, -1, 1))
        yphi = np.concatenate([yphi, np.stack([gaze, np.zeros(len(ev))], -1)])
        part = np.concatenate([part, np.full(len(ev), k)])
        lower_lip = np.concatenate([lower_lip, np.zeros(len(ev), bool)])
    mouth_front = head[i_m * N_LON]
    cav_center = mouth_front + np.array([0.0, -0.004, -0.036])
    cv, cf = _sphere(cav_center, np.array([0.03, 0.02, 0.022]), 10, 20)
    all_faces.append(cf + len(verts))
    verts = np.concatenate([verts, cv])
    yphi = np.concatenate([yphi, np.stack([cv[:, 1], np.arctan2(cv[:, 0], cv[:, 2] - cav_center[2])], -1)])
    part = np.concatenate([part, np.full(len(cv), 3)])
    lower_lip = np.concatenate([lower_lip, np.zeros(len(cv), bool)])
    faces = np.concatenate(all_faces).astype(np.uint32)
    V = len(verts)
    y, phi = yphi[:, 0], yphi[:, 1]
    on_head = part == 0

    # --- skinning weights: 0 root (neck base), 1 neck (head), 2 jaw, 3 right eye, 4 left eye
    w = np.zeros((V, 5))
    front = np.cos(phi)
    # Inside the lip cut the split is sharp (upper lip 0, lower lip 1); beside it the cheeks blend smoothly.
    in_cut = np.abs(_wrap(phi)) < MOUTH_HALF_WIDTH + 0.05
    smooth = _smoothstep(MOUTH_Y + 0.02, MOUTH_Y - 0.02, y)
    jaw = np.where(lower_lip, 1.0, np.where(in_cut, (y < MOUTH_Y - 1e-6).astype(float), smooth))
    jaw = jaw * _smoothstep(0.15, 0.55, front)
    jaw *= _smoothstep(-0.135, -0.085, y)  # fades into the neck under the chin
    jaw = np.where(on_head, jaw, 0.0)
    root = np.where(on_head, _smoothstep(-0.13, -0.18, y), 0.0)
    w[:, 0] = root
    w[:, 2] = jaw * (1 - root)
    w[:, 1] = 1 - w[:, 0] - w[:, 2]
    w[part == 1] = [0, 0, 0, 1, 0]
    w[part == 2] = [0, 0, 0, 0, 1]

    # --- joint regressor: symmetric vertex sets whose means are the joints
    Jreg = np.zeros((5, V))
    grid_y = yphi[:n_grid, 0]
    bottom_ring = np.arange((R - 1) * N_LON, R * N_LON)
    neck_row = int(np.argmin(np.abs(ys - (-0.115))))
    hinge_row = int(np.argmin(np.abs(ys - JAW_HINGE_Y)))
    sides = [hinge_row * N_LON + N_LON // 4, hinge_row * N_LON + 3 * N_LON // 4]
    Jreg[0, bottom_ring] = 1.0 / len(bottom_ring)
    Jreg[1, neck_row * N_LON + np.arange(N_LON)] = 1.0 / N_LON
    Jreg[2, sides] = 0.5
    Jreg[3, part == 1] = 1.0 / np.sum(part == 1)
    Jreg[4, part == 2] = 1.0 / np.sum(part == 2)
    del grid_y

    # --- expression blendshapes (metres per unit coefficient)
    E = np.zeros((V, 3, N_EXPR_TOTAL))
    v = verts
    upper = (1.0 - jaw) * on_head
    lowerw = jaw
    cz = float(head[i_m * N_LON, 2])
    corners = [(-0.036, MOUTH_Y, cz - 0.022), (0.036, MOUTH_Y, cz - 0.022)]
    mouth_area = _field(v, (0, MOUTH_Y, cz), 0.022) * on_head
    # 0 mouth open: lower lip and chin down, upper lip up
    E[:, 1, 0] = -0.0045 * lowerw * _field(v, (0, MOUTH_Y - 0.01, cz), 0.03) + 0.0015 * upper * mouth_area
    # 1 smile: corners up/out/back, cheeks up and forward
    for sgn, c in zip((-1, 1), corners, strict=True):
        f = _field(v, c, 0.014) * on_head
        E[:, 0, 1] += sgn * 0.004 * f
        E[:, 1, 1] += 0.0045 * f
        E[:, 2, 1] -= 0.002 * f
        g = _field(v, (sgn * 0.04, -0.012, cz - 0.03), 0.018) * on_head
        E[:, 1, 1] += 0.002 * g
        E[:, 2, 1] += 0.002 * g
    # 2 brows raise; 3 brow furrow (inner brows down and together)
    for sgn in (-1, 1):
        b = _field(v, (sgn * 0.03, 0.052, cz - 0.015), 0.02) * on_head
        E[:, 1, 2] += 0.005 * b
        fi = _field(v, (sgn * 0.014, 0.048, cz - 0.008), 0.012) * on_head
        E[:, 1, 3] -= 0.0035 * fi
        E[:, 0, 3] -= sgn * 0.0025 * fi
    # 4 pucker: lips forward, corners inward
    E[:, 2, 4] = 0.005 * mouth_area
    E[:, 0, 4] = -0.12 * v[:, 0] * mouth_area
    # 5 cheek puff
    for sgn in (-1, 1):
        c = _field(v, (sgn * 0.05, -0.035, cz - 0.035), 0.02) * on_head
        E[:, 0, 5] += sgn * 0.006 * c
        E[:, 2, 5] += 0.002 * c
    # 6 mouth stretch: corners out and down
    for sgn, c in zip((-1, 1), corners, strict=True):
        f = _field(v, c, 0.016) * on_head
        E[:, 0, 6] += sgn * 0.005 * f
        E[:, 1, 6] -= 0.002 * f
    # 7 / 8 right / left smirk
    for k, (sgn, c) in zip((7, 8), zip((-1, 1), corners, strict=True), strict=True):
        f = _field(v, c, 0.015) * on_head
        E[:, 1, k] += 0.005 * f
        E[:, 0, k] += sgn * 0.002 * f
    # 9 sneer: upper lip and nose base up
    E[:, 1, 9] = 0.003 * upper * _field(v, (0, MOUTH_Y + 0.015, cz), 0.02)
    # 10 chin forward; 11 lips pressed (lower lip up, both lips in)
    E[:, 2, 10] = 0.004 * lowerw * _field(v, (0, -0.085, cz), 0.03)
    E[:, 1, 11] = 0.002 * lowerw * mouth_area
    E[:, 2, 11] = -0.0025 * mouth_area
    # 12..99: smooth random local deformations on the face, decreasing in size
    face_pts = v[on_head & (np.cos(phi) > 0.2) & (y > -0.09) & (y < 0.07)]
    for k in range(12, N_EXPR_TOTAL):
        for _ in range(3):
            c = face_pts[rng.integers(len(face_pts))]
            d = rng.normal(size=3)
            d /= np.linalg.norm(d)
            E[:, :, k] += (
                (0.0025 / (1 + (k - 12) / 15)) * _field(v, tuple(c), rng.uniform(0.012, 0.03))[:, None] * d
            )
        E[:, :, k] *= on_head[:, None]

    # --- identity blendshapes: smooth global fields (all parts move together where they overlap)
    S = np.zeros((V, 3, N_SHAPE_TOTAL))
    anchors = head[rng.integers(n_grid, size=(N_SHAPE_TOTAL, 4))]
    for k in range(N_SHAPE_TOTAL):
        scale = 0.004 / (1 + k / 8)
        for c in anchors[k]:
            d = rng.normal(size=3)
            S[:, :, k] += (
                scale * _field(v, tuple(c), rng.uniform(0.03, 0.07))[:, None] * (d / np.linalg.norm(d))
            )
    # Eyeballs and cavity follow the surface rigidly: give them the mean displacement near their centre.
    for p in (1, 2, 3):
        sel = part == p
        near = np.argsort(np.linalg.norm(head - verts[sel].mean(0), axis=1))[:12]
        S[sel] = S[near].mean(0)
        E[sel] = E[near].mean(0) * (p != 3)

    # --- pose correctives (36 = 4 joints x 3x3 of R - I): the throat stretches when the jaw opens
    P = np.zeros((V, 3, 36))
    throat = _field(v, (0, -0.1, 0.03), 0.03) * on_head * (1 - jaw)
    # jaw feature index 9 + 3*row + col; (R-I)[2,1] = sin(jaw angle about x)
    P[:, 1, 9 + 7] = -0.02 * throat
    P[:, 2, 9 + 7] = 0.01 * throat
    neck_band = _field(v, (0, -0.12, NECK_DZ), 0.04) * on_head
    P[:, 2, 0 + 5] = 0.004 * neck_band  # slight neck bulge when nodding

    model = {
        "f": faces,
        "v_template": verts.astype(np.float64),
        "shapedirs": np.concatenate([S, E], axis=2).astype(np.float32),
        "posedirs": P.astype(np.float32),
        "J_regressor": Jreg,
        "kintree_table": np.array([[4294967295, 0, 1, 1, 1], [0, 1, 2, 3, 4]], dtype=np.int64),
        "weights": w,
    }
    labels = _vertex_labels(y, phi, part, lower_lip, on_head)
    embedding = _landmark_embedding(faces, ys, i_m, n_quads, remap, lower_lip, verts, part, eye_centers)
    return HeadModel(model=model, embedding=embedding, labels=labels, uv=yphi, part=part)


def _vertex_labels(y, phi, part, lower_lip, on_head) -> np.ndarray:
    L = np.full(len(y), LABELS["skin"])
    a = np.abs(_wrap(phi))
    hairline = 0.068 - 0.10 * _smoothstep(0.9, 2.4, a)
    L[y > hairline] = LABELS["hair"]
    for sgn, lab in ((-1, "l_brow"), (1, "r_brow")):
        p = sgn * phi
        arch = 0.050 + 0.006 * np.sin(np.pi * (p - 0.12) / 0.43)
        L[(p > 0.1) & (p < 0.58) & (np.abs(y - arch) < 0.0055)] = LABELS[lab]
    for sgn, lab in ((-1, "l_ear"), (1, "r_ear")):
        L[(np.abs(_wrap(phi - sgn * (np.pi / 2 + 0.15))) < 0.2) & (np.abs(y - 0.008) < 0.03)] = LABELS[lab]
    L[(a < 0.14) & (y > -0.024) & (y < 0.034)] = LABELS["nose"]
    lipw = MOUTH_HALF_WIDTH + 0.05
    ell = (_wrap(phi) / lipw) ** 2
    half = np.sqrt(np.clip(1 - ell, 0, 1))
    L[~lower_lip & (ell < 1) & (y >= MOUTH_Y - 1e-9) & (y < MOUTH_Y + 0.013 * half)] = LABELS["u_lip"]
    L[(ell < 1) & (lower_lip | ((y < MOUTH_Y - 1e-9) & (y > MOUTH_Y - 0.017 * half)))] = LABELS["l_lip"]
    L[(y < -0.1) | ((y < -0.07) & (a > 1.0))] = LABELS["neck"]
    L[~on_head] = LABELS["mouth"]
    L[part == 1] = LABELS["l_eye"]
    L[part == 2] = LABELS["r_eye"]
    return L


def _landmark_embedding(
    faces, ys, i_m, n_quads, remap, lower_lip, verts, part, eye_centers
) -> dict[str, object]:
    """Faces and barycentric coordinates of the 68 landmarks (+2 iris) in PointAvatar's file format."""
    R = len(ys)
    idx, bary = [], []
    for y, phi, row in LANDMARKS_68:
        # row coordinate (fractional) from the height; rows run downward
        r = float(np.interp(-y, -ys, np.arange(R)))
        if row == "l" and abs(y - MOUTH_Y) < 1e-9:
            r = float(i_m)
        if row == "u" and abs(y - MOUTH_Y) < 1e-9:
            r = float(i_m) - 1e-9
        c = (phi % (2 * np.pi)) / (2 * np.pi) * N_LON
        i, j = min(int(np.floor(r)), R - 2), int(np.floor(c)) % N_LON
        u, t = r - i, c - np.floor(c)
        # triangles of quad (i, j): (a, c, b) at index q and (a, d, c) at index n_quads + q
        q = i * N_LON + j
        if u >= t:  # lower-left triangle (a, c, b): a=(i,j), b=(i+1,j), c=(i+1,j+1)
            idx.append(q)
            bary.append([1 - u, t, u - t])
        else:
            idx.append(n_quads + q)
            bary.append([1 - t, t - u, u])
    full_idx = np.array(idx, dtype=np.int64)
    full_bary = np.array(bary, dtype=np.float64)
    # iris: the frontmost face of each eyeball (pole at +z: vertex 0 of the sphere)
    iris_idx, iris_bary = [], []
    for k in (1, 2):
        pole = int(np.nonzero(part == k)[0][0])
        fi = int(np.nonzero(np.any(faces == pole, axis=1))[0][0])
        iris_idx.append(fi)
        iris_bary.append([1.0 if int(x) == pole else 0.0 for x in faces[fi]])
    dyn_idx = np.tile(full_idx[None, :17], (79, 1))
    dyn_bary = np.tile(full_bary[None, :17], (79, 1, 1))
    return {
        "static_lmk_faces_idx": full_idx[17:].copy(),
        "static_lmk_bary_coords": full_bary[17:].copy(),
        "dynamic_lmk_faces_idx": torch.from_numpy(dyn_idx).long(),
        "dynamic_lmk_bary_coords": torch.from_numpy(dyn_bary).float(),
        "full_lmk_faces_idx": full_idx[None].copy(),
        "full_lmk_bary_coords": full_bary[None].astype(np.float32),
        "iris_lmk_faces_idx": np.array(iris_idx, dtype=np.int64),
        "iris_lmk_bary_coords": np.array(iris_bary, dtype=np.float64),
    }


# Region names of FLAME's vertex-mask file FLAME_masks.pkl (a dict name -> vertex indices), which FlashAvatar and
# GaussianAvatars read (FlashAvatar uses "boundary": the neck-cut ring it leaves out of its head region).
FLAME_MASK_NAMES = (
    "eye_region",
    "neck",
    "left_eyeball",
    "right_eyeball",
    "right_ear",
    "right_eye_region",
    "forehead",
    "lips",
    "nose",
    "scalp",
    "boundary",
    "face",
    "left_ear",
    "left_eye_region",
)


def flame_masks(head: HeadModel) -> dict[str, np.ndarray]:
    """FLAME_masks.pkl's structure for the stand-in: each region name -> sorted int64 vertex indices of this mesh
    (from the per-vertex labels and the (height, azimuth) grid; +azimuth is the subject's left)."""
    lab, part = head.labels, head.part
    y, phi = head.uv[:, 0], _wrap(head.uv[:, 1])
    surface = part == 0
    front = surface & (np.cos(phi) > 0.2)
    eyes = surface & (np.abs(y - EYE_Y) < 0.02) & (np.abs(phi) > 0.08) & (np.abs(phi) < 0.65)
    rows = np.unique(np.round(y[surface], 6))
    bottom = surface & (y <= rows[min(1, len(rows) - 1)] + 1e-9)  # the lowest rows and the neck pole
    region = {
        "eye_region": eyes,
        "neck": lab == LABELS["neck"],
        "left_eyeball": part == 2,
        "right_eyeball": part == 1,
        "right_ear": lab == LABELS["r_ear"],
        "right_eye_region": eyes & (phi < 0),
        "forehead": front & (lab == LABELS["skin"]) & (y > EYE_Y + 0.02),
        "lips": np.isin(lab, [LABELS["u_lip"], LABELS["l_lip"]]),
        "nose": lab == LABELS["nose"],
        "scalp": lab == LABELS["hair"],
        "boundary": bottom,
        "face": front & ~np.isin(lab, [LABELS["hair"], LABELS["neck"], LABELS["l_ear"], LABELS["r_ear"]]),
        "left_ear": lab == LABELS["l_ear"],
        "left_eye_region": eyes & (phi > 0),
    }
    return {name: np.nonzero(region[name])[0].astype(np.int64) for name in FLAME_MASK_NAMES}


def write_synthetic_flame(out_dir: Path, seed: int = 0) -> Path:
    """Write ``generic_model.pkl`` (plain NumPy dict, FLAME keys), ``landmark_embedding.npy`` and
    ``FLAME_masks.pkl`` (FLAME's region masks, same structure) into out_dir."""
    out_dir = Path(out_dir)
    head = build_head(seed)
    with atomic_path(out_dir / "generic_model.pkl") as tmp, open(tmp, "wb") as f:
        pickle.dump(head.model, f, protocol=4)
    with atomic_path(out_dir / "FLAME_masks.pkl") as tmp, open(tmp, "wb") as f:
        pickle.dump(flame_masks(head), f, protocol=2)
    emb = {k: v for k, v in head.embedding.items() if not k.startswith("_")}
    with atomic_path(out_dir / "landmark_embedding.npy") as tmp, open(tmp, "wb") as f:
        np.save(f, np.array(emb, dtype=object), allow_pickle=True)
    return out_dir
