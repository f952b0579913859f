"""The one console every command prints human-readable output through.

On a terminal it uses the terminal's width; piped or redirected, it never wraps text (a
path or an identifier stays on one line) and lays tables out for a wide page.
"""

from __future__ import annotations

import sys
from typing import Any, TextIO

__all__ = ["console", "progress_bar"]

PIPED_WIDTH = 200


def console(file: TextIO | None = None) -> Any:
    """A rich Console on ``file`` (stdout by default)."""
    from rich.console import Console

    out = file if file is not None else sys.stdout
    tty = bool(getattr(out, "isatty", lambda: False)())
    return Console(
        file=out,
        width=None if tty else PIPED_WIDTH,
        soft_wrap=not tty,
        highlight=tty,
    )


def progress_bar(total: int, desc: str, unit: str, *, quiet: bool = False) -> Any:
    """A tqdm bar on stderr counting ``unit``; drawn only on a terminal (never into a pipe or
    a log file) and not with ``quiet`` (``--json``). Its ``n`` and ``update`` work either way.
    """
    from tqdm import tqdm

    tty = bool(getattr(sys.stderr, "isatty", lambda: False)())
    return tqdm(
        total=total, desc=desc, unit=unit, file=sys.stderr, leave=False, disable=quiet or not tty
    )
