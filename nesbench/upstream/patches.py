"""Named, idempotent compatibility patches applied to upstream checkouts (docs/UPSTREAM.md, section 2).

Each patch is a short list of exact text edits written by this project (the upstream line it expects and the line
that replaces it), so `nesbench upstream status` can tell for every patch whether it is applied, pending, or
conflicting (the upstream file does not hold the expected text: wrong commit or edited by hand).
Build steps that are not text edits (libmise) live in :mod:`nesbench.upstream.builds`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path

from nesbench.errors import AssetError
from nesbench.fsutil import write_text_atomic

APPLIED, PENDING, CONFLICT = "applied", "pending", "conflict"


@dataclass(frozen=True)
class Edit:
    """Replace ``old`` by ``new`` in ``path`` (relative to the checkout's code/ folder).

    ``regex=True``: ``old`` is a pattern that must not match once applied; ``new`` is its replacement and ``done``
    a substring proving the edit is in place.
    """

    path: str
    old: str
    new: str
    count: int = 1
    regex: bool = False
    done: str = ""

    def state(self, text: str) -> str:
        if self.regex:
            n = len(re.findall(self.old, text))
            if n == 0:
                return APPLIED if self.done in text else CONFLICT
            return PENDING if n == self.count else CONFLICT
        if text.count(self.new) >= self.count and (self.old in self.new or self.old not in text):
            return APPLIED
        return PENDING if text.count(self.old) == self.count else CONFLICT

    def apply(self, text: str) -> str:
        if self.regex:
            return re.sub(self.old, self.new, text)
        return text.replace(self.old, self.new)


@dataclass(frozen=True)
class Patch:
    name: str
    method: str
    summary: str
    edits: tuple[Edit, ...] = field(default_factory=tuple)

    def state(self, code_dir: Path) -> str:
        states = set()
        for e in self.edits:
            p = code_dir / e.path
            states.add(e.state(p.read_text(encoding="utf-8")) if p.is_file() else CONFLICT)
        if states == {APPLIED}:
            return APPLIED
        return CONFLICT if CONFLICT in states else PENDING

    def apply(self, code_dir: Path) -> str:
        """Apply every pending edit; returns the state before. Raises AssetError on a conflict."""
        before = self.state(code_dir)
        if before == CONFLICT:
            bad = [
                e.path
                for e in self.edits
                if not (code_dir / e.path).is_file()
                or e.state((code_dir / e.path).read_text(encoding="utf-8")) == CONFLICT
            ]
            raise AssetError(
                f"{code_dir / bad[0]}: patch {self.name!r} does not match this file (not the pinned commit, or edited "
                "by hand); re-create the checkout with `bash setup.sh --methods "
                f"{self.method} --force`"
            )
        if before == PENDING:
            for e in self.edits:
                p = code_dir / e.path
                text = p.read_text(encoding="utf-8")
                if e.state(text) == PENDING:
                    write_text_atomic(p, e.apply(text))
        return before


TORCH_LOAD = Edit(
    "",
    r"torch\.load\((?!weights_only)",
    "torch.load(weights_only=False, f=",
    regex=True,
    done="torch.load(weights_only=False, f=",
)
CUDA_OR_CPU = "to('cuda' if torch.cuda.is_available() else 'cpu')"
AS_GRAY = ("imageio.imread(path, as_gray=True)", "imageio.v2.imread(path, mode='F')")


# issue 18 speed-ups (nesbench.upstream.speed): the upstream lines they hook into
SPEED_IMPORT = "from nesbench.upstream import speed as nes_speed  # nesbench: speed-up switches\n"
IM_PLOTS_IMPORT = "from utils import mesh_util\n"
IM_PLOT_IMAGES = (
    "    plot_images(model_outputs, depth, ground_truth, path, epoch, img_index, 1, img_res, batch_size, "
    "num_samples, is_eval)\n"
)
TRAIN_PLOTS_IMPORT = "import utils.plots as plt\n"
IM_PLOT_IF = (
    "            if (epoch % self.plot_freq == 0 and epoch < 5) or (epoch % (self.plot_freq * 5) == 0):\n"
)
PA_PLOT_IF = (
    "            if (epoch % self.plot_freq == 0 and epoch < 5) or (epoch % (self.plot_freq * 2) == 0):\n"
)


def _torch_load(path: str, count: int) -> Edit:
    return Edit(path, TORCH_LOAD.old, TORCH_LOAD.new, count=count, regex=True, done=TORCH_LOAD.done)


PATCHES: tuple[Patch, ...] = (
    # ---- IMavatar ---------------------------------------------------------------------------------------------
    Patch(
        "no-wandb",
        "imavatar",
        "drop Weights & Biases (offline clusters; no login)",
        (
            Edit("scripts/train.py", "import wandb\n", "wandb = None  # nesbench: W&B removed\n"),
            Edit(
                "scripts/train.py",
                "wandb.init(project=kwargs['wandb_workspace'], name=self.subject + '_' + self.methodname, config=self.conf)",
                "pass  # nesbench: W&B init removed",
            ),
            Edit("scripts/train.py", "wandb.log(acc_loss)", "pass  # nesbench: W&B log removed"),
        ),
    ),
    Patch(
        "no-pygit2",
        "imavatar",
        "do not require a git repository in code/ (runconf gets no branch/commit lines)",
        (
            Edit("scripts/train.py", "import pygit2\n", "# nesbench: pygit2 removed\n"),
            Edit(
                "scripts/train.py",
                "            f.write(str(pygit2.Repository('.').head.shorthand) + '\\n'  # branch\n"
                "                    + str(pygit2.Repository('.').head.target) + '\\n') # commit hash)\n",
                "            pass  # nesbench: the harness records the upstream commit in method_info.json\n",
            ),
        ),
    ),
    Patch(
        "flame-distance-skip-hook",
        "imavatar",
        "let the runner decide explicitly (and count) which steps the RenderMe flame_distance filter skips",
        (
            Edit(
                "scripts/train.py",
                "                loss = loss_output['loss']\n",
                "                loss = loss_output['loss']\n"
                "                if getattr(self, 'nes_skip_step', None) and self.nes_skip_step(loss_output, epoch):\n"
                "                    continue\n",
            ),
        ),
    ),
    Patch(
        "torch-load-weights-only",
        "imavatar",
        "torch.load(weights_only=False) for the trusted local checkpoints",
        (
            _torch_load("scripts/train.py", 5),
            _torch_load("scripts/test.py", 2),
        ),
    ),
    Patch(
        "imageio-mode-f",
        "imavatar",
        "imageio>=2.28 dropped as_gray: read masks/semantics with mode='F' (0..255)",
        (Edit("utils/rend_util.py", *AS_GRAY, count=3),),
    ),
    Patch(
        "torch-cross-dim",
        "imavatar",
        "torch.cross(..., dim=-1) (no implicit first size-3 dim)",
        (
            Edit(
                "model/implicit_morphable_model.py",
                "torch.cross(view_dirs, dirs)",
                "torch.cross(view_dirs, dirs, dim=-1)",
            ),
        ),
    ),
    Patch(
        "knn-torch-shim",
        "imavatar",
        "exact torch knn_points(K=1) shim: IMavatar needs no PyTorch3D",
        (
            Edit(
                "model/implicit_morphable_model.py",
                "from pytorch3d import ops\n",
                "from nesbench.upstream.shims import knn as ops  # nesbench: no PyTorch3D needed\n",
            ),
        ),
    ),
    Patch(
        "flame-cpu",
        "imavatar",
        "FLAME canonical tensors follow CUDA availability (CPU smoke runs)",
        (
            Edit(
                "flame/FLAME.py",
                "torch.zeros(1, 15).float().cuda()",
                f"torch.zeros(1, 15).float().{CUDA_OR_CPU}",
            ),
            Edit(
                "flame/FLAME.py",
                "torch.zeros(1, n_exp).float().cuda()",
                f"torch.zeros(1, n_exp).float().{CUDA_OR_CPU}",
            ),
        ),
    ),
    Patch(
        "speedup-eval-rgb-only",
        "imavatar",
        "eval: no per-frame MISE mesh (NESBENCH_SPEEDUPS eval-mesh) and only the scored rgb/ PNG, no rendering grid "
        "or normal/ (eval-plots); the same rgb bytes (nesbench.upstream.speed)",
        (
            Edit("utils/plots.py", IM_PLOTS_IMPORT, IM_PLOTS_IMPORT + SPEED_IMPORT),
            Edit(
                "utils/plots.py",
                IM_PLOT_IMAGES,
                "    if is_eval and nes_speed.enabled('eval-plots'):  # nesbench: only the scored RGB, as plot_images\n"
                "        plot_image((model_outputs['rgb_values'].reshape(batch_size, num_samples, 3) + 1.) / 2., path, "
                "epoch, img_index, 1, img_res, 'rgb')\n"
                "    else:\n"
                "    " + IM_PLOT_IMAGES,
            ),
            Edit(
                "utils/plots.py",
                "    if is_eval:\n        with torch.no_grad():\n",
                "    if is_eval and not nes_speed.enabled('eval-mesh'):  # nesbench: the mesh is never scored\n"
                "        with torch.no_grad():\n",
            ),
        ),
    ),
    Patch(
        "speedup-train-plots",
        "imavatar",
        "no test-frame plots between training epochs (NESBENCH_SPEEDUPS train-plots); draws the plot loop's one "
        "random number (the DataLoader base seed), so training is unchanged",
        (
            Edit("scripts/train.py", TRAIN_PLOTS_IMPORT, TRAIN_PLOTS_IMPORT + SPEED_IMPORT),
            Edit(
                "scripts/train.py",
                IM_PLOT_IF,
                IM_PLOT_IF.replace(
                    "            if (", "            if nes_speed.enabled('train-plots') and (("
                ).replace(":\n", "):\n")
                + "                iter(self.plot_dataloader)  # nesbench: the skipped loop's only random draw\n"
                + IM_PLOT_IF.replace("            if (", "            elif ("),
            ),
        ),
    ),
    Patch(
        "face-alignment-two-d",
        "imavatar",
        "face-alignment>=1.4 renamed LandmarksType._2D to TWO_D",
        (
            Edit(
                "utils/calculate_metrics.py",
                "face_alignment.LandmarksType._2D",
                "(face_alignment.LandmarksType.TWO_D if hasattr(face_alignment.LandmarksType, 'TWO_D') "
                "else face_alignment.LandmarksType._2D)",
            ),
        ),
    ),
    # ---- PointAvatar ------------------------------------------------------------------------------------------
    Patch(
        "no-wandb",
        "pointavatar",
        "drop Weights & Biases (offline clusters; no login)",
        (
            Edit("scripts/train.py", "import wandb\n", "wandb = None  # nesbench: W&B removed\n"),
            Edit(
                "scripts/train.py",
                "wandb.init(project=kwargs['wandb_workspace'], name=self.subject + '_' + self.methodname, "
                "config=self.conf, tags=kwargs['wandb_tags'])",
                "pass  # nesbench: W&B init removed",
            ),
            Edit(
                "scripts/train.py",
                "wandb.log(acc_loss, step=epoch * len(self.train_dataset) + data_index * self.batch_size)",
                "pass  # nesbench: W&B log removed",
            ),
            Edit(
                "scripts/train.py",
                'wandb.log({"timing_epoch": start_time.elapsed_time(end_time)}, step=(epoch+1) * len(self.train_dataset))',
                "pass  # nesbench: W&B log removed",
            ),
        ),
    ),
    Patch(
        "functorch-torch-func",
        "pointavatar",
        "functorch -> torch.func (jacfwd, vmap)",
        (
            Edit(
                "model/point_avatar_model.py",
                "from functorch import jacfwd, vmap",
                "from torch.func import jacfwd, vmap  # nesbench: was functorch",
            ),
        ),
    ),
    Patch(
        "vgg16-from-cache",
        "pointavatar",
        "VGG loss: ImageNet VGG16 features from the harness cache (nesbench fetch-weights), not a hub download",
        (
            Edit(
                "model/vgg_feature.py",
                "import torchvision\n",
                "import torchvision\n"
                "from nesbench.upstream.shims.vgg16 import vgg16_features  # nesbench: weights from the cache\n",
            ),
            Edit(
                "model/vgg_feature.py",
                "torchvision.models.vgg16(pretrained=True).features",
                "vgg16_features()",
                count=4,
            ),
        ),
    ),
    Patch(
        "pytorch3d-point-weights",
        "pointavatar",
        "stock PyTorch3D >= 0.7: compositing weights computed in Python (equal to the fork's kernel)",
        (
            Edit(
                "model/point_avatar_model.py",
                "from pytorch3d.structures import Pointclouds\n",
                "from pytorch3d.structures import Pointclouds\n"
                "from nesbench.upstream.shims.compositing import composite_with_weights  # nesbench\n",
            ),
            Edit(
                "model/point_avatar_model.py",
                "images, weights = self.compositor(",
                "images, weights = composite_with_weights(self.compositor,",
            ),
        ),
    ),
    Patch(
        "torch-load-weights-only",
        "pointavatar",
        "torch.load(weights_only=False) for the trusted local checkpoints",
        (
            _torch_load("scripts/train.py", 4),
            _torch_load("scripts/test.py", 2),
        ),
    ),
    Patch(
        "imageio-mode-f",
        "pointavatar",
        "imageio>=2.28 dropped as_gray: read masks/semantics with mode='F' (0..255)",
        (
            Edit("datasets/real_dataset.py", *AS_GRAY),
            Edit(
                "utils/metrics.py", "imageio.imread(path, as_gray=True)", "imageio.v2.imread(path, mode='F')"
            ),
        ),
    ),
    Patch(
        "flame-cpu",
        "pointavatar",
        "FLAME canonical tensors follow CUDA availability (CPU smoke runs)",
        (
            Edit(
                "flame/FLAME.py",
                "torch.zeros(1, 15).float().cuda()",
                f"torch.zeros(1, 15).float().{CUDA_OR_CPU}",
            ),
            Edit(
                "flame/FLAME.py",
                "canonical_expression.float().cuda()",
                f"canonical_expression.float().{CUDA_OR_CPU}",
            ),
            Edit(
                "flame/FLAME.py",
                "torch.zeros(1, shapedirs.shape[-1] - self.n_exp).cuda()",
                f"torch.zeros(1, shapedirs.shape[-1] - self.n_exp).{CUDA_OR_CPU}",
            ),
        ),
    ),
    Patch(
        "speedup-train-plots",
        "pointavatar",
        "no test-frame plots between training epochs (NESBENCH_SPEEDUPS train-plots); draws the plot loop's random "
        "numbers (DataLoader base seed, one eikonal torch.rand per batch), so training is unchanged",
        (
            Edit("scripts/train.py", TRAIN_PLOTS_IMPORT, TRAIN_PLOTS_IMPORT + SPEED_IMPORT),
            Edit(
                "scripts/train.py",
                PA_PLOT_IF,
                PA_PLOT_IF.replace(
                    "            if (", "            if nes_speed.enabled('train-plots') and (("
                ).replace(":\n", "):\n")
                + "                nes_speed.skip_plot_loop(self.plot_dataloader, self.model.pc.points.shape)  # nesbench\n"
                + PA_PLOT_IF.replace("            if (", "            elif ("),
            ),
        ),
    ),
    Patch(
        "test-subsample-from-conf",
        "pointavatar",
        "eval honours the conf's dataset.test.subsample (upstream forces 1; the benchmark commented that line out, "
        "its pointavatar/scripts/test.py:18)",
        (
            Edit(
                "scripts/test.py",
                "        self.conf.put('dataset.test.subsample', 1)\n",
                "        # self.conf.put('dataset.test.subsample', 1)  # nesbench: as the benchmark (test.py:18)\n",
            ),
        ),
    ),
)


def _monogaussianavatar_patches() -> tuple[Patch, ...]:
    """MonoGaussianAvatar's scripts/, datasets/, utils/metrics.py and model/vgg_feature.py hold PointAvatar's lines
    byte for byte where these patches edit (checked on the pinned commit), so it takes PointAvatar's patches; only
    the functorch import sits in another file."""
    pa = {p.name: p for p in PATCHES if p.method == "pointavatar"}
    mga = "monogaussianavatar"
    return (
        replace(pa["no-wandb"], method=mga),
        Patch(
            "functorch-torch-func",
            mga,
            "functorch -> torch.func (jacfwd, vmap)",
            (
                Edit(
                    "model/monogaussian_avatar_model.py",
                    "from functorch import jacfwd, vmap",
                    "from torch.func import jacfwd, vmap  # nesbench: was functorch",
                ),
            ),
        ),
        replace(pa["vgg16-from-cache"], method=mga),
        replace(pa["torch-load-weights-only"], method=mga),
        replace(pa["imageio-mode-f"], method=mga),
    )


PATCHES += _monogaussianavatar_patches()


def patches_for(method: str) -> list[Patch]:
    # their own modules; they import Edit/Patch from here
    from nesbench.upstream.flashavatar.patches import PATCHES as FLASHAVATAR
    from nesbench.upstream.nerface.patches import PATCHES as NERFACE

    return [p for p in (*PATCHES, *NERFACE, *FLASHAVATAR) if p.method == method]


def apply_patches(method: str, code_dir: Path) -> dict[str, str]:
    """Apply every patch of ``method``; returns {name: state before}. Idempotent."""
    return {p.name: p.apply(code_dir) for p in patches_for(method)}


def patch_states(method: str, code_dir: Path) -> dict[str, str]:
    return {p.name: p.state(code_dir) for p in patches_for(method)}
