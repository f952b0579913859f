"""The Optuna bridge: the private API it relies on still has its shape, the version range
holds, and what it wraps does what Optuna's own code does (a real study on a real SQLite
file)."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest
import sqlalchemy as sa

from dse.errors import DseError
from dse.optuna_bridge import (
    check_optuna_version,
    check_private_api,
    rdb_backend,
    sampler_after_trial,
    study_storage,
    trial_id,
    trial_tables,
)


def test_optunas_private_api_has_the_shape_we_rely_on() -> None:
    assert check_private_api() == []


def test_the_declared_range_is_the_one_checked() -> None:
    check_optuna_version()  # the installed one
    for bad in ("4.5.0", "6.0.0", "not-a-version"):
        with pytest.raises(DseError, match=r"optuna>=5\.0,<6.*pip install"):
            check_optuna_version(bad)
    pyproject = (Path(__file__).resolve().parents[2] / "pyproject.toml").read_text()
    assert '"optuna>=5.0,<6"' in pyproject


def test_the_bridge_on_a_real_rdb_study(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'bridge.db'}"
    storage = optuna.storages.RDBStorage(url, heartbeat_interval=60)
    study = optuna.create_study(study_name="b", storage=storage, directions=["maximize"])
    trial = study.ask()
    trial.suggest_float("x", 0.0, 1.0)
    # the storage id is the one Optuna's tables hold for the trial's number
    tables = trial_tables()
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        row = conn.execute(
            sa.select(tables.trials.c.trial_id, tables.trials.c.number).where(
                tables.trials.c.trial_id == trial_id(trial)
            )
        ).one()
    engine.dispose()
    assert row.number == trial.number
    assert rdb_backend(study_storage(study)).get_heartbeat_interval() == 60
    # the sampler's hook sees the values, and the study's cached trial list is dropped
    seen: list[list[float]] = []

    class Recording(optuna.samplers.RandomSampler):
        def after_trial(self, study, trial, state, values):  # noqa: ANN001, ANN201
            seen.append(list(values))

    study.sampler = Recording(seed=0)
    study.get_trials(deepcopy=False)
    sampler_after_trial(study, trial, [0.5])
    assert seen == [[0.5]]
    assert study._thread_local.cached_all_trials is None  # noqa: SLF001 - what the bridge resets
    # infinities are stored as a type with no value, as Optuna stores them
    assert tables.stored_value(float("inf"))[0] is None
    assert tables.stored_value(0.25)[0] == 0.25
