"""configs/methods/flashavatar.conf -> FlashAvatar's run-level settings."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from pyhocon import ConfigFactory
from pyhocon.exceptions import ConfigException

from nesbench.errors import ConfigError
from nesbench.paths import CONFIGS_DIR


@dataclass(frozen=True)
class FlashAvatarSettings:
    iterations: dict[str, int]
    save_every: int
    white_background: bool
    perceptual_loss: bool
    seed: int
    source: Path


def load_settings(configs: Path | None = None) -> FlashAvatarSettings:
    path = (configs or CONFIGS_DIR) / "methods" / "flashavatar.conf"
    if not path.is_file():
        raise ConfigError(f"{path}: missing; restore configs/methods/flashavatar.conf from git")
    try:
        c = ConfigFactory.parse_file(str(path))
        percep = c.get_string("perceptual_loss")
        out = FlashAvatarSettings(
            iterations={k: int(v) for k, v in c.get_config("iterations").items()},
            save_every=c.get_int("save_every"),
            white_background=c.get_bool("white_background"),
            perceptual_loss=percep == "on",
            seed=c.get_int("seed"),
            source=path,
        )
    except (ConfigException, ValueError, TypeError) as exc:
        raise ConfigError(f"{path}: {exc}") from None
    if percep not in ("on", "off"):
        raise ConfigError(f"{path}: perceptual_loss must be on or off, got {percep!r}")
    if any(v <= 0 for v in out.iterations.values()) or out.save_every <= 0:
        raise ConfigError(f"{path}: iterations and save_every must be positive integers")
    return out


# keys of configs/methods/flashavatar.conf that `--set KEY=VALUE` (train.sh, nesbench run) may change per run
SETTABLE = ("save_every", "white_background", "perceptual_loss", "seed")
ON = {"on": True, "true": True, "1": True, "off": False, "false": False, "0": False}


def with_overrides(tpl: FlashAvatarSettings, overrides: dict[str, Any] | None) -> FlashAvatarSettings:
    """``tpl`` with ``--set`` values (text or parsed) for the keys in SETTABLE; anything else is refused."""
    changes: dict[str, Any] = {}
    for key, value in (overrides or {}).items():
        if key not in SETTABLE:
            raise ConfigError(
                f"--set {key}: FlashAvatar has no such setting; choose from {', '.join(SETTABLE)} "
                f"({tpl.source}); in a `nesbench run` with other methods, give it to one method only: "
                f"--set METHOD:{key}=VALUE"
            )
        text = str(value).strip().lower()
        if key in ("white_background", "perceptual_loss"):
            if text not in ON:
                raise ConfigError(f"--set {key}={value}: give on or off")
            changes[key] = ON[text]
        else:
            try:
                changes[key] = int(text)
            except ValueError:
                raise ConfigError(f"--set {key}={value}: give an integer") from None
            if key == "save_every" and changes[key] <= 0:
                raise ConfigError(f"--set {key}={value}: give a positive integer")
    return replace(tpl, **changes)
