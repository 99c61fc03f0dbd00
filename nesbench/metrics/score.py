"""Single-sequence scoring: one prediction folder against one GT sequence folder, with one scorer."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from nesbench.errors import ConfigError, DataError
from nesbench.metrics.engine import Engine, describe_device
from nesbench.metrics.engine.gt_cache import gt_cache_from
from nesbench.metrics.engine.memory import reuse_freed_memory
from nesbench.metrics.frames import gt_resolution, load_gt_sequence
from nesbench.metrics.predictions import prediction_source
from nesbench.metrics.records import SequenceRecord
from nesbench.metrics.registry import get_scorer
from nesbench.metrics.scorers import Scorer


def score_sequence(
    pred_dir: str | os.PathLike[str],
    gt_seq_dir: str | os.PathLike[str],
    scorer: str | Scorer,
    *,
    resolution: int | None = None,
    device: str = "auto",
    lpips_backbone: str | os.PathLike[str] | None = None,
    batch_size: int | None = None,
    missing_lpips: str = "error",
    gt_cache: str | os.PathLike[str] | None = None,
    decode_processes: int | None = None,
    fan_weights: str | os.PathLike[str] | None = None,
) -> dict[str, Any]:
    """Score `pred_dir` (holding `<k>.png`, or `rgb/`, or `epoch_<N>/rgb/`) against a GT sequence folder.

    Missing/corrupt/mis-sized frames are recorded in ``failed``; frames with no ground truth raise DataError;
    a missing LPIPS backbone raises AssetError unless ``missing_lpips='unavailable'`` (then ``lpips`` is null
    and ``unavailable`` says why). ``resolution`` None: the GT images' own width (512 on RenderMe-360).
    ``gt_cache``: folder of decoded GT kept between runs (default ``$NESBENCH_GT_CACHE``, else none).
    ``decode_processes``: see :class:`~nesbench.metrics.engine.Engine` (None: its default).
    """
    seq = load_gt_sequence(Path(gt_seq_dir))
    if isinstance(scorer, str):
        sc = get_scorer(scorer, resolution=resolution if resolution is not None else gt_resolution(seq))
    else:
        sc = scorer
    if resolution is not None and sc.fixed_resolution and resolution != sc.fixed_resolution:
        raise ConfigError(
            f"--resolution {resolution}: {sc.name} always evaluates at {sc.fixed_resolution} px, as the benchmark's "
            "code (res = 512); --resolution applies to the unified scorer, so drop it or use --scorer unified"
        )
    src, folder, epoch = prediction_source(Path(pred_dir), seq.expected)
    if src.error and src.files:
        raise DataError(src.error)
    if src.error:
        raise DataError(f"{folder}: prediction folder not found; pass the folder holding <k>.png (or rgb/)")
    opened_gt_cache = gt_cache_from(gt_cache)
    reuse_freed_memory()  # process-wide, values unaffected (nesbench.metrics.engine.memory)
    with Engine(
        [sc],
        device=device,
        lpips_backbone=lpips_backbone,
        missing_lpips=missing_lpips,
        batch_size=batch_size,
        gt_cache=opened_gt_cache,
        decode_processes=decode_processes,
        fan_weights=fan_weights,
    ) as engine:
        result = engine.score(seq.dir, {"pred": src})["pred", sc.name]
    rec = SequenceRecord.of(
        sc, result, engine.unavailable[sc.name], engine.face_drop_rule.get(sc.name)
    ).scores_dict()
    rec["device"] = describe_device(engine.device)
    rec["prediction_dir"] = str(folder)
    rec["epoch"] = epoch
    rec["lpips_backbone"] = engine.lpips_provenance()
    if engine.dlib is not None:
        rec["keypoint_dlib_model"] = engine.dlib.provenance()
    return rec
