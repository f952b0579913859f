"""The Store: adapex's tables (designs, Pareto front, hypervolume, runtime table, simulation).

Readers (runtime manager, dashboard, export, ``adapex study``) use ``Store(url,
read_only=True)``, which never writes; the study engine writes designs with
:meth:`Store.add_design`, which inserts the design and updates the study's feasible Pareto
flags and hypervolume in one transaction.
"""

from __future__ import annotations

import datetime as _dt
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import sqlalchemy as sa

from dse.design import DesignRecord
from dse.errors import DseError
from dse.jsonable import jsonable
from dse.pareto import ObjectiveSpec, feasible_front, front_hypervolume
from dse.storage import tables as T
from dse.storage.engine import check_reachable, create_engine, normalise_url, redact
from dse.storage.records import StudySummary
from dse.storage.schema import check_schema


class TrialNotRunning(DseError):
    """The trial being completed is no longer RUNNING (failed as stale by another worker)."""


_DESIGN_JSON_FIELDS = (
    "params",
    "objectives",
    "metrics",
    "arch",
    "exits",
    "thresholds",
    "exit_profile",
    "hw_graph",
    "folding",
    "hw_report",
    "dataset",
    "provenance",
)


def now_iso() -> str:
    """The current UTC time, ISO 8601 with seconds."""
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")


