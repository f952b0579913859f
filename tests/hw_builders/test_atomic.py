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


def _killed_writer(script: str, cwd: Path) -> None:
    """Run ``script`` (with hw_builders.atomic imported as ``atomic``) in a child that kills
    itself with SIGKILL where the script says so; assert that it died that way."""
    import signal
    import subprocess
    import sys
    import textwrap

    code = "import os, signal, time\nfrom hw_builders import atomic\n" + textwrap.dedent(script)
    proc = subprocess.run([sys.executable, "-c", code], cwd=cwd, timeout=60, check=False)
    assert proc.returncode == -signal.SIGKILL


def test_a_killed_folder_write_is_cleaned_by_the_next(tmp_path: Path) -> None:
    out = tmp_path / "lib"
    with atomic_directory(out) as d:
        (d / "f.json").write_text("v1")
    _killed_writer(
        """
        with atomic.atomic_directory("lib") as d:
            (d / "f.json").write_text("v2")
            os.kill(os.getpid(), signal.SIGKILL)
        """,
        tmp_path,
    )
    left = sorted(p.name for p in tmp_path.iterdir() if p.name != "lib")
    assert len(left) == 1 and left[0].startswith(".lib.tmp-")  # what SIGKILL leaves
    # a folder of the user's with the same kind of name, and a sibling library's leftovers
    mine = tmp_path / ".lib.tmp-abcd1234"
    mine.mkdir()
    (mine / "notes.txt").write_text("mine")
    with atomic_directory(out) as d:
        (d / "f.json").write_text("v3")
    assert (out / "f.json").read_text() == "v3"
    assert sorted(p.name for p in tmp_path.iterdir()) == [".lib.tmp-abcd1234", "lib"]
    assert (mine / "notes.txt").read_text() == "mine"


def test_a_writer_killed_mid_swap_gets_the_old_folder_back(tmp_path: Path) -> None:
    out = tmp_path / "lib"
    with atomic_directory(out) as d:
        (d / "f.json").write_text("v1")
    _killed_writer(
        """
        real = os.replace
        def replace(src, dst):
            real(src, dst)
            if str(dst).endswith("/x"):  # the old library moved aside, the new not yet in
                os.kill(os.getpid(), signal.SIGKILL)
        atomic.os.replace = replace
        with atomic.atomic_directory("lib") as d:
            (d / "f.json").write_text("v2")
        """,
        tmp_path,
    )
    assert not out.exists()
    with pytest.raises(FileExistsError), atomic_directory(out, overwrite=False):
        pass
    # the old library is back, and nothing of the killed writer is left
    assert (out / "f.json").read_text() == "v1"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lib"]


def test_a_live_writers_folder_is_not_touched(tmp_path: Path) -> None:
    import subprocess
    import sys

    code = (
        "import sys, time\nfrom hw_builders.atomic import atomic_directory\n"
        "with atomic_directory('lib') as d:\n"
        "    (d / 'f.json').write_text('slow')\n"
        "    print('writing', flush=True)\n"
        "    sys.stdin.readline()\n"
    )
    slow = subprocess.Popen(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert slow.stdout is not None and slow.stdout.readline() == "writing\n"
        with atomic_directory(tmp_path / "lib") as d:
            (d / "f.json").write_text("fast")
        holders = [p for p in tmp_path.iterdir() if p.name.startswith(".lib.tmp-")]
        assert len(holders) == 1  # the slow writer's, still there
    finally:
        assert slow.stdin is not None
        slow.stdin.write("\n")
        slow.stdin.close()
        assert slow.wait(timeout=60) == 0
    assert (tmp_path / "lib" / "f.json").read_text() == "slow"  # the last rename wins
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lib"]


def test_a_killed_file_write_is_cleaned_by_the_next(tmp_path: Path) -> None:
    _killed_writer(
        """
        with atomic.atomic_file("a.txt") as tmp:
            tmp.write_text("half")
            os.kill(os.getpid(), signal.SIGKILL)
        """,
        tmp_path,
    )
    assert [p.name.startswith(".a.txt.") for p in tmp_path.iterdir()] == [True]
    (tmp_path / ".a.txt.notes.tmp").write_text("mine")  # not a name atomic_file gives
    atomic_write_text(tmp_path / "a.txt", "whole")
    assert sorted(p.name for p in tmp_path.iterdir()) == [".a.txt.notes.tmp", "a.txt"]
