import json

import pytest
from pyhocon import ConfigFactory

from nesbench.errors import DataError
from nesbench.upstream import runner_support as rs
from nesbench.upstream.dataset_checks import check_subject_sequences


def test_sequence_conf_keeps_subject_quoted_and_sets_one_sequence(tmp_path):
    src = tmp_path / "job.conf"
    src.write_text(
        'dataset { subject_name = "0100", test { sub_dir = [e_6, e_7, s_4] } }\ntrain { optimize_camera = true }\n'
    )
    out = rs.sequence_conf(src, "s_4", tmp_path / "s_4.conf", {"train.optimize_camera": False})
    c = ConfigFactory.parse_file(str(out))
    assert c.get("dataset.subject_name") == "0100" and c.get_list("dataset.test.sub_dir") == ["s_4"]
    assert c.get_bool("train.optimize_camera") is False
    assert rs.test_sequences(src, None) == ["e_6", "e_7", "s_4"]
    with pytest.raises(SystemExit):
        rs.test_sequences(src, "e_99")


def test_stale_test_input_parameters_are_cleared(tmp_path):
    folder = tmp_path / "TestInputParameters"
    folder.mkdir()
    (folder / "latest.pth").write_text("fitted for an unknown split")
    assert rs.clear_stale_test_fit(tmp_path, "e_6", 101) is True and not folder.exists()
    folder.mkdir()
    rs.mark_test_fit(tmp_path, "e_6", 101)
    assert rs.clear_stale_test_fit(tmp_path, "e_6", 101) is False  # same split and epoch: reused
    assert rs.clear_stale_test_fit(tmp_path, "e_7", 101) is True  # other split: deleted


def write_seq(root, seq, shape=0.0, names=(1, 2)):
    d = root / "0100" / "0100" / seq
    d.mkdir(parents=True)
    frames = [{"file_path": f"./image/{k}"} for k in names]
    (d / "flame_params.json").write_text(
        json.dumps({"frames": frames, "shape_params": [shape] * 100, "intrinsics": [1, 1, 0.5, 0.5]})
    )


def test_dataset_checks_refuse_what_upstream_cannot_load(tmp_path):
    root = tmp_path / "testset1"
    write_seq(root, "e_0")
    write_seq(root, "e_1")
    assert check_subject_sequences(str(root), "0100", "flame_params.json", ["e_0", "e_1"]) == []
    with pytest.raises(DataError, match="sequence folder missing"):
        check_subject_sequences(str(root), "0100", "flame_params.json", ["e_2"])
    bad = tmp_path / "images" / "testset1"
    write_seq(bad, "e_0")
    with pytest.raises(DataError, match="'image'"):
        check_subject_sequences(str(bad), "0100", "flame_params.json", ["e_0"])
    (root / "0100" / "0100" / "e_1" / "flame_params.json").write_text(
        json.dumps(
            {"frames": [{"file_path": "./image/one"}], "shape_params": [0.0] * 100, "intrinsics": [1] * 4}
        )
    )
    with pytest.raises(DataError, match="no frame number"):
        check_subject_sequences(str(root), "0100", "flame_params.json", ["e_1"])


@pytest.mark.parametrize(
    ("names", "what"),
    [((2, 1), "not in increasing order"), ((2, 3), "start at 2"), ((1, 3), "gaps"), ((1, 1), "twice")],
)
def test_frames_not_numbered_1_to_n_warn_and_strict_refuses(tmp_path, names, what):
    root = tmp_path / "testset1"
    write_seq(root, "e_4", names=names)
    (warning,) = check_subject_sequences(str(root), "0100", "flame_params.json", ["e_4"])
    assert what in warning and "e_4/flame_params.json" in warning and "--strict" in warning
    with pytest.raises(DataError, match=f"{what}.*refused because of --strict"):
        check_subject_sequences(str(root), "0100", "flame_params.json", ["e_4"], strict=True)


def test_shape_or_intrinsics_differing_warn_naming_the_kept_sequence(tmp_path):
    root = tmp_path / "testset1"
    write_seq(root, "e_0")
    write_seq(root, "e_3", shape=1.0)
    write_seq(root, "e_5")
    warnings = check_subject_sequences(str(root), "0100", "flame_params.json", ["e_0", "e_3", "e_5"])
    # the loaders keep the LAST sequence's values (benchmark real_dataset.py:100): e_3 differs from e_5's
    assert (
        len(warnings) == 1 and "e_3/flame_params.json: shape_params differ from sequence e_5's" in warnings[0]
    )
    assert "keep the last sequence's (e_5) values" in warnings[0]
    warnings = check_subject_sequences(str(root), "0100", "flame_params.json", ["e_3", "e_0", "e_5"])
    assert len(warnings) == 1 and "e_3/" in warnings[0]
    with pytest.raises(DataError, match="refused because of --strict"):
        check_subject_sequences(str(root), "0100", "flame_params.json", ["e_0", "e_3"], strict=True)


def test_runner_parser_keeps_the_upstream_flags():
    from nesbench.upstream.runner_support import runner_parser

    opt = runner_parser("x", default_nepoch=62).parse_args(
        ["--conf", "c.conf", "--is_eval", "--sequences", "e_6"]
    )
    assert (opt.conf, opt.is_eval, opt.is_continue, opt.nepoch, opt.checkpoint) == (
        "c.conf",
        True,
        False,
        62,
        "latest",
    )
    assert (opt.sequences, opt.workdir) == ("e_6", ".")