class Store:
    """adapex's tables in the study database (SQLite file or PostgreSQL).

    Args:
        url: SQLAlchemy URL (``sqlite:///studies.db`` by default, ``postgresql://...``) or a
            SQLite file path.
        read_only: never write (no table creation, no WAL switch); a SQLite file must exist.

    Raises:
        DseError: the URL is unreachable or malformed, the database is not ours, or its
            schema version differs (the message gives the upgrade command).
    """

    def __init__(self, url: str | None = None, *, read_only: bool = False) -> None:
        self.url = normalise_url(url)
        self.read_only = read_only
        check_reachable(self.url, must_exist=read_only)
        self.engine = create_engine(self.url, read_only=read_only)
        try:
            self.kind = check_schema(self.engine, self.url, read_only=read_only)
        except Exception:
            self.engine.dispose()
            raise
        self._optuna_tables: bool | None = None

    # -- plumbing -------------------------------------------------------------------------
    def close(self) -> None:
        """Release the database connections."""
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Store({redact(self.url)!r}, read_only={self.read_only})"

    @property
    def has_tables(self) -> bool:
        """Whether adapex's tables exist in the database."""
        return self.kind == "adapex"

    def _writer(self) -> sa.Connection:
        if self.read_only:
            raise DseError(
                "storage: this Store is read-only; open it with read_only=False to write"
            )
        if not self.has_tables:
            raise DseError(
                f"storage: {redact(self.url)} has no adapex tables; run `adapex run` first"
            )
        return self.engine.connect().execution_options(adapex_immediate=True)

    def _has_optuna(self) -> bool:
        # Only a positive answer is cached: Optuna may create its tables after this Store opened.
        if not self._optuna_tables:
            names = set(sa.inspect(self.engine).get_table_names())
            self._optuna_tables = {"studies", "trials", "study_directions"} <= names
        return bool(self._optuna_tables)

    # -- studies --------------------------------------------------------------------------
    def register_study(
        self, name: str, config: Mapping[str, Any], objectives: Sequence[ObjectiveSpec]
    ) -> bool:
        """Record a study's config and objectives (once). Returns True when newly created."""
        with self._writer() as conn, conn.begin():
            exists = conn.execute(
                sa.select(T.studies.c.name).where(T.studies.c.name == name)
            ).first()
            if exists is not None:
                return False
            stamp = now_iso()
            conn.execute(
                sa.insert(T.studies).values(
                    name=name,
                    config=jsonable(config),
                    objectives=[o.to_dict() for o in objectives],
                    directions=[o.direction for o in objectives],
                    hypervolume=0.0,
                    n_designs=0,
                    created_at=stamp,
                    updated_at=stamp,
                )
            )
            return True

    def set_target_trials(self, name: str, trials: int) -> None:
        """Store the number of completed trials the study is now run to (``[study].trials``
        of its stored config), so that resuming and ``adapex study status`` use it."""
        with self._writer() as conn, conn.begin():
            row = conn.execute(
                sa.select(T.studies.c.config).where(T.studies.c.name == name)
            ).first()
            if row is None:
                raise DseError(f"study {name!r}: not registered; run `adapex run` first")
            config = dict(row.config)
            if dict(config.get("study") or {}).get("trials") == trials:
                return
            config["study"] = {**dict(config.get("study") or {}), "trials": int(trials)}
            conn.execute(
                sa.update(T.studies)
                .where(T.studies.c.name == name)
                .values(config=jsonable(config), updated_at=now_iso())
            )

    def study_info(self, name: str) -> dict[str, Any] | None:
        """The stored config, objectives, hypervolume and timestamps of a study (None if absent)."""
        if not self.has_tables:
            return None
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(T.studies).where(T.studies.c.name == name)).first()
        if row is None:
            return None
        info = dict(row._mapping)
        info["objective_specs"] = [ObjectiveSpec.from_dict(o) for o in info["objectives"]]
        return info

    def optuna_trial_counts(self) -> dict[str, dict[str, Any]]:
        """Per Optuna study: trial counts by state and directions (empty without Optuna tables)."""
        if not self._has_optuna():
            return {}
        out: dict[str, dict[str, Any]] = {}
        with self.engine.connect() as conn:
            for sid, sname in conn.execute(sa.text("SELECT study_id, study_name FROM studies")):
                out[sname] = {"study_id": sid, "states": {}, "directions": []}
            by_id = {v["study_id"]: v for v in out.values()}
            rows = conn.execute(
                sa.text("SELECT study_id, state, COUNT(*) FROM trials GROUP BY study_id, state")
            )
            for sid, state, count in rows:
                if sid in by_id:
                    key = state.name if hasattr(state, "name") else str(state)
                    by_id[sid]["states"][key] = int(count)
            rows = conn.execute(
                sa.text(
                    "SELECT study_id, objective, direction FROM study_directions "
                    "ORDER BY study_id, objective"
                )
            )
            for sid, _objective, direction in rows:
                if sid in by_id:
                    text = direction.name if hasattr(direction, "name") else str(direction)
                    by_id[sid]["directions"].append(text.lower())
        return out

    def list_studies(self) -> list[StudySummary]:
        """Every study in the database (Optuna's and ours), sorted by name."""
        optuna_counts = self.optuna_trial_counts()
        ours: dict[str, dict[str, Any]] = {}
        if self.has_tables:
            with self.engine.connect() as conn:
                for row in conn.execute(sa.select(T.studies)):
                    ours[row.name] = dict(row._mapping)
                counts = conn.execute(
                    sa.select(
                        T.designs.c.study,
                        sa.func.count(),
                        sa.func.sum(sa.case((T.designs.c.pareto, 1), else_=0)),
                    ).group_by(T.designs.c.study)
                )
                design_counts = {s: (int(n), int(p or 0)) for s, n, p in counts}
        else:
            design_counts = {}
        summaries = []
        for name in sorted(set(optuna_counts) | set(ours)):
            oc = optuna_counts.get(name, {"states": {}, "directions": []})
            states = oc["states"]
            info = ours.get(name)
            n_designs, n_pareto = design_counts.get(name, (0, 0))
            summaries.append(
                StudySummary(
                    name=name,
                    n_trials=sum(states.values()),
                    n_complete=states.get("COMPLETE", 0),
                    n_designs=n_designs,
                    n_pareto=n_pareto,
                    directions=list(info["directions"]) if info else list(oc["directions"]),
                    objectives=[o["name"] for o in info["objectives"]] if info else [],
                    n_running=states.get("RUNNING", 0),
                    n_failed=states.get("FAIL", 0),
                    hypervolume=info["hypervolume"] if info else None,
                    created_at=info["created_at"] if info else None,
                )
            )
        return summaries

    def delete_study(self, name: str) -> None:
        """Delete a study's rows from adapex's tables (Optuna's are left to Optuna)."""
        with self._writer() as conn, conn.begin():
            conn.execute(
                sa.delete(T.simulations).where(T.simulations.c.study == self.CACHE_PREFIX + name)
            )
            for table in (T.designs, T.hypervolume, T.runtime_tables, T.simulations):
                conn.execute(sa.delete(table).where(table.c.study == name))
            conn.execute(sa.delete(T.studies).where(T.studies.c.name == name))

    # -- designs --------------------------------------------------------------------------
    @staticmethod
    def _record(row: sa.Row[Any]) -> DesignRecord:
        m = row._mapping
        return DesignRecord(
            id=int(m["id"]),
            study=m["study"],
            trial_number=int(m["trial_number"]),
            params=m["params"],
            objectives=m["objectives"],
            metrics=m["metrics"],
            feasible=bool(m["feasible"]),
            pareto=bool(m["pareto"]),
            arch=m["arch"],
            exits=list(m["exits"]),
            thresholds=list(m["thresholds"]),
            exit_profile=m["exit_profile"],
            hw_graph=m["hw_graph"],
            folding=m["folding"],
            hw_report=m["hw_report"],
            board=m["board"],
            part=m["part"],
            clk_ns=float(m["clk_ns"]),
            checkpoint=m["checkpoint"],
            dataset=m["dataset"],
            provenance=m["provenance"],
        )

    def designs(self, study: str) -> list[DesignRecord]:
        """Every design of a study, by trial number."""
        if not self.has_tables:
            return []
        query = (
            sa.select(T.designs)
            .where(T.designs.c.study == study)
            .order_by(T.designs.c.trial_number)
        )
        with self.engine.connect() as conn:
            return [self._record(r) for r in conn.execute(query)]

    def design(self, design_id: int) -> DesignRecord:
        """One design by id.

        Raises:
            DseError: no design has that id.
        """
        row = None
        if self.has_tables:
            with self.engine.connect() as conn:
                row = conn.execute(sa.select(T.designs).where(T.designs.c.id == design_id)).first()
        if row is None:
            raise DseError(
                f"design {design_id}: no such design; list them with `adapex study pareto`"
            )
        return self._record(row)

    def pareto(self, study: str) -> list[DesignRecord]:
        """The feasible Pareto front of a study, by trial number."""
        if not self.has_tables:
            return []
        query = (
            sa.select(T.designs)
            .where(T.designs.c.study == study, T.designs.c.pareto.is_(True))
            .order_by(T.designs.c.trial_number)
        )
        with self.engine.connect() as conn:
            return [self._record(r) for r in conn.execute(query)]

    def add_design(self, record: DesignRecord, *, replaces: Iterable[int] = ()) -> DesignRecord:
        """Insert a design and update the study's Pareto flags and hypervolume atomically.

        The design is keyed by (study, trial number): a design already stored under that key,
        or under a trial number in ``replaces`` (earlier attempts of a retried trial), is
        replaced, so a retried trial never leaves a duplicate.

        Returns:
            The stored record, with its id and Pareto flag.

        Raises:
            DseError: the study was never registered (:meth:`register_study`).
        """
        with self._writer() as conn, conn.begin():
            return self._insert_design(conn, record, replaces)

    def complete_trial(
        self,
        record: DesignRecord | None = None,
        *,
        trial_id: int,
        values: Sequence[float],
        replaces: Iterable[int] = (),
        repeat_of: int | None = None,
        trial_number: int | None = None,
        dedupe: bool = False,
    ) -> DesignRecord:
        """Store a trial's design and mark the Optuna trial COMPLETE in one transaction.

        Optuna's trial row is locked and must still be RUNNING (a worker presumed dead has its
        trial failed by the others); its values and state are written exactly as Optuna's
        ``RDBStorage.set_trial_state_values`` writes them. A process killed at any instant
        therefore leaves either both (a COMPLETE trial and its design) or neither.

        Args:
            record: the new design (None with ``repeat_of``).
            trial_id: Optuna's trial id.
            values: the objective values, in the study's order.
            replaces: trial numbers of earlier attempts whose designs this one replaces.
            repeat_of: instead of a new design, the id of the stored design with the same
                parameters: the trial is recorded among its repeats.
            trial_number: the trial's number (with ``repeat_of``).
            dedupe: when a design with the record's parameters is already stored (a race
                between workers), record the trial among its repeats instead of storing a
                second design.

        Raises:
            TrialNotRunning: the trial is no longer RUNNING (nothing was written).
            DseError: the study was never registered, or no design ``repeat_of``.
        """
        from dse.optuna_bridge import trial_tables

        tables = trial_tables()
        with self._writer() as conn, conn.begin():
            _lock_running_trial(conn, tables, trial_id)
            if repeat_of is None and record is not None and dedupe:
                repeat_of = self._same_params(conn, record.study, record.params)
                trial_number = record.trial_number
            if repeat_of is None:
                if record is None:
                    raise DseError("complete_trial: give a record or repeat_of")
                stored = self._insert_design(conn, record, replaces)
            else:
                stored = self._add_repeat(conn, repeat_of, int(trial_number or 0))
            _complete_optuna_trial(conn, tables, trial_id, values, stored.id)
            return stored

    def _add_repeat(self, conn: sa.Connection, design_id: int, trial_number: int) -> DesignRecord:
        """Record ``trial_number`` among the repeats of the stored design ``design_id``."""
        row = conn.execute(
            sa.select(T.designs).where(T.designs.c.id == design_id).with_for_update()
        ).first()
        if row is None:
            raise DseError(f"design {design_id}: no such design")
        prov = dict(row.provenance or {})
        prov["repeats"] = sorted({*prov.get("repeats", []), trial_number})
        conn.execute(
            sa.update(T.designs)
            .where(T.designs.c.id == design_id)
            .values(provenance=jsonable(prov))
        )
        return self._record(
            conn.execute(sa.select(T.designs).where(T.designs.c.id == design_id)).one()
        )

    @staticmethod
    def _same_params(conn: sa.Connection, study: str, params: Mapping[str, Any]) -> int | None:
        """Id of the design of ``study`` with exactly these parameters, if any."""
        row = conn.execute(_same_params_query(study, params, T.designs.c.id)).first()
        return None if row is None else int(row.id)

    def find_design(self, study: str, params: Mapping[str, Any]) -> DesignRecord | None:
        """The stored design of ``study`` whose parameters equal ``params`` (None if none)."""
        if not self.has_tables:
            return None
        with self.engine.connect() as conn:
            row = conn.execute(_same_params_query(study, params, T.designs)).first()
        return None if row is None else self._record(row)

    def _insert_design(
        self, conn: sa.Connection, record: DesignRecord, replaces: Iterable[int]
    ) -> DesignRecord:
        values = {f: jsonable(getattr(record, f)) for f in _DESIGN_JSON_FIELDS}
        stale = sorted({int(record.trial_number), *(int(t) for t in replaces)})
        study_row = conn.execute(
            sa.select(T.studies.c.name, T.studies.c.objectives)
            .where(T.studies.c.name == record.study)
            .with_for_update()
        ).first()
        if study_row is None:
            raise DseError(
                f"study {record.study!r}: not registered in {redact(self.url)}; create it with `adapex run`"
            )
        specs = [ObjectiveSpec.from_dict(o) for o in study_row.objectives]
        conn.execute(
            sa.delete(T.designs).where(
                T.designs.c.study == record.study, T.designs.c.trial_number.in_(stale)
            )
        )
        stamp = now_iso()
        new_id = conn.execute(
            sa.insert(T.designs)
            .values(
                study=record.study,
                trial_number=int(record.trial_number),
                feasible=bool(record.feasible),
                pareto=False,
                board=record.board,
                part=record.part,
                clk_ns=float(record.clk_ns),
                checkpoint=record.checkpoint,
                created_at=stamp,
                params_hash=T.params_hash(values["params"]),
                **values,
            )
            .returning(T.designs.c.id)
        ).scalar_one()
        n_designs, n_pareto, volume = self._update_front(conn, record.study, specs)
        conn.execute(
            sa.update(T.studies)
            .where(T.studies.c.name == record.study)
            .values(hypervolume=volume, n_designs=n_designs, updated_at=stamp)
        )
        conn.execute(
            sa.insert(T.hypervolume).values(
                study=record.study,
                trial_number=int(record.trial_number),
                n_designs=n_designs,
                n_pareto=n_pareto,
                hypervolume=volume,
                created_at=stamp,
            )
        )
        row = conn.execute(sa.select(T.designs).where(T.designs.c.id == new_id)).one()
        return self._record(row)

    @staticmethod
    def _update_front(
        conn: sa.Connection, study: str, specs: Sequence[ObjectiveSpec]
    ) -> tuple[int, int, float]:
        rows = conn.execute(
            sa.select(
                T.designs.c.id, T.designs.c.objectives, T.designs.c.feasible, T.designs.c.pareto
            ).where(T.designs.c.study == study)
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

    def hypervolume_history(self, study: str) -> list[dict[str, Any]]:
        """The hypervolume after each stored design of a study, in insertion order."""
        if not self.has_tables:
            return []
        query = (
            sa.select(
                T.hypervolume.c.trial_number,
                T.hypervolume.c.n_designs,
                T.hypervolume.c.n_pareto,
                T.hypervolume.c.hypervolume,
                T.hypervolume.c.created_at,
            )
            .where(T.hypervolume.c.study == study)
            .order_by(T.hypervolume.c.id)
        )
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(query)]

    # -- runtime table and simulation -------------------------------------------------------
    def _save_blob(self, table: sa.Table, study: str, content: Mapping[str, Any]) -> None:
        payload = jsonable(content)
        with self._writer() as conn, conn.begin():
            conn.execute(sa.delete(table).where(table.c.study == study))
            conn.execute(
                sa.insert(table).values(study=study, content=payload, updated_at=now_iso())
            )

    def _blob(self, table: sa.Table, study: str) -> dict[str, Any] | None:
        if not self.has_tables:
            return None
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(table.c.content).where(table.c.study == study)).first()
        return None if row is None else dict(row[0])

    def save_runtime_table(self, study: str, table: dict[str, Any]) -> None:
        """Store (replace) the runtime selection table of a study."""
        self._save_blob(T.runtime_tables, study, table)

    def runtime_table(self, study: str) -> dict[str, Any] | None:
        """The stored runtime selection table of a study, or None."""
        return self._blob(T.runtime_tables, study)

    def save_simulation(self, study: str, result: dict[str, Any]) -> None:
        """Store (replace) the runtime simulation result of a study."""
        self._save_blob(T.simulations, study, result)

    def simulation(self, study: str) -> dict[str, Any] | None:
        """The stored runtime simulation result of a study, or None."""
        return self._blob(T.simulations, study)

    #: rows of ``adapex_simulation`` under this prefix hold a study's runtime cache (its
    #: operating points, baselines and load sweep), not a simulation
    CACHE_PREFIX = "adapex-runtime-cache:"

    def save_runtime_cache(self, study: str, content: dict[str, Any]) -> None:
        """Store (replace) the runtime manager's cache of a study (see :meth:`runtime_cache`)."""
        self._save_blob(T.simulations, self.CACHE_PREFIX + study, content)

    def runtime_cache(self, study: str) -> dict[str, Any] | None:
        """The runtime manager's cache of a study: operating points and baselines computed
        for one state of the study (its designs), and the load sweeps run on them."""
        return self._blob(T.simulations, self.CACHE_PREFIX + study)


