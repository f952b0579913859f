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
- Optuna's tables (``optuna.storages._rdb.models``): a training trial's values, user
  attributes and state are written in that same transaction, and so are the trials that
  carry the other designs of the trained model's front (inserted COMPLETE, numbered as
  Optuna numbers trials); the counts and heartbeats the study reads, and the removal of the
  sub-space trials older adapex versions stored in a user's study (``adapex db upgrade``);
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
    "complete_running_trial",
    "delete_trials",
    "drop_cached_trials",
    "has_heartbeat",
    "heartbeat_thread",
    "insert_complete_trials",
    "legacy_subspace_trials",
    "lock_running_trial",
    "rdb_backend",
    "sampler_after_trial",
    "study_id_of",
    "study_storage",
    "trial_count",
    "trial_id",
    "trial_state_counts",
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


def drop_cached_trials(study: Any) -> None:
    """Make the study read its trials from the storage again (trials were written in our
    own transaction)."""
    study._thread_local.cached_all_trials = None


def sampler_after_trial(study: Any, trial: Any, values: Sequence[float]) -> None:
    """What ``study.tell`` does before it writes a COMPLETE state: the sampler's
    ``after_trial`` hook on the frozen trial, then drop the study's cached trial list."""
    from optuna.trial import TrialState

    frozen = study_storage(study).get_trial(trial_id(trial))
    study.sampler.after_trial(study, frozen, TrialState.COMPLETE, list(values))
    study._thread_local.cached_all_trials = None


@dataclass(frozen=True)
class TrialTables:
    """Optuna's RDB tables (SQLAlchemy Table objects) that dse reads or writes in its own
    transactions, and how a float objective value is stored there."""

    studies: Any
    directions: Any
    trials: Any
    params: Any
    values: Any
    user_attrs: Any
    system_attrs: Any
    intermediate: Any
    heartbeats: Any

    @staticmethod
    def stored_value(value: float) -> tuple[float | None, Any]:
        """(value column, value_type column) of one objective value, as Optuna stores it
        (infinities as a type with no value)."""
        from optuna.storages._rdb import models

        return models.TrialValueModel.value_to_stored_repr(float(value))


def trial_tables() -> TrialTables:
    """Optuna's RDB tables that dse reads and writes (see the module doc)."""
    from optuna.storages._rdb import models

    return TrialTables(
        studies=models.StudyModel.__table__,
        directions=models.StudyDirectionModel.__table__,
        trials=models.TrialModel.__table__,
        params=models.TrialParamModel.__table__,
        values=models.TrialValueModel.__table__,
        user_attrs=models.TrialUserAttributeModel.__table__,
        system_attrs=models.TrialSystemAttributeModel.__table__,
        intermediate=models.TrialIntermediateValueModel.__table__,
        heartbeats=models.TrialHeartbeatModel.__table__,
    )


def _utc_now() -> Any:
    """Now, as Optuna's RDB storage stores a trial's times (naive UTC)."""
    import datetime

    return datetime.datetime.now(datetime.UTC).replace(tzinfo=None)


def study_id_of(conn: Any, study: str) -> int | None:
    """Optuna's id of the study named ``study`` (None when Optuna has no such study)."""
    import sqlalchemy as sa

    t = trial_tables()
    row = conn.execute(
        sa.select(t.studies.c.study_id).where(t.studies.c.study_name == study)
    ).first()
    return None if row is None else int(row.study_id)


def lock_running_trial(conn: Any, trial_id_: int) -> tuple[int, int]:
    """Lock a trial's row; ``(study_id, number)`` while it is RUNNING.

    Raises:
        TrialNotRunning: the trial is no longer RUNNING (failed as stale by another worker).
    """
    import sqlalchemy as sa
    from optuna.trial import TrialState

    from dse.errors import TrialNotRunning

    trials = trial_tables().trials
    row = conn.execute(
        sa.select(trials.c.state, trials.c.study_id, trials.c.number)
        .where(trials.c.trial_id == trial_id_)
        .with_for_update()
    ).first()
    if row is None or row.state != TrialState.RUNNING:
        state = None if row is None else row.state
        raise TrialNotRunning(
            f"Optuna trial {trial_id_} is {getattr(state, 'name', state)}, not RUNNING; "
            "its result is discarded"
        )
    return int(row.study_id), int(row.number)


