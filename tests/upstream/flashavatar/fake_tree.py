"""A fake FlashAvatar repository: upstream's layout (scripts at the root, flame/ assets) holding exactly the lines the
FlashAvatar patches touch, plus the shipped FLAME files the synthetic install replaces."""

from __future__ import annotations

from pathlib import Path

import git

from nesbench.upstream.patches import patches_for
from nesbench.upstream.pins import Upstream

SHIPPED = {
    "flame/FlameMesh.obj": "# FLAME 2020 UV mesh (shipped)\n",
    "flame/blendshapes/l_eyelid.npy": "shipped\n",
    "flame/blendshapes/r_eyelid.npy": "shipped\n",
    "flame/landmark_embedding.npy": "shipped\n",
    ".gitignore": "flame/generic_model.pkl\nflame/FLAME_masks/\n",
}


def fake_files() -> dict[str, str]:
    files: dict[str, str] = {}
    for patch in patches_for("flashavatar"):
        for e in patch.edits:
            if e.regex:
                text = "".join(f"x = torch.load(ckpt_{i})\n" for i in range(e.count))
            else:
                text = (
                    e.old * e.count if e.old.endswith("\n") else "".join(f"{e.old}\n" for _ in range(e.count))
                )
            files[e.path] = files.get(e.path, "# upstream file\n") + text
    return {**files, **SHIPPED, "README.md": "FlashAvatar\n"}


def make_repo(path: Path) -> str:
    """A git repository with the fake tree; returns its commit."""
    repo = git.Repo.init(path)
    with repo.config_writer() as cw:
        cw.set_value("user", "name", "t").set_value("user", "email", "t@example.org")
    for rel, text in fake_files().items():
        (path / rel).parent.mkdir(parents=True, exist_ok=True)
        (path / rel).write_text(text)
    repo.git.add("-A")
    return repo.index.commit("fake FlashAvatar").hexsha


def pin(commit: str) -> Upstream:
    return Upstream(
        key="flashavatar",
        name="FlashAvatar",
        url="https://invalid.example/none.git",
        commit=commit,
        mirror="FlashAvatar-code",
        methodname="flashavatar",
        code=".",
    )
