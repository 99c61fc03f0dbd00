from __future__ import annotations

import copy
import json
import re

import pytest

from nesbench.config import load_benchmark
from nesbench.metrics.spec import format_value
from nesbench.report.document import leaderboards, published_table

PROBE = """<script>
window.addEventListener('load', () => {
  const imgs = [...document.images];
  document.body.setAttribute('data-images', String(imgs.length));
  document.body.setAttribute('data-images-ok', String(imgs.filter(i => i.complete && i.naturalWidth > 0).length));
});
</script></body>"""


def test_leaderboard_marks_the_best_method_per_split(tiny_summary):
    bench = load_benchmark("synthetic_tiny")
    (board,) = [t for t in leaderboards(tiny_summary, bench) if t.title == "expression · unified"]
    psnr_col = next(i for i, h in enumerate(board.headers) if h.startswith("PSNR"))
    assert board.headers[psnr_col] == "PSNR ↑" and any(h == "L1 ↓" for h in board.headers)
    for split in ("e6_10_11", "e7_8_9", "all"):
        rows = [i for i, r in enumerate(board.rows) if r[0] == split]
        assert len(rows) == 3
        best = max(rows, key=lambda i: float(board.rows[i][psnr_col].split()[0]))  # "19.03 ±1.63"
        assert (best, psnr_col) in board.bold and sum((i, psnr_col) in board.bold for i in rows) == 1


def test_published_numbers_are_shown_for_renderme(tiny_summary):
    table = published_table(tiny_summary, load_benchmark("renderme360_nes"))
    assert table is not None and len(table.rows) == 6
    assert table.rows[0][:3] == ["IM Avatar", "speech", "normal"] and table.rows[0][4].startswith(
        "0.047 / not run"
    )


def test_a_published_row_of_unknown_scorer_is_compared_under_the_primary_scorer(tiny_summary):
    """Table 7's NeRFace rows say nothing of their scorer: ours are shown under the primary (unified) scorer."""
    summary = copy.deepcopy(tiny_summary)
    entry = next(e for e in summary["entries"] if e["level"] == "split" and e["scorer"] == "unified")
    summary["entries"].append({**entry, "method": "nerface", "protocol": "speech", "split": "normal"})
    table = published_table(summary, load_benchmark("renderme360_nes"))
    row = next(r for r in table.rows if r[0] == "NerFace" and r[2] == "normal")
    assert row[3] == "unknown (ours: unified)"
    psnr = table.headers.index("PSNR published / ours")
    assert row[psnr] == "20.46 / " + format_value(entry["metrics"]["psnr"], "psnr", small_as_exponent=True)
    hard = next(r for r in table.rows if r[0] == "NerFace" and r[2] == "hard")
    assert hard[psnr] == "18.89 / not run"


@pytest.mark.browser
def test_report_html_opens_in_headless_chromium_and_its_images_load(tiny_run, chromium_dom):
    html = (tiny_run / "report.html").read_text()
    assert not re.search(r'(src|href)="(https?:)?//', html)  # self-contained: no external resources
    dom = chromium_dom(html.replace("</body>", PROBE, 1))
    n = int(re.search(r'data-images="(\d+)"', dom).group(1))
    ok = int(re.search(r'data-images-ok="(\d+)"', dom).group(1))
    assert n >= 5 and ok == n  # the per-subject plot and every image grid decoded
    assert "expression · unified" in dom


def test_calculate_metric_infers_the_benchmark_and_writes_the_report(tiny_run, tmp_path, capsys):
    from nesbench.metrics.cli import main as calculate_metric

    assert calculate_metric(["--runs", str(tiny_run / "runs"), "--out", str(tmp_path), "--quiet"]) == 0
    assert "benchmark: synthetic_tiny" in capsys.readouterr().err
    assert (tmp_path / "report.html").is_file() and (tmp_path / "report.md").is_file()
    assert json.loads((tmp_path / "summary.json").read_text())["provenance"]["benchmark"] == "synthetic_tiny"


def test_report_states_the_inferences_and_every_run_s_settings(tiny_summary, tmp_path):
    import copy

    from nesbench.report.document import write_report

    bench = load_benchmark("renderme360_nes")
    summary = copy.deepcopy(tiny_summary)
    summary["provenance"]["runs"] = {
        "imavatar": {
            "speech/0100": {
                "confs": "benchmark tarball",
                "flame_distance_filter": {"on": True, "threshold": 5e-5, "skipped_steps": 3},
                "data_warnings": ["x"],
            }
        }
    }
    write_report(tmp_path, bench, summary)
    md = (tmp_path / "report.md").read_text()
    published = md.index("## Published numbers side by side")
    for note in bench.published_inferences:
        assert f"- {note}" in md and md.index(note) > published  # next to the published numbers
    assert "Protocol (inference)" in md and "IMavatar flame-distance filter (inference)" in md
    settings = md[md.index("## Run settings") :]
    cells = [
        [c.strip() for c in line.strip("|").split("|")]
        for line in settings.splitlines()
        if "| imavatar" in line
    ]
    assert cells == [
        [
            "imavatar",
            "speech",
            "1",
            "benchmark tarball",
            "on (> 5e-05), 3 steps skipped",
            "—",
            "1",
            "not recorded",
        ]
    ]
    html = (tmp_path / "report.html").read_text()
    assert "<h2>Run settings</h2>" in html and "IMavatar flame-distance filter (inference)" in html
