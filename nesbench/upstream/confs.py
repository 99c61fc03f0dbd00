"""Per-subject upstream confs from the templates in configs/methods/<method>.conf (docs/UPSTREAM.md, section 4)."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pyhocon import ConfigFactory, ConfigTree, HOCONConverter
from pyhocon.exceptions import ConfigException
from pyparsing import ParseBaseException

from nesbench.config import Benchmark
from nesbench.errors import AssetError, ConfigError
from nesbench.fsutil import write_text_atomic
from nesbench.paths import CONFIGS_DIR
from nesbench.upstream import tarball_confs
from nesbench.upstream.pins import Upstream

# PointAvatar test-time fitting: one run (one SparseAdam) over the whole test split, as the benchmark's
# pointavatar/scripts/test.py, or one run per test sequence.
FITTING_SCOPES = ("split", "sequence")


@dataclass(frozen=True)
class MethodTemplate:
    method: str
    base: str
    exps_folder: dict[str, str]
    epochs: dict[str, int]
    img_res: str | int
    settings: dict[str, Any]
    prediction: str
    test_time_fitting: bool | None
    source: Path
    final_epoch_offset: int = 0
    fitting_scope: str | None = None
    # `set` keys that also go into a conf based on the benchmark tarball's (the harness's runner machinery)
    benchmark_conf_keys: tuple[str, ...] = ()

    def final_epoch(self, epochs: int) -> int:
        """The epoch of the checkpoint evaluated after training ``epochs`` epochs (what the benchmark rendered)."""
        return int(epochs) + self.final_epoch_offset


def load_template(method: str, configs: Path | None = None) -> MethodTemplate:
    path = (configs or CONFIGS_DIR) / "methods" / f"{method}.conf"
    if not path.is_file():
        raise ConfigError(f"{path}: no conf template for method {method!r}")
    try:
        c = ConfigFactory.parse_file(str(path))
        fitting = c.get_string("test_time_fitting", None)
        if fitting not in (None, "on", "off"):
            raise ConfigError(f"{path}: test_time_fitting must be on or off, got {fitting!r}")
        scope = c.get_string("test_time_fitting_scope", None)
        if scope not in (None, *FITTING_SCOPES):
            raise ConfigError(f"{path}: test_time_fitting_scope must be split or sequence, got {scope!r}")
        settings = {k.strip('"'): v for k, v in _flatten(c.get_config("set"))}
        keep = tuple(str(k) for k in c.get_list("benchmark_conf_keys", []))
        if unknown := [k for k in keep if k not in settings]:
            raise ConfigError(f"{path}: benchmark_conf_keys {unknown} are not keys of its set block")
        return MethodTemplate(
            method=method,
            base=c.get_string("base"),
            exps_folder={k: str(v) for k, v in c.get_config("exps_folder").items()},
            epochs={k: int(v) for k, v in c.get_config("epochs").items()},
            img_res=c.get("img_res", "benchmark"),
            settings=settings,
            prediction=c.get_string("prediction"),
            test_time_fitting=None if fitting is None else fitting == "on",
            source=path,
            final_epoch_offset=c.get_int("final_epoch_offset", 0),
            fitting_scope=scope,
            benchmark_conf_keys=keep,
        )
    except ConfigException as exc:
        raise ConfigError(f"{path}: {exc}") from None


def _flatten(tree: ConfigTree, prefix: str = "") -> list[tuple[str, Any]]:
    out = []
    for k, v in tree.items():
        key = f"{prefix}{k}"
        if isinstance(v, ConfigTree):
            out.extend(_flatten(v, key + "."))
        else:
            out.append((key, v))
    return out


# Keys the upstream code reads as numbers; a --set value for them must be one.
NUMERIC_KEYS = {
    "train.nepoch",
    "train.batch_size",
    "train.learning_rate",
    "train.plot_freq",
    "train.checkpoint_freq",
    "dataset.train.subsample",
    "dataset.test.subsample",
    "nes.flame_distance_skip",
}
# Keys that are always strings (subject ids such as 0026 must keep their zeros).
STRING_KEYS = {"dataset.subject_name", "train.methodname", "train.exps_folder", "dataset.data_folder"}
BOOL_WORDS = {"true", "false", "yes", "no", "on", "off"}
LEADING_ZERO_RE = re.compile(r"^[+-]?0\d")


def parse_value(key: str, value: str) -> Any:
    """One --set value as HOCON (numbers, booleans, lists...), except that numeric-looking strings with leading
    zeros (subject ids like 0026) and the values of STRING_KEYS stay strings; NUMERIC_KEYS must get numbers."""
    text = value.strip()
    if key in STRING_KEYS or LEADING_ZERO_RE.match(text):
        parsed: Any = text[1:-1] if len(text) >= 2 and text[0] == text[-1] == '"' else text
    else:
        try:
            parsed = ConfigFactory.parse_string(f"v = {text}").get("v")
        except (ConfigException, ParseBaseException) as exc:
            raise ConfigError(f"--set {key}={value}: value is not HOCON ({exc})") from None
    is_number = isinstance(parsed, (int, float)) and not isinstance(parsed, bool)
    if key in NUMERIC_KEYS and not is_number:
        raise ConfigError(f"--set {key}={value}: {key} takes a number, e.g. --set {key}=1")
    return parsed


SCOPE_RE = re.compile(r"^([a-z0-9][a-z0-9-]*):(.+)$")


def parse_overrides(items: list[str] | None, scoped: bool = False) -> dict[str, Any]:
    """['loss.vgg_feature_weight=0', ...] -> {key: value} (see parse_value). ``scoped`` (`nesbench run`, several
    methods in one run): ``METHOD:KEY=VALUE`` is kept as ``METHOD:KEY`` for that method alone (see overrides_for)."""
    out: dict[str, Any] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise ConfigError(f"--set {item!r}: expected KEY=VALUE, e.g. --set loss.vgg_feature_weight=0")
        scope, bare = "", key.strip()
        if scoped and (m := SCOPE_RE.match(bare)):
            scope, bare = f"{m.group(1)}:", m.group(2).strip()
        out[scope + bare] = parse_value(bare, value)
    return out


def override_scopes(overrides: dict[str, Any]) -> set[str]:
    """The methods named by ``METHOD:KEY`` keys of :func:`parse_overrides` (scoped=True)."""
    return {k.split(":", 1)[0] for k in overrides if ":" in k}


def overrides_for(method: str, overrides: dict[str, Any]) -> dict[str, Any]:
    """The overrides one method gets: every unscoped key, then its own ``METHOD:KEY`` keys (which win)."""
    common = {k: v for k, v in overrides.items() if ":" not in k}
    own = {k.split(":", 1)[1]: v for k, v in overrides.items() if k.startswith(f"{method}:")}
    return {**common, **own}


def _is_number(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return isinstance(value, (int, float, str))


def _check_types(base: ConfigTree, overrides: dict[str, Any], source: Path) -> None:
    """Refuse an override whose type clearly differs from the base conf's value (a word for a number or flag).

    Strings that pyhocon converts when the upstream code reads them ("0", "true") are accepted: the `nesbench run`
    pipeline passes its --set values unparsed."""
    for key, value in overrides.items():
        old = base.get(key, None)
        if isinstance(old, bool) and not (isinstance(value, bool) or str(value).lower() in BOOL_WORDS):
            raise ConfigError(
                f"--set {key}={value!r}: {source} has a true/false value there; give true or false"
            )
        if _is_number(old) and not isinstance(old, str) and not _is_number(value):
            raise ConfigError(f"--set {key}={value!r}: {source} has a number there ({old}); give a number")


def _job_values(
    pin: Upstream,
    checkout: Path,
    bench: Benchmark,
    subject: str,
    protocol: str,
    tpl: MethodTemplate,
    root: Path,
) -> dict[str, Any]:
    """What every job conf sets whatever its base: this machine's paths, the method name, the protocol's splits."""
    if protocol not in tpl.exps_folder:
        raise ConfigError(f"{tpl.source}: exps_folder has no entry for protocol {protocol!r}")
    proto = bench.protocol(protocol)
    return {
        "train.exps_folder": str((checkout / tpl.exps_folder[protocol]).resolve()),
        "train.methodname": pin.methodname,
        "dataset.data_folder": str((root / bench.testset_of(subject)).resolve()),
        "dataset.subject_name": str(subject),
        "dataset.train.sub_dir": list(proto.train),
        "dataset.test.sub_dir": list(proto.test_sequences),
    }


def build_conf(
    pin: Upstream,
    checkout: Path,
    bench: Benchmark,
    subject: str,
    protocol: str,
    overrides: dict[str, Any] | None = None,
    data_root: Path | None = None,
) -> ConfigTree:
    """The conf generated from upstream's example: base conf + template settings + benchmark split + ``overrides``."""
    tpl = load_template(pin.key)
    base = checkout / tpl.base
    if not base.is_file():
        raise AssetError(f"{base}: base conf missing; run `nesbench upstream install --methods {pin.key}`")
    root = Path(data_root) if data_root is not None else bench.data_root()
    job = _job_values(pin, checkout, bench, subject, protocol, tpl, root)
    conf = ConfigFactory.parse_file(str(base))
    _check_types(conf, overrides or {}, base)
    res = bench.resolution if tpl.img_res == "benchmark" else int(tpl.img_res)
    values: dict[str, Any] = {
        **job,
        "dataset.train.img_res": [res, res],
        "dataset.test.img_res": [res, res],
        **tpl.settings,
        **(overrides or {}),
    }
    for key, value in values.items():
        conf.put(key, value)
    return conf


