"""The report's error bars: ± cells, the who-beats-whom matrix, whiskers; checked in headless Chromium."""

from __future__ import annotations

import re

import pytest

from nesbench.config import load_benchmark
from nesbench.metrics.stats import StatsConfig
from nesbench.report.document import leaderboards
from nesbench.report.stats import beats_matrices, whisker

PROBE = """<script>
window.addEventListener('load', () => {
  const b = document.body, q = s => [...document.querySelectorAll(s)];
  b.setAttribute('data-matrices', String(q('table.beats').length));
  const win = q('table.beats td.win')[0];
  b.setAttribute('data-win-bg', win ? getComputedStyle(win).backgroundColor : 'none');
  b.setAttribute('data-win-title', win ? win.title : '');
  b.setAttribute('data-pm-cells', String(q('td').filter(td => /\\d ±\\d/.test(td.textContent)).length));
  const imgs = [...document.images];
  b.setAttribute('data-images-ok', String(imgs.filter(i => i.complete && i.naturalWidth > 0).length === imgs.length));
});
</script></body>"""


def test_leaderboard_cells_carry_the_interval_half_width(tiny_summary):
    (board,) = [
        t
        for t in leaderboards(tiny_summary, load_benchmark("synthetic_tiny"))
        if t.title == "expression · unified"
    ]
    col = next(i for i, h in enumerate(board.headers) if h.startswith("PSNR"))
    row = next(i for i, r in enumerate(board.rows) if r[:2] == ["all", "linear-expression"])
    (e,) = [
        e
        for e in tiny_summary["entries"]
        if (e["method"], e["protocol"], e["scorer"], e["level"])
        == ("linear-expression", "expression", "unified", "protocol")
    ]
    lo, hi = e["stats"]["psnr"]["ci"]
    assert board.rows[row][col] == f"{e['metrics']['psnr']:.2f} ±{(hi - lo) / 2:.2f}"


def test_matrix_is_antisymmetric_and_matches_the_stored_verdicts(tiny_summary):
    (mx,) = beats_matrices(tiny_summary, ["expression"], "unified")
    assert mx.metrics[:3] == ["l1", "psnr", "ssim"] and set(mx.methods) == {
        "linear-expression",
        "mean-image",
        "nearest-expression",
    }
    flip = str.maketrans("▲▼", "▼▲")
    for i in range(len(mx.methods)):
        assert mx.cells[i][i]["cls"] == "self"
        for j in range(len(mx.methods)):
            if i != j:
                assert mx.cells[i][j]["text"] == mx.cells[j][i]["text"].translate(flip)
    (stored,) = [
        c
        for c in tiny_summary["comparisons"]
        if c["protocol"] == "expression"
        and c["scorer"] == "unified"
        and c["split"] is None
        and {c["method_a"], c["method_b"]} == {"linear-expression", "mean-image"}
    ]
    i, j = mx.methods.index(stored["method_a"]), mx.methods.index(stored["method_b"])
    symbol = {"better": "▲", "worse": "▼", "n.s.": "=", "too few": "·"}
    assert mx.cells[i][j]["text"][1] == symbol[stored["metrics"]["psnr"]["verdict"]]
    assert "| row vs column" in mx.markdown()


def test_whisker_is_the_bootstrap_interval_of_the_subjects_sequences(tiny_summary):
    seqs = [
        e
        for e in tiny_summary["entries"]
        if (e["method"], e["protocol"], e["scorer"], e["level"])
        == ("mean-image", "expression", "unified", "sequence")
    ]
    mean, lo, hi = whisker(seqs, "psnr", StatsConfig())
    (proto,) = [
        e
        for e in tiny_summary["entries"]
        if (e["method"], e["protocol"], e["scorer"], e["level"])
        == ("mean-image", "expression", "unified", "protocol")
    ]
    assert mean == pytest.approx(proto["metrics"]["psnr"]) and [lo, hi] == proto["stats"]["psnr"]["ci"]


def test_report_md_has_the_matrix_and_the_interval_note(tiny_run):
    md = (tiny_run / "report.md").read_text()
    assert "## Who beats whom" in md and "### expression · unified · marks: L1 PSNR SSIM" in md
    assert "± is half the width of the 95% bootstrap interval of the mean" in md
    assert re.search(r"\| linear-expression\s+\|.*▲", md)


@pytest.mark.browser
def test_matrix_and_intervals_render_in_headless_chromium(tiny_run, chromium_dom):
    dom = chromium_dom((tiny_run / "report.html").read_text().replace("</body>", PROBE, 1))
    attr = dict(re.findall(r'data-([a-z-]+)="([^"]*)"', dom))
    assert attr["matrices"] == "2"  # one per protocol
    assert attr["win-bg"] == "rgb(227, 243, 227)"  # the stylesheet applies: a win is green
    assert "PSNR: better" in attr["win-title"] and "p_adj" in attr["win-title"]
    assert int(attr["pm-cells"]) > 50 and attr["images-ok"] == "true"


def test_per_split_comparisons_are_in_both_reports(tiny_run, tiny_summary):
    from nesbench.report.document import comparison_tables

    (expr, _) = comparison_tables(tiny_summary, load_benchmark("synthetic_tiny"))
    assert expr.title == "expression · unified · paired comparisons per split"
    assert [r[0] for r in expr.rows] == ["e6_10_11"] * 3 + ["e7_8_9"] * 3 + ["all"] * 3
    assert all(r[4].startswith("·") for r in expr.rows[:6])  # 3 sequences per split: fewer than min_pairs
    assert "paired comparisons per split" in (tiny_run / "report.html").read_text()
    assert "### expression · unified · paired comparisons per split" in (tiny_run / "report.md").read_text()
