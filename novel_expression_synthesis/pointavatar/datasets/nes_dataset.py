"""NES-Bench dataset class for PointAvatar (installed into code/datasets/ by `nesbench upstream install`).

Upstream ``datasets.real_dataset.FaceDataset`` with the harness's data checks and ``nes_values_from``; the class is
built by nesbench.upstream.nes_dataset, shared with the other methods that read this format.
"""

from datasets.real_dataset import FaceDataset

from nesbench.upstream.nes_dataset import nes_face_dataset

NesFaceDataset = nes_face_dataset(FaceDataset)
