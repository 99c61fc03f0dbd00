"""NES-Bench dataset class for the benchmark (installed into code/datasets/ by `nesbench upstream install`).

MonoGaussianAvatar reads the IMavatar/PointAvatar format; this is the PointAvatar overlay's class on its loader.
Same on-disk format and behaviour as upstream ``datasets.real_dataset.FaceDataset``; before loading it checks the
subject's sequences and fails with one clear line instead of an assert or a silent misread.
"""

from datasets.real_dataset import FaceDataset

from nesbench.upstream.dataset_checks import check_subject_sequences


class NesFaceDataset(FaceDataset):
    def __init__(self, data_folder, subject_name, json_name, sub_dir, **kwargs):
        check_subject_sequences(data_folder, str(subject_name), json_name, [str(s) for s in sub_dir])
        super().__init__(
            data_folder=data_folder, subject_name=subject_name, json_name=json_name, sub_dir=sub_dir, **kwargs
        )
