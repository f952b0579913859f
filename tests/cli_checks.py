"""What the CLI tests check of every failure: one line, exit status 2, files unchanged."""

from __future__ import annotations

import contextlib
import hashlib
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from tiny_study import subprocess_env

ADAPEX = [sys.executable, "-m", "dse"]


def tree_digest(root: Path) -> dict[str, str]:
    """Path -> sha256 of every file under ``root``."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def one_line_exit_2(args: list[str], cwd: Path, needle: str, cache: Path | None = None) -> str:
    """Run ``adapex ARGS`` in a fresh process; it must fail with exit status 2 and one
    stderr line (``error: ...`` holding ``needle``), which is returned."""
    proc = subprocess.run(
        ADAPEX + args,
        cwd=cwd,
        env=subprocess_env(cache),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 2, (proc.stdout[-2000:], proc.stderr[-3000:])
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr[-3000:]
    assert needle in lines[0], lines[0]
    return lines[0]


def cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """Run ``adapex ARGS`` in this process: (exit status, stdout, stderr)."""
    from dse.cli.main import main

    capsys.readouterr()
    try:
        main(args)
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    out, err = capsys.readouterr()
    return code, out, err


def one_line(args: list[str], capsys: pytest.CaptureFixture[str], needle: str) -> str:
    """:func:`cli` that must fail with exit status 2 and exactly one stderr line, holding
    ``needle``; returns the line."""
    code, out, err = cli(args, capsys)
    lines = err.strip().splitlines()
    assert code == 2, (code, out[-2000:], err[-3000:])
    assert len(lines) == 1 and lines[0].startswith("error: "), err[-3000:]
    assert needle in lines[0], lines[0]
    return lines[0]


def copy_sqlite(src: Path, dst: Path) -> str:
    """A consistent copy of a SQLite study database (its WAL included) at ``dst``; its URL."""
    import sqlite3

    dst.parent.mkdir(parents=True, exist_ok=True)
    source, target = sqlite3.connect(src), sqlite3.connect(dst)
    try:
        source.backup(target)
    finally:
        source.close()
        target.close()
    return f"sqlite:///{dst}"


@contextlib.contextmanager
def immutable(path: Path) -> Iterator[None]:
    """``chattr +i`` on ``path`` for the block: not even root may change it (or, for a folder,
    create or remove a file in it)."""
    done = subprocess.run(["chattr", "+i", str(path)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.fail(
            f"chattr +i {path} failed ({done.stderr.strip()}); the test needs ext4 or tmpfs"
        )
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", str(path)], check=True)


@contextlib.contextmanager
def small_disk(folder: Path, size_kb: int) -> Iterator[Path]:
    """A tmpfs of ``size_kb`` KiB mounted on ``folder`` for the block: a disk that fills up."""
    folder.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size_kb}k", "tmpfs", str(folder)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        pytest.fail(
            f"mount tmpfs on {folder} failed ({done.stderr.strip()}); the test runs as root"
        )
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=True)