def _lock_running_trial(conn: sa.Connection, tables: Any, trial_id: int) -> None:
    """Lock Optuna's trial row; TrialNotRunning unless the trial is still RUNNING."""
    from optuna.trial import TrialState

    trials = tables.trials
    state = conn.execute(
        sa.select(trials.c.state).where(trials.c.trial_id == trial_id).with_for_update()
    ).scalar_one_or_none()
    if state != TrialState.RUNNING:
        raise TrialNotRunning(
            f"Optuna trial {trial_id} is {getattr(state, 'name', state)}, not RUNNING; "
            "its result is discarded"
        )


def _complete_optuna_trial(
    conn: sa.Connection, tables: Any, trial_id: int, values: Sequence[float], design_id: int
) -> None:
    """Write the trial's values, its ``design_id`` user attribute and its COMPLETE state, as
    Optuna's ``RDBStorage.set_trial_state_values`` writes them."""
    import datetime

    from optuna.trial import TrialState

    trials, trial_values, user_attrs = tables.trials, tables.values, tables.user_attrs
    conn.execute(sa.delete(trial_values).where(trial_values.c.trial_id == trial_id))
    for objective, value in enumerate(values):
        stored_value, value_type = tables.stored_value(value)
        conn.execute(
            sa.insert(trial_values).values(
                trial_id=trial_id, objective=objective, value=stored_value, value_type=value_type
            )
        )
    conn.execute(
        sa.delete(user_attrs).where(
            user_attrs.c.trial_id == trial_id, user_attrs.c.key == "design_id"
        )
    )
    conn.execute(
        sa.insert(user_attrs).values(
            trial_id=trial_id, key="design_id", value_json=json.dumps(design_id)
        )
    )
    conn.execute(
        sa.update(trials)
        .where(trials.c.trial_id == trial_id)
        .values(state=TrialState.COMPLETE, datetime_complete=datetime.datetime.now())
    )


def _same_params_query(study: str, params: Mapping[str, Any], *columns: Any) -> Any:
    """The designs of ``study`` with exactly ``params``, first trial first, found through
    the indexed ``params_hash``."""
    return (
        sa.select(*columns)
        .where(
            T.designs.c.study == study,
            T.designs.c.params_hash == T.params_hash(jsonable(dict(params))),
        )
        .order_by(T.designs.c.trial_number)
    )
