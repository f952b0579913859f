"""Refusals in the project's one form (one `error:` line naming the flag or field and the fix,
exit status 2, nothing changed on disk), read-only commands that only read, and the database
argument taken as a plain path everywhere: each case a reported failure, on the real files of
a small real study."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from cli_checks import cli, copy_sqlite, immutable, one_line, one_line_exit_2, tree_digest
from fixtures_study import SmallStudy

from dse.storage import SCHEMA_VERSION

GRAPH = Path(__file__).resolve().parents[2] / "hw_builders" / "examples" / "cnv_w2a2.json"


# -- the parser's refusals ---------------------------------------------------------------------
@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["run", "--trials", "abc"], "'--trials'"),
        (["hw", "fold", str(GRAPH), "--budget", "abc"], "'--budget'"),
        (["dashboard", "--port", "abc"], "'--port'"),
        (["study", "status", "--no-such-flag"], "--no-such-flag"),
        (["worker"], "'--study'"),
        (["runtime", "simulate", "--study", "s", "--seed", "x"], "'--seed'"),
        (["deploy", "run", "--library", "lib", "--execute", "1.5"], "'--execute'"),
        (["export", "--study"], "--study"),
        (["no-such-command"], "no-such-command"),
    ],
)
def test_the_parsers_refusals_are_one_line(
    args: list[str], needle: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    line = one_line(args, capsys, needle)
    assert "--help" in line  # where to read what the command takes
    assert list(tmp_path.iterdir()) == []


def test_the_parsers_refusals_from_a_real_process(tmp_path: Path) -> None:
    one_line_exit_2(["run", "--trials", "abc", "--no-progress"], tmp_path, "'--trials'")
    one_line_exit_2(["worker", "--study", "s", "--bogus"], tmp_path, "--bogus")
    assert list(tmp_path.iterdir()) == []  # no studies.db, no cache


def test_a_group_without_its_command_shows_its_help(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = cli(["runtime"], capsys)
    assert code == 2 and "table" in out + err and "simulate" in out + err


# -- flag values the commands check before they read anything ---------------------------------
@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["deploy", "run", "--execute", "-1", "--rate", "10"], "--execute -1"),
        (["deploy", "run", "--accuracy-threshold", "1.5", "--rate", "10"], "--accuracy-threshold"),
        (["deploy", "run", "--rate", "-5"], "--rate"),
        (["runtime", "simulate", "--study", "s", "--seed", "-1"], "--seed"),
        (["run", "--study", "a\nb", "--no-progress"], "study"),
        (["run", "--study", "", "--no-progress"], "study"),
    ],
)
def test_flag_values_are_checked_first(
    args: list[str],
    needle: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)  # where studies.db and a library would be
    one_line([*args, "--library", str(tmp_path / "lib")] if args[0] == "deploy" else args,
             capsys, needle)  # fmt: skip
    assert list(tmp_path.iterdir()) == []


# -- the database as a plain path, read-only where the command only reads ----------------------
def _study_state(db: Path) -> dict[str, int]:
    """What a command could change: every table's row count."""
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        names = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return {n: con.execute(f'SELECT COUNT(*) FROM "{n}"').fetchone()[0] for n in names}
    finally:
        con.close()


