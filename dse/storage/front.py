"""A study's feasible Pareto front in adapex's tables: the flags and the hypervolume, updated
in the transaction that changes the study's designs (or upgrades them)."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from dse.pareto import ObjectiveSpec, feasible_front, front_hypervolume
from dse.storage import tables as T

__all__ = ["update_front"]


def update_front(
    conn: sa.Connection, study: str, specs: Sequence[ObjectiveSpec]
) -> tuple[int, int, float]:
    """Set the Pareto flags of the study's own designs (the baseline designs are never on
    its front).

    Returns:
        ``(designs, designs on the front, hypervolume of the front)``.
    """
    rows = conn.execute(
        sa.select(
            T.designs.c.id, T.designs.c.objectives, T.designs.c.feasible, T.designs.c.pareto
        ).where(T.designs.c.study == study, T.designs.c.role == T.ROLE_STUDY)
    ).all()
    mask = feasible_front([r.objectives for r in rows], [r.feasible for r in rows], specs)
    on = [r.id for r, m in zip(rows, mask, strict=True) if m and not r.pareto]
    off = [r.id for r, m in zip(rows, mask, strict=True) if not m and r.pareto]
    if on:
        conn.execute(sa.update(T.designs).where(T.designs.c.id.in_(on)).values(pareto=True))
    if off:
        conn.execute(sa.update(T.designs).where(T.designs.c.id.in_(off)).values(pareto=False))
    front = [r.objectives for r, m in zip(rows, mask, strict=True) if m]
    return len(rows), int(mask.sum()), front_hypervolume(front, specs)
