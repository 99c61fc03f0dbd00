"""Clone an upstream method at its pinned commit, from GitHub or a local mirror, and verify the commit."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from nesbench.errors import AssetError
from nesbench.upstream.pins import Upstream

MIRROR_ENV = "NESBENCH_MIRROR"


def mirror_source(pin: Upstream, mirror: Path) -> Path:
    """The repository for ``pin`` inside a mirror folder: DIR/<name> or DIR/<name>.git (bare or not)."""
    mirror = Path(mirror).expanduser()
    if not mirror.is_dir():
        raise AssetError(
            f"{mirror}: mirror folder not found; pass --mirror DIR holding {pin.mirror}/ (a git repo)"
        )
    for cand in (mirror / pin.mirror, mirror / f"{pin.mirror}.git"):
        if (cand / ".git").exists() or (cand / "HEAD").is_file():
            return cand.resolve()
    raise AssetError(
        f"{mirror}: no git repository {pin.mirror}/ or {pin.mirror}.git/ in the mirror folder; "
        f"create it with `git clone --mirror {pin.url} {mirror / (pin.mirror + '.git')}`"
    )


def head_commit(path: Path) -> str | None:
    """HEAD commit of the checkout at ``path`` (None if it is not a git work tree)."""
    import git

    try:
        return git.Repo(path).head.commit.hexsha
    except (git.InvalidGitRepositoryError, git.NoSuchPathError, ValueError):
        return None


def verify_checkout(pin: Upstream, dest: Path) -> None:
    """Raise AssetError unless ``dest`` is a checkout of the pinned commit."""
    found = head_commit(dest)
    if found is None:
        raise AssetError(f"{dest}: not a git checkout of {pin.name}; run `nesbench upstream install --force`")
    if found != pin.commit:
        raise AssetError(
            f"{dest}: {pin.name} is at {found[:12]}, the harness is pinned to {pin.commit[:12]} "
            "(configs/upstream.conf); re-create it with `bash setup.sh --methods "
            f"{pin.key} --force`"
        )


def ensure_checkout(pin: Upstream, dest: Path, mirror: Path | None = None, force: bool = False) -> str:
    """Clone ``pin`` into ``dest`` at the pinned commit; returns 'cloned' or 'present'. Idempotent.

    The source is ``mirror``/<name> when a mirror is given (argument or $NESBENCH_MIRROR), else the GitHub URL.
    An existing checkout at another commit is refused (use force=True to re-create it).
    """
    import git

    if mirror is None and os.environ.get(MIRROR_ENV):
        mirror = Path(os.environ[MIRROR_ENV])
    dest = Path(dest)
    if dest.exists() and not force:
        verify_checkout(pin, dest)
        return "present"
    if dest.exists():
        shutil.rmtree(dest)
    source = str(mirror_source(pin, mirror)) if mirror is not None else pin.url
    tmp = dest.with_name(f".{dest.name}.cloning")
    if tmp.exists():
        shutil.rmtree(tmp)
    try:
        repo = git.Repo.clone_from(source, tmp, no_checkout=True)
        if pin.sparse:  # only the code: the mirror may lack the large files elsewhere (videos, pages)
            repo.git.sparse_checkout("set", *pin.sparse)
        try:
            repo.git.checkout(pin.commit, "--detach")
        except git.GitCommandError:
            raise AssetError(
                f"{source}: commit {pin.commit} of {pin.name} is not in this repository; "
                "update the mirror (git fetch) or fix configs/upstream.conf"
            ) from None
        repo.close()
    except git.GitCommandError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        where = "the mirror" if mirror is not None else "GitHub (offline? use --mirror DIR)"
        raise AssetError(
            f"{source}: cannot clone {pin.name} from {where}: {exc.stderr.strip()[:200]}"
        ) from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    dest.parent.mkdir(parents=True, exist_ok=True)
    os.replace(tmp, dest)
    verify_checkout(pin, dest)
    return "cloned"
