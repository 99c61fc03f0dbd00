"""Pinned upstream repositories (configs/upstream.conf): URL, commit, mirror name per method."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pyhocon import ConfigFactory
from pyhocon.exceptions import ConfigException

from nesbench.errors import ConfigError
from nesbench.paths import CONFIGS_DIR, upstream_dir

PINS_FILE = "upstream.conf"


@dataclass(frozen=True)
class Upstream:
    """One upstream method: `key` is the harness name (imavatar), `name` the repository/folder name (IMavatar)."""

    key: str
    name: str
    url: str
    commit: str
    mirror: str
    methodname: str
    code: str = "code"  # the folder the runners start from, relative to the checkout
    sparse: tuple[str, ...] = ()  # check out only these folders (git sparse-checkout); empty = everything

    def checkout_dir(self, root: Path | None = None) -> Path:
        return (root or upstream_dir()) / self.name

    def code_dir(self, root: Path | None = None) -> Path:
        """The folder the upstream runners must be started from (relative FLAME paths)."""
        return self.checkout_dir(root) / self.code


@dataclass(frozen=True)
class BuildPin:
    """A library built from source for the upstream methods (``build`` block of configs/upstream.conf)."""

    key: str
    url: str
    commit: str
    version: str
    mirror: str


def _full_commit(path: Path, where: str, commit: str) -> str:
    if len(commit) != 40 or any(ch not in "0123456789abcdef" for ch in commit):
        raise ConfigError(f"{path}: {where}.commit must be a full 40-hex commit, got {commit!r}")
    return commit


def load_build_pin(key: str, path: Path | None = None) -> BuildPin:
    """The pinned source build ``key`` (e.g. pytorch3d)."""
    path = path or CONFIGS_DIR / PINS_FILE
    try:
        c = ConfigFactory.parse_file(str(path)).get_config(f"build.{key}")
        return BuildPin(
            key=key,
            url=c.get_string("url"),
            commit=_full_commit(path, f"build.{key}", c.get_string("commit")),
            version=c.get_string("version"),
            mirror=c.get_string("mirror"),
        )
    except (OSError, ConfigException) as exc:
        raise ConfigError(f"{path}: no pinned build {key!r} ({exc}); restore it from git") from None


def load_pins(path: Path | None = None) -> dict[str, Upstream]:
    """All pinned upstream methods, keyed by harness name."""
    path = path or CONFIGS_DIR / PINS_FILE
    try:
        tree = ConfigFactory.parse_file(str(path)).get_config("upstream")
        out = {}
        for key in tree:
            c = tree.get_config(key)
            commit = _full_commit(path, f"upstream.{key}", c.get_string("commit"))
            out[key] = Upstream(
                key=key,
                name=c.get_string("name"),
                url=c.get_string("url"),
                commit=commit,
                mirror=c.get_string("mirror"),
                methodname=c.get_string("methodname"),
                code=c.get_string("code", "code"),
                sparse=tuple(str(x) for x in c.get_list("sparse", [])),
            )
    except (OSError, ConfigException) as exc:
        raise ConfigError(f"{path}: cannot read upstream pins ({exc}); restore it from git") from None
    return out


def get_pin(method: str, path: Path | None = None) -> Upstream:
    pins = load_pins(path)
    try:
        return pins[method.lower()]
    except KeyError:
        raise ConfigError(f"unknown upstream method {method!r}; known: {', '.join(pins)}") from None


def parse_methods(spec: str | list[str], path: Path | None = None) -> list[Upstream]:
    """'imavatar,pointavatar' (or 'all') -> pins, in the order given."""
    pins = load_pins(path)
    items = spec.split(",") if isinstance(spec, str) else list(spec)
    items = [i.strip().lower() for i in items if i.strip()]
    if items == ["all"]:
        return list(pins.values())
    if not items:
        raise ConfigError(f"no upstream method given; choose from: {', '.join(pins)}")
    return [get_pin(i, path) for i in items]
