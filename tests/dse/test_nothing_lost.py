"""Nothing lost, nothing written before the inputs are checked, one line for every failure.

Each case is a reproduction of a reported failure, on the real file system (files in place of
folders, a folder made read-only with ``chattr +i``, a full disk as a small tmpfs), the real
SQLite database of a small real study and its real checkpoint cache: the command either
works or fails with one line naming the flag or field and the fix, exit status 2, and every
file as it was.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import numpy as np
import optuna
import pytest
from cli_checks import cli, copy_sqlite, immutable, one_line, small_disk, tree_digest
from fixtures_study import SmallStudy

from dse.storage import Store

GRAPH = Path(__file__).resolve().parents[2] / "hw_builders" / "examples" / "cnv_w2a2.json"


# -- helpers -----------------------------------------------------------------------------------
def copy_database(small_study: SmallStudy, dst: Path) -> str:
    """A consistent copy (WAL included) of the small study's database; its URL."""
    return copy_sqlite(small_study.db, dst)


def trial_states(url: str, study: str) -> dict[str, int]:
    with Store(url, read_only=True) as store:
        return dict(store.optuna_trial_counts()[study]["states"])


def trainings(url: str, study: str) -> list[optuna.trial.FrozenTrial]:
    """A study's training trials (not those carrying a trained model's further designs)."""
    trials = optuna.load_study(study_name=study, storage=url).trials
    return [t for t in trials if t.user_attrs.get("kind") != "design"]


def last_line_is_the_error(code: int, err: str, needle: str) -> str:
    """A run that logged progress and then failed: exit 2, no traceback, one error line."""
    lines = err.strip().splitlines()
    errors = [line for line in lines if line.startswith("error: ")]
    assert code == 2, err[-3000:]
    assert "Traceback" not in err and len(errors) == 1 and lines[-1] == errors[0], err[-3000:]
    assert needle in errors[0], errors[0]
    return errors[0]


# -- output paths, checked before any work -----------------------------------------------------
def test_hw_fold_out_paths(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "afile").write_text("x\n")
    (tmp_path / "adir").mkdir()
    before = tree_digest(tmp_path)
    fold = ["hw", "fold", str(GRAPH), "--budget", "1.0", "--out"]
    cases = {
        str(tmp_path / "afile" / "f.json"): "afile is not a folder",
        str(tmp_path / "adir"): "is a folder; give a file name",
        "/proc/f.json": "cannot write in /proc",
        str(tmp_path / "missing" / "f.json"): "does not exist; create the folder",
    }
    for out, needle in cases.items():
        line = one_line([*fold, out], capsys, needle)
        assert line.startswith(f"error: --out {out}:")
    assert not (tmp_path / "missing").exists()  # no folder made on the way
    assert tree_digest(tmp_path) == before and sorted(p.name for p in tmp_path.iterdir()) == [
        "adir",
        "afile",
    ]
    code, out, _ = cli([*fold, str(tmp_path / "f.json")], capsys)
    assert code == 0 and "folding written to" in out
    assert json.loads((tmp_path / "f.json").read_text())  # it works where it can