@pytest.mark.slow
def test_runtime_commands_take_a_plain_path(
    small_study: SmallStudy, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "s.db"
    copy_sqlite(small_study.db, db)
    for args in (
        ["study", "status"],
        ["runtime", "table", "--json"],
        ["runtime", "simulate", "--duration-s", "600", "--json"],
    ):
        code, out, err = cli([*args, "--study", small_study.name, "--storage", str(db)], capsys)
        assert code == 0, err[-3000:]
        assert out.strip()
    optuna_trials = _study_state(db)["trials"]
    code, out, _ = cli(["study", "status", "--storage", str(db), "--json"], capsys)
    assert code == 0
    assert _study_state(db)["trials"] == optuna_trials  # the baselines are not trials


@pytest.mark.slow
def test_runtime_commands_on_a_read_only_database(
    small_study: SmallStudy, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Computing a table, a simulation and a sweep needs no write: on a database that cannot
    be written they print their result (and say it was not stored), and change nothing."""
    folder = tmp_path / "ro"
    url = copy_sqlite(small_study.db, folder / "studies.db")
    before = tree_digest(folder)
    with immutable(folder), immutable(folder / "studies.db"):
        for args in (
            ["runtime", "table", "--accuracy-threshold", "0.5"],
            ["runtime", "simulate", "--duration-s", "600", "--trace", "smart-iot"],
            ["runtime", "sweep", "--accuracy-threshold", "0.5"],
        ):
            code, out, err = cli([*args, "--study", small_study.name, "--storage", url], capsys)
            assert code == 0, err[-3000:]
            assert "Traceback" not in err and out.strip()
    assert tree_digest(folder) == before
    assert sorted(p.name for p in folder.iterdir()) == ["studies.db"]


@pytest.mark.slow
def test_runtime_inputs_are_checked_before_the_database_is_written(
    small_study: SmallStudy, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "s.db"
    url = copy_sqlite(small_study.db, db)
    before = tree_digest(tmp_path)
    for args, needle in (
        (["runtime", "simulate", "--trace", "no-such-trace"], "no-such-trace"),
        (["runtime", "simulate", "--peak-load", "1e300"], "--peak-load"),
        (["runtime", "simulate", "--duration-s", "1e300"], "--duration-s"),
        (["runtime", "simulate", "--seed", "-1"], "--seed"),
        (["runtime", "table", "--accuracy-threshold", "1.5"], "--accuracy-threshold"),
        (["runtime", "sweep", "--confidence", "2"], "--confidence"),
    ):
        one_line([*args, "--study", small_study.name, "--storage", url], capsys, needle)
    assert tree_digest(tmp_path) == before


@pytest.mark.slow
def test_runtime_commands_on_a_study_without_designs(
    small_study: SmallStudy, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import optuna

    work = tmp_path / "work"
    made = copy_sqlite(small_study.db, work / "s.db")
    storage = optuna.storages.RDBStorage(made)
    optuna.create_study(study_name="empty", storage=storage, directions=["maximize"] * 2)
    storage.remove_session()
    storage.engine.dispose()
    url = copy_sqlite(work / "s.db", tmp_path / "db" / "s.db")  # no -wal, -shm
    tmp_path = tmp_path / "db"
    before = tree_digest(tmp_path)
    for args in (["runtime", "table"], ["runtime", "simulate"], ["runtime", "sweep"]):
        one_line([*args, "--study", "empty", "--storage", url], capsys, "empty")
    assert tree_digest(tmp_path) == before


@pytest.mark.slow
def test_db_upgrade_on_a_read_only_current_database(
    small_study: SmallStudy, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "s.db"
    url = copy_sqlite(small_study.db, db)
    con = sqlite3.connect(db)
    try:  # current: the command has nothing to write
        assert con.execute("SELECT value FROM adapex_meta WHERE key = 'schema_version'").fetchone()[
            0
        ] == str(SCHEMA_VERSION)
    finally:
        con.close()
    before = tree_digest(tmp_path)
    with immutable(tmp_path), immutable(db):
        code, out, err = cli(["db", "upgrade", "--storage", url], capsys)
    assert code == 0, err
    assert "current" in (out + err) and "unable to open" not in (out + err)
    assert tree_digest(tmp_path) == before


@pytest.mark.slow
def test_a_study_name_that_is_not_one_line(
    small_study: SmallStudy, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "s.db"
    url = copy_sqlite(small_study.db, db)
    before = tree_digest(tmp_path)
    for args in (
        ["runtime", "table", "--study", "a\nb"],
        ["study", "status", "--study", "a\tb"],
        ["export", "--study", "a\nb", "--out", str(tmp_path / "lib")],
    ):
        line = one_line([*args, "--storage", url], capsys, "study")
        assert "\n" not in line
    assert tree_digest(tmp_path) == before


# -- inputs that gave tracebacks -------------------------------------------------------------
def test_a_graph_whose_sizes_overflow_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    graph = json.loads(GRAPH.read_text())
    layer = next(la for la in graph["layers"] if "numInputVectors" in la)
    layer["numInputVectors"] = 10**400
    bad = tmp_path / "huge.json"
    bad.write_text(json.dumps(graph))
    before = tree_digest(tmp_path)
    line = one_line(["hw", "estimate", str(bad)], capsys, f"layer {layer['name']}: numInputVectors")
    assert "2**40" in line
    assert tree_digest(tmp_path) == before


def test_an_exit_that_does_not_exist_names_the_configs_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "c.toml").write_text(
        '[study]\nname = "ce"\ntrials = 1\n[model]\ncandidate_exits = [0, 9]\n'
    )
    line = one_line(["run", "--config", "c.toml", "--no-progress"], capsys, "exit 9")
    assert line.startswith("error: model.candidate_exits:") and "arch." not in line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.toml"]


@pytest.mark.slow
def test_a_schema_version_that_is_not_a_number(
    small_study: SmallStudy, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "s.db"
    url = copy_sqlite(small_study.db, db)
    con = sqlite3.connect(db)
    try:
        with con:
            con.execute("UPDATE adapex_meta SET value = 'three' WHERE key = 'schema_version'")
    finally:
        con.close()
    before = tree_digest(tmp_path)
    for args in (["study", "status"], ["runtime", "table"], ["db", "upgrade"]):
        line = one_line([*args, "--storage", url], capsys, "schema version 'three'")
        assert "restore it from a copy" in line
    assert tree_digest(tmp_path) == before
