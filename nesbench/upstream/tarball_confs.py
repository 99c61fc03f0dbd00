"""The benchmark's own per-subject confs, from the data tarball's ``data/conf/audio_audio_multiflame/`` (issue 15 item 1).

The benchmark trains one conf per subject from that folder (its IMavatar/train.sh:6-14, pointavatar/train.sh:7-14).
When the data holds such a conf for a job's method and subject, it is the base of the job's conf; only what must point
into this machine is rewritten (data folder, experiment folder, method name, the protocol's split lists) plus the
harness's own runner keys (``train.dataset_class`` = the NES dataset overlay, ``nes.*``), and the test subsample
(the harness scores every test frame; see docs/FIDELITY.md R14). The method a conf belongs to is told from its keys:
IMavatar's and PointAvatar's upstream confs have disjoint model/training blocks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pyhocon import ConfigFactory, ConfigTree
from pyhocon.exceptions import ConfigException
from pyparsing import ParseBaseException

from nesbench.errors import ConfigError

# Relative to the data folder that holds datasets/ (the dataset root's parent), as in the tarball.
CONFS_SUBDIR = Path("conf") / "audio_audio_multiflame"
SOURCE_TARBALL = "benchmark tarball"
SOURCE_GENERATED = "generated from upstream examples"
CONF_CHOICES = ("auto", "tarball", "generated")

# Keys only one method's confs have (IM code/confs/IMavatar_supervised.conf, PA code/confs/subject1.conf; spec 2.1/2.2).
METHOD_KEYS: dict[str, tuple[str, ...]] = {
    "imavatar": (
        "model.ray_tracer",
        "model.deformer_class",
        "train.model_class",
        "train.loss_class",
        "plot.res_init",
        "loss.flame_distance_weight",
    ),
    "pointavatar": (
        "model.point_cloud",
        "model.prune_thresh",
        "train.max_points_training",
        "train.upsample_freq",
        "loss.vgg_feature_weight",
        "loss.sdf_consistency_weight",
    ),
}
# Keys the job's conf needs from the base; a tarball conf without them cannot be run.
REQUIRED_KEYS = ("dataset.json_name", "dataset.train.img_res", "dataset.test.img_res")


@dataclass(frozen=True)
class TarballConf:
    path: Path
    method: str
    subject: str


@dataclass
class ConfChoice:
    """Where a job's conf comes from: ``source`` is SOURCE_TARBALL (``path`` = the tarball conf) or
    SOURCE_GENERATED (``note`` says why, when a tarball folder exists)."""

    source: str
    path: Path | None = None
    note: str = ""
    rewritten: dict[str, Any] = field(default_factory=dict)


def confs_dir(data_root: Path) -> Path:
    """The tarball's conf folder for a dataset root (``<data>/datasets`` -> ``<data>/conf/audio_audio_multiflame``)."""
    return Path(data_root).parent / CONFS_SUBDIR


def _has(conf: ConfigTree, key: str) -> bool:
    try:
        return conf.get(key, None) is not None
    except ConfigException:
        return False


def detect_method(conf: ConfigTree, path: Path) -> str:
    """'imavatar' or 'pointavatar' from the conf's keys; ConfigError naming the file when it is neither or both."""
    found = {m: [k for k in keys if _has(conf, k)] for m, keys in METHOD_KEYS.items()}
    hits = [m for m, keys in found.items() if keys]
    if len(hits) == 1:
        return hits[0]
    if not hits:
        raise ConfigError(
            f"{path}: neither an IMavatar nor a PointAvatar conf (none of {', '.join(METHOD_KEYS['imavatar'])} "
            f"or {', '.join(METHOD_KEYS['pointavatar'])}); move it out of {path.parent}"
        )
    raise ConfigError(
        f"{path}: ambiguous conf: it has IMavatar keys ({', '.join(found['imavatar'])}) and PointAvatar keys "
        f"({', '.join(found['pointavatar'])}); keep one method's keys, or move it out of {path.parent}"
    )


def parse_conf(path: Path) -> ConfigTree:
    try:
        return ConfigFactory.parse_file(str(path))
    except (ConfigException, ParseBaseException, UnicodeDecodeError) as exc:
        raise ConfigError(
            f"{path}: not a valid HOCON conf ({exc}); fix it or move it out of {path.parent}"
        ) from None


def subject_of(conf: ConfigTree, path: Path) -> str:
    """``dataset.subject_name`` as the subject id; an unquoted number (0100 read as 100) is refused."""
    try:
        value = conf.get("dataset.subject_name")
    except ConfigException:
        raise ConfigError(
            f'{path}: no dataset.subject_name; add the subject id, e.g. subject_name = "0100"'
        ) from None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        raise ConfigError(
            f"{path}: dataset.subject_name = {value} is a number (an unquoted id loses its leading zeros); "
            f'quote it, e.g. subject_name = "{int(value):04d}"'
        )
    return str(value)


