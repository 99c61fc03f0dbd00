"""Each scored run's recorded settings (method_info.json) in the results' provenance and the report (issue 15 item 7)."""

import json

from nesbench.upstream.run_settings import describe_filter, describe_speed, run_settings, settings_rows


def write_info(runs, method, protocol, subject, **info):
    path = runs / method / protocol / subject / "method_info.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"method": method, **info}))
    return path


def test_every_run_s_settings_are_collected_and_summarised(tmp_path):
    runs = tmp_path / "runs"
    on = {"on": True, "threshold": 5e-5, "skipped_steps": 12}
    write_info(
        runs,
        "imavatar",
        "speech",
        "0100",
        confs="benchmark tarball",
        flame_distance_filter=on,
        data_warnings=[],
    )
    write_info(
        runs,
        "imavatar",
        "speech",
        "0259",
        confs="generated from upstream examples",
        flame_distance_filter={"on": False, "threshold": 0.0},
        data_warnings=["a", "b"],
    )
    write_info(
        runs,
        "pointavatar",
        "speech",
        "0100",
        confs="benchmark tarball",
        flame_distance_filter=None,
        test_time_fitting=True,
        test_time_fitting_scope="split",
        data_warnings=[],
        speed={"train": {"tf32": "on"}, "eval": {"tf32": "on"}},
    )
    write_info(runs, "nearest", "speech", "0100", model="x")  # a baseline records none of these settings
    (write_info(runs, "pointavatar", "expression", "0100")).write_text("{not json")
    got = run_settings(runs, ["imavatar", "pointavatar", "nearest", "absent"], ["speech", "expression"])
    assert set(got) == {"imavatar", "pointavatar"}
    assert got["imavatar"]["speech/0100"]["flame_distance_filter"] == on
    assert got["imavatar"]["speech/0259"]["data_warnings"] == ["a", "b"]
    assert "unreadable" in got["pointavatar"]["expression/0100"]["error"]  # never skipped silently
    rows = {(r[0], r[1]): r for r in settings_rows(got)}
    im = rows["imavatar", "speech"]
    assert im[2] == "2" and im[6] == "2"
    assert im[3] == "benchmark tarball (1 jobs); generated from upstream examples (1 jobs)"
    assert im[4] == "on (> 5e-05), 12 steps skipped (1 jobs); off (1 jobs)"
    pa = rows["pointavatar", "speech"]
    assert pa[3:6] == ["benchmark tarball", "none (no such filter)", "on, split"]
    assert pa[7] == "on" and im[7] == "not recorded"  # TF32 of the run (nesbench.upstream.speed)
    assert "1 unreadable method_info.json" in rows["pointavatar", "expression"][6]


def test_describe_speed():
    assert (
        describe_speed({"train": {"tf32": "torch default"}, "eval": {"tf32": "torch default"}})
        == "torch default"
    )
    assert describe_speed({"train": {"tf32": "on"}, "eval": {"tf32": "off"}}) == "train on, render off"
    assert describe_speed({"train": None, "eval": {"tf32": "on"}}) == "train not recorded, render on"
    assert describe_speed(None) == "not recorded"


def test_describe_filter():
    assert describe_filter({"on": True, "threshold": 5e-5}) == "on (> 5e-05)"
    assert describe_filter({"on": False, "threshold": 0}) == "off"
    assert describe_filter(None) == "none (no such filter)"
