from __future__ import annotations

from pathlib import Path

import pytest

from nesbench.config import list_benchmarks, load_benchmark
from nesbench.errors import ConfigError

TESTSET1 = ["0100", "0259", "0026", "0099", "0094", "0278", "0297", "0295", "0290", "0189"]
TESTSET2 = ["0041", "0168", "0253", "0250", "0175"]
TESTSET3 = ["0116", "0156", "0262", "0232", "0195", "0048"]


def test_renderme_subjects_are_21_quoted_strings():
    b = load_benchmark("renderme360_nes")
    assert b.testsets == {
        "testset1": tuple(TESTSET1),
        "testset2": tuple(TESTSET2),
        "testset3": tuple(TESTSET3),
    }
    assert len(b.subjects) == 21 and len(set(b.subjects)) == 21
    assert all(isinstance(s, str) and len(s) == 4 for s in b.subjects)
    assert "0026" in b.subjects and b.testset_of("0048") == "testset3"
    assert b.resolution == 512


def test_renderme_protocols_exact():
    b = load_benchmark("renderme360_nes")
    expr = b.protocol("expression")
    assert expr.train == ("e_0", "e_1", "e_2", "e_3", "e_4", "e_5")
    assert [(s.name, s.sequences) for s in expr.splits] == [
        ("e6_10_11", ("e_6", "e_10", "e_11")),
        ("e7_8_9", ("e_7", "e_8", "e_9")),
    ]
    assert expr.train_split == "e_0+e_1+e_2+e_3+e_4+e_5"
    sp = b.protocol("speech")
    assert sp.train == ("s_5", "s_6") and sp.train_split == "s_5+s_6"
    assert sp.split("normal").sequences == ("e_3", "e_4", "e_5", "e_7", "e_10", "e_11")
    assert sp.split("hard").sequences == ("e_1", "e_2", "e_6", "e_8", "e_9")
    assert sp.split("speech").sequences == ("s_4",)
    assert "e_0" not in sp.test_sequences and len(sp.test_sequences) == 12


def test_published_table7():
    b = load_benchmark("renderme360_nes")
    rows = {(r.method, r.split): r.values for r in b.published}
    assert rows[("imavatar", "normal")] == {"l1": 0.047, "psnr": 22.61, "ssim": 0.903, "lpips": 0.134}
    assert rows[("pointavatar", "hard")] == {"l1": 0.0055, "psnr": 25.05, "ssim": 0.883, "lpips": 0.086}
    assert rows[("nerface", "hard")]["psnr"] == 18.89
    assert len(b.published) == 6


def test_synthetic_benchmark_loads():
    assert {"renderme360_nes", "synthetic"} <= set(list_benchmarks())
    b = load_benchmark("synthetic")
    assert b.subjects == ("9001",)
    assert set(b.protocols) == {"expression", "speech"}


@pytest.mark.parametrize("name", [n for n in list_benchmarks() if n.startswith("synthetic")])
def test_synthetic_benchmarks_generate_into_the_cache(name, monkeypatch):
    """Generated data goes to the user cache (or $NESBENCH_DATA), never into the checkout: a conf that includes
    another must restate data_root (pyhocon drops a key whose optional ${?VAR} is unset inside an include)."""
    monkeypatch.delenv("NESBENCH_DATA", raising=False)
    b = load_benchmark(name)
    assert b.data_root_spec == "cache:synthetic"
    monkeypatch.setenv("NESBENCH_DATA", "/elsewhere")
    assert str(load_benchmark(name).data_root()) == "/elsewhere"


def test_a_synthetic_conf_that_loses_data_root_in_an_include_is_refused(tmp_path, monkeypatch):
    monkeypatch.delenv("NESBENCH_DATA", raising=False)
    smoke = load_benchmark("synthetic_smoke").source
    conf = tmp_path / "mine.conf"
    conf.write_text(f'include file("{smoke}")\nname = mine\nsynth {{ res = 64 }}\n')
    with pytest.raises(ConfigError, match=r"mine\.conf: a synthetic benchmark .* needs data_root; add"):
        load_benchmark(conf)
    conf.write_text(conf.read_text() + 'data_root = "cache:synthetic"\ndata_root = ${?NESBENCH_DATA}\n')
    assert load_benchmark(conf).data_root_spec == "cache:synthetic"


def test_synthetic_smoke512_is_smoke_at_512():
    small, big = load_benchmark("synthetic_smoke"), load_benchmark("synthetic_smoke512")
    assert (big.resolution, big.extra["synth"]["res"]) == (512, 512)
    assert big.extra["synth"]["frames"] == small.extra["synth"]["frames"] and big.subjects == small.subjects
    assert big.protocols == small.protocols


def test_resolve_subjects():
    b = load_benchmark("renderme360_nes")
    assert b.resolve_subjects("testset2") == TESTSET2
    assert b.resolve_subjects("0026,testset3") == ["0026", *TESTSET3]
    assert len(b.resolve_subjects(None)) == 21
    with pytest.raises(ConfigError, match="unknown subject or test set '26'"):
        b.resolve_subjects("26")


def _write(tmp_path: Path, body: str) -> Path:
    (tmp_path / "protocols").mkdir(exist_ok=True)
    p = tmp_path / "b.conf"
    p.write_text(body)
    return p


BASE = """
name = t
resolution = 64
sequences = ["e_0", "e_1"]
protocols { p { train = ["e_0"], splits { a = ["e_1"] } } }
"""


def test_unquoted_subject_id_is_rejected(tmp_path):
    p = _write(tmp_path, BASE + "testsets { testset1 = [0026] }\n")
    with pytest.raises(ConfigError, match=r'is not a string; quote it \("26"\)'):
        load_benchmark(p)


def test_protocol_with_unknown_sequence(tmp_path):
    p = _write(tmp_path, BASE.replace('a = ["e_1"]', 'a = ["e_9"]') + 'testsets { testset1 = ["0001"] }\n')
    with pytest.raises(ConfigError, match="uses sequence 'e_9'"):
        load_benchmark(p)


def test_path_traversal_in_names_is_rejected(tmp_path):
    p = _write(tmp_path, BASE + 'testsets { testset1 = ["../etc"] }\n')
    with pytest.raises(ConfigError, match="characters outside"):
        load_benchmark(p)


def test_unknown_benchmark_lists_available():
    with pytest.raises(ConfigError, match="available: .*renderme360_nes"):
        load_benchmark("nope")