def scan(folder: Path) -> list[TarballConf]:
    """Every ``*.conf`` of the tarball's conf folder with its method and subject (ConfigError on a bad one)."""
    out = []
    for path in sorted(Path(folder).glob("*.conf")):
        conf = parse_conf(path)
        out.append(TarballConf(path, detect_method(conf, path), subject_of(conf, path)))
    return out


def find(folder: Path, method: str, subject: str) -> Path | None:
    """The tarball conf of (method, subject) in ``folder``, None when there is none; ConfigError for two."""
    if not Path(folder).is_dir():
        return None
    hits = [c.path for c in scan(folder) if c.method == method and c.subject == str(subject)]
    if len(hits) > 1:
        raise ConfigError(
            f"{hits[1]}: a second {method} conf for subject {subject} (also {hits[0].name}); keep one of them"
        )
    return hits[0] if hits else None


def choose(data_root: Path, method: str, subject: str, mode: str = "auto") -> ConfChoice:
    """Which base the job's conf gets. ``mode``: auto = the tarball conf when the data has one, else generated;
    tarball = the tarball conf or ConfigError; generated = always generated (departs from the benchmark)."""
    if mode not in CONF_CHOICES:
        raise ConfigError(f"--confs {mode!r}: choose auto, tarball or generated")
    folder = confs_dir(data_root)
    if mode == "generated":
        return ConfChoice(SOURCE_GENERATED, note="--confs generated")
    if method not in METHOD_KEYS:  # the benchmark ran IMavatar and PointAvatar only
        if mode == "tarball":
            raise ConfigError(
                f"--confs tarball: the benchmark's tarball has confs for {', '.join(METHOD_KEYS)} only"
            )
        return ConfChoice(SOURCE_GENERATED, note=f"the benchmark's tarball has no confs for {method}")
    path = find(folder, method, subject)
    if path is not None:
        return ConfChoice(SOURCE_TARBALL, path)
    where = (
        f"{folder} has no {method} conf for subject {subject}" if folder.is_dir() else f"{folder} not found"
    )
    if mode == "tarball":
        raise ConfigError(
            f'{folder}: no {method} conf with dataset.subject_name = "{subject}" ({where}); extract the benchmark '
            "tarball with `bash setup.sh --data PATH`, or use --confs generated"
        )
    return ConfChoice(SOURCE_GENERATED, note=where)


def rebase(
    base: ConfigTree, path: Path, values: dict[str, Any], test_sequences: list[str]
) -> tuple[ConfigTree, dict[str, Any]]:
    """The tarball conf ``base`` with ``values`` put in (the machine's paths, method name, splits, runner keys);
    returns (conf, {key: the tarball's value} for every key whose value changed).

    The test split keeps the tarball's order when it lists exactly the protocol's sequences (the order decides whose
    intrinsics the loader keeps and the test-time fitting order); otherwise it is the protocol's list."""
    for key in REQUIRED_KEYS:
        if not _has(base, key):
            raise ConfigError(f"{path}: {key} missing; a benchmark conf sets it (e.g. {key} = ...)")
    own = [str(s) for s in base.get_list("dataset.test.sub_dir", [])]
    if sorted(own) == sorted(test_sequences) and len(own) == len(test_sequences):
        values = {**values, "dataset.test.sub_dir": own}
    rewritten = {}
    for key, value in values.items():
        old = base.get(key, None) if _has(base, key) else None
        if _plain(old) != _plain(value):
            rewritten[key] = _plain(old)
        base.put(key, value)
    return base, rewritten


def _plain(value: Any) -> Any:
    if isinstance(value, ConfigTree):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def flat(conf: ConfigTree, prefix: str = "") -> dict[str, Any]:
    """{dotted key: value} of every leaf."""
    out: dict[str, Any] = {}
    for k, v in conf.items():
        key = f"{prefix}{k}"
        if isinstance(v, ConfigTree):
            out.update(flat(v, key + "."))
        else:
            out[key] = _plain(v)
    return out


def diff(generated: ConfigTree, used: ConfigTree) -> list[str]:
    """The job's conf against the one the harness would have generated, one line per differing key:
    ``- key = value`` (generated only / generated value) and ``+ key = value`` (the job's value)."""
    a, b = flat(generated), flat(used)
    lines = []
    for key in sorted(set(a) | set(b)):
        if key in a and key in b and a[key] == b[key]:
            continue
        if key in a:
            lines.append(f"- {key} = {a[key]!r}")
        if key in b:
            lines.append(f"+ {key} = {b[key]!r}")
    return lines