def test_hw_inputs_that_gave_tracebacks(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    latin = tmp_path / "latin1.json"
    latin.write_bytes(b'{"name": "caf\xe9", "layers": []}')
    one_line(["hw", "estimate", str(latin)], capsys, "not UTF-8 text")
    one_line(
        ["hw", "estimate", str(GRAPH), "--folding", str(latin)],
        capsys,
        f"folding file {latin}: not UTF-8 text",
    )
    graph = json.loads(GRAPH.read_text())
    layer = next(la for la in graph["layers"] if "numInputVectors" in la)
    layer["numInputVectors"] = "x"
    bad = tmp_path / "nv.json"
    bad.write_text(json.dumps(graph))
    one_line(
        ["hw", "estimate", str(bad)],
        capsys,
        f"layer {layer['name']}: numInputVectors='x' must be a positive integer",
    )
    line = one_line(
        ["hw", "fold", str(GRAPH), "--target-fps", "1e12", "--strategy", "finn"],
        capsys,
        "--target-fps 1e+12: above one frame per clock cycle",
    )
    assert "target_cycles" not in line and "give at most 1e+08" in line


def test_runtime_flags_are_named_before_the_study_is_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """No database here: each flag is refused before any study is opened."""
    (tmp_path / "traces").mkdir()
    simulate = ["runtime", "simulate", "--storage", f"sqlite:///{tmp_path}/none.db"]
    one_line([*simulate, "--dt-s", "0"], capsys, "--dt-s 0.0 must be a positive number")
    one_line([*simulate, "--hold", "-1"], capsys, "--hold -1 must be at least 1")
    one_line([*simulate, "--duration-s", "-5"], capsys, "--duration-s -5.0 must be a positive")
    one_line(
        [*simulate, "--trace", str(tmp_path / "traces")],
        capsys,
        f"--trace {tmp_path / 'traces'}: is a folder",
    )
    one_line(["run", "--config", str(tmp_path / "traces")], capsys, "is a folder; give a TOML")
    one_line(["train", "--config", str(tmp_path / "traces")], capsys, "is a folder; give a TOML")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["traces"]


def test_simulate_says_worse_when_adapex_is_worse() -> None:
    from dse.cli.runtime import _fmt_ratio

    assert _fmt_ratio(0.787, "better", "worse") == "1.271x worse"
    assert _fmt_ratio(2.0, "better", "worse") == "2.000x better"
    assert _fmt_ratio(1.0, "more", "fewer") == "1.000x (equal)"
    assert _fmt_ratio(None, "more", "fewer") == "-"


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    from importlib.metadata import version

    code, out, _ = cli(["--version"], capsys)
    assert code == 0 and out.strip() == f"adapex {version('adapex')}"


def test_cache_dir_that_cannot_be_a_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "afile").write_text("x\n")
    before = tree_digest(tmp_path)
    run = ["run", "--storage", f"sqlite:///{tmp_path}/s.db", "--trials", "1", "--no-progress"]
    for cache, needle in (
        (tmp_path / "afile", "is a file; give a folder"),
        (tmp_path / "afile" / "sub", "lies under the file"),
        (Path("/proc/nope"), "cannot write in /proc"),
    ):
        line = one_line([*run, "--cache-dir", str(cache)], capsys, needle)
        assert "--cache-dir" in line and "ADAPEX_CACHE_DIR" in line
    assert tree_digest(tmp_path) == before and not (tmp_path / "s.db").exists()
    # train's --out, checked before the training, not after it
    one_line(["train", "--out", str(tmp_path / "afile")], capsys, "is a file; give a folder")
    with immutable(tmp_path):
        one_line(["train", "--out", str(tmp_path / "q")], capsys, "cannot write in")
    assert tree_digest(tmp_path) == before


