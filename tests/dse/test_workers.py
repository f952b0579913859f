"""Several workers on one study: two on a SQLite file, four on the real PostgreSQL (no lost
or duplicated trainings, no model trained twice), and a worker killed with SIGKILL
mid-training, then resumed (every completed training intact, the stale one retried with the
same parameters)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import optuna
import pytest
import sqlalchemy as sa
from optuna.trial import TrialState
from tiny_study import subprocess_env, write_tiny

from dse.storage import Store
from dse.study.run import delete_study

pytestmark = pytest.mark.slow
ADAPEX = [sys.executable, "-m", "dse"]


def adapex(args: list[str], cwd: Path, cache: Path, **kw: object) -> subprocess.Popen:
    return subprocess.Popen(
        ADAPEX + args,
        cwd=cwd,
        env=subprocess_env(cache),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        **kw,
    )


def finish(proc: subprocess.Popen, timeout: float = 240) -> str:
    out, _ = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, out[-3000:]
    return out


def check_consistent(url: str, study: str, target: int) -> list[optuna.trial.FrozenTrial]:
    """Every COMPLETE trial carries exactly one design and every design one COMPLETE trial;
    a design trial has its training's parameters; no model was trained twice; the workers
    stopped at exactly the target number of trained models, none left running."""
    trials = optuna.load_study(study_name=study, storage=url).trials
    numbers = [t.number for t in trials]
    assert len(numbers) == len(set(numbers))
    complete = {t.number: t for t in trials if t.state == TrialState.COMPLETE}
    trainings = [t for t in complete.values() if t.user_attrs["kind"] == "training"]
    with Store(url, read_only=True) as store:
        designs = store.designs(study)
        models = {m.id: m for m in store.models(study)}
    carried = [d.trial_number for d in designs]
    assert len(carried) == len(set(carried))
    assert set(carried) == set(complete)
    assert {t.user_attrs["design_id"] for t in complete.values()} == {d.id for d in designs}
    assert len({json.dumps(d.params, sort_keys=True) for d in designs}) == len(designs)
    for d in designs:
        training = complete[models[d.model_id].trial_number]
        assert complete[d.trial_number].params == training.params
    # no model trained twice: distinct parameters, distinct checkpoints
    assert len({json.dumps(t.params, sort_keys=True) for t in trainings}) == len(trainings)
    assert len({m.key for m in models.values()}) == len(models) == len(trainings)
    assert len(trainings) == target  # the workers together stop at exactly the target
    assert not [t for t in trials if t.state == TrialState.RUNNING]
    return trials


def several_workers(url: str, study: str, tmp_path: Path, n: int = 2) -> None:
    cfg = write_tiny(tmp_path, study, trials=1)
    finish(adapex(["run", "--config", str(cfg), "--storage", url], tmp_path, tmp_path / "c0"))
    target = 6
    # fresh caches: each worker trains on its first trial, so every one takes part
    procs = [
        adapex(
            ["worker", "--study", study, "--storage", url, "--trials", str(target)],
            tmp_path,
            tmp_path / f"c{k}",
        )
        for k in range(1, n + 1)
    ]
    outs = [finish(p) for p in procs]
    check_consistent(url, study, target)  # exactly the target, whatever the number of workers
    with Store(url, read_only=True) as store:
        workers = {m.metrics["worker"] for m in store.models(study)}
    assert len(workers) >= 3, outs  # the creating run and at least two workers trained
    for out in outs:
        assert "trial" in out and "complete" in out  # plain log lines


def test_two_workers_sqlite(tmp_path: Path) -> None:
    several_workers(f"sqlite:///{tmp_path}/studies.db", "w2", tmp_path, n=2)


@pytest.mark.postgres
def test_four_workers_postgres(pg_url: str, tmp_path: Path) -> None:
    study = f"pgw-{uuid.uuid4().hex[:10]}"
    try:
        several_workers(pg_url, study, tmp_path, n=4)
    finally:
        delete_study(study, pg_url)
    with Store(pg_url, read_only=True) as store:
        assert store.study_info(study) is None


N_PARAMS = 2  # a training trial's parameters: weight_bits, pruning


def _running_with_heartbeat(url: str, study: str) -> int | None:
    """A RUNNING trial that has a heartbeat and all its parameters (so it is evaluating)."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            row = conn.execute(
                sa.text(
                    "SELECT t.number FROM trials t JOIN studies s ON s.study_id = t.study_id "
                    "JOIN trial_heartbeats h ON h.trial_id = t.trial_id "
                    "WHERE s.study_name = :s AND t.state = 'RUNNING' AND "
                    "(SELECT COUNT(*) FROM trial_params p WHERE p.trial_id = t.trial_id) = :n"
                ),
                {"s": study, "n": N_PARAMS},
            ).first()
    finally:
        engine.dispose()
    return None if row is None else int(row[0])


