"""The one method registry: built-in methods plus third-party plugins from the ``nesbench.methods`` entry points.

A plugin package declares in its pyproject.toml::

    [project.entry-points."nesbench.methods"]
    my-method = "my_package.nesbench_plugin:SPEC"      # a nesbench.methods.spec.MethodSpec

For an uninstalled development plugin, ``NESBENCH_METHODS="my-method=my_module:SPEC"`` does the same.
"""

from __future__ import annotations

import os
from importlib.metadata import entry_points

from nesbench.errors import ConfigError
from nesbench.loading import ObjectLoadError, load_object
from nesbench.log import get_logger
from nesbench.methods.spec import MethodSpec
from nesbench.methods.upstream_methods import IMavatarOptions, MonoGaussianAvatarOptions, PointAvatarOptions
from nesbench.names import check_name

log = get_logger(__name__)

ENTRY_POINT_GROUP = "nesbench.methods"

BUILTIN: tuple[MethodSpec, ...] = (
    MethodSpec(
        name="nearest-expression",
        description="Reference floor: each test frame copies the training frame with the nearest FLAME expression+jaw",
        target="nesbench.methods.baselines.nearest_expression:NearestExpression",
        deterministic=True,
    ),
    MethodSpec(
        name="linear-expression",
        description="Reference floor: ridge regression from FLAME expression+pose to a low-rank (PCA) image basis",
        target="nesbench.methods.baselines.linear_expression:LinearExpression",
        deterministic=True,  # its randomized PCA has a fixed random_state
    ),
    MethodSpec(
        name="mean-image",
        description="Reference floor: the mean training image for every frame (what blur alone scores)",
        target="nesbench.methods.baselines.mean_image:MeanImage",
        deterministic=True,
    ),
    MethodSpec(
        name="imavatar",
        description="IMavatar (Zheng et al., CVPR 2022) through the upstream runner with the NES-Bench overlay",
        target="nesbench.methods.upstream_methods:IMavatarMethod",
        needs_gpu=True,
        needs_assets=("flame",),
        upstream="imavatar",
        config=IMavatarOptions,
    ),
    MethodSpec(
        name="pointavatar",
        description="PointAvatar (Zheng et al., CVPR 2023) through the upstream runner with the NES-Bench overlay",
        target="nesbench.methods.upstream_methods:PointAvatarMethod",
        needs_gpu=True,
        needs_assets=("flame",),
        upstream="pointavatar",
        config=PointAvatarOptions,
    ),
    MethodSpec(
        name="monogaussianavatar",
        description="MonoGaussianAvatar (Chen et al., SIGGRAPH 2024), Gaussian points, through the upstream runner "
        "with the NES-Bench overlay",
        target="nesbench.methods.upstream_methods:MonoGaussianAvatarMethod",
        needs_gpu=True,
        needs_assets=("flame",),
        upstream="monogaussianavatar",
        config=MonoGaussianAvatarOptions,
    ),
    MethodSpec(
        name="nerface",
        description="NeRFace (Gafni et al., CVPR 2021) through upstream's training script and the NES-Bench renderer",
        target="nesbench.methods.upstream_methods:NeRFaceMethod",
        needs_gpu=True,
        needs_assets=("flame",),  # only for the head-pose pivots of the converter
        upstream="nerface",
    ),
    MethodSpec(
        name="flashavatar",
        description="FlashAvatar (Xiang et al., CVPR 2024), Gaussians on a FLAME UV map, through upstream's "
        "train.py/test.py (patched) on metrical-tracker frames converted from NES",
        target="nesbench.methods.upstream_methods:FlashAvatarMethod",
        needs_gpu=True,
        needs_assets=("flame",),
        upstream="flashavatar",
    ),
)


_WARNED: set[str] = set()


class PluginImportError(ConfigError):
    """A plugin's module raised while being imported (or lacks the named object)."""


def _load_object(ref: str, origin: str) -> MethodSpec:
    try:
        obj = load_object(ref)
    except ObjectLoadError as exc:  # a plugin may raise anything at import; it must not stop the harness
        raise PluginImportError(
            f"{origin}: cannot load {ref!r} ({exc}); fix or uninstall the plugin"
        ) from None
    if not isinstance(obj, MethodSpec):
        raise ConfigError(
            f"{origin}: {ref!r} is a {type(obj).__name__}, expected a nesbench.methods.spec.MethodSpec"
        )
    return obj


def discover(broken: dict[str, str] | None = None) -> dict[str, MethodSpec]:
    """Every known method by name: built-ins, then entry-point plugins, then $NESBENCH_METHODS.

    A plugin whose module raises at import is left out and recorded in ``broken`` (name -> reason) when given,
    else printed once as a warning; selecting it (:func:`get_method`) is an error with that reason.
    """
    methods = {spec.name: spec for spec in BUILTIN}
    failed: dict[str, str] = {}

    def load(ref: str, name: str, origin: str) -> MethodSpec | None:
        try:
            return _load_object(ref, origin)
        except PluginImportError as exc:
            failed[name] = str(exc)
            return None

    def add(spec: MethodSpec, origin: str) -> None:
        check_name(spec.name, "method name", origin)
        if spec.name in methods and methods[spec.name] != spec:
            raise ConfigError(
                f"{origin}: method name {spec.name!r} is already registered; rename the plugin's method"
            )
        methods[spec.name] = spec

    for ep in entry_points(group=ENTRY_POINT_GROUP):
        spec = load(ep.value, ep.name, f"entry point {ep.name!r} of {ep.dist.name if ep.dist else '?'}")
        if spec is None:
            continue
        if spec.name != ep.name:
            raise ConfigError(
                f"entry point {ep.name!r} points to a MethodSpec named {spec.name!r}; make them equal"
            )
        add(spec, f"entry point {ep.name!r}")
    for item in filter(None, os.environ.get("NESBENCH_METHODS", "").split(",")):
        name, sep, ref = item.partition("=")
        if not sep:
            raise ConfigError(f"NESBENCH_METHODS item {item!r} must look like name=module:object")
        spec = load(ref.strip(), name.strip(), f"NESBENCH_METHODS {name.strip()!r}")
        if spec is not None:
            add(spec, f"NESBENCH_METHODS {name.strip()!r}")
    for name in list(failed):
        if name in methods:  # a later source of the same name loaded
            failed.pop(name)
    if broken is not None:
        broken.update(failed)
    else:
        _warn(failed)
    return methods


def _warn(failed: dict[str, str]) -> None:
    for name, reason in failed.items():
        if name not in _WARNED:
            _WARNED.add(name)
            log.warning(f"method plugin {name!r} skipped: {reason}")


def get_method(name: str) -> MethodSpec:
    """The method registered as ``name``; ConfigError for an invalid, unknown or broken (import fails) one."""
    check_name(name, "method")
    broken: dict[str, str] = {}
    methods = discover(broken)
    if name in methods:
        return methods[name]
    if name in broken:
        raise ConfigError(broken[name])
    _warn(broken)
    raise ConfigError(f"unknown method {name!r}; known: {', '.join(sorted(methods))}")


def list_methods() -> list[MethodSpec]:
    return sorted(discover().values(), key=lambda s: s.name)
