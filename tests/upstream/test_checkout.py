from pathlib import Path

import pytest

from nesbench.errors import AssetError
from nesbench.upstream.checkout import ensure_checkout, head_commit
from nesbench.upstream.pins import load_pins, parse_methods


def test_pins_file_has_the_issue_commits():
    pins = load_pins()
    assert pins["imavatar"].commit == "923b60aa46bae49478830af98cc839a1cf33e273"
    assert pins["pointavatar"].commit == "774bb24abf2986a5a456095b697a214556af472c"
    assert [p.key for p in parse_methods("imavatar, pointavatar")] == ["imavatar", "pointavatar"]


@pytest.mark.parametrize("method", ["imavatar", "pointavatar"])  # bare and non-bare mirrors
def test_clone_from_mirror_at_pinned_commit_is_idempotent(mirror, tmp_path, method):
    pin = mirror[method]
    dest = tmp_path / "up" / pin.name
    assert ensure_checkout(pin, dest, mirror=mirror["root"]) == "cloned"
    assert head_commit(dest) == pin.commit  # the pin, not the newer branch head
    assert not (dest / "README.md").exists()
    assert ensure_checkout(pin, dest, mirror=mirror["root"]) == "present"


def test_mirror_from_environment(mirror, tmp_path, monkeypatch):
    monkeypatch.setenv("NESBENCH_MIRROR", str(mirror["root"]))
    pin = mirror["imavatar"]
    assert ensure_checkout(pin, tmp_path / "IMavatar") == "cloned"


def test_refuses_checkout_at_other_commit_and_force_recreates(mirror, tmp_path):
    pin = mirror["imavatar"]
    dest = tmp_path / "IMavatar"
    ensure_checkout(pin, dest, mirror=mirror["root"])
    import git

    git.Repo(dest).git.checkout(mirror["later"]["imavatar"])
    with pytest.raises(AssetError, match="pinned to"):
        ensure_checkout(pin, dest, mirror=mirror["root"])
    assert ensure_checkout(pin, dest, mirror=mirror["root"], force=True) == "cloned"
    assert head_commit(dest) == pin.commit


def test_clear_errors_for_bad_mirror_or_commit(mirror, tmp_path):
    pin = mirror["imavatar"]
    with pytest.raises(AssetError, match="mirror folder not found"):
        ensure_checkout(pin, tmp_path / "a", mirror=tmp_path / "nope")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(AssetError, match="no git repository IMavatar"):
        ensure_checkout(pin, tmp_path / "b", mirror=empty)
    bad = type(pin)(**{**pin.__dict__, "commit": "0" * 40})
    with pytest.raises(AssetError, match="not in this repository"):
        ensure_checkout(bad, tmp_path / "c", mirror=mirror["root"])
    assert not (tmp_path / "c").exists()


def test_real_mirror_install_applies_every_patch(tmp_path):
    """Against the real upstream repositories when NESBENCH_TEST_MIRROR names a mirror folder (skipped in CI)."""
    import os

    root = os.environ.get("NESBENCH_TEST_MIRROR")
    if not root:
        pytest.skip(
            "set NESBENCH_TEST_MIRROR=DIR (DIR/IMavatar, DIR/PointAvatar) to run against the real code"
        )
    from nesbench.upstream.install import install, status

    for pin in load_pins().values():
        if not any((Path(root) / n).exists() for n in (pin.mirror, f"{pin.mirror}.git")):
            continue  # e.g. NeRFace (tests/upstream/nerface/test_real_upstream.py) when DIR lacks its mirror
        install(pin, mirror=Path(root), root=tmp_path, say=lambda m: None)
        st = status(pin, root=tmp_path)
        assert set(st["patches"].values()) == {"applied"}, st
        assert st["overlays"] == "installed"
