"""rasterize_meshes for FlashAvatar's UV map: one face per pixel (nearest z), barycentrics, PyTorch3D's NDC pixel
centres (+x left, +y up)."""

import numpy as np
import torch


def rasterize_meshes(
    meshes,
    image_size,
    blur_radius=0.0,
    faces_per_pixel=1,
    bin_size=None,
    max_faces_per_bin=None,
    perspective_correct=False,
):
    verts = meshes.verts_padded().detach().cpu().numpy()
    faces = meshes.faces_padded().detach().cpu().numpy()
    S = int(image_size)
    N = verts.shape[0]
    p2f = -np.ones((N, S, S, 1), np.int64)
    zbuf = -np.ones((N, S, S, 1), np.float32)
    bary = -np.ones((N, S, S, 1, 3), np.float32)
    centres = 1.0 - (2 * np.arange(S) + 1) / S  # index -> NDC
    for n in range(N):
        tri = verts[n][faces[n]]  # F,3,3
        for fi, t in enumerate(tri):
            xs, ys = t[:, 0], t[:, 1]
            cols = np.nonzero((centres >= xs.min()) & (centres <= xs.max()))[0]
            rows = np.nonzero((centres >= ys.min()) & (centres <= ys.max()))[0]
            if not len(cols) or not len(rows):
                continue
            X, Y = np.meshgrid(centres[cols], centres[rows])
            (x0, y0), (x1, y1), (x2, y2) = t[:, :2]
            den = (y1 - y2) * (x0 - x2) + (x2 - x1) * (y0 - y2)
            if abs(den) < 1e-12:
                continue
            w0 = ((y1 - y2) * (X - x2) + (x2 - x1) * (Y - y2)) / den
            w1 = ((y2 - y0) * (X - x2) + (x0 - x2) * (Y - y2)) / den
            w2 = 1 - w0 - w1
            inside = (w0 >= 0) & (w1 >= 0) & (w2 >= 0)
            z = w0 * t[0, 2] + w1 * t[1, 2] + w2 * t[2, 2]
            for (r, c), zz, a, b, cc in zip(
                np.argwhere(inside), z[inside], w0[inside], w1[inside], w2[inside], strict=True
            ):
                R, C = rows[r], cols[c]
                if p2f[n, R, C, 0] < 0 or zz < zbuf[n, R, C, 0]:
                    p2f[n, R, C, 0] = fi + n * len(faces[n])
                    zbuf[n, R, C, 0] = zz
                    bary[n, R, C, 0] = (a, b, cc)
    dists = np.zeros_like(zbuf)
    return (torch.from_numpy(p2f), torch.from_numpy(zbuf), torch.from_numpy(bary), torch.from_numpy(dists))
