"""Plugins: a package installed beside adapex adds a model family and an objective through
entry points, passes the conformance suites, and a study's TOML config names them.

The package is installed as pip installs one (the module and its ``.dist-info`` with
``entry_points.txt`` on the interpreter's path), in a folder of the test's own; the study
runs through the real CLI in a subprocess that has the folder on its path, and is refused
in one line by one that has not.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from tiny_study import subprocess_env

PLUGIN = '''
"""A plugin family (TFC under its own name) and a plugin objective."""
from dse.objectives import Objective
from search_spaces.families.tfc import TfcFamily


class DemoTfc(TfcFamily):
    name = "demo_tfc"


FAMILY = DemoTfc()

FPS_PER_LUT = Objective(
    "fps_per_lut",
    "maximize",
    "inferences/s per LUT",
    "throughput per LUT",
    read=lambda report, metrics: metrics["throughput_fps"] / max(metrics["LUT"], 1),
)

WRONG_NAME = DemoTfc()
'''

ENTRY_POINTS = """
[adapex.families]
demo_tfc = adapex_demo_plugin:FAMILY
broken_family = adapex_missing_module:FAMILY
misnamed = adapex_demo_plugin:WRONG_NAME

[adapex.objectives]
fps_per_lut = adapex_demo_plugin:FPS_PER_LUT
"""

CONFORMANCE = """
from adapex_demo_plugin import FAMILY, FPS_PER_LUT
from dse.testing import ObjectiveConformance
from search_spaces.testing import FamilyConformance


class TestDemoFamily(FamilyConformance):
    family = FAMILY


class TestFpsPerLut(ObjectiveConformance):
    objective = FPS_PER_LUT
"""

CONFIG = """
[study]
name = "plugged"
seed = 0
sampler = "random"
trials = 1

[dataset]
name = "digits"
image_size = 8

[model]
family = "demo_tfc"
width_mult = 0.25
weight_bits = [2]
act_bits = [2]
candidate_exits = [0]

[training]
epochs = 2
finetune_epochs = 1
batch_size = 64

[pruning]
rates = [0.0]

[exits]
thresholds = [0.9]

[folding]
budget = [1.0]

[hardware]
board = "Pynq-Z1"
clk_ns = [10.0]

[objectives]
names = ["accuracy", "fps_per_lut"]
"""


def _install(site: Path) -> None:
    """The plugin package as pip lays it out: the module and its dist-info."""
    (site / "adapex_demo_plugin.py").write_text(PLUGIN)
    info = site / "adapex_demo_plugin-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: adapex-demo-plugin\nVersion: 0.1\n"
    )
    (info / "entry_points.txt").write_text(ENTRY_POINTS)
    (info / "top_level.txt").write_text("adapex_demo_plugin\n")


def _env(site: Path | None, cache: Path) -> dict[str, str]:
    env = subprocess_env(cache)
    if site is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(site), env.get("PYTHONPATH", "")])
    return env


def _adapex(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "dse", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )


@pytest.mark.timeout(1200)
def test_an_installed_plugin_family_and_objective_run_a_study(tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    _install(site)
    (site / "test_conformance.py").write_text(CONFORMANCE)
    work = tmp_path / "work"
    work.mkdir()
    cfg = work / "plugged.toml"
    cfg.write_text(CONFIG)
    env = _env(site, tmp_path / "cache")

    # the plugin author's conformance run passes
    suite = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(site)],
        cwd=site,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert suite.returncode == 0 and " passed" in suite.stdout, suite.stdout[-3000:]
    assert "11 passed" in suite.stdout, suite.stdout[-3000:]

    # a study names both plugins in its TOML config and runs through the CLI
    storage = f"sqlite:///{work / 'studies.db'}"
    run = _adapex(["run", "--config", str(cfg), "--storage", storage, "--no-progress"], work, env)
    assert run.returncode == 0, run.stderr[-3000:]
    pareto = _adapex(["study", "pareto", "--storage", storage, "--json"], work, env)
    assert pareto.returncode == 0, pareto.stderr[-3000:]
    rows = json.loads(pareto.stdout)
    designs = rows["designs"] if isinstance(rows, dict) else rows
    assert designs
    for d in designs:
        metrics = d.get("metrics", d)
        assert metrics["fps_per_lut"] == pytest.approx(
            metrics["throughput_fps"] / metrics["LUT"], rel=1e-9
        )

    # without the package on the path, the same config is one line naming the family
    bare = _adapex(["run", "--config", str(cfg), "--storage", storage], work, _env(None, work))
    assert bare.returncode == 2
    line = bare.stderr.strip().splitlines()[-1]
    assert "model.family" in line and "'demo_tfc'" in line, bare.stderr


def test_a_plugin_that_fails_is_named_when_asked_for(tmp_path: Path) -> None:
    _install(tmp_path)
    code = textwrap.dedent(
        """
        from search_spaces import family_names, get_family
        from search_spaces.errors import SpaceError
        names = family_names()
        assert "demo_tfc" in names and "cnv" in names, names
        assert "broken_family" not in names and "misnamed" not in names, names
        for bad, why in (("broken_family", "ModuleNotFoundError"), ("misnamed", "'demo_tfc'")):
            try:
                get_family(bad)
            except SpaceError as exc:
                text = str(exc)
                assert text.startswith(f"plugin {bad} (adapex.families"), text
                assert why in text and "\\n" not in text, text
            else:
                raise AssertionError(bad)
        print("ok")
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        env=_env(tmp_path, tmp_path / "cache"),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr[-3000:]
