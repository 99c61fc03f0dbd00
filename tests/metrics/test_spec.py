"""The metric catalogue is the single source of every column; scorers register themselves once."""

from __future__ import annotations

import pytest

from nesbench.cli import build_parser
from nesbench.metrics import registry
from nesbench.metrics.benchmark_mode import CSV_METRICS
from nesbench.metrics.options import ScoringOptions
from nesbench.metrics.results_md import COLUMNS, DIGITS
from nesbench.metrics.spec import HEADLINE, METRICS, ORDER, MetricSpec, format_value, metric_specs
from nesbench.report.document import METRIC_ORDER
from nesbench.report.stats import MATRIX_METRICS


@pytest.mark.parametrize("name", registry.list_scorers())
def test_every_scorer_metric_comes_from_the_catalogue_in_its_order(name: str) -> None:
    scorer = registry.get_scorer(name)
    assert list(scorer.metrics) == [n for n in ORDER if n in scorer.metrics]
    for n, spec in scorer.metrics.items():
        base = METRICS[n]
        assert (spec.label, spec.higher_is_better, spec.digits, spec.aggregation) == (
            base.label,
            base.higher_is_better,
            base.digits,
            base.aggregation,
        )
        assert spec.description, f"{name}.{n} has no definition"


def test_outputs_derive_their_columns_from_the_catalogue() -> None:
    assert CSV_METRICS == ORDER  # frames.csv: every metric, so a new one cannot be left out
    assert COLUMNS == HEADLINE and set(DIGITS) == set(METRICS)
    assert tuple(METRIC_ORDER) == ORDER
    assert set(MATRIX_METRICS) <= set(METRICS)


def test_unknown_metric_or_aggregation_is_refused() -> None:
    with pytest.raises(KeyError, match="add them to"):
        metric_specs(sharpness="not in the catalogue")
    with pytest.raises(ValueError, match="aggregation"):
        MetricSpec("x", "X", True, 2, aggregation="median")


def test_formats_follow_the_spec() -> None:
    assert format_value(None, "psnr") == "n/a"
    assert format_value(31.234, "psnr") == "31.23"
    assert format_value(0.00012, "lpips") == "0.0001"
    assert format_value(0.00012, "lpips", small_as_exponent=True) == "1.20e-04"
    assert format_value(0.0, "lpips", small_as_exponent=True) == "0.0000"


def test_a_second_scorer_with_a_registered_name_is_refused() -> None:
    cls = type(registry.get_scorer("unified"))
    clash = type("Clash", (cls,), {})
    with pytest.raises(ValueError, match="registered twice"):
        registry.register_scorer(clash)
    assert registry.register_scorer(cls) is cls  # registering the same class again is harmless


def test_run_and_metrics_share_the_scoring_options() -> None:
    flags = ["--device", "cpu", "--batch-size", "4", "--gt-cache", "gc", "--decode-processes", "0"]
    parser = build_parser()
    run = ScoringOptions.from_args(parser.parse_args(["run", *flags]))
    metrics = ScoringOptions.from_args(parser.parse_args(["metrics", *flags]))
    score = ScoringOptions.from_args(
        parser.parse_args(["metrics", "score", "--pred", "p", "--gt", "g", "--scorer", "unified", *flags])
    )
    assert run == metrics == score == ScoringOptions("cpu", None, None, 4, "gc", 0)
