"""`nesbench upstream install|status`: checkout + overlays + patches + builds, and a report of their state."""

from __future__ import annotations

import sys
from pathlib import Path

from nesbench.paths import upstream_dir
from nesbench.upstream import builds, checkout, flame, overlays, patches, preflight
from nesbench.upstream.pins import Upstream

BUILDS = {"imavatar": ("libmise-cython3", builds.libmise_state, builds.build_libmise)}


def install(
    pin: Upstream, mirror: Path | None = None, force: bool = False, root: Path | None = None, say=print
) -> Path:
    """Make the pinned, patched, overlaid checkout of ``pin``; idempotent. Returns its code/ folder."""
    dest = pin.checkout_dir(root or upstream_dir())
    how = checkout.ensure_checkout(pin, dest, mirror=mirror, force=force)
    say(f"{pin.name}: checkout {how} at {pin.commit[:12]} ({dest})")
    code = pin.code_dir(root or upstream_dir())
    for name, before in patches.apply_patches(pin.key, code).items():
        say(f"{pin.name}: patch {name}: {'applied now' if before == patches.PENDING else 'already applied'}")
    written = overlays.install_overlays(pin.key, code)
    say(f"{pin.name}: overlays {'installed: ' + ', '.join(written) if written else 'up to date'}")
    if pin.key in BUILDS:
        name, _state, build = BUILDS[pin.key]
        before = build(code, force=force)
        say(f"{pin.name}: build {name}: {'built now' if before != 'built' else 'already built'}")
    return code


def status(pin: Upstream, root: Path | None = None, python: str = sys.executable) -> dict[str, object]:
    """State of every step for ``pin`` (nothing is changed), and whether ``python`` imports the modules the
    method needs (torch version, torchvision, PyTorch3D for PointAvatar)."""
    dest = pin.checkout_dir(root or upstream_dir())
    out: dict[str, object] = {"method": pin.key, "checkout": str(dest), "pinned": pin.commit}
    out["modules"] = preflight.module_states(python, preflight.REQUIRED_MODULES.get(pin.key, ()))
    head = checkout.head_commit(dest) if dest.exists() else None
    out["commit"] = head or "missing"
    if head is None:
        return out
    code = pin.code_dir(root or upstream_dir())
    out["patches"] = patches.patch_states(pin.key, code)
    out["overlays"] = overlays.overlay_state(pin.key, code)
    if pin.key in BUILDS:
        name, state, _build = BUILDS[pin.key]
        out["builds"] = {name: state(code)}
    out["flame"] = flame.flame_state(pin, code)
    return out
