"""`metrics score --scorers A,B` scores the sequence with each scorer: the same records as one call per scorer."""

from __future__ import annotations

import json

from nesbench.cli import main


def test_several_scorers_give_the_single_scorer_records_as_a_list(tmp_path, mx, capsys) -> None:
    imgs = mx.make_sequence(tmp_path / "gt", n=2)
    for k, img in imgs.items():
        mx.write_png(tmp_path / "pred" / f"{k}.png", 0 * img + 3 + img // 2)
    base = ["metrics", "score", "--pred", str(tmp_path / "pred"), "--gt", str(tmp_path / "gt")]
    base += ["--device", "cpu", "--lpips-backbone", str(mx.STUB)]
    assert (
        main([*base, "--scorers", "unified,renderme-pointavatar", "--json", str(tmp_path / "both.json")]) == 0
    )
    assert main([*base, "--scorer", "unified", "--json", str(tmp_path / "u.json")]) == 0  # the old spelling
    assert main([*base, "--scorers", "renderme-pointavatar", "--json", str(tmp_path / "p.json")]) == 0
    both = json.loads((tmp_path / "both.json").read_text())
    singles = [json.loads((tmp_path / f"{n}.json").read_text()) for n in ("u", "p")]
    assert [r["scorer"] for r in both] == ["unified", "renderme-pointavatar"]
    assert [r["mean"] for r in both] == [r["mean"] for r in singles]
    assert main([*base, "--scorers", "unified,nope"]) == 1
    assert "unknown scorer 'nope'" in capsys.readouterr().err
