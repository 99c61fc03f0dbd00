"""The run report (report.md and report.html) built from summary.json: tables, image grids, the per-subject plot
and the "who beats whom" matrix. Read by `nesbench run`, `nesbench report` and `nesbench metrics`; it reads only the
results files, so it sits above both the pipeline and the metrics.

- :mod:`.document`: the tables, grids, plot and the two files (``write_report``, ``load_summary``).
- :mod:`.stats`: ± cells, whiskers and the comparison matrix.
"""
