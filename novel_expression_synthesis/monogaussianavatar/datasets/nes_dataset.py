"""NES-Bench dataset class for the benchmark (installed into code/datasets/ by `nesbench upstream install`).

MonoGaussianAvatar reads the IMavatar/PointAvatar format; this is the PointAvatar overlay's class on its loader.
Same on-disk format and behaviour as upstream ``datasets.real_dataset.FaceDataset``; before loading it checks the
subject's sequences and fails with one clear line instead of an assert or a silent misread. Where the benchmark's
loaders have a rule (frames not numbered 1..N, shape_params/intrinsics differing across sequences: the last sequence's
values are kept) it only warns, unless the job runs with --strict ($NESBENCH_STRICT_DATA=1).

``nes_values_from`` (set by the runners' per-sequence eval confs, runner_support.sequence_conf): the last sequence of
the job's whole test split, whose shape_params and intrinsics a dataset of one sequence takes, as one dataset over the
whole split would.
"""

import sys

from datasets.real_dataset import FaceDataset

from nesbench.upstream.dataset_checks import check_subject_sequences, strict_from_env


class NesFaceDataset(FaceDataset):
    def __init__(self, data_folder, subject_name, json_name, sub_dir, nes_values_from=None, **kwargs):
        seqs = [str(s) for s in sub_dir]
        if nes_values_from is not None and str(nes_values_from) != seqs[-1]:
            seqs.append(str(nes_values_from))  # its values are the ones kept: checked as the last sequence
        for warning in check_subject_sequences(
            data_folder, str(subject_name), json_name, seqs, strict=strict_from_env()
        ):
            print(f"[nesbench] warning: {warning}", file=sys.stderr, flush=True)
        super().__init__(
            data_folder=data_folder, subject_name=subject_name, json_name=json_name, sub_dir=sub_dir, **kwargs
        )
        if len(seqs) > len(sub_dir):
            ref_kwargs = {**kwargs, "subsample": 1}
            if "load_images" in ref_kwargs:
                ref_kwargs["load_images"] = False
            ref = FaceDataset(
                data_folder=data_folder,
                subject_name=subject_name,
                json_name=json_name,
                sub_dir=[str(nes_values_from)],
                **ref_kwargs,
            )
            self.shape_params, self.intrinsics = ref.shape_params, ref.intrinsics