@dataclass
class JobConf:
    """A job's conf, where it came from (``choice.source``: benchmark tarball or generated) and, for a tarball
    conf, its diff against the conf the harness would have generated (:func:`tarball_confs.diff`)."""

    conf: ConfigTree
    choice: tarball_confs.ConfChoice
    diff: list[str]

    def provenance(self) -> dict[str, Any]:
        """What method_info.json and the train marker record about the conf's origin."""
        return {
            "confs": self.choice.source,
            "conf_base": str(self.choice.path) if self.choice.path else None,
            "conf_note": self.choice.note or None,
            "conf_rewritten": sorted(self.choice.rewritten),
            "conf_diff": self.diff,
        }


def build_job_conf(
    pin: Upstream,
    checkout: Path,
    bench: Benchmark,
    subject: str,
    protocol: str,
    overrides: dict[str, Any] | None = None,
    data_root: Path | None = None,
    confs: str = "auto",
) -> JobConf:
    """The job's conf: the benchmark tarball's conf of (method, subject) when the data has one (``confs`` = auto or
    tarball), rebased onto this machine, else the generated one (:func:`build_conf`)."""
    root = Path(data_root) if data_root is not None else bench.data_root()
    choice = tarball_confs.choose(root, pin.key, str(subject), confs)
    generated = build_conf(pin, checkout, bench, subject, protocol, overrides, root)
    if choice.source != tarball_confs.SOURCE_TARBALL or choice.path is None:
        return JobConf(generated, choice, [])
    tpl = load_template(pin.key)
    base = tarball_confs.parse_conf(choice.path)
    _check_types(base, overrides or {}, choice.path)
    values = {
        **_job_values(pin, checkout, bench, subject, protocol, tpl, root),
        **{k: tpl.settings[k] for k in tpl.benchmark_conf_keys},
        # the harness scores every test frame (its scorers need a prediction for each GT frame): docs/FIDELITY.md R14
        "dataset.test.subsample": 1,
    }
    conf, choice.rewritten = tarball_confs.rebase(
        base, choice.path, values, list(bench.protocol(protocol).test_sequences)
    )
    for key, value in (overrides or {}).items():
        conf.put(key, value)
    return JobConf(conf, choice, tarball_confs.diff(generated, conf))


