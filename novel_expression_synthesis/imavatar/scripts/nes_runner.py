"""NES-Bench runner for IMavatar (installed into IMavatar/code/scripts/; run from code/).

Differences from upstream scripts/exp_runner.py, all explicit:
- the RenderMe-360 flame_distance step filter is an option read from the conf (`nes.flame_distance_skip`, 0 = off);
  it applies from the second epoch of a run, like the benchmark overlay, is skipped (and logged) when the loss has no
  flame_distance term, and every skipped step is counted in nes_train_done.json;
- training stops right after the checkpoint of epoch `nepoch` is saved, the one the benchmark evaluates (its eval.sh
  renders `latest` = the checkpoint saved at the start of epoch `nepoch`, after `nepoch` trained epochs; upstream's
  loop then trains that epoch once more without saving it). That checkpoint is always also saved as `<nepoch>.pth`;
- eval renders one test sequence at a time (`--sequences`), each with its own conf, and marks it done;
- speed-ups and TF32 are read from $NESBENCH_SPEEDUPS / $NESBENCH_TF32 (nesbench.upstream.speed) and recorded in
  both done-markers.
"""

import contextlib
import os
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scripts.test import TestRunner  # noqa: E402
from scripts.train import TrainRunner  # noqa: E402

from nesbench.data.layout import epoch_dir  # noqa: E402
from nesbench.upstream import runner_support as rs  # noqa: E402
from nesbench.upstream import speed  # noqa: E402


class _FinalCheckpointSaved(Exception):
    """Raised after the checkpoint of epoch nepochs is saved: the rest of that epoch would not be saved anywhere."""


class NesTrainRunner(TrainRunner):
    def __init__(self, speed_settings=None, **kwargs):
        self.nes_speed = speed_settings or {}
        conf = rs.load_conf(kwargs["conf"])
        self.nes_skip_threshold = float(conf.get_float("nes.flame_distance_skip", 0.0))
        self.nes_skipped = Counter()
        self.nes_filter_inactive = Counter()
        super().__init__(**kwargs)
        self.nes_first_epoch = self.start_epoch

    def nes_skip_step(self, loss_output, epoch):
        if self.nes_skip_threshold <= 0 or epoch < self.nes_first_epoch + 1:
            return False
        if "flame_distance_loss" not in loss_output:
            self.nes_filter_inactive[epoch] += 1
            return False
        if float(loss_output["flame_distance_loss"]) > self.nes_skip_threshold:
            self.nes_skipped[epoch] += 1
            return True
        return False

    def save_checkpoints(self, epoch, only_latest=False):
        final = epoch == self.nepochs
        super().save_checkpoints(epoch, only_latest=only_latest and not final)
        if final:
            raise _FinalCheckpointSaved()

    def run(self):
        with contextlib.suppress(_FinalCheckpointSaved):
            super().run()
        for epoch in sorted(set(self.nes_skipped) | set(self.nes_filter_inactive)):
            print(
                f"[nesbench] epoch {epoch}: {self.nes_skipped[epoch]} steps skipped by the flame_distance filter, "
                f"{self.nes_filter_inactive[epoch]} steps without a flame_distance term",
                flush=True,
            )
        final = self.nepochs
        rs.write_marker(
            Path(self.train_dir) / rs.TRAIN_DONE,
            {
                "final_epoch": final,
                "nepochs": self.nepochs,
                "flame_distance_skip": self.nes_skip_threshold,
                "skipped_steps": {str(k): v for k, v in sorted(self.nes_skipped.items())},
                "steps_without_flame_distance": {
                    str(k): v for k, v in sorted(self.nes_filter_inactive.items())
                },
                "speed": self.nes_speed,
            },
        )


def evaluate(opt, speed_settings=None):
    conf = rs.load_conf(opt.conf)
    for seq in rs.test_sequences(opt.conf, opt.sequences):
        runner_conf = rs.sequence_conf(opt.conf, seq, Path(opt.workdir) / f"eval_{seq}.conf")
        runner = TestRunner(conf=str(runner_conf), checkpoint=opt.checkpoint, load_path="", only_json=False)
        runner.run()
        out = epoch_dir(Path(runner.eval_dir) / seq, runner.start_epoch)
        frames = sorted(int(p.stem) for p in (out / "rgb").glob("*.png"))
        rs.write_marker(
            out / rs.EVAL_DONE,
            {
                "sequence": seq,
                "epoch": int(runner.start_epoch),
                "frames": len(frames),
                "prediction": "rgb",
                "method": conf.get_string("train.methodname"),
                "speed": speed_settings or {},
            },
        )
        print(f"[nesbench] {seq}: {len(frames)} frames rendered into {out}", flush=True)


def main():
    p = rs.runner_parser(__doc__.splitlines()[0], default_nepoch=1000)
    opt = p.parse_args()
    rs.seed_everything()
    settings = speed.configure()
    print(f"[nesbench] speed settings: {settings}", flush=True)
    os.environ.setdefault("WANDB_MODE", "disabled")
    if opt.is_eval:
        evaluate(opt, settings)
    else:
        NesTrainRunner(
            speed_settings=settings,
            conf=opt.conf,
            nepochs=opt.nepoch,
            checkpoint=opt.checkpoint,
            is_continue=opt.is_continue,
            load_path="",
            wandb_workspace=None,
        ).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
