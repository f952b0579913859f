"""Database URLs and SQLAlchemy engines (SQLite: WAL and a busy timeout; PostgreSQL as is).

Every failure to open a database becomes a one-line :class:`dse.errors.DseError` that names
the URL and the fix; nothing is created or written before the URL has been validated.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import URL, make_url

from dse.errors import DseError

DEFAULT_STORAGE = "sqlite:///studies.db"
SQLITE_BUSY_TIMEOUT_S = 60.0
_FIX = "pass `storage` sqlite:///studies.db or postgresql://user@host/db"


def _storage_error(message: str) -> DseError:
    """A DseError about the database, naming the argument ``storage`` (``--storage``)."""
    return DseError(message, arguments=("storage",))


def normalise_url(url: str | os.PathLike[str] | None) -> str:
    """Return a SQLAlchemy URL string; a bare file path means a SQLite file.

    Args:
        url: ``sqlite:///path``, ``postgresql://user@host/db`` (psycopg2), a plain path, or
            None for the default ``sqlite:///studies.db`` (relative to the working directory).

    Raises:
        DseError: the URL cannot be parsed or names an unsupported database.
    """
    if url is None or str(url).strip() == "":
        return DEFAULT_STORAGE
    text = str(url).strip()
    if "://" not in text:
        text = f"sqlite:///{text}"
    try:
        parsed = make_url(text)
    except Exception as exc:  # noqa: BLE001 - any parse failure is bad input
        raise _storage_error(f"storage: cannot parse URL {text!r} ({exc}); {_FIX}") from None
    backend = parsed.get_backend_name()
    if backend not in ("sqlite", "postgresql"):
        raise _storage_error(
            f"storage: unsupported database {backend!r} in {_redact(parsed)}; use SQLite or PostgreSQL"
        )
    if parsed.drivername == "postgresql" and importlib.util.find_spec("psycopg") is None:
        # SQLAlchemy 2.1 defaults postgresql:// to psycopg 3; use psycopg2 when that is absent.
        parsed = parsed.set(drivername="postgresql+psycopg2")
        text = parsed.render_as_string(hide_password=False)
    return text


def _redact(url: URL | str) -> str:
    parsed = make_url(url) if isinstance(url, str) else url
    return parsed.render_as_string(hide_password=True)


def redact(url: str) -> str:
    """The URL with its password hidden, for messages."""
    try:
        return _redact(url)
    except Exception:  # noqa: BLE001 - a URL that does not parse is shown as given
        return url


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite URL (None for in-memory databases and other backends)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return None
    database = parsed.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database)


def _check_writable(path: Path, parent: Path) -> None:
    """Fail, writing nothing, where a study run could not write its SQLite database: the
    file itself, and its folder (SQLite writes ``-wal``/``-shm`` files beside it)."""
    import tempfile

    if path.is_file():
        try:
            with path.open("r+b"):
                pass
        except OSError as exc:
            raise _storage_error(
                f"storage: {path} cannot be written ({exc.strerror}); make it writable, or "
                "pass `storage` with a database this process may write"
            ) from None
    try:
        fd, probe = tempfile.mkstemp(prefix=".adapex-probe-", dir=parent)
    except OSError as exc:
        raise _storage_error(
            f"storage: directory {parent} is not writable ({exc.strerror}); make it writable, "
            "or pass `storage` with a database in a writable folder"
        ) from None
    os.close(fd)
    os.unlink(probe)


def check_reachable(url: str, *, must_exist: bool) -> None:
    """Fail with a one-line DseError when the database cannot be opened.

    Args:
        url: a normalised URL (see :func:`normalise_url`).
        must_exist: True for read-only use: a SQLite file that does not exist is an error
            (rather than an empty database silently created).
    """
    path = sqlite_path(url)
    if path is not None:
        if path.exists() and not path.is_file():
            raise _storage_error(f"storage: {path} is not a file; {_FIX}")
        if must_exist and not path.exists():
            raise _storage_error(
                f"storage: no database at {path}; run `adapex run` first or pass `storage` with an existing database"
            )
        if path.is_file():
            try:
                with path.open("rb") as fh:
                    head = fh.read(16)
            except OSError as exc:
                raise _storage_error(
                    f"storage: {path} cannot be read ({exc.strerror}); {_FIX}"
                ) from None
            if head and head != b"SQLite format 3\x00":
                raise _storage_error(
                    f"storage: {path} is not a SQLite database; point `storage` at a studies "
                    "database, or at a new file name to create one"
                )
        parent = path.resolve().parent
        if not parent.is_dir():
            raise _storage_error(f"storage: directory {parent} does not exist; create it or {_FIX}")
        if not must_exist:
            _check_writable(path, parent)
        return
    if make_url(url).get_backend_name() == "sqlite":
        return
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool, connect_args={"connect_timeout": 5})
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("select 1"))
    except Exception as exc:  # noqa: BLE001 - any failure to connect is reported the same way
        reason = str(getattr(exc, "orig", exc)).strip().splitlines()
        detail = reason[0] if reason else type(exc).__name__
        raise _storage_error(
            f"storage: cannot connect to {redact(url)} ({detail}); start the server or fix `storage`"
        ) from None
    finally:
        engine.dispose()


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    # SQLAlchemy (not the driver) emits BEGIN, so that write transactions can BEGIN IMMEDIATE.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout = {int(SQLITE_BUSY_TIMEOUT_S * 1000)}")
    cursor.close()


def enable_wal(engine: sa.Engine) -> None:
    """Switch a SQLite file to WAL journaling (persistent; lets readers run beside a writer).

    Called only once the database is known to be ours (or empty): it rewrites the header.
    """
    if engine.dialect.name != "sqlite" or sqlite_path(str(engine.url)) is None:
        return
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.close()
    finally:
        raw.close()


def _sqlite_on_begin(conn: sa.Connection) -> None:
    if conn.get_execution_options().get("adapex_immediate"):
        conn.exec_driver_sql("BEGIN IMMEDIATE")
    else:
        conn.exec_driver_sql("BEGIN")


def _wal_header(path: Path) -> bool:
    """Whether a SQLite file's header says WAL journaling (bytes 18 and 19 are 2)."""
    try:
        with path.open("rb") as f:
            head = f.read(20)
    except OSError:
        return False
    return len(head) == 20 and head[18] == 2 and head[19] == 2


