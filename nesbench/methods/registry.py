"""The one method registry: built-in methods plus third-party plugins from the ``nesbench.methods`` entry points.

A plugin package declares in its pyproject.toml::

    [project.entry-points."nesbench.methods"]
    my-method = "my_package.nesbench_plugin:SPEC"      # a nesbench.methods.spec.MethodSpec

For an uninstalled development plugin, ``NESBENCH_METHODS="my-method=my_module:SPEC"`` does the same.
"""

from __future__ import annotations

import importlib
import os
from importlib.metadata import entry_points

from nesbench.errors import ConfigError
from nesbench.methods.spec import MethodSpec

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
    ),
    MethodSpec(
        name="pointavatar",
        description="PointAvatar (Zheng et al., CVPR 2023) through the upstream runner with the NES-Bench overlay",
        target="nesbench.methods.upstream_methods:PointAvatarMethod",
        needs_gpu=True,
        needs_assets=("flame",),
        upstream="pointavatar",
        options={"test_time_fitting": "fits expression/pose/camera to the GT test images (configs/methods)"},
    ),
)


def _load_object(ref: str, origin: str) -> MethodSpec:
    module_name, _, attr = ref.partition(":")
    try:
        obj = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"{origin}: cannot load {ref!r} ({exc})") from None
    if not isinstance(obj, MethodSpec):
        raise ConfigError(
            f"{origin}: {ref!r} is a {type(obj).__name__}, expected a nesbench.methods.spec.MethodSpec"
        )
    return obj


def discover() -> dict[str, MethodSpec]:
    """Every known method by name: built-ins, then entry-point plugins, then $NESBENCH_METHODS."""
    methods = {spec.name: spec for spec in BUILTIN}

    def add(spec: MethodSpec, origin: str) -> None:
        if spec.name in methods and methods[spec.name] != spec:
            raise ConfigError(
                f"{origin}: method name {spec.name!r} is already registered; rename the plugin's method"
            )
        methods[spec.name] = spec

    for ep in entry_points(group=ENTRY_POINT_GROUP):
        spec = _load_object(ep.value, f"entry point {ep.name!r} of {ep.dist.name if ep.dist else '?'}")
        if spec.name != ep.name:
            raise ConfigError(
                f"entry point {ep.name!r} points to a MethodSpec named {spec.name!r}; make them equal"
            )
        add(spec, f"entry point {ep.name!r}")
    for item in filter(None, os.environ.get("NESBENCH_METHODS", "").split(",")):
        name, sep, ref = item.partition("=")
        if not sep:
            raise ConfigError(f"NESBENCH_METHODS item {item!r} must look like name=module:object")
        spec = _load_object(ref.strip(), f"NESBENCH_METHODS {name.strip()!r}")
        add(spec, f"NESBENCH_METHODS {name.strip()!r}")
    return methods


def get_method(name: str) -> MethodSpec:
    methods = discover()
    try:
        return methods[name]
    except KeyError:
        raise ConfigError(f"unknown method {name!r}; known: {', '.join(sorted(methods))}") from None


def list_methods() -> list[MethodSpec]:
    return sorted(discover().values(), key=lambda s: s.name)
