"""The one epoch-folder rule (`epoch_<N>`) shared by the upstream eval mapping and the prediction resolver."""

from nesbench.data.layout import epoch_dir, epoch_of, newest_epoch_dir
from nesbench.metrics.predictions import resolve_prediction_folder


def test_epoch_folders_are_named_parsed_and_ordered_numerically(tmp_path):
    assert epoch_dir(tmp_path, 7) == tmp_path / "epoch_7" and epoch_of(tmp_path / "epoch_7") == 7
    assert epoch_of(tmp_path / "epoch_x") is None and epoch_of(tmp_path / "rgb") is None
    assert newest_epoch_dir(tmp_path) is None and newest_epoch_dir(tmp_path / "missing") is None
    for n in (9, 10, 100, 11):
        epoch_dir(tmp_path, n).mkdir()
    (tmp_path / "epoch_latest").mkdir()
    assert newest_epoch_dir(tmp_path) == tmp_path / "epoch_100"  # 100 > 11 > 10 > 9, not by name
    assert resolve_prediction_folder(tmp_path) == (tmp_path / "epoch_100" / "rgb", 100)
