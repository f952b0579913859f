"""`adapex run | worker | study list|status|pareto | db upgrade`: output, JSON, Ctrl-C, and
bad input (one line naming it and the fix, exit status 2, the database untouched)."""

from __future__ import annotations

import hashlib
import json
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
import torch
from optuna.trial import TrialState
from tiny_study import subprocess_env, write_tiny

from dse.cli.main import main
from dse.storage import SCHEMA_VERSION, Store

pytestmark = pytest.mark.slow


def cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    try:
        main(args)
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def done(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """One small study run through the CLI (in-process)."""
    torch.set_num_threads(1)
    d = tmp_path_factory.mktemp("cli")
    cfg = write_tiny(d, "clistudy", trials=4)
    url = f"sqlite:///{d}/studies.db"
    try:
        main(
            [
                "run",
                "--config",
                str(cfg),
                "--storage",
                url,
                "--cache-dir",
                str(d / "cache"),
                "--no-progress",
            ]
        )
    except SystemExit as exc:
        assert not exc.code
    return {"dir": d, "cfg": cfg, "url": url}


def test_run_prints_the_pareto_table_and_next_commands(
    done: dict, capsys: pytest.CaptureFixture[str]
) -> None:
    # resume with a higher target: the same command goes on from where it stopped
    code, out, err = cli(
        [
            "run",
            "--config",
            str(done["cfg"]),
            "--storage",
            done["url"],
            "--trials",
            "5",
            "--cache-dir",
            str(done["dir"] / "cache"),
            "--no-progress",
        ],
        capsys,
    )
    assert code == 0, err
    assert "study clistudy: 5 trained models (1 here" in out
    assert "Pareto front of clistudy" in out and "exits@thr" in out and "clk ns" in out
    assert (
        "next:" in out
        and f"adapex study pareto --study clistudy --storage {done['url']} --json" in out
    )
    # a worker started from the hint trains into this run's cache
    cache = (done["dir"] / "cache").resolve()
    assert f"adapex worker --study clistudy --storage {done['url']} --cache-dir {cache}" in out
    assert "complete: trained model" in err  # plain log lines when not interactive


def test_study_list_status_pareto_json(done: dict, capsys: pytest.CaptureFixture[str]) -> None:
    url = done["url"]
    code, out, _ = cli(["study", "list", "--storage", url, "--json"], capsys)
    assert code == 0
    (s,) = json.loads(out)
    # a trial per design: the training trials and one per further design of their fronts
    assert s["name"] == "clistudy" and s["n_complete"] == s["n_designs"] > s["n_models"] >= 4
    assert s["directions"] == ["maximize", "maximize", "minimize"]
    code, out, _ = cli(["study", "status", "--storage", url, "--json"], capsys)
    status = json.loads(out)
    assert status["states"]["COMPLETE"] == s["n_complete"]
    assert status["trainings"] == s["n_models"] and status["target_trials"] >= s["n_models"]
    assert status["sampler"] == "nsga2" and len(status["hypervolume_history"]) == s["n_models"]
    assert status["seconds"]["training"] > 0 and status["seconds"]["estimating"] > 0
    assert status["designs_evaluated"] >= s["n_designs"]
    assert set(status["best"]) == {"accuracy", "throughput_fps", "energy_per_inference_j"}
    code, out, _ = cli(
        ["study", "pareto", "--study", "clistudy", "--storage", url, "--json"], capsys
    )
    front = json.loads(out)
    with Store(url, read_only=True) as store:
        expected = {d.id: d for d in store.pareto("clistudy")}
    assert {row["design_id"] for row in front} == set(expected)
    for row in front:
        d = expected[row["design_id"]]
        assert row["objectives"] == d.objectives and row["params"] == d.params
        assert row["trial_number"] == d.trial_number and row["feasible"]
    code, out, _ = cli(["study", "pareto", "--storage", url], capsys)
    assert code == 0 and "Pareto front of clistudy" in out
    code, out, _ = cli(["study", "status", "--storage", url], capsys)
    assert code == 0 and "hypervolume" in out and "best accuracy" in out
    code, out, _ = cli(["study", "list", "--storage", url], capsys)
    assert code == 0 and "clistudy" in out
    code, out, _ = cli(["db", "upgrade", "--storage", url], capsys)
    assert code == 0 and f"is current (version {SCHEMA_VERSION})" in out


def bad(args: list[str], capsys: pytest.CaptureFixture[str], needle: str) -> str:
    code, out, err = cli(args, capsys)
    assert code == 2, (out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert needle in lines[0], lines[0]
    return lines[0]


def test_bad_config_writes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "studies.db"
    url = f"sqlite:///{db}"
    cfg = tmp_path / "bad.toml"
    cfg.write_text('[study]\nname = "x"\n[pruning]\nratez = [0.1]\n')
    bad(["run", "--config", str(cfg), "--storage", url], capsys, "unknown key 'ratez' in [pruning]")
    cfg.write_text("[exits]\nthresholds = [0.5, 2.0]\n")
    bad(
        ["run", "--config", str(cfg), "--storage", url],
        capsys,
        "exits.thresholds: 2.0 is out of range",
    )
    bad(["run", "--config", str(tmp_path / "none.toml"), "--storage", url], capsys, "no such file")
    good = write_tiny(tmp_path, "ok")
    bad(["run", "--config", str(good), "--storage", url, "--trials", "0"], capsys, "--trials=0")
    assert not db.exists()
    assert not (tmp_path / "cache").exists() and not (tmp_path / ".adapex_cache").exists()


def test_bad_storage(tmp_path: Path, done: dict, capsys: pytest.CaptureFixture[str]) -> None:
    good = write_tiny(tmp_path, "ok")
    bad(
        ["run", "--config", str(good), "--storage", "postgresql://nobody@127.0.0.1:1/nodb"],
        capsys,
        "nobody@127.0.0.1:1/nodb (connection to server",
    )
    # a database that is not ours
    foreign = tmp_path / "foreign.db"
    con = sqlite3.connect(foreign)
    con.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY)")
    con.commit()
    con.close()
    before = digest(foreign)
    for args in (
        ["run", "--config", str(good), "--storage", f"sqlite:///{foreign}"],
        ["worker", "--study", "ok", "--storage", f"sqlite:///{foreign}"],
        ["study", "list", "--storage", f"sqlite:///{foreign}"],
    ):
        bad(args, capsys, "neither Optuna's nor adapex's")
    assert digest(foreign) == before
    # a worker for a study that does not exist: the database is untouched
    db = done["dir"] / "studies.db"
    before = digest(db)
    line = bad(
        ["worker", "--study", "nope", "--storage", done["url"]], capsys, "study 'nope': not found"
    )
    assert "adapex run --study nope" in line and "clistudy" in line
    bad(
        ["study", "pareto", "--study", "nope", "--storage", done["url"]],
        capsys,
        "--study nope: not found",
    )
    assert digest(db) == before
    missing = tmp_path / "missing.db"
    bad(["worker", "--study", "x", "--storage", f"sqlite:///{missing}"], capsys, "no database at")
    bad(["study", "list", "--storage", f"sqlite:///{missing}"], capsys, "no database at")
    assert not missing.exists()


def test_schema_versions_through_the_cli(
    tmp_path: Path, done: dict, capsys: pytest.CaptureFixture[str]
) -> None:
    copy = tmp_path / "copy.db"
    src = sqlite3.connect(done["dir"] / "studies.db")
    dst = sqlite3.connect(copy)
    src.backup(dst)
    src.close()
    dst.execute(
        "UPDATE adapex_meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION + 1),)
    )
    dst.commit()
    dst.execute(
        "UPDATE adapex_meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION - 1),)
    )
    dst.commit()
    dst.close()
    url = f"sqlite:///{copy}"
    bad(["study", "list", "--storage", url], capsys, f"run `adapex db upgrade --storage {url}`")
    code, out, _ = cli(["db", "upgrade", "--storage", url], capsys)
    assert code == 0 and f"upgraded from {SCHEMA_VERSION - 1} to {SCHEMA_VERSION}" in out
    code, out, _ = cli(["study", "list", "--storage", url, "--json"], capsys)
    assert code == 0 and json.loads(out)[0]["name"] == "clistudy"
    con = sqlite3.connect(copy)
    con.execute(
        "UPDATE adapex_meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION + 1),)
    )
    con.commit()
    con.close()
    bad(["study", "list", "--storage", url], capsys, "newer than this adapex's")


def test_ctrl_c_stops_after_the_running_trial_is_recorded(tmp_path: Path) -> None:
    cfg = write_tiny(tmp_path, "sigint", trials=50)
    url = f"sqlite:///{tmp_path}/studies.db"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "dse",
            "run",
            "--config",
            str(cfg),
            "--storage",
            url,
            "--no-progress",
        ],
        cwd=tmp_path,
        env=subprocess_env(tmp_path / "cache"),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    # wait until the first trial is training (all parameters sampled), then press Ctrl-C
    deadline = time.monotonic() + 120
    seen = False
    while time.monotonic() < deadline and proc.poll() is None and not seen:
        time.sleep(0.2)
        if (tmp_path / "studies.db").exists():
            con = sqlite3.connect(tmp_path / "studies.db", timeout=30)
            try:
                n = con.execute("SELECT COUNT(*) FROM trial_params").fetchone()[0]
            except sqlite3.OperationalError:
                n = 0
            con.close()
            seen = n >= 6
    assert seen, "no trial started"
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=180)
    assert proc.returncode == 130, out[-2000:]
    assert "stopping after the running trial is recorded" in out
    assert "stopped (SIGINT)" in out
    trials = optuna.load_study(study_name="sigint", storage=url).trials
    assert trials and all(t.state == TrialState.COMPLETE for t in trials)
    trainings = [t for t in trials if t.user_attrs["kind"] == "training"]
    assert 1 <= len(trainings) < 8  # stopped before the space's eight models were trained
    with Store(url, read_only=True) as store:
        assert sorted(d.trial_number for d in store.designs("sigint")) == [t.number for t in trials]
        assert len(store.models("sigint")) == len(trainings)


