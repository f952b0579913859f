"""One writer at a time decides whether a study may start another trial.

``N`` workers with ``--trials N`` must stop at exactly ``N`` completed trials: a worker
starts a trial only when the study's completed plus running trials are below the target,
and it counts and asks (``study.ask()``) under a lock that every worker of the study
takes. SQLite (one machine) uses a lock file beside the database; other backends lock the
study's row of ``adapex_studies`` for the duration (Optuna's own tables stay free).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa

from dse.storage import tables as T
from dse.storage.engine import sqlite_path

__all__ = ["study_lock"]


@contextlib.contextmanager
def study_lock(store: Any, study: str) -> Iterator[None]:
    """Hold the study's start-a-trial lock for the ``with`` block.

    Args:
        store: the study's writable :class:`dse.storage.Store`.
        study: the study name.
    """
    if store.engine.dialect.name == "sqlite":
        path = sqlite_path(store.url)
        if path is None:  # an in-memory database lives in one process
            yield
            return
        from filelock import FileLock

        with FileLock(f"{path}.lock"):
            yield
        return
    with store.engine.connect() as conn, conn.begin():
        conn.execute(sa.select(T.studies.c.name).where(T.studies.c.name == study).with_for_update())
        yield