def test_dataset_too_small_for_its_splits(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    images = np.zeros((5, 8, 8, 1), np.uint8)
    np.savez(tmp_path / "five.npz", x_train=images, y_train=np.arange(5))
    (tmp_path / "npz.toml").write_text(
        f'[study]\nname = "n"\n[dataset]\nname = "npz"\npath = "{tmp_path / "five.npz"}"\n'
    )
    before = tree_digest(tmp_path)
    one_line(
        ["run", "--config", str(tmp_path / "npz.toml"), "--storage", f"sqlite:///{tmp_path}/s.db"],
        capsys,
        "dataset npz: 5 images leave the",
    )
    assert tree_digest(tmp_path) == before


def test_dashboard_on_a_file_that_is_not_a_database(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "notadb.txt").write_text("hello\n")
    one_line(
        ["dashboard", "--storage", f"sqlite:///{tmp_path}/notadb.txt", "--port", "18050"],
        capsys,
        "notadb.txt is not a SQLite database",
    )


# -- a real study's database ------------------------------------------------------------------
@pytest.mark.slow
def test_writes_that_fail_change_nothing(
    small_study: SmallStudy, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = copy_database(small_study, tmp_path / "db" / "studies.db")
    before = tree_digest(tmp_path)
    for args in (
        ["runtime", "table", "--out", "/proc/t.json"],
        ["report", "--out", "/proc/r.html"],
        ["runtime", "table", "--out", str(tmp_path / "missing" / "t.json")],
    ):
        one_line([*args, "--study", small_study.name, "--storage", url], capsys, "--out ")
    assert tree_digest(tmp_path) == before  # the table was not stored before the write failed
    states = trial_states(url, small_study.name)
    # a cache dir that cannot be one: refused before a trial starts (no FAILED trial)
    (tmp_path / "afile").write_text("x\n")
    one_line(
        ["run", "--study", small_study.name, "--storage", url, "--trials", "12"]
        + ["--cache-dir", str(tmp_path / "afile"), "--no-progress"],
        capsys,
        "is a file; give a folder",
    )
    assert trial_states(url, small_study.name) == states


@pytest.mark.slow
def test_a_read_only_folder_is_read_and_never_written(
    small_study: SmallStudy, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "ro"
    url = copy_database(small_study, folder / "studies.db")
    before = tree_digest(folder)
    with immutable(folder):
        for args in (["study", "list"], ["study", "status"], ["study", "pareto", "--json"]):
            code, out, err = cli([*args, "--storage", url], capsys)
            assert code == 0, err
            assert small_study.name in out or json.loads(out)
        code, out, err = cli(
            ["report", "--storage", url, "--out", str(tmp_path / "report.html")], capsys
        )
        assert code == 0, err
        from dse.dashboard import Dashboard

        board = Dashboard(url)  # the dashboard reads it too
        try:
            assert board.study_names() == [small_study.name]
            assert len(board.designs(small_study.name)) > 0
        finally:
            board.store.close()
        # a run needs to write: one line before anything else
        one_line(
            ["run", "--study", small_study.name, "--storage", url, "--trials", "12"],
            capsys,
            f"storage: directory {folder} is not writable",
        )
        assert tree_digest(folder) == before
        assert sorted(p.name for p in folder.iterdir()) == ["studies.db"]
    assert "<html" in (tmp_path / "report.html").read_text()[:2000].lower()


@pytest.mark.slow
def test_a_database_that_cannot_be_written(
    small_study: SmallStudy, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "studies.db"
    url = copy_database(small_study, db)
    before = tree_digest(tmp_path)
    with immutable(db):
        line = one_line(
            ["run", "--study", small_study.name, "--storage", url, "--trials", "12"],
            capsys,
            f"storage: {db} cannot be written",
        )
        assert "exceeding max length" not in line
        code, out, _ = cli(["study", "list", "--storage", url], capsys)  # reading still works
        assert code == 0 and small_study.name in out
    assert tree_digest(tmp_path) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["studies.db"]  # no -wal, -shm


@pytest.mark.slow
def test_a_full_disk_keeps_every_completed_trial(
    small_study: SmallStudy, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from fixtures_study import small_config

    copy_database(small_study, tmp_path / "measure.db")  # its size with the WAL folded in
    # room for the new study and its first trial, not for the trained model's designs
    size_kb = (tmp_path / "measure.db").stat().st_size // 1024 + 128
    with small_disk(tmp_path / "disk", size_kb) as disk:
        url = copy_database(small_study, disk / "studies.db")
        states = trial_states(url, small_study.name)
        # a second study in the same database, whose first trained model does not fit
        cfg = small_config(small_study.db.parent)
        cfg["study"] = {**cfg["study"], "name": "grow", "trials": 30}
        # a short heartbeat: the trial the full disk leaves RUNNING is found stale in 3 s
        fast = {"heartbeat_interval_s": 1, "grace_period_s": 3}
        cfg["storage"] = {"url": url, **fast}  # the small study's rates: trainings cached
        (tmp_path / "grow.toml").write_text(_toml(cfg))
        code, _, err = cli(
            ["run", "--config", str(tmp_path / "grow.toml"), "--no-progress"], capsys
        )
        last_line_is_the_error(code, err, "free some space")
        saved = tmp_path / "saved"
        saved.mkdir()
        for f in disk.iterdir():
            shutil.copy2(f, saved / f.name)
    con = sqlite3.connect(saved / "studies.db")
    try:
        assert con.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    finally:
        con.close()
    saved_url = f"sqlite:///{saved / 'studies.db'}"
    after = trial_states(saved_url, small_study.name)
    assert after == states  # nothing completed is lost
    # with space again, the run resumes: what the full disk cut short is retried first
    cut = optuna.load_study(study_name="grow", storage=saved_url).trials
    assert cut and all(t.state.name in ("COMPLETE", "FAIL", "RUNNING", "WAITING") for t in cut)
    assert any(t.state.name in ("FAIL", "RUNNING") for t in cut), cut  # one was cut short
    done = sum(t.state.name == "COMPLETE" for t in cut)
    cfg["storage"] = {"url": saved_url, **fast}
    cfg["study"] = {**cfg["study"], "trials": done + 1}
    (tmp_path / "grow.toml").write_text(_toml(cfg))
    code, _, err = cli(["run", "--config", str(tmp_path / "grow.toml"), "--no-progress"], capsys)
    assert code == 0, err[-3000:]
    trials = trainings(saved_url, "grow")
    assert not [t for t in trials if t.state.name in ("RUNNING", "WAITING")], trials
    complete = [t for t in trials if t.state.name == "COMPLETE"]
    for t in trials:
        if t.state.name == "FAIL" and t.params:  # trained since, with the same parameters
            retries = [c for c in complete if t.number in c.system_attrs.get("retry_history", [])]
            assert retries and retries[0].params == t.params, trials


@pytest.mark.slow
def test_a_failed_training_without_its_retry_is_retried(
    small_study: SmallStudy, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A full disk can fail a trial and then fail the write of its retry: the next run
    queues the retry itself, so the model is trained with the same parameters."""
    from fixtures_study import small_config

    url = f"sqlite:///{tmp_path / 'studies.db'}"
    cfg = small_config(small_study.db.parent)  # its cached trainings
    cfg["study"] = {**cfg["study"], "name": "retry", "trials": 1}
    cfg["storage"] = {"url": url}
    cfg["pruning"] = {"mode": "uniform", "rates": [0.0, 0.25, 0.5, 0.75]}
    (tmp_path / "retry.toml").write_text(_toml(cfg))
    code, _, err = cli(["run", "--config", str(tmp_path / "retry.toml"), "--no-progress"], capsys)
    assert code == 0, err[-3000:]
    study = optuna.load_study(study_name="retry", storage=url)
    (first,) = study.trials
    assert first.params == {"pruning": 0.0}
    # what the full disk left: a failed training and no retry queued
    study.add_trial(
        optuna.create_trial(
            state=optuna.trial.TrialState.FAIL,
            params={"pruning": 0.5},
            distributions=first.distributions,
        )
    )
    code, _, err = cli(
        ["run", "--config", str(tmp_path / "retry.toml"), "--trials", "2", "--no-progress"],
        capsys,
    )
    assert code == 0, err[-3000:]
    assert "trial 1: failed with no retry queued; its retry is queued" in err
    trials = trainings(url, "retry")
    assert [t.state.name for t in trials] == ["COMPLETE", "FAIL", "COMPLETE"], trials
    assert trials[2].params == {"pruning": 0.5}
    assert trials[2].system_attrs["failed_trial"] == 1
    # retried once: a later run does not queue it again
    code, _, err = cli(
        ["run", "--config", str(tmp_path / "retry.toml"), "--trials", "2", "--no-progress"],
        capsys,
    )
    assert code == 0 and "retry is queued" not in err, err[-3000:]
    assert len(trainings(url, "retry")) == 3


# -- targets, parts and Optuna's own fields ----------------------------------------------------
def _toml(data: dict) -> str:
    """The small config as TOML (scalars, lists and one level of tables)."""

    def value(v: object) -> str:
        return json.dumps(v) if not isinstance(v, bool) else str(v).lower()

    lines = [f"{k} = {value(v)}" for k, v in data.items() if not isinstance(v, dict)]
    for section, values in data.items():
        if isinstance(values, dict):
            lines.append(f"[{section}]")
            lines += [f"{k} = {value(v)}" for k, v in values.items() if v is not None]
    return "\n".join(lines) + "\n"


@pytest.mark.slow
def test_resume_keeps_the_target_and_a_toml_can_name_a_part(
    small_study: SmallStudy, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from fixtures_study import small_config

    url = copy_database(small_study, tmp_path / "studies.db")
    name = small_study.name

    def run(*extra: str) -> str:
        code, _, err = cli(
            ["run", "--study", name, "--storage", url, "--no-progress", *extra], capsys
        )
        assert code == 0, err[-3000:]
        return err

    def target() -> int:
        code, out, _ = cli(["study", "status", "--storage", url, "--study", name, "--json"], capsys)
        assert code == 0
        return int(json.loads(out)["target_trials"])

    with Store(url, read_only=True) as store:
        n = len(store.models(name))  # its two trained models
    assert target() == n == 2
    assert f"{name}: already 2/2 trained models" in run()  # not the quickstart's 4
    # a higher target on a space of two models: kept, and the run says why nothing trains
    err = run("--trials", "3")
    assert "every one of the 2 distinct models of the space is trained" in err
    assert target() == 3
    with Store(url, read_only=True) as store:
        assert len(store.models(name)) == 2
    run("--trials", "1")
    assert target() == 1 and f"{name}: already 2/1 trained models" in run()  # the last target
    # a TOML config that names a part and no board (the default board must not stay)
    cfg = small_config(small_study.db.parent)
    cfg["study"] = {**cfg["study"], "name": "on_a_part", "trials": 2}
    cfg["storage"] = {"url": url}
    cfg["hardware"] = {"part": "xc7z020clg400-1", "clk_ns": [10.0]}
    (tmp_path / "part.toml").write_text(_toml(cfg))
    code, _, err = cli(["run", "--config", str(tmp_path / "part.toml"), "--no-progress"], capsys)
    assert code == 0, err[-3000:]
    with Store(url, read_only=True) as store:
        designs = store.designs("on_a_part")
    assert designs and {(d.board, d.part) for d in designs} == {(None, "xc7z020clg400-1")}
    # Optuna's own views see the objectives' names and the feasibility constraint
    ostudy = optuna.load_study(study_name="on_a_part", storage=url)
    assert ostudy.metric_names == ["accuracy", "throughput_fps", "energy_per_inference_j"]
    complete = [t for t in ostudy.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert complete and all("fits_device" in t.constraints for t in complete)
    for t in complete:  # and the list optuna-dashboard reads, in the same order
        named = {k: v for k, v in t.constraints.items() if not k.isdigit()}
        assert t.system_attrs["constraints"] == list(named.values())


def test_help_says_what_the_options_do(capsys: pytest.CaptureFixture[str]) -> None:
    """The help of the options the reports found misleading, one wording of --storage."""
    import re

    def options(command: list[str]) -> str:
        code, out, _ = cli([*command, "--help"], capsys)
        assert code == 0
        return re.sub(r"[\s│]+", " ", out)

    run = options(["run"])
    assert ".name" not in run and "the config's study name" in run
    storage = "Study database URL: sqlite:///studies.db (default, in this directory)"
    for command in (
        ["run"],
        ["worker"],
        ["study", "list"],
        ["runtime", "table"],
        ["report"],
        ["export"],
    ):
        assert storage in options(command), command
    table = options(["runtime", "table"])
    assert "The user's accuracy threshold" in table and "The user's accuracy threshold" in (
        options(["runtime", "simulate"])
    )
