"""Atomic writes: all-or-nothing, and ordinary (umask) permissions."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from hw_builders.atomic import atomic_directory, atomic_write_json, atomic_write_text


def test_write_replaces_content_with_umask_permissions(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        p = atomic_write_text(tmp_path / "a.txt", "one")
        atomic_write_json(p, {"x": 1})
    finally:
        os.umask(old)
    assert p.read_text() == '{\n  "x": 1\n}\n'
    assert stat.S_IMODE(p.stat().st_mode) == 0o644
    assert [q.name for q in tmp_path.iterdir()] == ["a.txt"]  # no temp file left behind


def test_failed_directory_build_leaves_old_folder_untouched(tmp_path: Path) -> None:
    out = tmp_path / "lib"
    with atomic_directory(out) as d:
        (d / "f.json").write_text("v1")
    with pytest.raises(RuntimeError), atomic_directory(out) as d:
        (d / "f.json").write_text("v2")
        raise RuntimeError("crash mid-write")
    assert (out / "f.json").read_text() == "v1"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lib"]
    assert stat.S_IMODE(out.stat().st_mode) & 0o055 == 0o055  # readable by others, not 0700


def test_directory_refuses_overwrite_when_asked(tmp_path: Path) -> None:
    out = tmp_path / "lib"
    out.mkdir()
    with pytest.raises(FileExistsError), atomic_directory(out, overwrite=False):
        pass
