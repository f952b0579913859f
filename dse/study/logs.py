"""Plain log lines on stderr for workers and non-interactive runs."""

from __future__ import annotations

import logging
import sys
from typing import Any

__all__ = ["configure_worker_logging"]


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is at the time of each record."""

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _value: Any) -> None:
        pass


def configure_worker_logging() -> None:
    """Plain log lines on stderr (workers and non-interactive runs)."""
    root = logging.getLogger("dse")
    if not any(isinstance(h, _StderrHandler) for h in root.handlers):
        handler = _StderrHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root.addHandler(handler)
    root.setLevel(logging.INFO)
