"""The benchmark tarball's own confs (data/conf/audio_audio_multiflame/) as the base of the job's conf (issue 15 item 1).

The tarball is not public: the confs here are written in its layout, with each method's upstream key set
(IM code/confs/IMavatar_supervised.conf, PA code/confs/subject1.conf) and values the harness would not generate."""

import pytest
from pyhocon import ConfigFactory

from nesbench.cli import main
from nesbench.config import load_benchmark
from nesbench.errors import ConfigError
from nesbench.upstream import tarball_confs
from nesbench.upstream.checkout import ensure_checkout
from nesbench.upstream.confs import build_job_conf, write_conf

IMAVATAR_CONF = """train {
  exps_folder = ../data/experiments/
  methodname = IMavatar
  dataset_class = datasets.real_dataset.FaceDataset
  model_class = model.implicit_morphable_model.IMavatar
  loss_class = model.loss.Loss
  learning_rate = 2.0e-4
  plot_freq = 25
  sched_milestones = [200, 250]
}
plot { plot_nimgs = 2, max_depth = 6.0, min_depth = 3.0, res_init = 32, res_up = 3 }
loss { mask_weight = 100.0, flame_distance_weight = 10000.0, gt_w_seg = True }
dataset {
  data_folder = ../data/datasets/testset1
  subject_name = "SUBJECT"
  json_name = flame_params.json
  train { sub_dir = [s_5, s_6], img_res = [256, 256], subsample = 2 }
  test { sub_dir = TEST, img_res = [256, 256], subsample = 200 }
}
model {
  feature_vector_size = 256
  ray_tracer { object_bounding_sphere = 1.2, n_steps = 100 }
  deformer_class = model.deformer_network.ForwardDeformer
}
"""

POINTAVATAR_CONF = """train {
  exps_folder = ../data/experiments/audio_audio_multiflame
  methodname = pointavatar
  dataset_class = datasets.real_dataset.FaceDataset
  learning_rate = 1.0e-4
  max_points_training = 819200
  upsample_freq = 5
  sched_milestones = [40, 60]
}
loss { mask_weight = 1.0, vgg_feature_weight = 0.1, sdf_consistency_weight = 1.0 }
dataset {
  data_folder = ../data/datasets/testset1
  subject_name = "SUBJECT"
  json_name = flame_params.json
  canonical_pose = 0.4
  train { sub_dir = [s_5, s_6], img_res = [512, 512], subsample = 1, load_images = True }
  test { sub_dir = TEST, img_res = [512, 512], subsample = 1, load_images = False }
}
model { prune_thresh = 0.5, point_cloud { n_init_points = 400, max_points = 409600 } }
"""

TEXT = {"imavatar": IMAVATAR_CONF, "pointavatar": POINTAVATAR_CONF}


def write_tarball_conf(data_root, method, subject, test=None, name=None, text=None):
    """A conf in the tarball's layout: <data>/conf/audio_audio_multiflame/<name>, next to <data>/datasets."""
    folder = tarball_confs.confs_dir(data_root)
    folder.mkdir(parents=True, exist_ok=True)
    body = (text or TEXT[method]).replace("SUBJECT", subject)
    body = body.replace("TEST", "[" + ", ".join(test or ["e_11", "s_4"]) + "]")
    path = folder / (name or f"{method}_{subject}.conf")
    path.write_text(body)
    return path


@pytest.fixture
def checkouts(mirror, tmp_path):
    out = {}
    for m in ("imavatar", "pointavatar"):
        pin = mirror[m]
        ensure_checkout(pin, tmp_path / "up" / pin.name, mirror=mirror["root"])
        out[m] = (pin, tmp_path / "up" / pin.name)
    return out