def describe(job_conf: JobConf) -> str:
    """HOCON comment lines saying where a job's conf came from and, for a tarball conf, its diff against the conf
    generated from the upstream example (what `nesbench upstream confs show` prints after the conf)."""
    choice = job_conf.choice
    lines = [f"confs: {choice.source}" + (f" ({choice.path})" if choice.path else "")]
    if choice.note:
        lines.append(f"note: {choice.note}")
    if choice.path:
        lines.append("rewritten for this machine: " + (", ".join(sorted(choice.rewritten)) or "nothing"))
        lines.append("diff against the conf generated from upstream examples (- generated, + this conf):")
        lines += [f"  {d}" for d in job_conf.diff] or ["  (none)"]
    return "".join(f"# {line}\n" for line in lines)


def render_conf(conf: ConfigTree) -> str:
    """HOCON text; strings are always quoted, so subject ids like "0100" stay strings."""
    return HOCONConverter.to_hocon(conf) + "\n"


def conf_path(checkout: Path, bench: Benchmark, protocol: str, subject: str, variant: str = "") -> Path:
    """The job's conf in the checkout; ``variant`` (e.g. ``seed2``) gives a seeded run its own file."""
    name = f"{subject}.{variant}.conf" if variant else f"{subject}.conf"
    return checkout / "data" / "conf" / "nesbench" / bench.name / protocol / name


def write_conf(
    pin: Upstream,
    checkout: Path,
    bench: Benchmark,
    subject: str,
    protocol: str,
    overrides: dict[str, Any] | None = None,
    data_root: Path | None = None,
    variant: str = "",
    confs: str = "auto",
) -> tuple[Path, str, JobConf]:
    """Write (if changed) the job's conf (``variant``: see :func:`conf_path`; ``confs``: see
    :func:`build_job_conf`); returns (path, sha256 of its text, the JobConf)."""
    job_conf = build_job_conf(pin, checkout, bench, subject, protocol, overrides, data_root, confs)
    text = render_conf(job_conf.conf)
    path = conf_path(checkout, bench, protocol, subject, variant)
    if not path.is_file() or path.read_text(encoding="utf-8") != text:
        write_text_atomic(path, text)
    return path, hashlib.sha256(text.encode()).hexdigest(), job_conf
