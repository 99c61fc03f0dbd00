"""NES (IMavatar/PointAvatar format) -> FlashAvatar's inputs: metrical-tracker ``.frame`` files plus images and masks.

FlashAvatar (USTC3DV/FlashAvatar-code, ``scene/__init__.py`` ``Scene_mica``) reads, per frame index i (0-based):
``checkpoint/%05d.frame`` (a torch pickle: ``flame.{shape 300, exp 100, jaw 6, eyes 12, eyelids 2}``,
``opencv.{R, t, K}``, ``img_size``) and, one index later (its ``frame_delta = 1``), ``imgs/%05d``, ``alpha/%05d``,
``parsing/%05d_neckhead.png`` and ``parsing/%05d_mouth.png``. The conversion, exact where FLAME allows it:

- shape 100 -> 300 and expression 50 -> 100, padded with zeros (FLAME 2020's further components; exact);
- rotations (axis-angle in NES, ``pose = [global, neck, jaw, eyeL, eyeR]``) -> PyTorch3D's 6D form
  (``matrix_to_rotation_6d``: the first two rows of the matrix; FlashAvatar's FLAME turns it back with
  ``rotation_6d_to_matrix``). NES keeps the head rotation in the neck slot (spec 1.2), which FlashAvatar's ``decode``
  does not pass to FLAME: the frames also carry ``flame.neck`` and ``flame.rot`` (6D) for the patch that passes them
  (exact), instead of folding the neck into the camera (approximate near the neck, LBS blending);
- eyelids 0 (NES has none);
- camera: NES ``world_mat`` is world->camera in FLAME's x4 units with an OpenGL-like camera (looks down -z, y up);
  FlashAvatar's FLAME is in metres with an OpenCV camera (x right, y down, looks down +z). So
  ``R_cv = diag(1,-1,-1) R``, ``t_cv = diag(1,-1,-1) t / 4``; ``K`` in pixels from the normalised intrinsics
  ``[-fx/W, fy/H, cx/W, cy/H]``. FlashAvatar's renderer assumes the principal point at the image centre; the offset is
  reported in the manifest;
- masks from the semantic maps (BiSeNet / CelebAMask-HQ labels): ``neckhead`` = every label except background (0) and
  cloth (16); ``mouth`` = inner mouth (11) and lips (12, 13). ``alpha`` = the NES mask.

Frames are numbered train sequences first, then test sequences, in the order given; ``manifest.json`` maps every
index to (split, sequence, NES frame number).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from nesbench.errors import DataError
from nesbench.fsutil import write_json_atomic
from nesbench.synth.flame_numpy import batch_rodrigues

FLAME_FACTOR = 4.0  # NES / IMavatar FLAME units are metres x 4 (spec 1.2)
N_SHAPE, N_EXP = 300, 100
GL_TO_CV = np.diag([1.0, -1.0, -1.0])
BACKGROUND, CLOTH = 0, 16
MOUTH_LABELS = (11, 12, 13)
FRAME_DELTA = 1  # FlashAvatar: image i+1 goes with tracker frame i


def matrix_to_rotation_6d(m: np.ndarray) -> np.ndarray:
    """PyTorch3D ``matrix_to_rotation_6d``: (..., 3, 3) -> (..., 6), the first two rows."""
    m = np.asarray(m, dtype=np.float64)
    return m[..., :2, :].reshape(*m.shape[:-2], 6)


def rotation_6d_to_matrix(d6: np.ndarray) -> np.ndarray:
    """PyTorch3D ``rotation_6d_to_matrix`` (Gram-Schmidt; rows b1, b2, b3), in NumPy."""
    d6 = np.asarray(d6, dtype=np.float64)
    a1, a2 = d6[..., :3], d6[..., 3:]
    b1 = a1 / np.maximum(np.linalg.norm(a1, axis=-1, keepdims=True), 1e-12)
    b2 = a2 - (b1 * a2).sum(-1, keepdims=True) * b1
    b2 = b2 / np.maximum(np.linalg.norm(b2, axis=-1, keepdims=True), 1e-12)
    return np.stack([b1, b2, np.cross(b1, b2)], axis=-2)


def axis_angle_to_6d(aa: np.ndarray) -> np.ndarray:
    """(N,3) axis-angle (Rodrigues exactly as upstream FLAME's lbs) -> (N,6)."""
    return matrix_to_rotation_6d(batch_rodrigues(np.asarray(aa, dtype=np.float64).reshape(-1, 3)))


def opencv_camera(world_mat: Any, intrinsics: Any, width: int, height: int) -> tuple[np.ndarray, ...]:
    """NES camera -> (R 3x3, t 3, K 3x3) of an OpenCV camera in metres (see the module docstring)."""
    P = np.asarray(world_mat, dtype=np.float64)
    if P.shape != (3, 4):
        raise DataError(f"world_mat must be 3x4, got {P.shape}")
    i = np.asarray(intrinsics, dtype=np.float64).reshape(4)
    K = np.array([[-i[0] * width, 0.0, i[2] * width], [0.0, i[1] * height, i[3] * height], [0.0, 0.0, 1.0]])
    return GL_TO_CV @ P[:, :3], GL_TO_CV @ P[:, 3] / FLAME_FACTOR, K


def frame_payload(frame: dict, shape_params: Any, intrinsics: Any, width: int, height: int) -> dict[str, Any]:
    """The metrical-tracker ``.frame`` dict FlashAvatar reads for one NES frame (NumPy arrays, batch dim 1)."""
    pose = np.asarray(frame["pose"], dtype=np.float64).reshape(5, 3)
    six = axis_angle_to_6d(pose)  # global, neck, jaw, eyeL, eyeR
    shape = np.zeros((1, N_SHAPE), np.float32)
    shape[0, :100] = np.asarray(shape_params, dtype=np.float32).reshape(100)
    exp = np.zeros((1, N_EXP), np.float32)
    exp[0, :50] = np.asarray(frame["expression"], dtype=np.float32).reshape(50)
    R, t, K = opencv_camera(frame["world_mat"], intrinsics, width, height)
    return {
        "flame": {
            "shape": shape,
            "exp": exp,
            "jaw": six[2:3].astype(np.float32),
            "eyes": six[3:5].reshape(1, 12).astype(np.float32),
            "eyelids": np.zeros((1, 2), np.float32),
            "neck": six[1:2].astype(np.float32),
            "rot": six[0:1].astype(np.float32),
        },
        "opencv": {
            "R": R[None].astype(np.float32),
            "t": t[None].astype(np.float32),
            "K": K[None].astype(np.float32),
        },
        "img_size": np.array([width, height]),
    }


def masks_from_semantic(semantic: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(neckhead, mouth) uint8 masks (0/255) from a face-parsing label map."""
    sem = np.asarray(semantic)
    if sem.ndim == 3:
        sem = sem[..., 0]
    neckhead = ~np.isin(sem, (BACKGROUND, CLOTH))
    mouth = np.isin(sem, MOUTH_LABELS)
    return (neckhead * 255).astype(np.uint8), (mouth * 255).astype(np.uint8)


@dataclass(frozen=True)
class FrameRef:
    split: str
    sequence: str
    frame: int  # NES 1-based frame number


def _read_json(path: Path) -> dict:
    import json

    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise DataError(f"{path}: missing; check the data with `nesbench data check`") from None
    except ValueError as exc:
        raise DataError(f"{path}: not valid JSON ({exc})") from None


def _read_image(path: Path) -> np.ndarray:
    import imageio.v3 as iio

    if not path.is_file():
        raise DataError(
            f"{path}: missing; every frame needs image/, mask/ and semantic/ (nesbench data check)"
        )
    return np.asarray(iio.imread(path))


def _write_png(path: Path, array: np.ndarray) -> None:
    import imageio.v3 as iio

    from nesbench.fsutil import atomic_path

    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        iio.imwrite(tmp, array, extension=".png")


def convert_subject(
    subject_dir: Path, train: list[str], test: list[str], out: Path, json_name: str = "flame_params.json"
) -> dict[str, Any]:
    """Convert the sequences of one NES subject folder (``<testset>/<id>/<id>``) into FlashAvatar's layout in
    ``out`` (``checkpoint/``, ``imgs/``, ``alpha/``, ``parsing/``, ``manifest.json``); returns the manifest."""
    import torch

    subject_dir, out = Path(subject_dir), Path(out)
    refs: list[FrameRef] = []
    shape_ref = intr_ref = None
    index = 0
    offsets: list[float] = []
    sizes: set[tuple[int, int]] = set()
    for split, seqs in (("train", train), ("test", test)):
        for seq in seqs:
            folder = subject_dir / seq
            params = _read_json(folder / json_name)
            shape, intr = params.get("shape_params"), params.get("intrinsics")
            if shape is None or intr is None or "frames" not in params:
                raise DataError(f"{folder / json_name}: needs shape_params, intrinsics and frames")
            if shape_ref is None:
                shape_ref, intr_ref = shape, intr
            elif not (np.allclose(shape, shape_ref) and np.allclose(intr, intr_ref)):
                raise DataError(
                    f"{folder / json_name}: shape_params/intrinsics differ from the subject's first sequence; "
                    "FlashAvatar takes one identity and one camera model per subject"
                )
            for k, frame in enumerate(params["frames"], start=1):
                stem = Path(str(frame.get("file_path", f"./image/{k}"))).name
                image = _read_image(folder / "image" / f"{stem}.png")[..., :3]
                height, width = image.shape[:2]
                sizes.add((width, height))
                if len(sizes) > 1:
                    raise DataError(
                        f"{folder / 'image' / (stem + '.png')}: {width}x{height}, other frames of the subject are "
                        f"{'/'.join(f'{w}x{h}' for w, h in sorted(sizes - {(width, height)}))}; FlashAvatar needs one "
                        "image size per subject"
                    )
                mask = _read_image(folder / "mask" / f"{stem}.png")
                alpha = mask[..., 0] if mask.ndim == 3 else mask
                neckhead, mouth = masks_from_semantic(_read_image(folder / "semantic" / f"{stem}.png"))
                payload = frame_payload(frame, shape, intr, width, height)
                K = payload["opencv"]["K"][0]
                offsets.append(float(max(abs(K[0, 2] - width / 2), abs(K[1, 2] - height / 2))))
                name = f"{index + FRAME_DELTA:05d}"
                _write_png(out / "imgs" / f"{name}.png", image)
                _write_png(out / "alpha" / f"{name}.png", alpha.astype(np.uint8))
                _write_png(out / "parsing" / f"{name}_neckhead.png", neckhead)
                _write_png(out / "parsing" / f"{name}_mouth.png", mouth)
                ckpt = out / "checkpoint" / f"{index:05d}.frame"
                ckpt.parent.mkdir(parents=True, exist_ok=True)
                tmp = ckpt.with_name(f".{ckpt.name}.tmp")
                torch.save(payload, tmp)
                tmp.replace(ckpt)
                refs.append(FrameRef(split, seq, int(stem)))
                index += 1
    manifest = {
        "source": str(subject_dir),
        "frame_delta": FRAME_DELTA,
        "image_format": "png",
        "train": [0, sum(r.split == "train" for r in refs)],
        "test": [sum(r.split == "train" for r in refs), len(refs)],
        "principal_point_offset_px": max(offsets, default=0.0),
        "image_size": list(next(iter(sizes))) if sizes else None,  # [width, height]
        "frames": [
            {"index": i, "split": r.split, "sequence": r.sequence, "frame": r.frame}
            for i, r in enumerate(refs)
        ],
    }
    write_json_atomic(out / "manifest.json", manifest)
    return manifest


def main(argv: list[str] | None = None) -> int:
    """``python -m nesbench.upstream.flashavatar_convert --subject ID --protocol P --out DIR [--benchmark B]
    [--data ROOT]``: convert one subject's train then test sequences of a protocol."""
    import argparse
    import sys

    from nesbench.config import load_benchmark
    from nesbench.data.layout import sequence_dir
    from nesbench.errors import NesbenchError

    p = argparse.ArgumentParser(
        prog="python -m nesbench.upstream.flashavatar_convert", description=main.__doc__
    )
    p.add_argument("--subject", required=True)
    p.add_argument("--protocol", required=True)
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("--benchmark", default="renderme360_nes")
    p.add_argument("--data", type=Path, help="data root holding testsetK/ (default: the benchmark's)")
    args = p.parse_args(argv)
    try:
        bench = load_benchmark(args.benchmark)
        proto = bench.protocol(args.protocol)
        root = bench.data_root(args.data)
        folder = sequence_dir(
            root, bench.testset_of(args.subject), args.subject, "_"
        ).parent  # <testset>/<id>/<id>
        manifest = convert_subject(folder, list(proto.train), list(proto.test_sequences), args.out)
    except NesbenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    n_train = manifest["train"][1] - manifest["train"][0]
    n_test = manifest["test"][1] - manifest["test"][0]
    print(
        f"{args.out}: {n_train} train + {n_test} test frames for FlashAvatar (principal point "
        f"{manifest['principal_point_offset_px']:.2f} px off centre)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