def test_the_method_is_told_from_the_keys(tmp_path):
    data = tmp_path / "data" / "datasets"
    im = write_tarball_conf(data, "imavatar", "0100")
    pa = write_tarball_conf(data, "pointavatar", "0100")
    assert tarball_confs.detect_method(tarball_confs.parse_conf(im), im) == "imavatar"
    assert tarball_confs.detect_method(tarball_confs.parse_conf(pa), pa) == "pointavatar"
    both = write_tarball_conf(
        data, "imavatar", "0026", text=IMAVATAR_CONF + "model { point_cloud { n = 1 } }\n"
    )
    with pytest.raises(
        ConfigError, match=r"ambiguous conf: it has IMavatar keys .* and PointAvatar keys"
    ) as e:
        tarball_confs.detect_method(tarball_confs.parse_conf(both), both)
    assert str(both) in str(e.value) and "\n" not in str(e.value)
    neither = write_tarball_conf(data, "imavatar", "0026", text='dataset { subject_name = "0026" }\n')
    with pytest.raises(ConfigError, match="neither an IMavatar nor a PointAvatar conf"):
        tarball_confs.detect_method(tarball_confs.parse_conf(neither), neither)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("train { methodname = \n", "not a valid HOCON conf"),
        (IMAVATAR_CONF.replace('"SUBJECT"', "0100"), r'is a number .* quote it, e.g. subject_name = "0100"'),
        (IMAVATAR_CONF.replace('subject_name = "SUBJECT"', ""), "no dataset.subject_name"),
    ],
)
def test_a_bad_conf_in_the_folder_is_one_line_naming_it(tmp_path, text, match):
    data = tmp_path / "data" / "datasets"
    bad = write_tarball_conf(data, "imavatar", "0100", text=text, name="broken.conf")
    with pytest.raises(ConfigError, match=match) as e:
        tarball_confs.find(tarball_confs.confs_dir(data), "imavatar", "0100")
    assert str(e.value).startswith(str(bad)) and "\n" not in str(e.value)


def test_a_method_the_benchmark_did_not_run_gets_generated_confs(tmp_path):
    data = tmp_path / "data" / "datasets"
    write_tarball_conf(data, "pointavatar", "0100", text="broken = [")  # not even read for such a method
    choice = tarball_confs.choose(data, "monogaussianavatar", "0100")
    assert (
        choice.source == "generated from upstream examples"
        and "no confs for monogaussianavatar" in choice.note
    )
    with pytest.raises(ConfigError, match="confs for imavatar, pointavatar only"):
        tarball_confs.choose(data, "monogaussianavatar", "0100", "tarball")


def test_two_confs_for_one_subject_are_refused(tmp_path):
    data = tmp_path / "data" / "datasets"
    write_tarball_conf(data, "imavatar", "0100", name="a.conf")
    write_tarball_conf(data, "imavatar", "0100", name="b.conf")
    write_tarball_conf(data, "pointavatar", "0100", name="c.conf")  # another method's conf is not a duplicate
    with pytest.raises(
        ConfigError, match="b.conf: a second imavatar conf for subject 0100 .also a.conf.; keep one"
    ):
        tarball_confs.find(tarball_confs.confs_dir(data), "imavatar", "0100")
    assert tarball_confs.find(tarball_confs.confs_dir(data), "pointavatar", "0100").name == "c.conf"


@pytest.mark.parametrize("method", ["imavatar", "pointavatar"])
def test_a_tarball_conf_is_the_base_and_only_machine_keys_are_rewritten(checkouts, tmp_path, method):
    bench = load_benchmark("renderme360_nes")
    pin, checkout = checkouts[method]
    data = tmp_path / "data" / "datasets"
    proto = bench.protocol("speech")
    shuffled = list(reversed(proto.test_sequences))  # the same sequences in the tarball's own order
    src = write_tarball_conf(data, method, "0100", test=shuffled)
    write_tarball_conf(data, "pointavatar" if method == "imavatar" else "imavatar", "0100")  # other method's
    job = build_job_conf(pin, checkout, bench, "0100", "speech", data_root=data)
    c = job.conf
    assert job.choice.source == "benchmark tarball" and job.choice.path == src
    # rewritten: this machine's paths, the method name, the splits (test order kept), the runner keys
    assert c.get_string("dataset.data_folder") == str((data / "testset1").resolve())
    assert c.get_string("train.exps_folder").startswith(str(checkout.resolve()))
    assert c.get_string("train.methodname") == pin.methodname
    assert c.get("dataset.subject_name") == "0100"
    assert c.get_list("dataset.train.sub_dir") == ["s_5", "s_6"]
    assert c.get_list("dataset.test.sub_dir") == shuffled
    assert c.get_string("train.dataset_class") == "datasets.nes_dataset.NesFaceDataset"
    assert c.get_int("dataset.test.subsample") == 1  # FIDELITY R14
    # kept: every value of the benchmark's conf the harness would have set otherwise
    tpl_res = 256 if method == "imavatar" else 512
    assert c.get_list("dataset.train.img_res") == [tpl_res, tpl_res]
    assert c.get_list("train.sched_milestones") == ([200, 250] if method == "imavatar" else [40, 60])
    if method == "imavatar":
        assert c.get_int("dataset.train.subsample") == 2 and c.get_float("train.learning_rate") == 2.0e-4
        assert c.get_float("nes.flame_distance_skip") == 5e-5  # the benchmark's hard-coded train.py rule
        assert "model.ray_tracer.n_steps" in tarball_confs.flat(c)
    else:
        assert (
            c.get_bool("dataset.test.load_images") is False and c.get_float("dataset.canonical_pose") == 0.4
        )
        assert "nes.flame_distance_skip" not in tarball_confs.flat(c)
    assert set(job.choice.rewritten) >= {
        "dataset.data_folder",
        "train.exps_folder",
        "train.dataset_class",
    }
    if method == "imavatar":
        assert (
            "dataset.test.subsample" in job.choice.rewritten
            and "dataset.train.img_res" not in job.choice.rewritten
        )
        assert (
            "- dataset.train.img_res = [512, 512]" in job.diff
            and "+ dataset.train.img_res = [256, 256]" in job.diff
        )
    assert "+ dataset.test.sub_dir = " + repr(shuffled) in job.diff
    prov = job.provenance()
    assert (
        prov["confs"] == "benchmark tarball"
        and prov["conf_base"] == str(src)
        and prov["conf_diff"] == job.diff
    )


