"""Storage: adapex's tables beside Optuna's, on a SQLite file and on the real PostgreSQL."""

from __future__ import annotations

import hashlib
import multiprocessing as mp
import random
import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path

import optuna
import pytest
import sqlalchemy as sa

from dse.errors import DseError
from dse.objectives import get_objective
from dse.pareto import dominates, to_min_space
from dse.storage import SCHEMA_VERSION, DesignRecord, Store, upgrade
from dse.storage.engine import create_engine

SPECS = [get_objective(n).spec() for n in ("accuracy", "throughput_fps", "energy_per_inference_j")]


def record(
    study: str, number: int, rng: random.Random, feasible: bool | None = None
) -> DesignRecord:
    return DesignRecord(
        id=0,
        study=study,
        trial_number=number,
        params={"pruning": rng.choice([0.0, 0.25, 0.5]), "exits": [0]},
        objectives={
            "accuracy": rng.uniform(0.5, 1.0),
            "throughput_fps": rng.uniform(1e2, 1e5),
            "energy_per_inference_j": rng.uniform(1e-6, 1e-3),
        },
        metrics={"fits": True, "utilisation": {"LUT": 0.5}, "nan_metric": float("nan")},
        feasible=rng.random() > 0.2 if feasible is None else feasible,
        pareto=False,
        arch={"family": "cnv"},
        exits=[0],
        thresholds=[0.9],
        exit_profile={"exits": [0, -1]},
        hw_graph={"name": "g", "layers": []},
        folding={"Defaults": {}},
        hw_report={"throughput_fps": 1.0},
        board="Pynq-Z1",
        part="xc7z020clg400-1",
        clk_ns=10.0,
        checkpoint=None,
        dataset={"name": "digits"},
        provenance={"seed": 0},
    )


def assert_front_is_exact(store: Store, study: str) -> None:
    designs = store.designs(study)
    pts = to_min_space([d.objectives for d in designs], SPECS)
    for i, d in enumerate(designs):
        dominated = any(
            designs[j].feasible and dominates(pts[j], pts[i]) for j in range(len(designs))
        )
        assert d.pareto == (d.feasible and not dominated), d.trial_number
    assert {d.id for d in store.pareto(study)} == {d.id for d in designs if d.pareto}


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def roundtrip(url: str, study: str) -> None:
    rng = random.Random(1)
    with Store(url) as store:
        assert store.register_study(study, {"study": {"name": study}}, SPECS)
        assert not store.register_study(study, {"other": 1}, SPECS)  # once
        first = store.add_design(record(study, 0, rng, feasible=True))
        assert first.pareto and first.id > 0
        for n in range(1, 25):
            store.add_design(record(study, n, rng))
        assert_front_is_exact(store, study)
        # same trial number again (a retried trial) replaces, never duplicates
        again = store.add_design(record(study, 3, rng, feasible=True))
        assert [d.trial_number for d in store.designs(study)].count(3) == 1
        # a retry recorded under a new number replaces the old attempt
        store.add_design(record(study, 30, rng), replaces=[4])
        numbers = [d.trial_number for d in store.designs(study)]
        assert 4 not in numbers and 30 in numbers and len(numbers) == len(set(numbers)) == 25
        assert_front_is_exact(store, study)
        got = store.design(again.id)
        assert got.metrics["nan_metric"] is None  # non-finite floats stored as null
        assert got.hw_graph == {"name": "g", "layers": []} and got.board == "Pynq-Z1"
        hist = store.hypervolume_history(study)
        assert len(hist) == 27
        summary = next(s for s in store.list_studies() if s.name == study)
        assert summary.n_designs == 25 and summary.n_pareto == len(store.pareto(study))
        assert summary.directions == ["maximize", "maximize", "minimize"]
        assert summary.hypervolume == pytest.approx(hist[-1]["hypervolume"])
        store.save_runtime_table(study, {"rows": [{"design": 1, "threshold": 0.9}]})
        store.save_runtime_table(study, {"rows": [{"design": 2}]})
        store.save_simulation(study, {"energy_j": 1.5})
    with Store(url, read_only=True) as reader:
        assert reader.runtime_table(study) == {"rows": [{"design": 2}]}
        assert reader.simulation(study) == {"energy_j": 1.5}
        assert reader.runtime_table("nope") is None
        with pytest.raises(DseError, match="no such design"):
            reader.design(10**9)
        with pytest.raises(DseError, match="read-only"):
            reader.save_simulation(study, {})


