"""The schema version of adapex's tables: checks, creation and the upgrade path.

A database is one of: empty (tables are created), Optuna's without adapex tables (ours are
added beside Optuna's), ours at the current version (used as is), ours at an older version
(refused until ``adapex db upgrade``), ours at a newer version (refused: upgrade adapex), or
not ours (tables of something else, neither Optuna's nor adapex's: refused, never written).
"""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa

from dse.errors import DseError
from dse.storage import tables as T
from dse.storage.engine import enable_wal, redact


# MIGRATIONS[v] upgrades a database from schema version v to v + 1 (called inside one
# transaction, before the missing tables are created). Version 0 means adapex tables
# without a version row.
def _add_params_hash(conn: sa.Connection) -> None:
    """Version 2: the designs' ``params_hash`` column, filled in, and its index."""
    inspector = sa.inspect(conn)
    if "adapex_designs" not in inspector.get_table_names():
        return  # create_all makes the table with the column and the index
    if "params_hash" not in {c["name"] for c in inspector.get_columns("adapex_designs")}:
        conn.execute(sa.text("ALTER TABLE adapex_designs ADD COLUMN params_hash VARCHAR(64)"))
    rows = conn.execute(sa.select(T.designs.c.id, T.designs.c.params)).all()
    for row in rows:
        conn.execute(
            sa.update(T.designs)
            .where(T.designs.c.id == row.id)
            .values(params_hash=T.params_hash(row.params))
        )
    for index in T.designs.indexes:
        index.create(conn, checkfirst=True)


def _columns(conn: sa.Connection, table: str) -> set[str]:
    return {c["name"] for c in sa.inspect(conn).get_columns(table)}


def _rebuild_designs_sqlite(conn: sa.Connection) -> None:
    """SQLite cannot drop a NOT NULL: adapex_designs is made again in its version 3 form
    and the rows copied over (same ids)."""
    old = _columns(conn, "adapex_designs")
    for index in ("ix_adapex_designs_study_params", "ix_adapex_designs_study"):
        conn.execute(sa.text(f"DROP INDEX IF EXISTS {index}"))
    conn.execute(sa.text("ALTER TABLE adapex_designs RENAME TO adapex_designs_v2"))
    T.designs.create(conn)
    cols = ", ".join(c.name for c in T.designs.columns if c.name in old)
    conn.execute(
        sa.text(f"INSERT INTO adapex_designs ({cols}) SELECT {cols} FROM adapex_designs_v2")
    )
    conn.execute(sa.text("DROP TABLE adapex_designs_v2"))


def _two_level_layout(conn: sa.Connection) -> None:
    """Version 3: trained models (``adapex_models``), a design's model and role, a study's
    layout; the sub-space baselines older adapex ran as trials of a user's study leave it
    (:func:`_move_legacy_baselines`)."""
    tables = set(sa.inspect(conn).get_table_names())
    if "adapex_studies" in tables and "layout" not in _columns(conn, "adapex_studies"):
        conn.execute(
            sa.text("ALTER TABLE adapex_studies ADD COLUMN layout INTEGER NOT NULL DEFAULT 1")
        )
    if "adapex_designs" in tables and "role" not in _columns(conn, "adapex_designs"):
        if conn.dialect.name == "sqlite":
            _rebuild_designs_sqlite(conn)
        else:
            for statement in (
                "ALTER TABLE adapex_designs ADD COLUMN model_id INTEGER",
                "ALTER TABLE adapex_designs ADD COLUMN role VARCHAR(16) NOT NULL DEFAULT 'study'",
                "ALTER TABLE adapex_designs ALTER COLUMN trial_number DROP NOT NULL",
                "ALTER TABLE adapex_designs ALTER COLUMN exit_profile DROP NOT NULL",
            ):
                conn.execute(sa.text(statement))
    T.models.create(conn, checkfirst=True)
    if "adapex_studies" in tables and "trials" in tables:
        _move_legacy_baselines(conn)


