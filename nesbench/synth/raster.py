"""A small vectorised z-buffer triangle rasteriser (NumPy, CPU).

Written by hand because no PyPI rasteriser works here without a GPU or an OpenGL context (pyrender/moderngl need
EGL/OSMesa, PyTorch3D and nvdiffrast need builds or CUDA). Triangles are binned by screen-space bounding-box size
(powers of two), every candidate pixel centre of a bin is tested with edge functions in one array operation, and
the nearest fragment per pixel wins (lexsort). Barycentrics are perspective-correct.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Fragments:
    """Per-pixel result: face index (-1 = empty), perspective-correct barycentrics and camera depth."""

    face: np.ndarray  # (H,W) int64
    bary: np.ndarray  # (H,W,3)
    depth: np.ndarray  # (H,W), inf where empty


def rasterize(uv: np.ndarray, depth: np.ndarray, faces: np.ndarray, height: int, width: int) -> Fragments:
    """Rasterise triangles given vertex pixel coordinates ``uv`` (N,2; pixel i spans [i, i+1)) and positive
    depths (N,). Pixel centres are sampled; a fragment is inside when all three edge functions are >= 0."""
    tri = uv[faces]  # (F,3,2)
    z = depth[faces]  # (F,3)
    keep = np.all(z > 1e-6, axis=1)
    x0 = np.ceil(tri[..., 0].min(1) - 0.5).astype(np.int64)
    x1 = np.floor(tri[..., 0].max(1) - 0.5).astype(np.int64)
    y0 = np.ceil(tri[..., 1].min(1) - 0.5).astype(np.int64)
    y1 = np.floor(tri[..., 1].max(1) - 0.5).astype(np.int64)
    x0, y0 = np.maximum(x0, 0), np.maximum(y0, 0)
    x1, y1 = np.minimum(x1, width - 1), np.minimum(y1, height - 1)
    area = (tri[:, 1, 0] - tri[:, 0, 0]) * (tri[:, 2, 1] - tri[:, 0, 1]) - (tri[:, 2, 0] - tri[:, 0, 0]) * (
        tri[:, 1, 1] - tri[:, 0, 1]
    )
    keep &= (x1 >= x0) & (y1 >= y0) & (np.abs(area) > 1e-12)
    ids = np.nonzero(keep)[0]
    size = np.maximum(x1 - x0, y1 - y0)[ids] + 1
    bins = np.ceil(np.log2(np.maximum(size, 1))).astype(np.int64)

    pix_all, z_all, f_all, b_all = [], [], [], []
    for b in np.unique(bins):
        sel = ids[bins == b]
        s = 1 << int(b)
        oy, ox = np.divmod(np.arange(s * s), s)
        px = x0[sel, None] + ox[None]
        py = y0[sel, None] + oy[None]
        valid = (px <= x1[sel, None]) & (py <= y1[sel, None])
        fi = np.broadcast_to(sel[:, None], px.shape)[valid]
        px, py = px[valid], py[valid]
        cx, cy = px + 0.5, py + 0.5
        t = tri[fi]
        a = area[fi]
        w0 = ((t[:, 1, 0] - cx) * (t[:, 2, 1] - cy) - (t[:, 2, 0] - cx) * (t[:, 1, 1] - cy)) / a
        w1 = ((t[:, 2, 0] - cx) * (t[:, 0, 1] - cy) - (t[:, 0, 0] - cx) * (t[:, 2, 1] - cy)) / a
        w2 = 1.0 - w0 - w1
        inside = (w0 >= 0) & (w1 >= 0) & (w2 >= 0)
        fi, px, py = fi[inside], px[inside], py[inside]
        w = np.stack([w0[inside], w1[inside], w2[inside]], 1)
        inv_z = w / z[fi]  # perspective correction: 1/z is linear in screen space
        s_inv = inv_z.sum(1)
        pix_all.append(py * width + px)
        z_all.append(1.0 / s_inv)
        f_all.append(fi)
        b_all.append(inv_z / s_inv[:, None])

    face = np.full(height * width, -1, dtype=np.int64)
    bary = np.zeros((height * width, 3))
    zbuf = np.full(height * width, np.inf)
    if pix_all:
        pix = np.concatenate(pix_all)
        zz = np.concatenate(z_all)
        order = np.lexsort((zz, pix))
        pix_sorted = pix[order]
        first = order[np.r_[True, pix_sorted[1:] != pix_sorted[:-1]]]
        p = pix[first]
        face[p] = np.concatenate(f_all)[first]
        bary[p] = np.concatenate(b_all)[first]
        zbuf[p] = zz[first]
    return Fragments(face.reshape(height, width), bary.reshape(height, width, 3), zbuf.reshape(height, width))


def vertex_normals(verts: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Area-weighted unit vertex normals."""
    fn = np.cross(verts[faces[:, 1]] - verts[faces[:, 0]], verts[faces[:, 2]] - verts[faces[:, 0]])
    n = np.zeros_like(verts)
    for k in range(3):
        for c in range(3):
            n[:, c] += np.bincount(faces[:, k], weights=fn[:, c], minlength=len(verts))
    return n / np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-12)
