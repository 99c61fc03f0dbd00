"""What a metric column is: the single source of each metric's label, digits, order, direction and aggregation.

Every table, file and listing derives its columns from :data:`METRICS` (in this order): frames.csv, results.md,
report.md/html, the "who beats whom" matrix, the published-vs-ours table and `nesbench metrics list`. A scorer
declares which of these metrics it computes, each with its own definition (:func:`metric_specs`); a metric that is
not in the catalogue cannot be declared, so it can never be silently left out of an output. Importing this module
imports no torch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

AGGREGATIONS = ("mean",)  # frames -> sequence, sequences -> subject/split/protocol (docs/RESULTS_FORMAT.md)


@dataclass(frozen=True)
class MetricSpec:
    """One metric column.

    ``label``: column header in the report; ``short``: its label in the report's "who beats whom" matrix (None:
    not in the matrix); ``digits``: decimals printed; ``headline``: a column of results.md; ``published``: one of
    the published Table 7 columns (benchmark ``published`` rows, the published-vs-ours table); ``aggregation``:
    how frame values become sequence values and sequence values become aggregates (only 'mean' exists);
    ``description``: the scorer's definition (set per scorer by :func:`metric_specs`)."""

    name: str
    label: str
    higher_is_better: bool
    digits: int
    headline: bool = True
    short: str | None = None
    published: bool = False
    aggregation: str = "mean"
    description: str = ""

    def __post_init__(self) -> None:
        if self.aggregation not in AGGREGATIONS:
            raise ValueError(
                f"metric {self.name}: aggregation {self.aggregation!r}; expected one of {AGGREGATIONS}"
            )

    def format(self, value: float | None, small_as_exponent: bool = False) -> str:
        """``value`` with the metric's decimals ('n/a' for None/NaN); ``small_as_exponent``: values below 1e-3
        (other than 0) of 4-decimal metrics as ``1.23e-04`` (the report's rule; results.md keeps decimals)."""
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return "n/a"
        if small_as_exponent and self.digits == 4 and not (abs(value) >= 1e-3 or value == 0):
            return f"{value:.2e}"
        return f"{value:.{self.digits}f}"


def _catalogue(*specs: MetricSpec) -> dict[str, MetricSpec]:
    return {s.name: s for s in specs}


METRICS: dict[str, MetricSpec] = _catalogue(
    MetricSpec("l1", "L1", False, 4, short="L1", published=True),
    MetricSpec("mae", "MAE", False, 4, headline=False),
    MetricSpec("mse", "MSE", False, 4, headline=False),
    MetricSpec("psnr", "PSNR", True, 2, short="PSNR", published=True),
    MetricSpec("ssim", "SSIM", True, 4, short="SSIM", published=True),
    MetricSpec("lpips", "LPIPS", False, 4, short="LPIPS", published=True),
    MetricSpec("keypoint", "KP err", False, 2, short="KP", published=True),
    MetricSpec("keypoint_dlib", "keypoint_dlib", False, 2),
)
ORDER = tuple(METRICS)  # column order everywhere
HEADLINE = tuple(n for n, s in METRICS.items() if s.headline)  # results.md
MATRIX = tuple(n for n, s in METRICS.items() if s.short)  # the report's "who beats whom" marks
PUBLISHED = tuple(n for n, s in METRICS.items() if s.published)  # published Table 7 columns
PUBLISHED_COMPARED = (
    "l1",
    "psnr",
    "ssim",
    "lpips",
)  # the published-vs-ours tables (keypoints: FAN, not run here)


def metric(name: str) -> MetricSpec:
    """The catalogue entry of ``name`` (KeyError naming the known metrics otherwise)."""
    try:
        return METRICS[name]
    except KeyError:
        raise KeyError(f"unknown metric {name!r}; known: {', '.join(METRICS)}") from None


def metric_specs(**descriptions: str) -> dict[str, MetricSpec]:
    """A scorer's metrics: each named metric of the catalogue with the scorer's definition, in catalogue order."""
    unknown = [n for n in descriptions if n not in METRICS]
    if unknown:
        raise KeyError(f"unknown metric(s) {', '.join(unknown)}; add them to nesbench.metrics.spec.METRICS")
    return {n: replace(METRICS[n], description=descriptions[n]) for n in ORDER if n in descriptions}


def label(name: str) -> str:
    """Report column label of a metric (its name when not in the catalogue)."""
    return METRICS[name].label if name in METRICS else name


def short_label(name: str) -> str:
    """Label of a metric in the report's matrix and comparison tables (its name when it has none)."""
    spec = METRICS.get(name)
    return spec.short if spec and spec.short else name


def format_value(value: float | None, name: str, small_as_exponent: bool = False) -> str:
    """:meth:`MetricSpec.format` of metric ``name`` (4 decimals for a metric not in the catalogue)."""
    spec = METRICS.get(name) or MetricSpec(name, name, False, 4)
    return spec.format(value, small_as_exponent)
