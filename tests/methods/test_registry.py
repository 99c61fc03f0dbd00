from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from nesbench.errors import ConfigError
from nesbench.methods.registry import discover, get_method, list_methods
from nesbench.methods.spec import MethodSpec

PLUGIN_PYPROJECT = """
[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "nesbench-demo-plugin"
version = "0.1.0"

[project.entry-points."nesbench.methods"]
demo-constant = "nesbench_demo_plugin:SPEC"
"""

PLUGIN_MODULE = '''
"""A third-party method: predicts a mid-grey image for every test frame."""
import numpy as np

from nesbench.methods.sequence_data import load_sequence, write_rgb
from nesbench.methods.spec import MethodSpec


class Constant:
    def prepare(self, job):
        pass

    def train(self, job):
        pass

    def render(self, job):
        for seq in job.test_sequences:
            data = load_sequence(job.gt_dir(seq))
            for k in data.frames:
                write_rgb(job.pred_dir(seq) / f"{k}.png", np.full((16, 16, 3), 0.5, np.float32))


SPEC = MethodSpec(name="demo-constant", description="grey", target="nesbench_demo_plugin:Constant")
'''


@pytest.fixture(scope="module")
def installed_plugin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """pip-install a tiny plugin package (no index, no deps) into a private site folder."""
    src = tmp_path_factory.mktemp("plugin-src")
    (src / "pyproject.toml").write_text(PLUGIN_PYPROJECT)
    (src / "nesbench_demo_plugin.py").write_text(textwrap.dedent(PLUGIN_MODULE))
    site = tmp_path_factory.mktemp("plugin-site")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-index",
            "--no-deps",
            "--no-build-isolation",
            "--target",
            str(site),
            str(src),
        ],
        check=True,
        capture_output=True,
    )
    return site


def test_builtins_registered():
    names = [m.name for m in list_methods()]
    assert {"nearest-expression", "linear-expression", "imavatar", "pointavatar"} <= set(names)
    assert get_method("imavatar").needs_gpu and not get_method("nearest-expression").needs_gpu


def test_unknown_method_lists_known():
    with pytest.raises(ConfigError, match="unknown method 'nope'; known: .*nearest-expression"):
        get_method("nope")


@pytest.mark.slow
def test_installed_entry_point_plugin_is_discovered(installed_plugin, monkeypatch):
    monkeypatch.syspath_prepend(str(installed_plugin))
    spec = get_method("demo-constant")
    assert spec.description == "grey"
    method = spec.create()
    assert hasattr(method, "render")


def test_env_plugin(monkeypatch, tmp_path):
    (tmp_path / "devplugin.py").write_text(
        "from nesbench.methods.spec import MethodSpec\n"
        "SPEC = MethodSpec(name='dev-m', description='d', target='devplugin:Impl')\n"
        "CLASH = MethodSpec(name='dev-m', description='other', target='devplugin:Impl')\n"
        "NOT_A_SPEC = 3\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("NESBENCH_METHODS", "dev-m=devplugin:SPEC")
    assert discover()["dev-m"].description == "d"
    monkeypatch.setenv("NESBENCH_METHODS", "bad=devplugin:NOT_A_SPEC")
    with pytest.raises(ConfigError, match="expected a nesbench.methods.spec.MethodSpec"):
        discover()
    monkeypatch.setenv("NESBENCH_METHODS", "a=devplugin:SPEC,b=devplugin:CLASH")
    with pytest.raises(ConfigError, match="'dev-m' is already registered"):
        discover()
    monkeypatch.setenv("NESBENCH_METHODS", "no-equals-sign")
    with pytest.raises(ConfigError, match="must look like name=module:object"):
        discover()


def test_spec_create_reports_bad_target():
    with pytest.raises(ConfigError, match="cannot load 'no_such_module:X'"):
        MethodSpec(name="x", description="", target="no_such_module:X").create()