def _trials(url: str, study: str) -> list[optuna.trial.FrozenTrial]:
    """The study's trials, read through a storage whose connections are closed at once (an
    idle SQLite connection of this process must not hold the database while a worker runs)."""
    storage = optuna.storages.RDBStorage(url)
    try:
        return optuna.load_study(study_name=study, storage=storage).trials
    finally:
        storage.engine.dispose()


def test_sigkill_mid_trial_then_resume(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/studies.db"
    cfg = write_tiny(tmp_path, "kill", trials=3)
    finish(adapex(["run", "--config", str(cfg), "--storage", url], tmp_path, tmp_path / "ca"))
    before = {t.number: t for t in _trials(url, "kill")}
    with Store(url, read_only=True) as store:
        designs_before = {d.trial_number: d for d in store.designs("kill")}
        assert len(store.models("kill")) == 3
    assert len(before) == len(designs_before) > 3
    # a worker with an empty cache spends seconds training inside its first trial: kill it there
    victim = adapex(
        ["worker", "--study", "kill", "--storage", url, "--trials", "6"],
        tmp_path,
        tmp_path / "cb",
        start_new_session=True,
    )
    # kill it once it reports training inside its first trial
    seen = []
    assert victim.stdout is not None
    for line in victim.stdout:
        seen.append(line)
        if "joint epoch" in line:
            break
    killed = _running_with_heartbeat(url, "kill")
    if killed is None:
        victim.kill()
        eng = sa.create_engine(url)
        with eng.connect() as conn:
            rows = conn.execute(sa.text("SELECT trial_id, number, state FROM trials")).all()
            hb = conn.execute(sa.text("SELECT * FROM trial_heartbeats")).all()
            pr = conn.execute(sa.text("SELECT trial_id, param_name FROM trial_params")).all()
        raise AssertionError(f"never started a trial: {rows} {hb} {pr} {''.join(seen)[-3000:]}")
    os.kill(victim.pid, signal.SIGKILL)
    victim.wait(30)
    assert victim.returncode == -signal.SIGKILL
    stale = _trials(url, "kill")[killed]
    assert stale.state == TrialState.RUNNING
    with Store(url, read_only=True) as store:  # nothing of the killed training is stored
        assert killed not in {n for d in store.designs("kill") for n in d.trial_numbers}
        assert killed not in {m.trial_number for m in store.models("kill")}
    # the same command at once, within the grace period: it runs what it can, waits for the
    # stale trial's grace period to pass, fails it and retries it
    out = finish(
        adapex(
            ["worker", "--study", "kill", "--storage", url, "--trials", "6"],
            tmp_path,
            tmp_path / "ca",
        )
    )
    trials = check_consistent(url, "kill", 6)
    by_number = {t.number: t for t in trials}
    # every trial completed before the kill is intact
    with Store(url, read_only=True) as store:
        designs_after = {d.trial_number: d for d in store.designs("kill")}
    for number, t in before.items():
        assert by_number[number].state == TrialState.COMPLETE
        assert by_number[number].values == t.values and by_number[number].params == t.params
        assert designs_after[number].id == designs_before[number].id
        assert designs_after[number].objectives == designs_before[number].objectives
    # the stale trial failed and was retried with the same parameters
    assert by_number[killed].state == TrialState.FAIL
    retries = [t for t in trials if t.system_attrs.get("failed_trial") == killed]
    assert len(retries) == 1, out
    retry = retries[0]
    assert retry.state == TrialState.COMPLETE
    assert len(stale.params) == N_PARAMS and retry.params == stale.params
    assert killed not in designs_after and retry.number in designs_after
    assert designs_after[retry.number].provenance["retry_of"] == [killed]
    assert "already set" not in out and "Traceback" not in out


def test_a_trial_that_never_beat_is_failed_and_retried(tmp_path: Path) -> None:
    """A worker killed between asking for a trial and its first heartbeat leaves a RUNNING
    trial that Optuna's stale check never sees; the next worker fails and retries it once the
    grace period has passed, and the study still ends at exactly the target."""
    url = f"sqlite:///{tmp_path}/studies.db"
    cfg = write_tiny(tmp_path, "silent", trials=2)
    finish(adapex(["run", "--config", str(cfg), "--storage", url], tmp_path, tmp_path / "c"))
    storage = optuna.storages.RDBStorage(url)  # no heartbeat: like a worker that died at once
    try:
        orphan = optuna.load_study(study_name="silent", storage=storage).ask()
        orphan_number = orphan.number
    finally:
        storage.engine.dispose()
    time.sleep(3.5)  # the tiny config's grace period
    out = finish(
        adapex(
            ["worker", "--study", "silent", "--storage", url, "--trials", "4"],
            tmp_path,
            tmp_path / "c",
        )
    )
    trials = check_consistent(url, "silent", 4)
    assert next(t for t in trials if t.number == orphan_number).state == TrialState.FAIL
    assert "no heartbeat" in out


@pytest.mark.postgres
def test_a_worker_killed_at_the_end_is_retried_before_the_study_ends_postgres(
    pg_url: str, tmp_path: Path
) -> None:
    """One run and three workers on PostgreSQL, a fourth worker killed inside the last trial
    the target leaves: the three others wait for it, and when its grace period is over one of
    them fails it and its retry takes the last slot (no new trial takes it first), so the
    study ends at the target with every parameter set evaluated and nothing left waiting."""
    study = f"pgk-{uuid.uuid4().hex[:10]}"
    target = 3
    cfg = write_tiny(tmp_path, study, trials=1)
    try:
        finish(
            adapex(["run", "--config", str(cfg), "--storage", pg_url], tmp_path, tmp_path / "c0")
        )
        worker = ["worker", "--study", study, "--storage", pg_url, "--trials", str(target)]
        victim = adapex(worker, tmp_path, tmp_path / "cv", start_new_session=True)
        assert victim.stdout is not None
        for line in victim.stdout:  # an empty cache: it trains inside its first trial
            if "joint epoch" in line:
                break
        killed = _running_with_heartbeat(pg_url, study)
        os.kill(victim.pid, signal.SIGKILL)
        victim.wait(30)
        assert killed is not None
        others = [adapex(worker, tmp_path, tmp_path / "c0") for _ in range(3)]
        outs = [finish(p) for p in others]
        trials = check_consistent(pg_url, study, target)  # exactly the target, none RUNNING
        assert not [t for t in trials if t.state == TrialState.WAITING], outs
        by_number = {t.number: t for t in trials}
        assert by_number[killed].state == TrialState.FAIL
        retries = [t for t in trials if t.system_attrs.get("failed_trial") == killed]
        assert len(retries) == 1 and retries[0].state == TrialState.COMPLETE, outs
        assert retries[0].params == by_number[killed].params
        with Store(pg_url, read_only=True) as store:
            listed = next(s for s in store.list_studies() if s.name == study)
        # the trainings and the failed attempt, and the trials of further designs
        assert listed.n_trials == len(trials)
        assert listed.n_models == target
        assert listed.n_failed == 1
        assert all("Traceback" not in out for out in outs)
    finally:
        delete_study(study, pg_url)
