"""Provenance of a design: package versions, seeds, git commit, host and time."""

from __future__ import annotations

import functools
import importlib.metadata
import platform
import subprocess
from pathlib import Path
from typing import Any

from dse.storage.store import now_iso

PACKAGES = ("adapex", "torch", "brevitas", "qonnx", "optuna", "sqlalchemy", "numpy")


@functools.cache
def package_versions() -> dict[str, str]:
    """Installed versions of the packages that shape a design (missing ones omitted)."""
    out = {}
    for name in PACKAGES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return out


@functools.cache
def git_commit() -> str | None:
    """The commit of the adapex source tree (with ``+dirty`` when modified), or None."""
    root = Path(__file__).resolve().parents[2]
    if not (root / ".git").exists():
        return None
    try:
        head = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            [
                "git",
                "--no-optional-locks",
                "-C",
                str(root),
                "status",
                "--porcelain",
                "--untracked-files=no",
            ],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return f"{head}+dirty" if dirty else head


def provenance(**extra: Any) -> dict[str, Any]:
    """Provenance dict: package versions, git commit, host, Python, time, plus ``extra``."""
    return {
        "packages": package_versions(),
        "git_commit": git_commit(),
        "host": platform.node(),
        "python": platform.python_version(),
        "created_at": now_iso(),
        **extra,
    }
