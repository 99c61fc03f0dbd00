"""The NES dataset class of the upstream overlays, built once on each method's own upstream loader.

IMavatar, PointAvatar and MonoGaussianAvatar read the same on-disk format through their own
``datasets.real_dataset.FaceDataset``; their overlays (novel_expression_synthesis/<method>/datasets/nes_dataset.py)
call :func:`nes_face_dataset` on it. Same behaviour as upstream's loader; before loading it checks the subject's
sequences and fails with one clear line instead of an assert or a silent misread. Where the benchmark's loader has a
rule (frames not numbered 1..N, shape_params/intrinsics differing across sequences: the last sequence's values are
kept) it only warns, unless the job runs with --strict ($NESBENCH_STRICT_DATA=1).

``nes_values_from`` (set by the runners' per-sequence eval confs, runner_support.sequence_conf): the last sequence of
the job's whole test split. The benchmark renders the whole split with one dataset, whose loader keeps the last
sequence's shape_params and intrinsics for every frame; a dataset of one sequence takes them from that sequence too.
"""

from __future__ import annotations

from typing import Any

from nesbench.log import get_logger, tag
from nesbench.upstream.dataset_checks import check_subject_sequences, strict_from_env

log = get_logger(__name__)


def nes_face_dataset(face_dataset: type) -> type:
    """``NesFaceDataset``: a subclass of the method's upstream ``FaceDataset`` with the checks and ``nes_values_from``."""

    class NesFaceDataset(face_dataset):
        def __init__(
            self, data_folder, subject_name, json_name, sub_dir, nes_values_from=None, **kwargs: Any
        ):
            seqs = [str(s) for s in sub_dir]
            if nes_values_from is not None and str(nes_values_from) != seqs[-1]:
                seqs.append(
                    str(nes_values_from)
                )  # its values are the ones kept: checked as the last sequence
            for warning in check_subject_sequences(
                data_folder, str(subject_name), json_name, seqs, strict=strict_from_env()
            ):
                log.warning(f"warning: {warning}", extra=tag("nesbench"))  # [nesbench] warning: ... on stderr
            super().__init__(
                data_folder=data_folder,
                subject_name=subject_name,
                json_name=json_name,
                sub_dir=sub_dir,
                **kwargs,
            )
            if len(seqs) > len(sub_dir):
                ref_kwargs = {**kwargs, "subsample": 1}
                if "load_images" in ref_kwargs:
                    ref_kwargs["load_images"] = False
                ref = face_dataset(
                    data_folder=data_folder,
                    subject_name=subject_name,
                    json_name=json_name,
                    sub_dir=[str(nes_values_from)],
                    **ref_kwargs,
                )
                self.shape_params, self.intrinsics = ref.shape_params, ref.intrinsics

    NesFaceDataset.__module__ = face_dataset.__module__.rsplit(".", 1)[0] + ".nes_dataset"
    return NesFaceDataset
