"""Storage: Optuna's RDB storage plus adapex's own tables (designs, Pareto, runtime table)."""

from __future__ import annotations

from dse.design import DesignRecord
from dse.storage.engine import DEFAULT_STORAGE, normalise_url
from dse.storage.records import StudySummary
from dse.storage.schema import upgrade
from dse.storage.store import Store
from dse.storage.tables import SCHEMA_VERSION

__all__ = [
    "DEFAULT_STORAGE",
    "SCHEMA_VERSION",
    "DesignRecord",
    "Store",
    "StudySummary",
    "normalise_url",
    "upgrade",
]
