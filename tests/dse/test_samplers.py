"""The per-trial reseeding really reaches the wrapped Optuna sampler: a trial's parameters
depend on the seed and the trial number only, not on what the sampler drew before."""

from __future__ import annotations

import optuna
import pytest

from dse.study.samplers import TrialSeededSampler, make_sampler, sampler_names


def _params(sampler: TrialSeededSampler, n: int, burn: int = 0) -> list[dict]:
    for state in sampler._states:  # draws a reseed must undo
        for _ in range(burn):
            state.rng.random_sample()
    study = optuna.create_study(sampler=sampler, directions=["maximize", "minimize"])
    out = []
    for _ in range(n):
        trial = study.ask()
        p = {
            "a": trial.suggest_categorical("a", ["off", 0.5, 0.9]),
            "b": trial.suggest_float("b", 0.0, 1.0),
        }
        out.append(p)
        study.tell(trial, [p["b"], 1.0 - p["b"]])
    return out


@pytest.mark.parametrize("name", sampler_names())
def test_reseeding_reaches_the_sampler(name: str) -> None:
    sampler = make_sampler(name, seed=3, population_size=4)
    assert sampler._states, "no random state of the wrapped sampler was found"
    first = _params(sampler, 6)
    again = _params(make_sampler(name, seed=3, population_size=4), 6, burn=1000)
    assert again == first  # the burnt draws were undone by the per-trial reseed
    other = _params(make_sampler(name, seed=4, population_size=4), 6)
    assert other != first
