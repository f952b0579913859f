"""docs/API.md's examples run as written: reading the front, exporting and verifying a real
small study's library (the study-running example is the one that trains, and is run by the
study tests through the same calls)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from cli_checks import copy_sqlite
from fixtures_study import SmallStudy

DOC = Path(__file__).resolve().parents[2] / "docs" / "API.md"

pytestmark = pytest.mark.slow


def _blocks() -> dict[str, str]:
    """Each section's python block, by its heading."""
    text = DOC.read_text(encoding="utf-8")
    out = {}
    for section in re.split(r"^## ", text, flags=re.M)[1:]:
        title, _, body = section.partition("\n")
        code = re.findall(r"```python\n(.*?)```", body, flags=re.S)
        if code:
            out[title.strip()] = code[0]
    return out


def test_every_section_has_its_example() -> None:
    assert list(_blocks()) == [
        "Run a study",
        "Read the front",
        "Build the runtime table",
        "Export a library",
        "Verify it",
    ]


def test_the_examples_run_on_a_real_study(
    small_study: SmallStudy, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import dataclasses

    blocks = _blocks()
    url = copy_sqlite(small_study.db, tmp_path / "studies.db")
    scope: dict = {"url": url, "study": small_study.name, "out_dir": tmp_path / "library"}
    for title in ("Read the front", "Build the runtime table", "Export a library", "Verify it"):
        exec(compile(blocks[title], f"{DOC}:{title}", "exec"), scope)  # noqa: S102
    printed = capsys.readouterr().out.splitlines()
    reprs = [line for line in printed if line.startswith("DesignRecord(")]
    assert reprs and all(len(line) < 400 for line in reprs)  # one short line per design
    assert all(c.ok for c in scope["checks"]) and scope["held_out"]
    assert scope["built"].stored and scope["built"].study == small_study.name
    assert any(line.startswith("StudyRuntimeTable(study=") for line in printed)
    assert (tmp_path / "library" / "README.md").is_file()
    # the repr is short, the record whole
    design = scope["front"][0]
    assert design.design_id == design.id and len(repr(design)) < 400
    assert len(str(dataclasses.asdict(design))) > 10 * len(repr(design))
