"""The tested dependency set: constraints.txt pins what CI passed on, pyproject.toml's ranges
admit every pin, and the suite runs on exactly the pinned versions."""

from __future__ import annotations

import tomllib
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]


def pins() -> dict[str, Version]:
    out = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, ver = line.partition("==")
            assert ver, f"constraints.txt: {line!r} is not an exact pin (name==version)"
            out[canonicalize_name(name)] = Version(ver)
    return out


def test_the_makefile_installs_the_constraints() -> None:
    makefile = (ROOT / "Makefile").read_text()
    assert "CONSTRAINTS ?= constraints.txt" in makefile
    assert "pip install -q -c $(CONSTRAINTS) -e '.[dev]'" in makefile
    assert "make .venv/.installed" in (ROOT / ".ci" / "run").read_text()


def test_pyproject_ranges_admit_every_pin() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    requirements = [*project["dependencies"], *(r for reqs in extras.values() for r in reqs)]
    pinned = pins()
    for text in requirements:
        req = Requirement(text)
        name = canonicalize_name(req.name)
        if name == "adapex":  # one extra naming another (dev includes study)
            assert req.extras <= set(extras), text
            continue
        assert name in pinned, f"{req.name} is a dependency but constraints.txt does not pin it"
        assert req.specifier.contains(pinned[name], prereleases=True), (text, pinned[name])


def test_the_suite_runs_on_the_pinned_versions() -> None:
    drift = {}
    for name, pinned in pins().items():
        try:
            have = Version(version(name))
        except PackageNotFoundError:
            continue  # a platform-specific dependency of another platform
        if Version(have.base_version if have.local else str(have)) != pinned:
            drift[name] = (str(have), str(pinned))
    assert not drift, f"installed versions differ from constraints.txt: {drift}; run `make test`"
