"""Records read from adapex's own tables besides the designs (:class:`dse.design.DesignRecord`)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class StudySummary:
    """A study of the database, as listed by :meth:`dse.storage.Store.list_studies`.

    ``n_trials`` / ``n_complete`` count Optuna's trials (a training trial and the trials
    that carry its further designs); ``n_models`` the trained models (the trainings the
    study's target counts); ``n_designs`` / ``n_pareto`` the study's own designs (the
    runtime's baseline designs apart); ``layout`` 1 for a study made before schema 3 (a
    design per trial).
    """

    name: str
    n_trials: int
    n_complete: int
    n_designs: int
    n_pareto: int
    directions: list[str]
    objectives: list[str] = field(default_factory=list)
    n_running: int = 0
    n_failed: int = 0
    hypervolume: float | None = None
    created_at: str | None = None
    n_models: int = 0
    layout: int = 2

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-serialisable dict of every field."""
        return asdict(self)