def _write_values(conn: Any, trial_id_: int, values: Sequence[float]) -> None:
    import sqlalchemy as sa

    t = trial_tables()
    conn.execute(sa.delete(t.values).where(t.values.c.trial_id == trial_id_))
    for objective, value in enumerate(values):
        stored, value_type = TrialTables.stored_value(value)
        conn.execute(
            sa.insert(t.values).values(
                trial_id=trial_id_, objective=objective, value=stored, value_type=value_type
            )
        )


def _write_attrs(conn: Any, table: Any, trial_id_: int, attrs: dict[str, Any]) -> None:
    import json

    import sqlalchemy as sa

    for key, value in attrs.items():
        conn.execute(sa.delete(table).where(table.c.trial_id == trial_id_, table.c.key == key))
        conn.execute(
            sa.insert(table).values(trial_id=trial_id_, key=key, value_json=json.dumps(value))
        )


def complete_running_trial(
    conn: Any, trial_id_: int, values: Sequence[float], user_attrs: dict[str, Any]
) -> None:
    """Write a RUNNING trial's values and user attributes and its COMPLETE state, as
    Optuna's ``RDBStorage.set_trial_state_values`` writes them (call
    :func:`lock_running_trial` first, in the same transaction)."""
    import sqlalchemy as sa
    from optuna.trial import TrialState

    t = trial_tables()
    _write_values(conn, trial_id_, values)
    _write_attrs(conn, t.user_attrs, trial_id_, user_attrs)
    conn.execute(
        sa.update(t.trials)
        .where(t.trials.c.trial_id == trial_id_)
        .values(state=TrialState.COMPLETE, datetime_complete=_utc_now())
    )


def trial_count(conn: Any, study_id: int) -> int:
    """How many trials the study has (the number Optuna gives its next trial)."""
    import sqlalchemy as sa

    t = trial_tables()
    return int(
        conn.execute(
            sa.select(sa.func.count()).select_from(t.trials).where(t.trials.c.study_id == study_id)
        ).scalar_one()
    )


def insert_complete_trials(
    conn: Any,
    study_id: int,
    params_of: int,
    rows: Sequence[tuple[Sequence[float], dict[str, Any], dict[str, Any]]],
) -> list[int]:
    """Insert COMPLETE trials that carry the parameters of trial ``params_of`` (its trial
    id), one per ``(values, user attributes, system attributes)`` row.

    They are numbered as Optuna numbers a new trial (the count of the study's trials before
    it), so call this where no other trial of the study can be created meanwhile (under
    the study's lock, or in SQLite's single writer transaction).

    Returns:
        The new trials' numbers, in the order of ``rows``.
    """
    import sqlalchemy as sa
    from optuna.trial import TrialState

    t = trial_tables()
    params = conn.execute(
        sa.select(t.params.c.param_name, t.params.c.param_value, t.params.c.distribution_json)
        .where(t.params.c.trial_id == params_of)
        .order_by(t.params.c.param_id)
    ).all()
    count = trial_count(conn, study_id)
    numbers = []
    now = _utc_now()
    for i, (values, user_attrs, system_attrs) in enumerate(rows):
        number = int(count) + i
        new_id = conn.execute(
            sa.insert(t.trials)
            .values(
                number=number,
                study_id=study_id,
                state=TrialState.COMPLETE,
                datetime_start=now,
                datetime_complete=now,
            )
            .returning(t.trials.c.trial_id)
        ).scalar_one()
        for p in params:
            conn.execute(
                sa.insert(t.params).values(
                    trial_id=new_id,
                    param_name=p.param_name,
                    param_value=p.param_value,
                    distribution_json=p.distribution_json,
                )
            )
        _write_values(conn, new_id, values)
        _write_attrs(conn, t.user_attrs, new_id, user_attrs)
        _write_attrs(conn, t.system_attrs, new_id, system_attrs)
        numbers.append(number)
    return numbers


