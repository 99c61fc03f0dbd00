import pytest
from pyhocon import ConfigFactory

from nesbench.cli import main
from nesbench.config import load_benchmark
from nesbench.errors import ConfigError
from nesbench.upstream.checkout import ensure_checkout
from nesbench.upstream.confs import parse_overrides, write_conf


@pytest.fixture
def checkouts(mirror, tmp_path):
    out = {}
    for m in ("imavatar", "pointavatar"):
        pin = mirror[m]
        ensure_checkout(pin, tmp_path / "up" / pin.name, mirror=mirror["root"])
        out[m] = (pin, tmp_path / "up" / pin.name)
    return out


@pytest.mark.parametrize("method", ["imavatar", "pointavatar"])
def test_confs_for_every_subject_and_protocol(checkouts, tmp_path, method):
    bench = load_benchmark("renderme360_nes")
    pin, checkout = checkouts[method]
    for protocol, proto in bench.protocols.items():
        for subject in bench.subjects:
            path, _sha, _ = write_conf(pin, checkout, bench, subject, protocol, data_root=tmp_path / "data")
            c = ConfigFactory.parse_file(str(path))
            assert c.get("dataset.subject_name") == subject  # quoted: "0026" stays "0026"
            assert c.get_list("dataset.train.sub_dir") == list(proto.train)
            assert c.get_list("dataset.test.sub_dir") == list(proto.test_sequences)
            assert c.get_string("dataset.data_folder").endswith(f"data/{bench.testset_of(subject)}")
            assert c.get_string("train.methodname") == pin.methodname
            assert c.get_list("dataset.test.img_res") == [512, 512]
            assert c.get_string("train.dataset_class") == "datasets.nes_dataset.NesFaceDataset"
            exps = c.get_string("train.exps_folder")
            if method == "pointavatar" and protocol == "speech":
                assert exps.endswith("data/experiments/audio_audio_multiflame")
            else:
                assert exps.endswith(f"{pin.name}/data/experiments")
            if method == "imavatar":
                assert c.get_bool("loss.gt_w_seg") is True and c.get_float("nes.flame_distance_skip") > 0
    speech = ConfigFactory.parse_file(str(write_conf(pin, checkout, bench, "0100", "speech")[0]))
    assert "s_4" in speech.get_list("dataset.test.sub_dir") and "e_0" not in speech.get_list(
        "dataset.test.sub_dir"
    )


def test_confs_show_prints_one(checkouts, monkeypatch, capsys):
    pin, checkout = checkouts["imavatar"]
    monkeypatch.setenv("NESBENCH_UPSTREAM", str(checkout.parent))
    assert main(["confs", "show", "imavatar", "0026", "expression", "--set", "train.plot_freq=7"]) == 0
    out = capsys.readouterr().out
    c = ConfigFactory.parse_string(out)
    assert c.get("dataset.subject_name") == "0026" and c.get_int("train.plot_freq") == 7
    assert main(["confs", "show", "imavatar", "9999", "expression"]) == 1
    assert "9999" in capsys.readouterr().err


def test_set_values_keep_subject_ids_and_refuse_words_for_numbers(checkouts, tmp_path):
    got = parse_overrides(
        [
            "dataset.subject_name=0026",
            "nes.tag=0100",
            "loss.vgg_feature_weight=0",
            "train.learning_rate=1e-4",
            "dataset.train.img_res=[256, 256]",
            "loss.gt_w_seg=false",
        ]
    )
    assert got == {
        "dataset.subject_name": "0026",
        "nes.tag": "0100",
        "loss.vgg_feature_weight": 0,
        "train.learning_rate": 0.0001,
        "dataset.train.img_res": [256, 256],
        "loss.gt_w_seg": False,
    }
    for bad, match in (
        ("train.nepoch=abc", "train.nepoch takes a number"),
        ("dataset.test.subsample=[1", "not HOCON"),
        ("novalue", "expected KEY=VALUE"),
    ):
        with pytest.raises(ConfigError, match=match):
            parse_overrides([bad])
    pin, checkout = checkouts["imavatar"]
    bench = load_benchmark("renderme360_nes")
    path, _, _ = write_conf(pin, checkout, bench, "0026", "speech", got, tmp_path / "data")
    assert ConfigFactory.parse_file(str(path)).get("dataset.subject_name") == "0026"
    # a word where the base conf has a number (or a flag) is refused with the file named
    for key, value in (("loss.flame_distance_weight", "lots"), ("loss.gt_w_seg", "maybe")):
        with pytest.raises(ConfigError, match=f"--set {key}=.*IMavatar_supervised.conf"):
            write_conf(pin, checkout, bench, "0026", "speech", parse_overrides([f"{key}={value}"]))
    # unparsed strings that pyhocon converts on reading (the pipeline's --set) are accepted
    write_conf(
        pin, checkout, bench, "0026", "speech", {"loss.flame_distance_weight": "5", "loss.gt_w_seg": "true"}
    )
