"""Score predictions: `python calculate_metric.py [--benchmark NAME] [--protocol speech] ...` (benchmark mode) or
`python calculate_metric.py score --pred DIR --gt SEQ_DIR --scorer NAME --json OUT.json`. Same as `nesbench metrics`."""

from nesbench.metrics.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