def trial_state_counts(conn: Any) -> dict[str, dict[str, Any]]:
    """Per Optuna study name: ``{"study_id", "states": {state: count}, "directions"}``."""
    import sqlalchemy as sa

    t = trial_tables()
    out: dict[str, dict[str, Any]] = {}
    for sid, name in conn.execute(sa.select(t.studies.c.study_id, t.studies.c.study_name)):
        out[name] = {"study_id": sid, "states": {}, "directions": []}
    by_id = {v["study_id"]: v for v in out.values()}
    rows = conn.execute(
        sa.select(t.trials.c.study_id, t.trials.c.state, sa.func.count()).group_by(
            t.trials.c.study_id, t.trials.c.state
        )
    )
    for sid, state, count in rows:
        if sid in by_id:
            key = state.name if hasattr(state, "name") else str(state)
            by_id[sid]["states"][key] = int(count)
    rows = conn.execute(
        sa.select(t.directions.c.study_id, t.directions.c.direction).order_by(
            t.directions.c.study_id, t.directions.c.objective
        )
    )
    for sid, direction in rows:
        if sid in by_id:
            text = direction.name if hasattr(direction, "name") else str(direction)
            by_id[sid]["directions"].append(text.lower())
    return out


def has_heartbeat(conn: Any, trial_id_: int) -> bool:
    """Whether Optuna recorded a heartbeat for the trial."""
    import sqlalchemy as sa

    hb = trial_tables().heartbeats
    return (
        conn.execute(sa.select(hb.c.trial_id).where(hb.c.trial_id == trial_id_)).first() is not None
    )


def legacy_subspace_trials(conn: Any, study_id: int) -> dict[int, int]:
    """The trials that adapex before schema 3 ran in a user's study for the runtime's
    sub-space baselines (enqueued with fixed parameters, and the retries of those):
    ``{number: trial_id}``."""
    import json

    import sqlalchemy as sa

    t = trial_tables()
    rows = conn.execute(
        sa.select(t.trials.c.trial_id, t.trials.c.number).where(t.trials.c.study_id == study_id)
    ).all()
    attrs: dict[int, dict[str, Any]] = {r.trial_id: {} for r in rows}
    for tid, key, value in conn.execute(
        sa.select(t.system_attrs.c.trial_id, t.system_attrs.c.key, t.system_attrs.c.value_json)
        .where(t.system_attrs.c.trial_id.in_(list(attrs)))
        .where(t.system_attrs.c.key.in_(("fixed_params", "failed_trial")))
    ):
        attrs[tid][key] = json.loads(value)
    number_of = {r.trial_id: int(r.number) for r in rows}

    def enqueued(tid: int, depth: int = 0) -> bool:
        a = attrs.get(tid, {})
        if "failed_trial" in a and depth < 100:  # a retry: what its first attempt was
            return enqueued(int(a["failed_trial"]), depth + 1)
        return "fixed_params" in a

    return {number_of[tid]: tid for tid in attrs if enqueued(tid)}


def delete_trials(conn: Any, trial_ids: Sequence[int]) -> None:
    """Delete trials and everything Optuna keeps of them."""
    import sqlalchemy as sa

    if not trial_ids:
        return
    t = trial_tables()
    ids = list(trial_ids)
    for table in (t.params, t.values, t.user_attrs, t.system_attrs, t.intermediate, t.heartbeats):
        conn.execute(sa.delete(table).where(table.c.trial_id.in_(ids)))
    conn.execute(sa.delete(t.trials).where(t.trials.c.trial_id.in_(ids)))


#: The columns we read or write in each of Optuna's tables.
_COLUMNS = {
    "studies": {"study_id", "study_name"},
    "directions": {"study_id", "direction", "objective"},
    "trials": {"trial_id", "number", "study_id", "state", "datetime_start", "datetime_complete"},
    "params": {"param_id", "trial_id", "param_name", "param_value", "distribution_json"},
    "values": {"trial_value_id", "trial_id", "objective", "value", "value_type"},
    "user_attrs": {"trial_user_attribute_id", "trial_id", "key", "value_json"},
    "system_attrs": {"trial_system_attribute_id", "trial_id", "key", "value_json"},
    "intermediate": {"trial_intermediate_value_id", "trial_id"},
    "heartbeats": {"trial_heartbeat_id", "trial_id", "heartbeat"},
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
