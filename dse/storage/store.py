"""The Store: adapex's tables (trained models, designs, Pareto front, hypervolume, runtime
table, simulation).

Readers (runtime manager, dashboard, export, ``adapex study``) use ``Store(url,
read_only=True)``, which never writes; the study engine stores a training trial with
:meth:`Store.complete_training`: its model, the designs of its inner front (and the
baselines' sub-space designs), the study's Pareto flags and hypervolume, and the Optuna
trials that carry its designs, in one transaction.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from dse.design import DesignRecord, ModelRecord
from dse.errors import DseError, StateError, TrialNotRunning
from dse.jsonable import jsonable
from dse.pareto import ObjectiveSpec
from dse.storage import tables as T
from dse.storage.engine import check_reachable, create_engine, normalise_url, redact
from dse.storage.front import update_front
from dse.storage.records import StudySummary
from dse.storage.schema import check_schema

if TYPE_CHECKING:
    from dse.config import StudyConfig

__all__ = ["Store", "TrialNotRunning", "now_iso"]


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
        self,
        name: str,
        config: Mapping[str, Any],
        objectives: Sequence[ObjectiveSpec],
        *,
        layout: int = T.LAYOUT_TRAINING_PER_TRIAL,
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
                    layout=int(layout),
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

    def study_config(self, name: str) -> StudyConfig:
        """The stored config of a study, validated (``dse.config.StudyConfig``): the one
        reader of a stored config.

        Raises:
            DseError: no such study, or its stored config no longer validates.
        """
        from dse.config import parse_config

        info = self.study_info(name)
        if info is None:
            raise DseError(f"study {name!r}: not found in {redact(self.url)}; check the name")
        return parse_config(info["config"], f"stored study {name!r}")

    def writable(self) -> bool:
        """Whether this database can be written: a SQLite file and its folder writable
        (a read-only file, folder or mount is only read); a server database, yes."""
        import os

        from dse.storage.engine import sqlite_path

        path = sqlite_path(self.url)
        if path is None:
            return True
        folder = path.resolve().parent
        if not (os.access(path, os.W_OK) and os.access(folder, os.W_OK)):
            return False
        try:
            st = os.statvfs(folder)
        except OSError:
            return False
        return not bool(st.f_flag & os.ST_RDONLY)

    def optuna_trial_counts(self) -> dict[str, dict[str, Any]]:
        """Per Optuna study: trial counts by state and directions (empty without Optuna tables)."""
        from dse.optuna_bridge import trial_state_counts

        if not self._has_optuna():
            return {}
        with self.engine.connect() as conn:
            return trial_state_counts(conn)

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
                    )
                    .where(T.designs.c.role == T.ROLE_STUDY)
                    .group_by(T.designs.c.study)
                )
                design_counts = {s: (int(n), int(p or 0)) for s, n, p in counts}
                model_counts: dict[str, int] = dict(
                    conn.execute(
                        sa.select(T.models.c.study, sa.func.count()).group_by(T.models.c.study)
                    ).all()
                )
        else:
            design_counts, model_counts = {}, {}
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
                    n_models=int(model_counts.get(name, 0)),
                    layout=int(info["layout"]) if info else 2,
                )
            )
        return summaries

    def delete_study(self, name: str) -> None:
        """Delete a study's rows from adapex's tables (Optuna's are left to Optuna)."""
        with self._writer() as conn, conn.begin():
            conn.execute(
                sa.delete(T.simulations).where(T.simulations.c.study == self.CACHE_PREFIX + name)
            )
            for table in (T.designs, T.models, T.hypervolume, T.runtime_tables, T.simulations):
                conn.execute(sa.delete(table).where(table.c.study == name))
            conn.execute(sa.delete(T.studies).where(T.studies.c.name == name))

    # -- models and designs ----------------------------------------------------------------
    @staticmethod
    def _model(row: sa.Row[Any]) -> ModelRecord:
        m = row._mapping
        return ModelRecord(
            id=int(m["id"]),
            study=m["study"],
            trial_number=None if m["trial_number"] is None else int(m["trial_number"]),
            key=m["key"],
            params=m["params"],
            arch=m["arch"],
            checkpoint=m["checkpoint"],
            profiles=m["profiles"],
            metrics=m["metrics"] or {},
        )

    def models(self, study: str) -> list[ModelRecord]:
        """Every trained model of a study, by training trial."""
        if not self.has_tables:
            return []
        query = sa.select(T.models).where(T.models.c.study == study).order_by(T.models.c.id)
        with self.engine.connect() as conn:
            return [self._model(r) for r in conn.execute(query)]

    @staticmethod
    def _record(row: sa.Row[Any], models: Mapping[int, ModelRecord]) -> DesignRecord:
        m = row._mapping
        model = models.get(m["model_id"]) if m["model_id"] is not None else None
        profiles = model.profiles if model is not None else {}
        return DesignRecord(
            id=int(m["id"]),
            study=m["study"],
            trial_number=None if m["trial_number"] is None else int(m["trial_number"]),
            params=m["params"],
            objectives=m["objectives"],
            metrics=m["metrics"],
            feasible=bool(m["feasible"]),
            pareto=bool(m["pareto"]),
            arch=m["arch"],
            exits=list(m["exits"]),
            thresholds=list(m["thresholds"]),
            exit_profile=profiles.get("calibration") or m["exit_profile"] or {},
            test_profile=profiles.get("test") or {},
            hw_graph=m["hw_graph"],
            folding=m["folding"],
            hw_report=m["hw_report"],
            board=m["board"],
            part=m["part"],
            clk_ns=float(m["clk_ns"]),
            checkpoint=m["checkpoint"],
            dataset=m["dataset"],
            provenance=m["provenance"],
            model_id=None if m["model_id"] is None else int(m["model_id"]),
            role=m["role"],
        )

    def _records(self, conn: sa.Connection, query: Any) -> list[DesignRecord]:
        """The designs ``query`` selects, each with its model's profiles (read once)."""
        rows = conn.execute(query).all()
        ids = sorted({int(r.model_id) for r in rows if r.model_id is not None})
        models: dict[int, ModelRecord] = {}
        if ids:
            for r in conn.execute(sa.select(T.models).where(T.models.c.id.in_(ids))):
                models[int(r.id)] = self._model(r)
        return [self._record(r, models) for r in rows]

    def designs(self, study: str, *, role: str = T.ROLE_STUDY) -> list[DesignRecord]:
        """The designs of a study with ``role`` (``"study"``: the user's, by trial number;
        ``"baseline"``: the runtime baselines' sub-space designs; ``"all"``: both)."""
        if not self.has_tables:
            return []
        query = sa.select(T.designs).where(T.designs.c.study == study)
        if role != "all":
            query = query.where(T.designs.c.role == role)
        query = query.order_by(T.designs.c.trial_number, T.designs.c.id)
        with self.engine.connect() as conn:
            return self._records(conn, query)

    def design(self, design_id: int) -> DesignRecord:
        """One design by id.

        Raises:
            DseError: no design has that id.
        """
        found: list[DesignRecord] = []
        if self.has_tables:
            with self.engine.connect() as conn:
                found = self._records(
                    conn, sa.select(T.designs).where(T.designs.c.id == int(design_id))
                )
        if not found:
            raise DseError(
                f"design {design_id}: no such design; list them with `adapex study pareto`"
            )
        return found[0]

    def pareto(self, study: str) -> list[DesignRecord]:
        """The feasible Pareto front of a study, by trial number."""
        if not self.has_tables:
            return []
        query = (
            sa.select(T.designs)
            .where(
                T.designs.c.study == study,
                T.designs.c.pareto.is_(True),
                T.designs.c.role == T.ROLE_STUDY,
            )
            .order_by(T.designs.c.trial_number)
        )
        with self.engine.connect() as conn:
            return self._records(conn, query)

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
        """Store one design and mark its Optuna trial COMPLETE in one transaction (a trial
        that carries one design, as studies before schema 3 ran them).

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
        from dse.optuna_bridge import complete_running_trial, lock_running_trial

        with self._writer() as conn, conn.begin():
            lock_running_trial(conn, trial_id)
            if repeat_of is None and record is not None and dedupe:
                repeat_of = self._same_params(conn, record.study, record.params)
                trial_number = record.trial_number
            if repeat_of is None:
                if record is None:
                    raise DseError("complete_trial: give a record or repeat_of")
                stored = self._insert_design(conn, record, replaces)
            else:
                stored = self._add_repeat(conn, repeat_of, int(trial_number or 0))
            complete_running_trial(conn, trial_id, values, {"design_id": stored.id})
            return stored

    def complete_training(
        self,
        model: ModelRecord,
        designs: Sequence[tuple[DesignRecord, Sequence[float], Mapping[str, float]]],
        *,
        trial_id: int,
        baselines: Sequence[DesignRecord] = (),
        training_attrs: Mapping[str, Any] | None = None,
    ) -> list[DesignRecord]:
        """Store a training trial's result and complete it, in one transaction.

        The trained model, the designs of its inner front (each with its objective values
        and constraints), the baselines' sub-space designs of the model that are not on
        that front, the study's Pareto flags and hypervolume; in Optuna's tables, the
        training trial COMPLETE with its first design's values, and one COMPLETE trial, with
        the training's parameters, for each further design. A process killed at any
        instant leaves all of it or none of it.

        Args:
            model: The trained model (its ``trial_number`` is the training trial's).
            designs: ``(record, values, constraints)`` per design of the front, the one the
                training trial carries first.
            trial_id: Optuna's id of the (RUNNING) training trial.
            baselines: Sub-space designs of the model for the runtime's baselines.
            training_attrs: Further user attributes of the training trial.

        Returns:
            The stored designs of the front, in the order given (ids, trial numbers and
            Pareto flags set).

        Raises:
            TrialNotRunning: the trial is no longer RUNNING (nothing was written).
            StateError: the model is stored already (another worker trained it).
        """
        from dse.optuna_bridge import complete_running_trial, lock_running_trial

        if not designs:
            raise DseError("complete_training: a trained model stores at least one design")
        with self._writer() as conn, conn.begin():
            study_id, number = lock_running_trial(conn, trial_id)
            specs = self._lock_study(conn, model.study)
            if conn.execute(
                sa.select(T.models.c.id).where(
                    T.models.c.study == model.study, T.models.c.key == model.key
                )
            ).first():
                raise StateError(
                    f"study {model.study!r}: the model of trial {number} is stored already "
                    "(another worker trained it); its trial is discarded"
                )
            model_id = self._insert_model(conn, model, number)
            ids = self._insert_model_designs(
                conn, model, model_id, study_id, trial_id, number, designs, baselines
            )
            self._refresh_front(conn, model.study, specs, number)
            complete_running_trial(
                conn,
                trial_id,
                designs[0][1],
                {
                    **dict(training_attrs or {}),
                    "design_id": ids[0],
                    "kind": "training",
                    "model_id": model_id,
                    "designs": len(designs),
                },
            )
            return self._records(
                conn,
                sa.select(T.designs)
                .where(T.designs.c.id.in_(ids))
                .order_by(T.designs.c.trial_number),
            )

    def _insert_model_designs(
        self,
        conn: sa.Connection,
        model: ModelRecord,
        model_id: int,
        study_id: int,
        trial_id: int,
        number: int,
        designs: Sequence[tuple[DesignRecord, Sequence[float], Mapping[str, float]]],
        baselines: Sequence[DesignRecord],
    ) -> list[int]:
        """Insert a trained model's designs and baseline designs, and the Optuna trials that
        carry its designs after the first; the designs' ids."""
        from dse.optuna_bridge import insert_complete_trials, trial_count

        first = trial_count(conn, study_id)  # the numbers Optuna gives the next trials
        numbers = [number, *range(first, first + len(designs) - 1)]
        ids = [
            self._insert_row(
                conn,
                dataclasses.replace(record, trial_number=n, model_id=model_id, role=T.ROLE_STUDY),
            )
            for (record, _, _), n in zip(designs, numbers, strict=True)
        ]
        for record in baselines:
            self._insert_row(
                conn,
                dataclasses.replace(
                    record, trial_number=None, model_id=model_id, role=T.ROLE_BASELINE
                ),
            )
        rows = [
            (
                [float(v) for v in values],
                {"design_id": design_id, "kind": "design", "training_trial": number},
                _constraint_attrs(constraints),
            )
            for (_, values, constraints), design_id in zip(designs[1:], ids[1:], strict=True)
        ]
        if insert_complete_trials(conn, study_id, trial_id, rows) != numbers[1:]:
            raise StateError(
                f"study {model.study!r}: another process created trials meanwhile; the "
                f"trial {number} is discarded (run the study again to retry it)"
            )
        return ids

    def _lock_study(self, conn: sa.Connection, study: str) -> list[ObjectiveSpec]:
        """Lock the study's row (its front and counts change in this transaction); its
        objectives."""
        row = conn.execute(
            sa.select(T.studies.c.objectives).where(T.studies.c.name == study).with_for_update()
        ).first()
        if row is None:
            raise DseError(
                f"study {study!r}: not registered in {redact(self.url)}; create it with `adapex run`"
            )
        return [ObjectiveSpec.from_dict(o) for o in row.objectives]

    @staticmethod
    def _insert_model(conn: sa.Connection, model: ModelRecord, trial_number: int) -> int:
        return int(
            conn.execute(
                sa.insert(T.models)
                .values(
                    study=model.study,
                    trial_number=int(trial_number),
                    key=model.key,
                    params=jsonable(model.params),
                    arch=jsonable(model.arch),
                    checkpoint=model.checkpoint,
                    profiles=jsonable(model.profiles),
                    metrics=jsonable(model.metrics),
                    created_at=now_iso(),
                )
                .returning(T.models.c.id)
            ).scalar_one()
        )

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
        return self._records(conn, sa.select(T.designs).where(T.designs.c.id == design_id))[0]

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
            found = self._records(conn, _same_params_query(study, params, T.designs).limit(1))
        return found[0] if found else None

    def _insert_design(
        self, conn: sa.Connection, record: DesignRecord, replaces: Iterable[int]
    ) -> DesignRecord:
        stale = sorted({int(record.trial_number or 0), *(int(t) for t in replaces)})
        specs = self._lock_study(conn, record.study)
        conn.execute(
            sa.delete(T.designs).where(
                T.designs.c.study == record.study, T.designs.c.trial_number.in_(stale)
            )
        )
        new_id = self._insert_row(conn, record)
        self._refresh_front(conn, record.study, specs, int(record.trial_number or 0))
        return self._records(conn, sa.select(T.designs).where(T.designs.c.id == new_id))[0]

    @staticmethod
    def _insert_row(conn: sa.Connection, record: DesignRecord) -> int:
        """Insert one design row; its id."""
        values = {f: jsonable(getattr(record, f)) for f in _DESIGN_JSON_FIELDS}
        if record.model_id is not None:
            values["exit_profile"] = {}  # read from its model
        return int(
            conn.execute(
                sa.insert(T.designs)
                .values(
                    study=record.study,
                    trial_number=None if record.trial_number is None else int(record.trial_number),
                    feasible=bool(record.feasible),
                    pareto=False,
                    board=record.board,
                    part=record.part,
                    clk_ns=float(record.clk_ns),
                    checkpoint=record.checkpoint,
                    created_at=now_iso(),
                    params_hash=T.params_hash(values["params"]),
                    model_id=record.model_id,
                    role=record.role,
                    **values,
                )
                .returning(T.designs.c.id)
            ).scalar_one()
        )

    def _refresh_front(
        self, conn: sa.Connection, study: str, specs: Sequence[ObjectiveSpec], trial_number: int
    ) -> None:
        """Update the study's Pareto flags, hypervolume and design count, and append the
        hypervolume after ``trial_number`` to its history."""
        stamp = now_iso()
        n_designs, n_pareto, volume = update_front(conn, study, specs)
        conn.execute(
            sa.update(T.studies)
            .where(T.studies.c.name == study)
            .values(hypervolume=volume, n_designs=n_designs, updated_at=stamp)
        )
        conn.execute(
            sa.insert(T.hypervolume).values(
                study=study,
                trial_number=int(trial_number),
                n_designs=n_designs,
                n_pareto=n_pareto,
                hypervolume=volume,
                created_at=stamp,
            )
        )

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

    #: rows of ``adapex_simulation`` under this prefix hold a study's runtime cache
    CACHE_PREFIX = T.CACHE_PREFIX

    def save_runtime_cache(self, study: str, content: dict[str, Any]) -> None:
        """Store (replace) the runtime manager's cache of a study (see :meth:`runtime_cache`)."""
        self._save_blob(T.simulations, self.CACHE_PREFIX + study, content)

    def runtime_cache(self, study: str) -> dict[str, Any] | None:
        """The runtime manager's cache of a study: operating points and baselines computed
        for one state of the study (its designs), and the load sweeps run on them."""
        return self._blob(T.simulations, self.CACHE_PREFIX + study)


def _constraint_attrs(constraints: Mapping[str, float]) -> dict[str, Any]:
    """A trial's constraint values as Optuna's system attributes: named
    (``constraints:<name>``, what ``trial.set_constraint`` writes and the samplers read)
    and as the list optuna-dashboard reads."""
    attrs: dict[str, Any] = {f"constraints:{k}": float(v) for k, v in constraints.items()}
    attrs["constraints"] = [float(v) for v in constraints.values()]
    return attrs


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
