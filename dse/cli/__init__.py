"""The ``adapex`` command line: a thin layer over the library functions."""

from __future__ import annotations

from dse.cli.main import app, main

__all__ = ["app", "main"]
