"""dse: the adapex engine (accuracy pipeline, studies, storage, Pareto, runtime, dashboard, export)."""

from __future__ import annotations

from dse.errors import DseError

__all__ = ["DseError"]
