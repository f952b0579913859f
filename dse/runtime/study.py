"""The runtime manager on a stored study, one call each: its library, its selection table
(built and stored with the study), its simulation (run and stored).

``adapex runtime table|simulate|sweep`` are these calls and their printing; a script does the
same with them::

    from dse.runtime import study_runtime_table
    result = study_runtime_table("sqlite:///studies.db")
    result.table.row_entries(0.95)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dse.runtime.library import RuntimeLibrary
    from dse.runtime.scenario import Scenario
    from dse.runtime.table import SelectionTable

__all__ = [
    "StudyRuntimeTable",
    "load_study_library",
    "save_with_study",
    "study_runtime_table",
    "study_select",
    "study_simulation",
]


def load_study_library(
    storage: str | None, study: str | None = None, confidence: float | None = None
) -> tuple[str, RuntimeLibrary]:
    """A study's name (``study``, or the database's only study) and its runtime library:
    operating points with their guarantees, and the baselines (cached in the database per
    study state and confidence).

    Raises:
        RuntimeManagerError: a bad confidence.
        DseError: no such study, or an unreadable database.
    """
    from dse.runtime.library import check_confidence, load_library
    from dse.storage import Store
    from dse.study.status import resolve_study

    if confidence is not None:
        check_confidence(confidence)
    with Store(storage, read_only=True) as store:
        name = resolve_study(store, study)
    return name, load_library(storage, name, confidence=confidence)


def study_select(storage: str | None, study: str, select: str | None = None) -> str:
    """``select`` when given, else the study config's ``[runtime] select`` (checked)."""
    from dse.runtime.table import check_objective
    from dse.storage import Store

    if select is None:
        with Store(storage, read_only=True) as store:
            select = str(store.study_config(study).runtime.select)
    check_objective(select)
    return select


def save_with_study(storage: str | None, what: str, study: str, content: dict[str, Any]) -> bool:
    """Store a runtime ``"table"`` or ``"simulation"`` with the study; False (nothing
    stored) where this process may not write the database."""
    from dse.storage import Store

    with Store(storage, read_only=True) as probe:
        writable = probe.writable()
    if not writable:
        return False
    with Store(storage) as store:
        if what == "table":
            store.save_runtime_table(study, content)
        elif what == "simulation":
            store.save_simulation(study, content)
        else:
            raise ValueError(f"save_with_study: {what!r} is neither 'table' nor 'simulation'")
    return True


@dataclass(frozen=True)
class StudyRuntimeTable:
    """A study's selection table as :func:`study_runtime_table` built it.

    Attributes:
        study: The study's name.
        library: Its runtime library (operating points, baselines, guarantees).
        table: The selection table of adapex's configurations.
        stored: Whether the table was stored with the study (False on a read-only
            database, or when not asked to).
    """

    study: str
    library: RuntimeLibrary
    table: SelectionTable
    stored: bool

    def __repr__(self) -> str:
        return (
            f"StudyRuntimeTable(study={self.study!r}, points={len(self.table.points)}, "
            f"objective={self.table.objective!r}, stored={self.stored})"
        )


def study_runtime_table(
    storage: str | None = None,
    study: str | None = None,
    *,
    select: str | None = None,
    confidence: float | None = None,
    store: bool = True,
) -> StudyRuntimeTable:
    """Build a study's selection table and store it with the study.

    Args:
        storage: Study database URL (default ``sqlite:///studies.db``).
        study: The study (default: the database's only study).
        select: Selection objective (default: the study's ``[runtime] select``).
        confidence: Delta of the accuracy guarantees (default: the study's).
        store: Store the table with the study (where the database may be written).

    Raises:
        RuntimeManagerError: a bad objective or confidence.
        DseError: no such study, or an unreadable database.
    """
    from dse.runtime.table import SelectionTable

    name, lib = load_study_library(storage, study, confidence)
    table = SelectionTable(
        lib.point_sets()["adapex"],
        objective=study_select(storage, name, select),
        confidence=lib.state.get("confidence"),
    )
    stored = save_with_study(storage, "table", name, table.to_dict()) if store else False
    return StudyRuntimeTable(name, lib, table, stored)


def study_simulation(
    storage: str | None,
    scenario: Scenario,
    study: str | None = None,
    *,
    select: str | None = None,
    confidence: float | None = None,
    store: bool = True,
) -> tuple[str, RuntimeLibrary, dict[str, Any], bool]:
    """Simulate the runtime manager and every baseline of a study on ``scenario`` and store
    the result with the study.

    ``select`` None: the study's own ``[runtime] select`` replaces the scenario's.

    Returns:
        ``(study, library, result, stored)``.
    """
    import dataclasses

    from dse.runtime.scenario import simulate_library

    scenario.check_trace_file()  # a user's file is read before the study is touched
    name, lib = load_study_library(storage, study, confidence)
    scenario = dataclasses.replace(scenario, select=study_select(storage, name, select))
    result = simulate_library(lib, name, scenario)
    stored = save_with_study(storage, "simulation", name, result) if store else False
    return name, lib, result, stored
