"""Shared test fixtures."""

from __future__ import annotations

import os
from typing import Any

import pytest

PG_URL = os.environ.get("ADAPEX_TEST_PG_URL", "postgresql+psycopg2://root@127.0.0.1:5432/test")


@pytest.fixture(autouse=True)
def _fresh_cost_memos() -> None:
    """Every test computes its costs afresh: no test passes on figures another test left in
    hw_builders' memos (and a mutant of a cost model is run, not read from a memo filled
    before it was switched on)."""
    from hw_builders import clear_memos

    clear_memos()


@pytest.fixture(scope="session")
def pg_url() -> str:
    """The real PostgreSQL server; a test that needs it fails (never skips) when it is down."""
    import sqlalchemy as sa

    from dse.storage import SCHEMA_VERSION, upgrade
    from dse.storage.schema import classify

    engine = sa.create_engine(PG_URL)
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("select 1"))
    except Exception as exc:  # noqa: BLE001 - report any connection failure the same way
        engine.dispose()
        pytest.fail(
            f"PostgreSQL is not reachable at {PG_URL} ({type(exc).__name__}); start it with "
            "`pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start`"
        )
    try:
        # the test database outlives a session: tables an earlier adapex left there are
        # brought to this schema version, as `adapex db upgrade` would
        kind, version = classify(engine)
        if kind == "adapex" and version is not None and version < SCHEMA_VERSION:
            upgrade(engine, PG_URL)
    finally:
        engine.dispose()
    return PG_URL


@pytest.fixture(scope="session")
def small_study(tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201 - SmallStudy
    """The small real study shared by the dashboard, report and export tests (built once per
    session with the real engine; see fixtures_study.py)."""
    from fixtures_study import build_small_study

    return build_small_study(tmp_path_factory.mktemp("small_study"))


@pytest.fixture(scope="session")
def quickstart_cache(tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201 - Path
    """One checkpoint cache for the quickstart point (digits at 16x16, the small CNV at W2A2,
    the quickstart recipe), shared by the training and `adapex train` tests: whichever runs
    first trains it, the other reuses it, so the suite trains the quickstart model once."""
    return tmp_path_factory.mktemp("quickstart_cache")


# Fixtures that build something expensive once per session (a trained study, a trained
# checkpoint cache) or share one server database.
SHARED_FIXTURE_GROUPS = {
    "small_study": "small_study",
    "quickstart_cache": "quickstart",
    "pg_url": "postgres",
}


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Put each test in an xdist group: a module and every shared fixture its tests use are
    one group (joined transitively), so under ``pytest -n 2 --dist loadgroup`` a
    module-scoped fixture, such as a module's trained study, and each shared fixture are
    built on one worker only: nothing is trained twice, and no two workers share the
    PostgreSQL database at once.

    The groups are marked before every other implementation of this hook: xdist's worker
    reads them in its own, appending ``@group`` to each test id.
    """
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        while parent.setdefault(x, x) != x:
            x = parent[x]
        return x

    for item in items:
        names = getattr(item, "fixturenames", ())
        for fixture, group in SHARED_FIXTURE_GROUPS.items():
            if fixture in names:
                parent[find(item.module.__name__)] = find(group)
    for item in items:
        item.add_marker(pytest.mark.xdist_group(find(item.module.__name__)))


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_node_collection_finished(node: Any, ids: list[str]) -> None:
    """Stop before any test runs where pytest-xdist did not take the groups (their ``@group``
    suffix is missing from the ids a worker collected): pytest 9.2 with pytest-xdist 3.8
    (pytest-xdist#1386) would otherwise run grouped tests on both workers."""
    if node.config.getvalue("dist") == "loadgroup" and not any("@" in i for i in ids):
        raise pytest.UsageError(
            f"pytest-xdist {node.gateway.id} collected {len(ids)} tests without their xdist "
            f"groups under pytest {pytest.__version__} (pytest-xdist#1386): install the "
            "versions in constraints.txt (make .venv/.installed)"
        )
