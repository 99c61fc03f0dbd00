"""Benchmark definitions: HOCON files under configs/benchmarks/ turned into small frozen objects.

Everything about a benchmark (subjects, protocols, splits, resolution, published numbers) lives in the config
files; code only reads it through :func:`load_benchmark`.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pyhocon import ConfigFactory, ConfigTree
from pyhocon.exceptions import ConfigException

from nesbench.errors import ConfigError
from nesbench.metrics.spec import PUBLISHED
from nesbench.names import RULE, is_valid_name
from nesbench.paths import CONFIGS_DIR, REPO_ROOT, user_cache_dir

# The embedded default; set NESBENCH_BENCHMARK=renderme360_nes to make the real benchmark the default everywhere.
DEFAULT_BENCHMARK = os.environ.get("NESBENCH_BENCHMARK", "synthetic")


@dataclass(frozen=True)
class Split:
    """A named group of test sequences, scored together."""

    name: str
    sequences: tuple[str, ...]


@dataclass(frozen=True)
class Protocol:
    """Train on ``train`` sequences, score each split of unseen sequences."""

    name: str
    title: str
    train: tuple[str, ...]
    splits: tuple[Split, ...]

    @property
    def train_split(self) -> str:
        """The folder name upstream runners give this training set (sub_dirs joined by '+')."""
        return "+".join(self.train)

    @property
    def test_sequences(self) -> tuple[str, ...]:
        """Every sequence scored by this protocol, in split order, each once."""
        seen: dict[str, None] = {}
        for split in self.splits:
            for seq in split.sequences:
                seen.setdefault(seq)
        return tuple(seen)

    def split(self, name: str) -> Split:
        for s in self.splits:
            if s.name == name:
                return s
        raise ConfigError(
            f"protocol {self.name!r} has no split {name!r}; splits: {', '.join(s.name for s in self.splits)}"
        )


@dataclass(frozen=True)
class PublishedRow:
    """One row of a published results table (for side-by-side reports)."""

    method: str
    display: str
    protocol: str
    split: str
    scorer: str
    values: dict[str, float]


@dataclass(frozen=True)
class Benchmark:
    """A benchmark: subjects grouped in test sets, protocols, evaluation resolution and published numbers."""

    name: str
    title: str
    resolution: int
    testsets: dict[str, tuple[str, ...]]
    sequences: tuple[str, ...]
    protocols: dict[str, Protocol]
    methods: tuple[str, ...]
    scorers: tuple[str, ...]
    data_root_spec: str
    published: tuple[PublishedRow, ...] = ()
    published_source: str = ""
    # what is inferred, not read from the benchmark's code, about the published rows (shown next to them)
    published_inferences: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)
    source: Path | None = None
    config_hash: str = ""

    @property
    def subjects(self) -> tuple[str, ...]:
        return tuple(s for subjects in self.testsets.values() for s in subjects)

    def testset_of(self, subject: str) -> str:
        for testset, subjects in self.testsets.items():
            if subject in subjects:
                return testset
        raise ConfigError(
            f"subject {subject!r} is not in benchmark {self.name!r} (see `nesbench benchmark show {self.name}`)"
        )

    def protocol(self, name: str) -> Protocol:
        try:
            return self.protocols[name]
        except KeyError:
            raise ConfigError(
                f"benchmark {self.name!r} has no protocol {name!r}; choose one of: {', '.join(self.protocols)}"
            ) from None

    def resolve_subjects(self, spec: str | list[str] | None) -> list[str]:
        """Subject ids from a comma list of ids and/or test-set names ('testset1,0041'); None or 'all' = every subject."""
        if spec is None or spec == "all" or spec == ["all"]:
            return list(self.subjects)
        items = spec.split(",") if isinstance(spec, str) else [x for s in spec for x in str(s).split(",")]
        out: list[str] = []
        for item in (i.strip() for i in items if i.strip()):
            if item in self.testsets:
                out.extend(s for s in self.testsets[item] if s not in out)
            elif item in self.subjects:
                if item not in out:
                    out.append(item)
            else:
                raise ConfigError(
                    f"unknown subject or test set {item!r} for benchmark {self.name!r}; "
                    f"test sets: {', '.join(self.testsets)}; subjects: {', '.join(self.subjects)}"
                )
        return out

    def data_root(self, override: str | Path | None = None) -> Path:
        """The dataset root (folder holding testsetK/) for this benchmark."""
        spec = str(override) if override is not None else self.data_root_spec
        if spec.startswith("cache:"):
            return user_cache_dir() / spec.removeprefix("cache:") / self.name
        path = Path(spec).expanduser()
        return path if path.is_absolute() else REPO_ROOT / path


def benchmark_path(name_or_path: str | Path) -> Path:
    """Resolve a benchmark name (configs/benchmarks/<name>.conf) or a path to a .conf file."""
    p = Path(name_or_path)
    if p.suffix == ".conf" or p.exists():
        if not p.exists():
            raise ConfigError(f"{p}: no such benchmark config file")
        return p.resolve()
    candidate = CONFIGS_DIR / "benchmarks" / f"{name_or_path}.conf"
    if not candidate.exists():
        raise ConfigError(
            f"unknown benchmark {str(name_or_path)!r}; available: {', '.join(list_benchmarks())} "
            f"(or pass the path of a .conf file)"
        )
    return candidate


def list_benchmarks() -> list[str]:
    return sorted(p.stem for p in (CONFIGS_DIR / "benchmarks").glob("*.conf"))


def _str_list(conf: ConfigTree, key: str, path: Path, what: str) -> tuple[str, ...]:
    try:
        values = conf.get_list(key)
    except (ConfigException, KeyError):
        raise ConfigError(f"{path}: missing list {key!r}") from None
    out = []
    for v in values:
        if not isinstance(v, str):
            raise ConfigError(
                f'{path}: {what} {v!r} in {key!r} is not a string; quote it ("{v}") - unquoted ids like 0026 '
                f"are parsed as numbers and lose their leading zeros"
            )
        if not is_valid_name(v):
            raise ConfigError(
                f"{path}: {what} {v!r} in {key!r} has characters outside the name rule ({RULE}); rename it"
            )
        out.append(v)
    return tuple(out)


def _plain(value: Any) -> Any:
    if isinstance(value, ConfigTree):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def load_benchmark(name_or_path: str | Path = DEFAULT_BENCHMARK) -> Benchmark:
    """Load and validate a benchmark definition; raises ConfigError with the file and the fix."""
    path = benchmark_path(name_or_path)
    try:
        conf = ConfigFactory.parse_file(str(path), resolve=True)
    except Exception as exc:  # pyhocon raises many exception types on syntax errors
        raise ConfigError(f"{path}: cannot parse HOCON: {str(exc).splitlines()[0]}") from None

    def req(key: str, getter: str = "get") -> Any:
        try:
            return getattr(conf, getter)(key)
        except (ConfigException, KeyError):
            raise ConfigError(f"{path}: missing key {key!r}") from None

    def name(value: Any, what: str) -> str:
        if not is_valid_name(value):
            raise ConfigError(f"{path}: {what} {value!r} is not a valid name ({RULE}); rename it")
        return value

    testsets_tree = req("testsets", "get_config")
    for ts in testsets_tree:
        name(ts, "test set")
    testsets = {ts: _str_list(testsets_tree, ts, path, "subject id") for ts in testsets_tree}
    all_subjects = [s for subs in testsets.values() for s in subs]
    dupes = sorted({s for s in all_subjects if all_subjects.count(s) > 1})
    if dupes:
        raise ConfigError(f"{path}: subject(s) {', '.join(dupes)} listed in more than one test set")
    sequences = _str_list(conf, "sequences", path, "sequence")

    protocols: dict[str, Protocol] = {}
    for pname, ptree in req("protocols", "get_config").items():
        name(pname, "protocol")
        train = _str_list(ptree, "train", path, "sequence")
        splits_tree = ptree.get_config("splits", None)
        if not splits_tree:
            raise ConfigError(f"{path}: protocol {pname!r} has no splits")
        splits = tuple(
            Split(name(sn, "split"), _str_list(splits_tree, sn, path, "sequence")) for sn in splits_tree
        )
        for seq in (*train, *(s for sp in splits for s in sp.sequences)):
            if seq not in sequences:
                raise ConfigError(
                    f"{path}: protocol {pname!r} uses sequence {seq!r}, which is not in 'sequences'"
                )
        overlap = set(train) & {s for sp in splits for s in sp.sequences}
        if overlap:
            raise ConfigError(
                f"{path}: protocol {pname!r} tests on its training sequence(s) {', '.join(sorted(overlap))}"
            )
        protocols[pname] = Protocol(pname, ptree.get_string("title", pname), train, splits)

    resolution = req("resolution", "get_int")
    if resolution <= 0:
        raise ConfigError(f"{path}: resolution must be a positive integer, got {resolution}")

    published: list[PublishedRow] = []
    pub = conf.get_config("published", None)
    if pub:
        default_protocol = pub.get_string("protocol", "")
        for row in pub.get_list("rows", []):
            vals = {k: float(v) for k, v in row.items() if k in PUBLISHED}
            published.append(
                PublishedRow(
                    method=str(row["method"]),
                    display=str(row.get("display", row["method"])),
                    protocol=str(row.get("protocol", default_protocol)),
                    split=str(row["split"]),
                    scorer=str(row.get("scorer", "unknown")),
                    values=vals,
                )
            )

    inferences = pub.get_list("inferences", []) if pub else []
    if not all(isinstance(x, str) and x.strip() for x in inferences):
        raise ConfigError(f"{path}: published.inferences must be a list of non-empty strings")

    if "synth" in conf and "data_root" not in conf:
        # pyhocon drops `data_root = ${?NESBENCH_DATA}` left unset inside an included file, together with the value
        # set before it; the fallback `benchmark_data/<name>` would put generated data into the checkout
        raise ConfigError(
            f'{path}: a synthetic benchmark (it has a synth block) needs data_root; add `data_root = "cache:synthetic"` '
            "and `data_root = ${?NESBENCH_DATA}` to this file (an included file's optional substitution does not carry over)"
        )
    plain = _plain(conf)
    digest = hashlib.sha256(json.dumps(plain, sort_keys=True, default=str).encode()).hexdigest()[:16]
    known = {
        "name",
        "title",
        "resolution",
        "data_root",
        "testsets",
        "sequences",
        "protocols",
        "methods",
        "scorers",
        "published",
    }
    methods = tuple(dict.fromkeys(name(m, "method") for m in conf.get_list("methods", [])))
    scorers = tuple(dict.fromkeys(name(m, "scorer") for m in conf.get_list("scorers", [])))
    return Benchmark(
        name=name(conf.get_string("name", path.stem), "benchmark name"),
        title=conf.get_string("title", path.stem),
        resolution=resolution,
        testsets=testsets,
        sequences=sequences,
        protocols=protocols,
        methods=methods,
        scorers=scorers,
        data_root_spec=conf.get_string("data_root", f"benchmark_data/{path.stem}"),
        published=tuple(published),
        published_source=pub.get_string("source", "") if pub else "",
        published_inferences=tuple(inferences),
        extra={k: v for k, v in plain.items() if k not in known},
        source=path,
        config_hash=digest,
    )
