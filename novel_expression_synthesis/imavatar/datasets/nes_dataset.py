"""NES-Bench dataset class for the benchmark (installed into code/datasets/ by `nesbench upstream install`).

Same on-disk format and behaviour as upstream ``datasets.real_dataset.FaceDataset``; before loading it checks the
subject's sequences and fails with one clear line instead of an assert or a silent misread. Where the benchmark's
loader has a rule (frames not numbered 1..N, shape_params/intrinsics differing across sequences: the last sequence's
values are kept) it only warns, unless the job runs with --strict ($NESBENCH_STRICT_DATA=1).
"""

import sys

from datasets.real_dataset import FaceDataset

from nesbench.upstream.dataset_checks import check_subject_sequences, strict_from_env


class NesFaceDataset(FaceDataset):
    def __init__(self, data_folder, subject_name, json_name, sub_dir, **kwargs):
        for warning in check_subject_sequences(
            data_folder, str(subject_name), json_name, [str(s) for s in sub_dir], strict=strict_from_env()
        ):
            print(f"[nesbench] warning: {warning}", file=sys.stderr, flush=True)
        super().__init__(
            data_folder=data_folder, subject_name=subject_name, json_name=json_name, sub_dir=sub_dir, **kwargs
        )
