"""NES-Bench helpers called by the patched FlashAvatar lines (installed next to train.py by `nesbench upstream
install`; the patches are in nesbench/upstream/flashavatar/patches.py)."""

import json
import os

import numpy as np
import torch

MANIFEST = "manifest.json"
MAX_TRAIN_FRAMES = 10000  # upstream Scene_mica's max_train_num


def _manifest(datadir):
    path = os.path.join(datadir, MANIFEST)
    if not os.path.isfile(path):
        return None
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def split_range(datadir, train_type, range_down, range_up):
    """Frames [down, up) of the protocol's split from the converter's manifest.json: train_type 0 = training
    frames (at most upstream's 10,000), 1 = every test frame; 2 (upstream's short eval) and data without a
    manifest keep upstream's range."""
    m = _manifest(datadir)
    if m is None or train_type not in (0, 1):
        return range_down, range_up
    down, up = m["train"] if train_type == 0 else m["test"]
    if train_type == 0:
        up = min(up, down + MAX_TRAIN_FRAMES)
    return int(down), int(up)


def image_hw(datadir):
    """(height, width) of the converted images (upstream assumes 512x512)."""
    m = _manifest(datadir)
    if m is None or "image_size" not in m:
        return 512, 512
    width, height = m["image_size"]
    return int(height), int(width)


def _identity_6d():
    return torch.tensor([[1.0, 0.0, 0.0, 0.0, 1.0, 0.0]])


def attach_head_pose(camera, flame_params, device):
    """Keep the frame's neck and global rotation (6D, from the converter) on its camera; identity when absent."""
    for key, attr in (("neck", "neck_pose"), ("rot", "rot_pose")):
        value = flame_params.get(key)
        value = _identity_6d() if value is None else torch.as_tensor(value, dtype=torch.float32)
        setattr(camera, attr, value.to(device))


def head_pose(camera):
    """codedict entries for Deform_Model.decode: FLAME's neck and global rotation of this frame."""
    return {"neck_pose": camera.neck_pose, "rot_pose": camera.rot_pose}


class FrameWriter:
    """Stands where test.py opened its .avi: one PNG per frame, <outdir>/<index:05d>.png, written atomically."""

    def __init__(self, outdir):
        self.outdir = outdir
        self.count = 0
        os.makedirs(outdir, exist_ok=True)

    def write(self, index, rgb):
        import cv2

        image = np.clip(np.rint(np.asarray(rgb, dtype=np.float64)), 0, 255).astype(np.uint8)
        path = os.path.join(self.outdir, f"{int(index):05d}.png")
        tmp = os.path.join(self.outdir, f".{int(index):05d}.tmp.png")
        if not cv2.imwrite(tmp, image[:, :, ::-1]):
            raise OSError(f"{tmp}: cannot write the rendered frame")
        os.replace(tmp, path)
        self.count += 1

    def release(self):
        path = os.path.join(self.outdir, "nes_render_done.json")
        with open(path + ".tmp", "w", encoding="utf-8") as f:
            json.dump({"frames": self.count}, f)
        os.replace(path + ".tmp", path)


class _NoPerceptualLoss(torch.nn.Module):
    def forward(self, a, b):
        return torch.zeros((), device=a.device)


class _LazyLPIPS(torch.nn.Module):
    """Builds the LPIPS network on its first use: upstream only calls it after iteration 15,000 (mid_num), so a
    shorter run needs no VGG16 weights."""

    def __init__(self, device):
        super().__init__()
        self.device, self.model = device, None

    def forward(self, a, b):
        if self.model is None:
            self.model = _lpips_vgg(self.device)
        return self.model(a, b)


def lpips_vgg(device, enabled="on"):
    """LPIPS(net='vgg') as upstream's loss, its VGG16 backbone from the harness cache (no download), built when first
    used; 'off' gives a zero loss (recorded by the harness)."""
    if str(enabled) == "off":
        return _NoPerceptualLoss().to(device)
    return _LazyLPIPS(device)


def _lpips_vgg(device):
    import types

    import lpips
    from lpips import pretrained_networks

    from nesbench.upstream.shims.vgg16 import vgg16_features

    # lpips builds its VGG16 with torchvision's vgg16(pretrained=True), a download: hand it the cached one instead
    features = vgg16_features()
    real = pretrained_networks.tv
    pretrained_networks.tv = types.SimpleNamespace(
        vgg16=lambda *a, **k: types.SimpleNamespace(features=features)
    )
    try:
        model = lpips.LPIPS(net="vgg", verbose=False)  # its linear layers ship inside the lpips wheel
    finally:
        pretrained_networks.tv = real
    for p in model.parameters():
        p.requires_grad_(False)
    return model.eval().to(device)
