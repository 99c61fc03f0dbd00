"""NES-Bench runner for PointAvatar (installed into PointAvatar/code/scripts/; run from code/).

Differences from upstream scripts/exp_runner.py, all explicit:
- training does not chain into an eval run (eval is its own job);
- test-time fitting (20 SparseAdam steps per batch on expression/pose/camera against the GT test images, upstream
  behaviour whenever optimize_expression/optimize_camera is set) is the option `--test-time-fitting on|off`;
- `--fitting-scope split` (default, the benchmark's scripts/test.py:96-182): ONE TestRunner over the whole test
  split of the conf, so one SparseAdam fits every frame of every test sequence and its per-tensor step count
  carries across sequences; `--fitting-scope sequence`, or fitting off: one TestRunner per test sequence (a conf of
  its own each), a fresh optimizer each time. Every sequence (s_4 included) is rendered and marked done; none
  depends on the benchmark overlay's `e_11` folder-name replacement;
- TestInputParameters fitted for other sequences or another epoch are deleted before fitting;
- PointAvatar's inline metric call is skipped: the harness scores the renders (calculate_metric.py).
The logic is shared with MonoGaussianAvatar's runner (nesbench.upstream.runner_support.point_runner_main).
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nesbench.upstream import runner_support as rs  # noqa: E402

rs.disable_upstream_metrics()

from scripts.test import TestRunner  # noqa: E402
from scripts.train import TrainRunner  # noqa: E402


def main():
    return rs.point_runner_main(__doc__.splitlines()[0], 62, TrainRunner, TestRunner)


if __name__ == "__main__":
    sys.exit(main())
