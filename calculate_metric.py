"""Score predictions: `python calculate_metric.py benchmark [--benchmark NAME] [--protocols speech] ...` or
`python calculate_metric.py score --pred DIR --gt SEQ_DIR --scorers NAME --json OUT.json`. Same as `nesbench metrics`
(the benchmark's spelling without an action, `python calculate_metric.py --protocol speech`, still works)."""

from nesbench.metrics.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