def sqlite_read_only_uri(path: Path) -> str:
    """The SQLite URI a reader opens ``path`` with now: never a write, nothing left behind.

    SQLite's read-only mode (``mode=ro``) reads beside a live writer through the writer's
    ``-wal``/``-shm`` files. On a WAL file with no ``-wal`` beside it no writer is at work,
    and ``mode=ro`` would create ``-wal``/``-shm`` files it can never remove: the file is
    then opened ``immutable`` (read as it is, nothing created). Decided per connection, so
    a long-lived reader (the dashboard) reads through a writer that starts after it.
    """
    from urllib.parse import quote

    base = f"file:{quote(str(path.resolve()))}?mode=ro"
    if _wal_header(path) and not Path(f"{path}-wal").exists():
        return f"{base}&immutable=1"
    return base


def _read_only_connect(path: Path) -> Any:
    """A sqlite3 connection to ``path`` that can only read (:func:`sqlite_read_only_uri`)."""
    import sqlite3

    uri = sqlite_read_only_uri(path)
    try:
        return sqlite3.connect(
            uri, uri=True, timeout=SQLITE_BUSY_TIMEOUT_S, check_same_thread=False
        )
    except sqlite3.OperationalError:
        if "immutable" in uri:
            raise
        # a writer's -wal without its -shm in a folder that cannot be written: read the file
        return sqlite3.connect(
            f"{uri}&immutable=1", uri=True, timeout=SQLITE_BUSY_TIMEOUT_S, check_same_thread=False
        )


def create_engine(url: str, *, read_only: bool = False) -> sa.Engine:
    """A SQLAlchemy engine for our tables.

    SQLite gets a busy timeout on every connection (WAL journaling is switched on by
    :func:`enable_wal` once the database is known to be ours), so that several worker
    processes share one file; a connection opened with the execution
    option ``adapex_immediate=True`` starts its transactions with ``BEGIN IMMEDIATE`` (the
    write lock is taken up front: read-modify-write sequences such as the Pareto update
    cannot interleave). ``read_only`` opens a SQLite file in SQLite's read-only mode, each
    connection as :func:`sqlite_read_only_uri` says (no pool: every use decides afresh), so
    reading commands write nothing, leave nothing beside the file, even when killed, and
    work on a read-only file and folder.
    """
    backend = make_url(url).get_backend_name()
    if backend == "sqlite":
        path = sqlite_path(url)
        if read_only and path is not None and path.is_file():
            engine = sa.create_engine(
                "sqlite://", creator=lambda: _read_only_connect(path), poolclass=sa.pool.NullPool
            )
        else:
            engine = sa.create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S})
        sa.event.listen(engine, "connect", _sqlite_on_connect)
        sa.event.listen(engine, "begin", _sqlite_on_begin)
        return engine
    return sa.create_engine(url, pool_pre_ping=True, connect_args={"connect_timeout": 10})


def optuna_engine_kwargs(url: str) -> dict[str, Any]:
    """``engine_kwargs`` for :class:`optuna.storages.RDBStorage` on this URL."""
    if make_url(url).get_backend_name() == "sqlite":
        return {"connect_args": {"timeout": SQLITE_BUSY_TIMEOUT_S}}
    return {"pool_pre_ping": True, "connect_args": {"connect_timeout": 10}}