def test_without_a_tarball_conf_the_conf_is_generated_and_says_why(checkouts, tmp_path):
    bench = load_benchmark("renderme360_nes")
    pin, checkout = checkouts["imavatar"]
    data = tmp_path / "data" / "datasets"
    job = build_job_conf(pin, checkout, bench, "0100", "speech", data_root=data)
    assert job.choice.source == "generated from upstream examples" and "not found" in job.choice.note
    write_tarball_conf(data, "imavatar", "0026")
    job = build_job_conf(pin, checkout, bench, "0100", "speech", data_root=data)
    assert job.choice.source == "generated from upstream examples"
    assert "has no imavatar conf for subject 0100" in job.choice.note and job.diff == []
    with pytest.raises(
        ConfigError, match='no imavatar conf with dataset.subject_name = "0100".*--confs generated'
    ):
        build_job_conf(pin, checkout, bench, "0100", "speech", data_root=data, confs="tarball")
    write_tarball_conf(data, "imavatar", "0100")
    assert (
        build_job_conf(pin, checkout, bench, "0100", "speech", data_root=data).choice.source
        == "benchmark tarball"
    )
    generated = build_job_conf(pin, checkout, bench, "0100", "speech", data_root=data, confs="generated")
    assert (
        generated.choice.source == "generated from upstream examples"
        and generated.choice.note == "--confs generated"
    )


def test_set_overrides_apply_on_top_of_a_tarball_conf(checkouts, tmp_path):
    bench = load_benchmark("renderme360_nes")
    pin, checkout = checkouts["pointavatar"]
    data = tmp_path / "data" / "datasets"
    write_tarball_conf(data, "pointavatar", "0259", test=["e_1"])  # not the protocol's test list: replaced
    path, _sha, job = write_conf(pin, checkout, bench, "0259", "speech", {"dataset.test.subsample": 5}, data)
    c = ConfigFactory.parse_file(str(path))
    assert c.get_int("dataset.test.subsample") == 5 and c.get_list("dataset.test.sub_dir") == list(
        bench.protocol("speech").test_sequences
    )
    with pytest.raises(ConfigError, match="has a number there"):
        build_job_conf(pin, checkout, bench, "0259", "speech", {"train.learning_rate": "fast"}, data)


def test_confs_show_prints_the_source_and_the_diff(checkouts, tmp_path, monkeypatch, capsys):
    pin, checkout = checkouts["imavatar"]
    monkeypatch.setenv("NESBENCH_UPSTREAM", str(checkout.parent))
    data = tmp_path / "data" / "datasets"
    src = write_tarball_conf(data, "imavatar", "0026")
    assert main(["upstream", "confs", "show", "imavatar", "0026", "speech", "--data", str(data)]) == 0
    out = capsys.readouterr().out
    c = ConfigFactory.parse_string(out)  # still one HOCON conf: the provenance lines are comments
    assert c.get_list("dataset.test.img_res") == [256, 256]
    assert f"# confs: benchmark tarball ({src})" in out
    assert "# diff against the conf generated from upstream examples" in out
    assert (
        "#   + dataset.test.img_res = [256, 256]" in out and "#   - dataset.test.img_res = [512, 512]" in out
    )
    assert (
        main(["confs", "show", "imavatar", "0026", "speech", "--data", str(data), "--confs", "generated"])
        == 0
    )
    out = capsys.readouterr().out
    assert "# confs: generated from upstream examples" in out and "diff against" not in out
    write_tarball_conf(data, "imavatar", "0026", text="x = [", name="zz.conf")
    assert main(["upstream", "confs", "show", "imavatar", "0026", "speech", "--data", str(data)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "zz.conf: not a valid HOCON conf" in err[0]
