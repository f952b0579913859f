"""dse's one bridge to Optuna's private names.

Every other module uses Optuna's public API only (tests/test_architecture.py checks that no
other module imports a private Optuna module or reads a private attribute of an Optuna
object). What is here has no public equivalent in the Optuna versions we support:

- the id of a trial in its storage (``Trial._trial_id``, ``FrozenTrial._trial_id``), which
  every storage call takes;
- a study's storage (``Study._storage``) and the RDB storage under Optuna's cache
  (``_CachedStorage._backend``), for heartbeats and the stale-trial callback;
- the heartbeat thread Optuna's own ``optimize`` runs (``optuna.storages._heartbeat``);
- what ``Study.tell`` does between the sampler's ``after_trial`` hook and writing the state:
  our storage writes the state, the values and the design in one transaction, so we call
  the hook ourselves and drop the study's cached trials (``Study._thread_local``);
- the tables of trials, their values and user attributes (``optuna.storages._rdb.models``),
  written in that same transaction;
- the random state of Optuna's samplers (``optuna.samplers._lazy_random_state``), reseeded
  per trial so that a trial's parameters do not depend on the worker that draws them.

:func:`check_private_api` lists what no longer has the shape we rely on; a test runs it, so
an Optuna release that changes any of it fails loudly instead of corrupting a study.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from optuna.samplers._lazy_random_state import LazyRandomState

from dse.errors import DseError

__all__ = [
    "OPTUNA_REQUIRES",
    "LazyRandomState",
    "TrialTables",
    "check_optuna_version",
    "check_private_api",
    "heartbeat_thread",
    "rdb_backend",
    "sampler_after_trial",
    "study_storage",
    "trial_id",
    "trial_tables",
]

#: The Optuna major versions this bridge is written against, as [low, high) (5.0 brought
#: ``trial.set_constraint``); pyproject.toml declares the same range.
OPTUNA_REQUIRES = (5, 6)
_REQUIRES_TEXT = "optuna>=5.0,<6"


def check_optuna_version(version: str | None = None) -> None:
    """Refuse an Optuna outside :data:`OPTUNA_REQUIRES`.

    Raises:
        DseError: names the installed version and the pip command that fixes it.
    """
    import optuna

    found = version or optuna.__version__
    try:
        major = int(found.split(".")[0])
    except ValueError:
        major = -1
    low, high = OPTUNA_REQUIRES
    if not low <= major < high:
        raise DseError(
            f"optuna {found} is installed; adapex needs {_REQUIRES_TEXT}: run "
            f"`pip install -c constraints.txt '{_REQUIRES_TEXT}'`"
        )


def trial_id(trial: Any) -> int:
    """The storage id of a Trial or FrozenTrial (every storage call takes it)."""
    return int(trial._trial_id)


def study_storage(study: Any) -> Any:
    """The storage a study reads and writes (Optuna's cache over the RDB storage)."""
    return study._storage


def rdb_backend(storage: Any) -> Any:
    """The RDB storage under Optuna's cache, which holds the heartbeat settings."""
    return getattr(storage, "_backend", storage)


@contextlib.contextmanager
def heartbeat_thread(study: Any, trial: Any) -> Iterator[None]:
    """Record the trial's heartbeat in the background while the block runs, as Optuna's
    own ``optimize`` does."""
    from optuna.storages._heartbeat import get_heartbeat_thread

    with get_heartbeat_thread(trial_id(trial), study_storage(study)):
        yield


def sampler_after_trial(study: Any, trial: Any, values: Sequence[float]) -> None:
    """What ``study.tell`` does before it writes a COMPLETE state: the sampler's
    ``after_trial`` hook on the frozen trial, then drop the study's cached trial list."""
    from optuna.trial import TrialState

    frozen = study_storage(study).get_trial(trial_id(trial))
    study.sampler.after_trial(study, frozen, TrialState.COMPLETE, list(values))
    study._thread_local.cached_all_trials = None


@dataclass(frozen=True)
class TrialTables:
    """Optuna's ``trials``, ``trial_values`` and ``trial_user_attributes`` tables (SQLAlchemy
    Table objects), and how a float objective value is stored there."""

    trials: Any
    values: Any
    user_attrs: Any

    @staticmethod
    def stored_value(value: float) -> tuple[float | None, Any]:
        """(value column, value_type column) of one objective value, as Optuna stores it
        (infinities as a type with no value)."""
        from optuna.storages._rdb import models

        return models.TrialValueModel.value_to_stored_repr(float(value))


def trial_tables() -> TrialTables:
    """Optuna's RDB tables that :meth:`dse.storage.Store.complete_trial` writes."""
    from optuna.storages._rdb import models

    return TrialTables(
        trials=models.TrialModel.__table__,
        values=models.TrialValueModel.__table__,
        user_attrs=models.TrialUserAttributeModel.__table__,
    )


#: The columns we read or write in each of Optuna's tables.
_COLUMNS = {
    "trials": {"trial_id", "number", "study_id", "state", "datetime_start", "datetime_complete"},
    "values": {"trial_value_id", "trial_id", "objective", "value", "value_type"},
    "user_attrs": {"trial_user_attribute_id", "trial_id", "key", "value_json"},
}


def check_private_api() -> list[str]:
    """What of Optuna's private API no longer has the shape this bridge relies on (an empty
    list when all of it is in place)."""
    import optuna

    problems: list[str] = []
    try:
        check_optuna_version()
    except DseError as exc:
        problems.append(str(exc))
    try:
        tables = trial_tables()
        for name, want in _COLUMNS.items():
            have = {c.name for c in getattr(tables, name).columns}
            if not want <= have:
                problems.append(f"optuna table {name}: missing columns {sorted(want - have)}")
        stored = TrialTables.stored_value(float("inf"))
        if stored[0] is not None:
            problems.append("TrialValueModel.value_to_stored_repr: inf no longer stored as None")
    except (ImportError, AttributeError) as exc:
        problems.append(f"optuna.storages._rdb.models: {exc}")
    try:
        from optuna.storages._heartbeat import get_heartbeat_thread  # noqa: F401
    except ImportError as exc:
        problems.append(f"optuna.storages._heartbeat.get_heartbeat_thread: {exc}")
    if not hasattr(LazyRandomState(0), "rng"):
        problems.append("LazyRandomState has no rng")
    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        study = optuna.create_study()
        trial = study.ask()
    finally:
        optuna.logging.set_verbosity(verbosity)
    for obj, attr in ((trial, "_trial_id"), (study, "_storage"), (study, "_thread_local")):
        if not hasattr(obj, attr):
            problems.append(f"{type(obj).__name__}.{attr} is gone")
    if not hasattr(getattr(study, "_thread_local", None), "cached_all_trials"):
        problems.append("Study._thread_local.cached_all_trials is gone")
    return problems
