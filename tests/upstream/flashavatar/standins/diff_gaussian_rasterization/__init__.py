"""Stand-in (tests only) for graphdeco's diff_gaussian_rasterization@59f5f77: same names and call signature, a
differentiable CPU splatter instead of the CUDA tile rasterizer."""

from typing import NamedTuple

import torch

SH_C0 = 0.28209479177387814


class GaussianRasterizationSettings(NamedTuple):
    image_height: int
    image_width: int
    tanfovx: float
    tanfovy: float
    bg: torch.Tensor
    scale_modifier: float
    viewmatrix: torch.Tensor
    projmatrix: torch.Tensor
    sh_degree: int
    campos: torch.Tensor
    prefiltered: bool
    debug: bool


class GaussianRasterizer(torch.nn.Module):
    def __init__(self, raster_settings):
        super().__init__()
        self.raster_settings = raster_settings

    def forward(
        self,
        means3D,
        means2D,
        opacities,
        shs=None,
        colors_precomp=None,
        scales=None,
        rotations=None,
        cov3D_precomp=None,
    ):
        s = self.raster_settings
        H, W = int(s.image_height), int(s.image_width)
        n = means3D.shape[0]
        hom = torch.cat([means3D, torch.ones(n, 1)], dim=1)
        clip = hom @ s.projmatrix
        depth = (hom @ s.viewmatrix)[:, 2]
        ndc = clip[:, :2] / clip[:, 3:4].clamp_min(1e-6)
        px = ((ndc[:, 0] + 1) * W - 1) * 0.5
        py = ((ndc[:, 1] + 1) * H - 1) * 0.5
        color = colors_precomp if colors_precomp is not None else (SH_C0 * shs[:, 0] + 0.5).clamp_min(0)
        focal = W / (2 * s.tanfovx)
        sigma = (focal * scales.max(dim=1).values * s.scale_modifier / depth.clamp_min(1e-6)).clamp(0.3, 3.0)
        visible = (depth > 0.01) & (px > -1) & (px < W) & (py > -1) & (py < H)
        acc = torch.zeros(H * W, 3)
        wsum = torch.zeros(H * W)
        cx, cy = px.round(), py.round()
        for dx in (-1, 0, 1):
            for dy in (-1, 0, 1):
                qx, qy = cx + dx, cy + dy
                ok = visible & (qx >= 0) & (qx < W) & (qy >= 0) & (qy < H)
                d2 = (qx - px) ** 2 + (qy - py) ** 2
                w = opacities[:, 0] * torch.exp(-0.5 * d2 / sigma**2) * ok
                idx = (qy.clamp(0, H - 1) * W + qx.clamp(0, W - 1)).long()
                acc = acc.index_add(0, idx, w[:, None] * color)
                wsum = wsum.index_add(0, idx, w)
        cover = wsum.clamp(max=1.0)
        rgb = acc / wsum.clamp_min(1.0)[:, None] + (1 - cover)[:, None] * s.bg[None, :]
        radii = torch.where(visible, torch.ceil(3 * sigma), torch.zeros_like(sigma)).int()
        return rgb.reshape(H, W, 3).permute(2, 0, 1) + 0 * means2D.sum(), radii
