"""NES-Bench renderer for NeRFace (installed into nerface_code/nerf-pytorch/; run from there).

Upstream's eval_transformed_rays.py cannot render a test set as it stands: it hard-codes a view-direction ablation
(pose and expression of test frame 100, ray directions of frame 240+i) and a latent code from an index_map.npy
that its data tools write. This renderer does what that script does for one frame, for every frame of one NES test
sequence, with nothing hard-coded:

- models, positional encodings and the checkpoint exactly as the eval script builds and loads them;
- ``run_one_iter_of_nerf(..., mode="validation")`` with the frame's camera, its (padded) expression, the fixed
  background image as the background prior, and one latent code for the whole test set (``--latent``):
  ``train:<i>`` = training frame i's code (upstream's eval uses a fixed training frame's code, ``idx_map[10, 1]``),
  ``zero`` (upstream's validation) or ``mean``;
- the fine image (coarse when there is no fine model), clamped and converted as upstream's cast_to_image;
- ``torch.manual_seed(seed + k)`` before frame k (the validation config samples with ``perturb``), so a render is
  reproducible and a resumed sequence equals an uninterrupted one. Frames already written are skipped.

Writes ``<out>/<k>.png`` per frame and ``<out>/nes_eval_done.json`` when the sequence is complete.
"""

import argparse
import json
import os
import sys
import time
from pathlib import Path

import imageio
import numpy as np
import torch
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))

from nerf import CfgNode, get_embedding_function, get_ray_bundle, models, run_one_iter_of_nerf  # noqa: E402

DONE = "nes_eval_done.json"


def build_model(cfg, part, device):
    spec = getattr(cfg.models, part)
    model = getattr(models, spec.type)(
        num_encoding_fn_xyz=spec.num_encoding_fn_xyz,
        num_encoding_fn_dir=spec.num_encoding_fn_dir,
        include_input_xyz=spec.include_input_xyz,
        include_input_dir=spec.include_input_dir,
        use_viewdirs=spec.use_viewdirs,
        num_layers=cfg.models.coarse.num_layers,  # upstream builds the fine model with the coarse sizes
        hidden_size=cfg.models.coarse.hidden_size,
        include_expression=True,
    )
    return model.to(device)


def latent_for(rule, codes, device):
    if codes is None:
        return None
    if rule == "zero":
        return torch.zeros(codes.shape[1], device=device)
    if rule == "mean":
        return codes.mean(dim=0).to(device)
    if rule.startswith("train:"):
        i = int(rule.split(":", 1)[1])
        if not 0 <= i < codes.shape[0]:
            raise SystemExit(f"--latent {rule}: only {codes.shape[0]} training latent codes")
        return codes[i].to(device)
    raise SystemExit(f"--latent {rule!r}: use train:<i>, zero or mean")


def write_json_atomic(path, obj):
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(obj, indent=1))
    os.replace(tmp, path)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", required=True)
    ap.add_argument("--checkpoint", required=True)
    ap.add_argument(
        "--transforms", required=True, help="transforms_<seq>.json written by the NES-Bench converter"
    )
    ap.add_argument("--out", required=True)
    ap.add_argument("--latent", default="train:10")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    with open(args.config) as f:
        cfg = CfgNode(yaml.load(f, Loader=yaml.FullLoader))
    device = "cuda" if torch.cuda.is_available() else "cpu"
    meta = json.loads(Path(args.transforms).read_text())
    basedir = Path(cfg.dataset.basedir)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    def embed(part, kind):
        spec = getattr(cfg.models, part)
        return get_embedding_function(
            num_encoding_functions=getattr(spec, f"num_encoding_fn_{kind}"),
            include_input=getattr(spec, f"include_input_{kind}"),
            log_sampling=getattr(spec, f"log_sampling_{kind}"),
        )

    encode_position_fn = embed("coarse", "xyz")
    encode_direction_fn = embed("coarse", "dir") if cfg.models.coarse.use_viewdirs else None
    model_coarse = build_model(cfg, "coarse", device)
    model_fine = build_model(cfg, "fine", device) if hasattr(cfg.models, "fine") else None
    ckpt = torch.load(args.checkpoint, map_location=device, weights_only=False)
    model_coarse.load_state_dict(ckpt["model_coarse_state_dict"])
    if ckpt["model_fine_state_dict"]:
        model_fine.load_state_dict(ckpt["model_fine_state_dict"])
    model_coarse.eval()
    if model_fine:
        model_fine.eval()
    latent = latent_for(args.latent, ckpt.get("latent_codes"), device)

    bg_img = imageio.v2.imread(basedir / "bg" / "00050.png")[..., :3]
    background = torch.from_numpy(bg_img.astype(np.float32) / 255).to(device)
    H, W = bg_img.shape[:2]
    intrinsics = np.array(meta["intrinsics"])
    times = []
    for fr in meta["frames"]:
        path = out / f"{fr['frame']}.png"
        if path.is_file():
            continue
        start = time.time()
        torch.manual_seed(args.seed + int(fr["frame"]))
        pose = torch.tensor(fr["transform_matrix"], dtype=torch.float32, device=device)[:3, :4]
        expression = torch.tensor(fr["expression"], dtype=torch.float32, device=device)
        with torch.no_grad():
            ray_origins, ray_directions = get_ray_bundle(H, W, intrinsics, pose)
            rgb_coarse, _, _, rgb_fine, _, _, _ = run_one_iter_of_nerf(
                H,
                W,
                intrinsics,
                model_coarse,
                model_fine,
                ray_origins,
                ray_directions,
                cfg,
                mode="validation",
                encode_position_fn=encode_position_fn,
                encode_direction_fn=encode_direction_fn,
                expressions=expression,
                background_prior=background.view(-1, 3),
                latent_code=latent,
            )
        rgb = rgb_fine if rgb_fine is not None else rgb_coarse
        img = rgb[..., :3].clamp(0.0, 1.0).mul(255).byte().cpu().numpy()  # ToPILImage's float -> uint8
        tmp = path.with_name(f".{path.name}.tmp.png")
        imageio.imwrite(tmp, img)
        os.replace(tmp, path)
        times.append(time.time() - start)
        print(f"[nes-render] {path.name} {times[-1]:.2f}s", flush=True)
    write_json_atomic(
        out / DONE,
        {
            "checkpoint": str(args.checkpoint),
            "iter": int(ckpt["iter"]),
            "latent": args.latent,
            "seed": args.seed,
            "frames": len(meta["frames"]),
            "seconds_per_frame": (sum(times) / len(times)) if times else None,
        },
    )


if __name__ == "__main__":
    main()