def test_a_second_ctrl_c_aborts_the_trial_and_resuming_runs_it_first(tmp_path: Path) -> None:
    """The second Ctrl-C aborts the running trial: it is failed, and its parameters are
    enqueued again (Optuna's retry), so the same command resumes with exactly that trial
    and nothing is left unevaluated."""
    cfg = write_tiny(tmp_path, "sigint2", trials=3)
    url = f"sqlite:///{tmp_path}/studies.db"
    command = [sys.executable, "-m", "dse", "run", "--config", str(cfg), "--storage", url]
    proc = subprocess.Popen(
        [*command, "--no-progress"],
        cwd=tmp_path,
        env=subprocess_env(tmp_path / "cache"),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert proc.stdout is not None
    for line in proc.stdout:  # an empty cache: the first trial trains for seconds
        if "joint epoch" in line:
            break
    proc.send_signal(signal.SIGINT)
    time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=180)
    assert proc.returncode == 130, out[-2000:]
    assert "again: aborting the running trial" in out and "Traceback" not in out
    trials = optuna.load_study(study_name="sigint2", storage=url).trials
    aborted = [t for t in trials if t.state == TrialState.FAIL]
    waiting = [t for t in trials if t.state == TrialState.WAITING]
    assert len(aborted) == 1 and len(waiting) == 1, [(t.number, t.state) for t in trials]
    assert waiting[0].system_attrs["failed_trial"] == aborted[0].number
    assert waiting[0].params == aborted[0].params
    with Store(url, read_only=True) as store:
        assert store.designs("sigint2") == []  # nothing of the aborted trial is stored
    # the same command resumes, and the aborted parameters are evaluated first
    done = subprocess.run(
        [*command, "--no-progress"],
        cwd=tmp_path,
        env=subprocess_env(tmp_path / "cache"),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    trials = optuna.load_study(study_name="sigint2", storage=url).trials
    by_number = {t.number: t for t in trials}
    retry = by_number[waiting[0].number]
    assert retry.state == TrialState.COMPLETE and retry.params == aborted[0].params
    assert (
        sum(t.state == TrialState.COMPLETE and t.user_attrs["kind"] == "training" for t in trials)
        == 3
    )
    assert not [t for t in trials if t.state in (TrialState.WAITING, TrialState.RUNNING)]
    with Store(url, read_only=True) as store:
        numbers = {n for d in store.designs("sigint2") for n in d.trial_numbers}
    assert retry.number in numbers


def test_clocks_beyond_finn_builds_are_flagged(
    done: dict, capsys: pytest.CaptureFixture[str]
) -> None:
    """Designs clocked faster than FINN's builds close on their part carry a flag in the
    Pareto table (with its reason under it), the dashboard's hover label and design facts;
    the study's own 10 ns designs on a Pynq-Z1 carry none."""
    import dataclasses

    from dse.cli.study import print_pareto_table
    from dse.dashboard.records import design_dict, design_summary, hover_text
    from dse.storage import Store

    with Store(done["url"], read_only=True) as store:
        front = store.pareto("clistudy")
    assert front and all(d.clock_note is None for d in front)
    code, out, _ = cli(["study", "status", "--storage", done["url"], "--json"], capsys)
    assert code == 0 and json.loads(out)["clock_notes"] == []
    fast = [dataclasses.replace(d, clk_ns=5.0) for d in front]
    print_pareto_table(fast, "fast")
    out = capsys.readouterr().out
    assert " 5! " in out
    assert "clk ns !    5 ns (200 MHz) on xc7z020clg400-1 is faster than FINN's builds" in out
    assert "bnn-pynq/build.py" in out
    print_pareto_table(front, "as stored")
    assert "!" not in capsys.readouterr().out
    d = design_dict(fast[0])
    assert "clock: 5 ns (200 MHz)" in hover_text(d)
    assert dict(design_summary(d))["clock check"].startswith("5 ns (200 MHz)")
    assert "clock check" not in dict(design_summary(design_dict(front[0])))
