"""configs/methods/nerface.conf -> the NeRFace job settings and the upstream YAML config of one job."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pyhocon import ConfigFactory
from pyhocon.exceptions import ConfigException

from nesbench.errors import AssetError, ConfigError
from nesbench.paths import CONFIGS_DIR
from nesbench.upstream.nerface.convert import ConvertSettings

LATENT_RE = re.compile(r"^(train:\d+|zero|mean)$")


@dataclass(frozen=True)
class NerfaceSettings:
    base: str
    iterations: dict[str, int]
    resolution: str | int
    background: tuple[float, float, float]
    head_distance: float
    bbox_margin: float
    test_latent_code: str
    render_seed: int
    settings: dict[str, Any]
    source: Path

    def convert_settings(self, benchmark_resolution: int) -> ConvertSettings:
        res = benchmark_resolution if self.resolution == "benchmark" else int(self.resolution)
        return ConvertSettings(
            resolution=res,
            background=self.background,
            head_distance=self.head_distance,
            bbox_margin=self.bbox_margin,
        )


def load_settings(configs: Path | None = None) -> NerfaceSettings:
    path = (configs or CONFIGS_DIR) / "methods" / "nerface.conf"
    if not path.is_file():
        raise ConfigError(f"{path}: missing; restore configs/methods/nerface.conf from git")
    try:
        c = ConfigFactory.parse_file(str(path))
        bg = tuple(float(x) for x in c.get_list("background"))
        latent = c.get_string("test_latent_code")
        res = c.get("resolution", "benchmark")
        out = NerfaceSettings(
            base=c.get_string("base"),
            iterations={k: int(v) for k, v in c.get_config("iterations").items()},
            resolution=res if res == "benchmark" else int(res),
            background=bg,  # type: ignore[arg-type]
            head_distance=c.get_float("head_distance"),
            bbox_margin=c.get_float("bbox_margin"),
            test_latent_code=latent,
            render_seed=c.get_int("render_seed"),
            settings={k.strip('"'): v for k, v in _flatten(c.get_config("set").as_plain_ordered_dict())},
            source=path,
        )
    except (ConfigException, ValueError, TypeError) as exc:
        raise ConfigError(f"{path}: {exc}") from None
    if len(bg) != 3 or not all(0.0 <= x <= 1.0 for x in bg):
        raise ConfigError(f"{path}: background must be 3 numbers in [0, 1], got {list(bg)}")
    if not LATENT_RE.match(latent):
        raise ConfigError(f"{path}: test_latent_code must be train:<i>, zero or mean, got {latent!r}")
    if any(v <= 0 for v in out.iterations.values()):
        raise ConfigError(f"{path}: iterations must be positive integers")
    return out


def _flatten(tree: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    for k, v in tree.items():
        if isinstance(v, dict):
            out.extend(_flatten(v, f"{prefix}{k}."))
        else:
            out.append((f"{prefix}{k}", v))
    return out


def _put(tree: dict[str, Any], key: str, value: Any, source: str) -> None:
    *parents, leaf = key.split(".")
    node = tree
    for p in parents:
        node = node.setdefault(p, {})
        if not isinstance(node, dict):
            raise ConfigError(f"--set {key}: {p} is not a section of {source}")
    old = node.get(leaf)
    if isinstance(old, bool) != isinstance(value, bool) and old is not None:
        raise ConfigError(f"--set {key}={value!r}: {source} has a true/false value there")
    node[leaf] = value


def build_config(
    code_dir: Path,
    tpl: NerfaceSettings,
    dataset: Path,
    logdir: Path,
    iterations: int,
    seed: int | None,
    overrides: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Upstream's base YAML + the template's ``set`` + paths + iterations (+ seed) + ``overrides``."""
    import yaml

    base = code_dir / tpl.base
    if not base.is_file():
        raise AssetError(f"{base}: base config missing; run `nesbench upstream install --methods nerface`")
    with open(base, encoding="utf-8") as f:
        cfg = yaml.safe_load(f)
    values = {
        **tpl.settings,
        "experiment.id": "nerface",
        "experiment.logdir": str(logdir),
        "experiment.train_iters": int(iterations),
        "dataset.basedir": str(dataset),
        **({"experiment.randomseed": int(seed)} if seed is not None else {}),
        **(overrides or {}),
    }
    for key, value in values.items():
        _put(cfg, key, value, str(base))
    return cfg


def config_text(cfg: dict[str, Any]) -> str:
    """YAML text of the config (JSON is YAML; keys keep their order)."""
    return json.dumps(cfg, indent=1) + "\n"


def identity_sha(cfg: dict[str, Any]) -> str:
    """What a checkpoint depends on: the config without the iteration count, logging and checkpoint cadence (a run
    extended to more iterations resumes; any other change starts afresh)."""
    exp = {
        k: v
        for k, v in cfg.get("experiment", {}).items()
        if k not in ("train_iters", "validate_every", "save_every", "print_every")
    }
    return hashlib.sha256(json.dumps({**cfg, "experiment": exp}, sort_keys=True).encode()).hexdigest()