def _move_legacy_baselines(conn: sa.Connection) -> None:
    """Adapex before schema 3 evaluated the runtime's pruning-only and exit-only sub-spaces
    as trials of the user's study (enqueued with fixed parameters). Their designs become
    baseline designs (kept, read by the runtime, not on the study's front) and their
    Optuna trials are removed, so that the study counts what the user ran. A sub-space
    design that a user trial also drew stays the user's, carried by that trial."""
    import json

    from dse.optuna_bridge import delete_trials, legacy_subspace_trials, study_id_of
    from dse.pareto import ObjectiveSpec
    from dse.storage.front import update_front

    for name, objectives in conn.execute(sa.select(T.studies.c.name, T.studies.c.objectives)):
        study_id = study_id_of(conn, name)
        subs = legacy_subspace_trials(conn, study_id) if study_id is not None else {}
        if not subs:
            continue
        rows = conn.execute(
            sa.select(T.designs.c.id, T.designs.c.trial_number, T.designs.c.provenance).where(
                T.designs.c.study == name
            )
        ).all()
        for row in rows:
            prov = dict(row.provenance or {})
            repeats = [int(n) for n in prov.get("repeats", []) if int(n) not in subs]
            values: dict[str, object] = {}
            if row.trial_number in subs:
                if repeats:  # a user trial drew it too: it carries the design now
                    values = {"trial_number": repeats[0]}
                    repeats = repeats[1:]
                else:
                    values = {"trial_number": None, "role": T.ROLE_BASELINE, "pareto": False}
            if repeats != [int(n) for n in prov.get("repeats", [])]:
                prov["repeats"] = repeats
                values["provenance"] = json.loads(json.dumps(prov))
            if values:
                conn.execute(sa.update(T.designs).where(T.designs.c.id == row.id).values(**values))
        conn.execute(
            sa.delete(T.hypervolume).where(
                T.hypervolume.c.study == name, T.hypervolume.c.trial_number.in_(list(subs))
            )
        )
        delete_trials(conn, list(subs.values()))
        specs = [ObjectiveSpec.from_dict(o) for o in objectives]
        n_designs, _, volume = update_front(conn, name, specs)
        conn.execute(
            sa.update(T.studies)
            .where(T.studies.c.name == name)
            .values(n_designs=n_designs, hypervolume=volume)
        )
        # the runtime's cached library counted the sub-space designs as the study's
        conn.execute(sa.delete(T.simulations).where(T.simulations.c.study == T.CACHE_PREFIX + name))


MIGRATIONS: dict[int, Callable[[sa.Connection], None]] = {
    0: lambda _conn: None,  # version 1 only adds tables: create_all below does it
    1: _add_params_hash,
    2: _two_level_layout,
}


def _newer_message(shown: str, version: int) -> str:
    """The refusal of a database written by a newer adapex, with the upgrade that fits how
    this adapex is installed (a git checkout, or a package)."""
    from pathlib import Path

    checkout = Path(__file__).resolve().parents[2]
    how = (
        f"`git -C {checkout} pull`, then `make` there"
        if (checkout / ".git").exists()
        else "`pip install --upgrade adapex`"
    )
    return (
        f"storage: {shown} has adapex schema version {version}, newer than this adapex's "
        f"{T.SCHEMA_VERSION}; upgrade adapex ({how}) to open it"
    )


def classify(engine: sa.Engine) -> tuple[str, int | None]:
    """Classify the database behind ``engine``.

    Returns:
        ``(kind, version)`` with kind one of ``"empty"``, ``"optuna"``, ``"adapex"``,
        ``"foreign"``; version is the stored schema version for ``"adapex"`` (0 when adapex
        tables exist without a version row), else None.
    """
    names = set(sa.inspect(engine).get_table_names())
    ours = {n for n in names if n.startswith(T.PREFIX)}
    if not names:
        return "empty", None
    if ours:
        if T.meta.name not in names:
            return "adapex", 0
        with engine.connect() as conn:
            row = conn.execute(
                sa.select(T.meta.c.value).where(T.meta.c.key == "schema_version")
            ).first()
        if row is None:
            return "adapex", 0
        try:
            return "adapex", int(row[0])
        except (TypeError, ValueError):
            raise DseError(
                f"storage: adapex_meta holds schema version {row[0]!r}, not a number: the "
                "database is damaged; point `storage` at another, or restore it from a copy",
                arguments=("storage",),
            ) from None
    if names & T.OPTUNA_TABLES:
        return "optuna", None
    return "foreign", None


