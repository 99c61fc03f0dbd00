"""A fake NeRFace repository: upstream's layout (code in nerface_code/nerf-pytorch, large files in docs/) holding
exactly the lines the NeRFace patches touch, plus the base config the harness reads."""

from __future__ import annotations

from pathlib import Path

import git

from nesbench.upstream.patches import patches_for
from nesbench.upstream.pins import Upstream

CODE = "nerface_code/nerf-pytorch"
BASE_YML = """experiment:
  id: x
  logdir: /nowhere
  randomseed: 42
  train_iters: 1000000
  validate_every: 1000
  save_every: 5000
  print_every: 100
dataset:
  type: blender
  basedir: /nowhere
  half_res: True
  no_ndc: True
  near: 0.2
  far: 0.8
models:
  coarse:
    type: ConditionalBlendshapePaperNeRFModel
    hidden_size: 256
nerf:
  train:
    num_random_rays: 2048
"""


def fake_files() -> dict[str, str]:
    files: dict[str, str] = {}
    for patch in patches_for("nerface"):
        for e in patch.edits:
            if e.regex:
                text = "".join(
                    f"x = torch.load(\n    os.path.join(d, 'm{i}.ckpt'))\n" for i in range(e.count)
                )
            else:
                text = (
                    e.old * e.count if e.old.endswith("\n") else "".join(f"{e.old}\n" for _ in range(e.count))
                )
            rel = f"{CODE}/{e.path}"
            files[rel] = files.get(rel, "# upstream file\n") + text
    files[f"{CODE}/config/dave/dave_dvp_lcode_fixed_bg_512_paper_model.yml"] = BASE_YML
    files["docs/vid.mp4"] = "a large video the mirror may lack\n"
    files["README.md"] = "NeRFace\n"
    return files


def make_repo(path: Path) -> str:
    """A git repository with the fake tree; returns its commit."""
    repo = git.Repo.init(path)
    with repo.config_writer() as cw:
        cw.set_value("user", "name", "t").set_value("user", "email", "t@example.org")
    for rel, text in fake_files().items():
        (path / rel).parent.mkdir(parents=True, exist_ok=True)
        (path / rel).write_text(text)
    repo.git.add("-A")
    return repo.index.commit("fake NeRFace").hexsha


def pin(commit: str) -> Upstream:
    return Upstream(
        key="nerface",
        name="NeRFace",
        url="https://invalid.example/none.git",
        commit=commit,
        mirror="4D-Facial-Avatars",
        methodname="nerface",
        code=CODE,
        sparse=("nerface_code",),
    )