def test_sqlite_roundtrip_and_front(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/s.db"
    roundtrip(url, "s1")
    con = sqlite3.connect(tmp_path / "s.db")
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    version = con.execute("SELECT value FROM adapex_meta WHERE key='schema_version'").fetchone()
    assert int(version[0]) == SCHEMA_VERSION
    con.close()


@pytest.mark.postgres
def test_postgres_roundtrip_and_front(pg_url: str) -> None:
    study = f"pg-{uuid.uuid4().hex[:10]}"
    try:
        roundtrip(pg_url, study)
    finally:
        with Store(pg_url) as store:
            store.delete_study(study)
            assert store.designs(study) == [] and store.study_info(study) is None


def test_optuna_studies_are_listed_with_trial_counts(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/o.db"
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(storage=url, study_name="plain", directions=["maximize"])
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=3)
    with Store(url) as store:  # an Optuna database: our tables are added beside Optuna's
        assert store.kind == "adapex"
        (s,) = store.list_studies()
        assert (s.name, s.n_trials, s.n_complete, s.n_designs, s.directions) == (
            "plain",
            3,
            3,
            0,
            ["maximize"],
        )
    assert len(optuna.load_study(study_name="plain", storage=url).trials) == 3


def test_read_only_never_writes(tmp_path: Path) -> None:
    path = tmp_path / "r.db"
    with pytest.raises(DseError, match="no database at"):
        Store(f"sqlite:///{path}", read_only=True)
    assert not path.exists()
    roundtrip(f"sqlite:///{path}", "r")
    for suffix in ("-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    before = digest(path)
    with Store(f"sqlite:///{path}", read_only=True) as reader:
        assert len(reader.designs("r")) == 25
        reader.list_studies()
    assert digest(path) == before


def test_foreign_database_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "foreign.db"
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)")
    con.execute("INSERT INTO customers VALUES (1, 'x')")
    con.commit()
    con.close()
    before = digest(path)
    for read_only in (False, True):
        with pytest.raises(DseError) as info:
            Store(f"sqlite:///{path}", read_only=read_only)
        assert "neither Optuna's nor adapex's" in str(info.value)
        assert "\n" not in str(info.value)
    assert digest(path) == before
    tables = sqlite3.connect(path).execute("SELECT name FROM sqlite_master").fetchall()
    assert tables == [("customers",)]


def assert_repeats_found_by_hash(store: Store, study: str) -> None:
    """After an upgrade every design has its params_hash, and the first design with given
    parameters is found through it."""
    with store.engine.connect() as conn:
        hashes = conn.execute(sa.text("SELECT params_hash FROM adapex_designs")).scalars().all()
    assert hashes and all(isinstance(h, str) and len(h) == 64 for h in hashes)
    designs = store.designs(study)
    for d in designs:
        found = store.find_design(study, d.params)
        first = min((x for x in designs if x.params == d.params), key=lambda x: x.trial_number)
        assert found is not None and found.id == first.id
    assert store.find_design(study, {"no": "such params"}) is None


#: What each schema version added, undone (SQL both SQLite and PostgreSQL run).
UNDO = {
    3: [
        "DROP TABLE adapex_models",
        "ALTER TABLE adapex_designs DROP COLUMN role",
        "ALTER TABLE adapex_designs DROP COLUMN model_id",
        "ALTER TABLE adapex_studies DROP COLUMN layout",
    ],
    2: [
        "DROP INDEX ix_adapex_designs_study_params",
        "ALTER TABLE adapex_designs DROP COLUMN params_hash",
    ],
}


def downgrade(url: str, version: int, *extra: str) -> None:
    """Make the database look as adapex's schema ``version`` left it (and run ``extra``)."""
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        for v in range(SCHEMA_VERSION, version, -1):
            for statement in UNDO[v]:
                conn.execute(sa.text(statement))
        conn.execute(
            sa.text("UPDATE adapex_meta SET value = :v WHERE key = 'schema_version'"),
            {"v": str(version)},
        )
        for statement in extra:
            conn.execute(sa.text(statement))
    engine.dispose()


def _set_version(path: Path, version: int) -> None:
    con = sqlite3.connect(path)
    con.execute("UPDATE adapex_meta SET value=? WHERE key='schema_version'", (str(version),))
    con.commit()
    con.close()


def test_schema_version_older_newer_and_upgrade(tmp_path: Path) -> None:
    path = tmp_path / "v.db"
    url = f"sqlite:///{path}"
    roundtrip(url, "v")
    # older: refused with the upgrade command; upgrade restores missing tables, keeps data
    downgrade(url, 1, "DROP TABLE adapex_simulation")
    before = digest(path)
    with pytest.raises(DseError, match="older than this adapex's") as info:
        Store(url)
    assert f"adapex db upgrade --storage {url}" in str(info.value)
    assert digest(path) == before
    engine = create_engine(url)
    assert upgrade(engine, url) == (1, SCHEMA_VERSION)
    engine.dispose()
    with Store(url) as store:
        assert len(store.designs("v")) == 25
        store.save_simulation("v", {"ok": True})
        assert_repeats_found_by_hash(store, "v")
    # newer: refused, nothing written, upgrade refuses too
    _set_version(path, SCHEMA_VERSION + 1)
    with pytest.raises(DseError, match="newer than this adapex's"):
        Store(url, read_only=True)
    engine = create_engine(url)
    with pytest.raises(DseError, match="upgrade adapex"):
        upgrade(engine, url)
    engine.dispose()


@pytest.mark.parametrize(
    ("url", "needle"),
    [
        ("postgresql+psycopg2://nobody@127.0.0.1:1/none", "cannot connect to"),
        ("mysql://u@h/db", "unsupported database"),
        ("sqlite:////nonexistent-dir-adapex/x.db", "does not exist"),
        ("://", "cannot parse URL"),
    ],
)
def test_bad_urls_are_one_line_errors(url: str, needle: str) -> None:
    with pytest.raises(DseError) as info:
        Store(url)
    assert needle in str(info.value) and "\n" not in str(info.value)


def _writer(url: str, study: str, offset: int, n: int) -> None:
    rng = random.Random(offset)
    with Store(url) as store:
        for i in range(n):
            store.add_design(record(study, offset + i, rng))


def _concurrent(url: str, study: str) -> None:
    with Store(url) as store:
        store.register_study(study, {}, SPECS)
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(url, study, k * 100, 15)) for k in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    with Store(url, read_only=True) as store:
        designs = store.designs(study)
        assert len(designs) == 30
        assert_front_is_exact(store, study)