def _classify_ours(engine: sa.Engine, url: str) -> tuple[str, int | None, str]:
    """:func:`classify`, refusing a database that holds other applications' tables.

    Returns:
        ``(kind, version, url with its password redacted)``.
    """
    kind, version = classify(engine)
    shown = redact(url)
    if kind == "foreign":
        raise DseError(
            f"storage: {shown} holds tables that are neither Optuna's nor adapex's; "
            "point --storage at a new or an adapex database"
        )
    return kind, version, shown


def check_schema(engine: sa.Engine, url: str, *, read_only: bool) -> str:
    """Validate the database and, unless read-only, create our tables when absent.

    Returns:
        The database kind after the call (see :func:`classify`).

    Raises:
        DseError: the database is not ours, or its schema version differs from ours.
    """
    kind, version, shown = _classify_ours(engine, url)
    if kind == "adapex" and version is not None and version != T.SCHEMA_VERSION:
        if version < T.SCHEMA_VERSION:
            raise DseError(
                f"storage: {shown} has adapex schema version {version}, older than this adapex's "
                f"{T.SCHEMA_VERSION}; run `adapex db upgrade --storage {shown}`"
            )
        raise DseError(_newer_message(shown, version))
    if read_only:
        return kind
    enable_wal(engine)
    if kind != "adapex":
        create_tables(engine)
    return "adapex"


def create_tables(engine: sa.Engine) -> None:
    """Create every adapex table that is missing and write the schema version row."""
    with engine.connect().execution_options(adapex_immediate=True) as conn, conn.begin():
        T.metadata.create_all(conn, checkfirst=True)
        _write_version(conn, T.SCHEMA_VERSION)


def _write_version(conn: sa.Connection, version: int) -> None:
    exists = conn.execute(sa.select(T.meta.c.value).where(T.meta.c.key == "schema_version")).first()
    if exists is None:
        conn.execute(sa.insert(T.meta).values(key="schema_version", value=str(version)))
    else:
        conn.execute(
            sa.update(T.meta).where(T.meta.c.key == "schema_version").values(value=str(version))
        )


def is_current(engine: sa.Engine, url: str) -> bool:
    """Whether the database already holds every adapex table at :data:`SCHEMA_VERSION`, so
    that :func:`upgrade` has nothing to write (read-only: ``engine`` may be a reader's).

    Raises:
        DseError: the database is not ours or newer than this adapex.
    """
    _, version, shown = _classify_ours(engine, url)
    if version is not None and version > T.SCHEMA_VERSION:
        raise DseError(_newer_message(shown, version))
    names = set(sa.inspect(engine).get_table_names())
    return version == T.SCHEMA_VERSION and {t.name for t in T.ALL_TABLES} <= names


def upgrade(engine: sa.Engine, url: str) -> tuple[int | None, int]:
    """Upgrade adapex's tables to :data:`SCHEMA_VERSION` in one transaction.

    Returns:
        ``(old_version, new_version)``; old is None when the database had no adapex tables.

    Raises:
        DseError: the database is not ours, newer than this adapex, or has no migration path.
    """
    kind, version, shown = _classify_ours(engine, url)
    if version is not None and version > T.SCHEMA_VERSION:
        raise DseError(_newer_message(shown, version))
    start = version if version is not None else T.SCHEMA_VERSION
    missing = [v for v in range(start, T.SCHEMA_VERSION) if v not in MIGRATIONS]
    if missing:
        raise DseError(
            f"storage: no migration from adapex schema version {missing[0]}; "
            "export the designs with an older adapex and start a new database"
        )
    names = set(sa.inspect(engine).get_table_names())
    if start == T.SCHEMA_VERSION and {t.name for t in T.ALL_TABLES} <= names:
        return version, T.SCHEMA_VERSION  # current: nothing to write (a read-only file is fine)
    enable_wal(engine)
    with engine.connect().execution_options(adapex_immediate=True) as conn, conn.begin():
        for v in range(start, T.SCHEMA_VERSION):
            MIGRATIONS[v](conn)
        T.metadata.create_all(conn, checkfirst=True)
        _write_version(conn, T.SCHEMA_VERSION)
    return version, T.SCHEMA_VERSION
