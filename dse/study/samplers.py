"""Optuna samplers: TPE (default), NSGA-II and random, seeded per trial.

:class:`TrialSeededSampler` reseeds the wrapped sampler's random state before every trial
from the study seed and the trial number, so a trial's parameters depend only on the seed,
the trial number and the trials completed before it — never on which worker runs it or on
how many trials that worker ran before (two workers never draw the same random sequence).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import optuna
from optuna.distributions import BaseDistribution
from optuna.samplers import BaseSampler
from optuna.study import Study
from optuna.trial import FrozenTrial, TrialState

from dse.optuna_bridge import LazyRandomState
from dse.registry import Registry
from dse.study.seeds import trial_seed


def _random_states(obj: Any, depth: int = 0, seen: set[int] | None = None) -> list[LazyRandomState]:
    """Every LazyRandomState reachable from a sampler's attributes (a few levels deep)."""
    seen = set() if seen is None else seen
    if id(obj) in seen or depth > 3:
        return []
    seen.add(id(obj))
    if isinstance(obj, LazyRandomState):
        return [obj]
    found: list[LazyRandomState] = []
    attrs = getattr(obj, "__dict__", None)
    if attrs is None:
        return found
    for value in attrs.values():
        if isinstance(value, LazyRandomState) or hasattr(value, "__dict__"):
            if isinstance(value, (str, bytes, int, float)):
                continue
            found.extend(_random_states(value, depth + 1, seen))
    return found


class TrialSeededSampler(BaseSampler):
    """Wrap a sampler and reseed its random state from (seed, trial number) before each trial."""

    def __init__(self, base: BaseSampler, seed: int) -> None:
        self.base = base
        self.seed = int(seed)
        self._states = _random_states(base)

    def _reseed(self, number: int) -> None:
        s = trial_seed(self.seed, number)
        for i, state in enumerate(self._states):
            state.rng.seed((s + 7919 * i) & 0x7FFFFFFF)

    def before_trial(self, study: Study, trial: FrozenTrial) -> None:
        self._reseed(trial.number)
        self.base.before_trial(study, trial)

    def infer_relative_search_space(
        self, study: Study, trial: FrozenTrial
    ) -> dict[str, BaseDistribution]:
        return self.base.infer_relative_search_space(study, trial)

    def sample_relative(
        self, study: Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        return self.base.sample_relative(study, trial, search_space)

    def sample_independent(
        self,
        study: Study,
        trial: FrozenTrial,
        param_name: str,
        param_distribution: BaseDistribution,
    ) -> Any:
        return self.base.sample_independent(study, trial, param_name, param_distribution)

    def after_trial(
        self,
        study: Study,
        trial: FrozenTrial,
        state: TrialState,
        values: Sequence[float] | None,
    ) -> None:
        self.base.after_trial(study, trial, state, values)

    def reseed_rng(self) -> None:
        self.base.reseed_rng()


#: ``(seed, population_size) -> sampler``: how each registered sampler is built.
SamplerFactory = Callable[[int, int], BaseSampler]

_SAMPLERS: Registry[SamplerFactory] = Registry(
    "register_sampler",
    lambda name, choices: f"study.sampler={name!r}: unknown sampler; choose one of {choices}",
)


def register_sampler(name: str, factory: SamplerFactory) -> None:
    """Make ``[study] sampler = "<name>"`` build ``factory(seed, population_size)``.

    The sampler is wrapped in :class:`TrialSeededSampler`, so its draws depend on the study
    seed and the trial number only.

    Raises:
        DseError: ``name`` is registered already, or is not a plain identifier.
    """
    _SAMPLERS.register(name, factory)


def sampler_names() -> list[str]:
    """The names ``[study] sampler`` accepts, built-ins first."""
    return _SAMPLERS.names()


register_sampler(
    "tpe",
    lambda seed, pop: optuna.samplers.TPESampler(
        seed=seed, multivariate=True, group=True, n_startup_trials=min(10, pop)
    ),
)
register_sampler(
    "nsga2", lambda seed, pop: optuna.samplers.NSGAIISampler(population_size=pop, seed=seed)
)
register_sampler("random", lambda seed, pop: optuna.samplers.RandomSampler(seed=seed))


def make_sampler(name: str, *, seed: int, population_size: int = 12) -> BaseSampler:
    """The study's sampler, by its registered name (``tpe``, the default, ``nsga2``,
    ``random``, or one added with :func:`register_sampler`), seeded per trial.

    Constraints (fitting the device, a minimum accuracy) reach the samplers through
    ``trial.set_constraint`` (Optuna >= 5); NSGA-II and TPE rank infeasible trials behind
    feasible ones.

    Raises:
        DseError: an unknown sampler name.
    """
    factory = _SAMPLERS.lookup(name)
    return TrialSeededSampler(factory(seed, population_size), seed)