def test_concurrent_writers_sqlite_keep_the_front_exact(tmp_path: Path) -> None:
    _concurrent(f"sqlite:///{tmp_path}/c.db", "c")


@pytest.mark.postgres
def test_concurrent_writers_postgres_keep_the_front_exact(pg_url: str) -> None:
    study = f"pgc-{uuid.uuid4().hex[:10]}"
    try:
        _concurrent(pg_url, study)
    finally:
        with Store(pg_url) as store:
            store.delete_study(study)


def test_tables_do_not_clash_with_optuna(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/n.db"
    optuna.create_study(storage=url, study_name="a")
    with Store(url):
        pass
    names = set(sa.inspect(sa.create_engine(url)).get_table_names())
    ours = {n for n in names if n.startswith("adapex_")}
    assert ours == {
        "adapex_meta",
        "adapex_studies",
        "adapex_models",
        "adapex_designs",
        "adapex_hypervolume",
        "adapex_runtime",
        "adapex_simulation",
    }
    assert "studies" in names and "trials" in names


@pytest.fixture
def pg_own_database(pg_url: str) -> Iterator[str]:
    """A PostgreSQL database of this test's own on the real server (dropped afterwards), so
    that changing its schema version touches no other test's tables."""
    from sqlalchemy.engine import make_url

    name = f"adapex_upgrade_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(pg_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        yield make_url(pg_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.mark.postgres
def test_schema_version_older_newer_and_upgrade_postgres(pg_own_database: str) -> None:
    url = pg_own_database
    roundtrip(url, "v")

    def set_version(version: int) -> None:
        engine = sa.create_engine(url)
        with engine.begin() as conn:
            conn.execute(
                sa.text("UPDATE adapex_meta SET value = :v WHERE key = 'schema_version'"),
                {"v": str(version)},
            )
        engine.dispose()

    downgrade(url, 1, "DROP TABLE adapex_simulation")
    with pytest.raises(DseError, match="older than this adapex's") as info:
        Store(url)
    assert "adapex db upgrade --storage" in str(info.value)
    engine = create_engine(url)
    assert "adapex_simulation" not in sa.inspect(engine).get_table_names()  # refused: untouched
    assert upgrade(engine, url) == (1, SCHEMA_VERSION)
    engine.dispose()
    with Store(url) as store:
        assert len(store.designs("v")) == 25  # every design kept
        store.save_simulation("v", {"ok": True})  # the missing table is back
        assert store.simulation("v") == {"ok": True}
        assert_repeats_found_by_hash(store, "v")
    set_version(SCHEMA_VERSION + 1)
    with pytest.raises(DseError, match="newer than this adapex's"):
        Store(url, read_only=True)
    engine = create_engine(url)
    with pytest.raises(DseError, match="upgrade adapex"):
        upgrade(engine, url)
    engine.dispose()


def _legacy_study(url: str, study: str) -> dict[str, int]:
    """A study as adapex before schema 3 left it: four user trials, each a design; three
    sub-space trials the runtime enqueued into it (one of them retried once), each a design;
    a later user trial that drew a sub-space design's parameters, recorded among its repeats.

    Returns:
        ``name -> trial number`` of the trials made.
    """
    from optuna.trial import TrialState

    rng = random.Random(5)
    ostudy = optuna.create_study(
        storage=url, study_name=study, directions=["maximize", "maximize", "minimize"]
    )
    numbers: dict[str, int] = {}
    with Store(url) as store:
        store.register_study(study, {"study": {"name": study}}, SPECS, layout=1)

        def run(name: str, params: dict | None = None, design: bool = True) -> int:
            if params is not None:
                ostudy.enqueue_trial(params)
            trial = ostudy.ask()
            trial.suggest_float("pruning", 0.0, 0.9)
            rec = record(study, trial.number, rng, feasible=True)
            ostudy.tell(trial, [rec.objectives[s.name] for s in SPECS])
            if design:
                store.add_design(rec)
            numbers[name] = trial.number
            return trial.number

        for i in range(4):
            run(f"user{i}")
        run("sub0", {"pruning": 0.25})
        run("sub1", {"pruning": 0.5})
        # a sub-space trial that failed, and its retry (Optuna's failed_trial mark)
        ostudy.enqueue_trial({"pruning": 0.75})
        failed = ostudy.ask()
        failed.suggest_float("pruning", 0.0, 0.9)
        ostudy.tell(failed, state=TrialState.FAIL)
        numbers["sub2_failed"] = failed.number
        storage = ostudy._storage  # noqa: SLF001 - the retry mark as Optuna writes it
        ostudy.enqueue_trial({"pruning": 0.75})
        retry = next(t for t in ostudy.trials if t.state == TrialState.WAITING)
        storage.set_trial_system_attr(retry._trial_id, "failed_trial", failed.number)  # noqa: SLF001
        run("sub2_retry")
        # a user trial that drew sub1's parameters: answered from sub1's design
        repeat = run("user_repeat", design=False)
        with store.engine.begin() as conn:
            conn.execute(
                sa.text("UPDATE adapex_designs SET provenance = :p WHERE trial_number = :n"),
                {"p": f'{{"seed": 0, "repeats": [{repeat}]}}', "n": numbers["sub1"]},
            )
    return numbers


def _check_moved(url: str, study: str, numbers: dict[str, int]) -> None:
    with Store(url, read_only=True) as store:
        own = {d.trial_number: d for d in store.designs(study)}
        base = store.designs(study, role="baseline")
        summary = next(s for s in store.list_studies() if s.name == study)
        history = {h["trial_number"] for h in store.hypervolume_history(study)}
    users = [numbers[f"user{i}"] for i in range(4)]
    # the user's designs stay the study's; sub1's design is carried by the user trial that
    # drew it; the other sub-space designs are baselines, carried by no trial
    assert sorted(own) == sorted([*users, numbers["user_repeat"]])
    assert own[numbers["user_repeat"]].repeats == []
    assert len(base) == 2 and all(b.trial_number is None and not b.pareto for b in base)
    assert summary.n_designs == 5 and summary.layout == 1
    trials = optuna.load_study(study_name=study, storage=url).trials
    assert sorted(t.number for t in trials) == sorted([*users, numbers["user_repeat"]])
    assert not history & {numbers["sub0"], numbers["sub1"], numbers["sub2_retry"]}
    with Store(url, read_only=True) as store:
        assert_front_is_exact(store, study)


def test_upgrade_moves_the_sub_space_trials_out_of_the_users_study(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/legacy.db"
    numbers = _legacy_study(url, "legacy")
    downgrade(url, 2)
    engine = create_engine(url)
    assert upgrade(engine, url) == (2, SCHEMA_VERSION)
    engine.dispose()
    _check_moved(url, "legacy", numbers)
    # a legacy study is readable and refuses new trials in one line naming a new study
    from dse.errors import StateError
    from dse.study.run import check_layout

    with Store(url, read_only=True) as store:
        info = store.study_info("legacy")
    with pytest.raises(StateError, match="adapex run --study legacy-2"):
        check_layout(info, "legacy")


@pytest.mark.postgres
def test_upgrade_moves_the_sub_space_trials_out_of_the_users_study_postgres(
    pg_own_database: str,
) -> None:
    url = pg_own_database
    numbers = _legacy_study(url, "legacy")
    downgrade(url, 2)
    engine = create_engine(url)
    assert upgrade(engine, url) == (2, SCHEMA_VERSION)
    engine.dispose()
    _check_moved(url, "legacy", numbers)
