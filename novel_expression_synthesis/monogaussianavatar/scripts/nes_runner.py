"""NES-Bench runner for MonoGaussianAvatar (installed into MonoGaussianAvatar/code/scripts/; run from code/).

MonoGaussianAvatar keeps PointAvatar's runners (same TrainRunner/TestRunner interface, checkpoint layout, final
checkpoint saved as epoch nepoch + 1, test-time fitting of expression/pose/camera at eval), so this is PointAvatar's
NES-Bench runner (nesbench.upstream.runner_support.point_runner_main) on MonoGaussianAvatar's classes:
- training does not chain into an eval run (eval is its own job); `--nepoch` is always passed by the harness
  (configs/methods/monogaussianavatar.conf; upstream's default of 600 is kept here only for a bare call);
- `--test-time-fitting on|off` and `--fitting-scope split|sequence` as for PointAvatar;
- the inline metric call (PointAvatar's utils/metrics.py) is skipped: the harness scores the renders.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nesbench.upstream import runner_support as rs  # noqa: E402

rs.disable_upstream_metrics()

from scripts.test import TestRunner  # noqa: E402
from scripts.train import TrainRunner  # noqa: E402


def main():
    return rs.point_runner_main(__doc__.splitlines()[0], 600, TrainRunner, TestRunner)


if __name__ == "__main__":
    sys.exit(main())
