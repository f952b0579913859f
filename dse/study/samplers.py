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

from dse.errors import DseError
from dse.optuna_bridge import LazyRandomState
from dse.study.seeds import trial_seed
from hw_builders.plugins import Registry


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
    group="adapex.samplers",
    adopt=lambda name, factory: register_sampler(name, factory),
    error=DseError,
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
    """The names ``[study] sampler`` accepts, installed plugins' included, sorted."""
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


#: Draws of the wrapped sampler tried before a training point not taken yet is picked at
#: random among the free ones.
DISTINCT_ATTEMPTS = 16


class DistinctTrainings(BaseSampler):
    """The study's sampler over the training knobs only, never proposing a trained model.

    The study's trials sample the knobs that need a training (bit widths, pruning rates);
    every design of a trained model is found by the inner step. This sampler gives the
    wrapped one (seeded per trial) the training knobs as its search space, and redraws
    when it proposes the parameters of a trial that trained, trains or waits to train
    them; after :data:`DISTINCT_ATTEMPTS` draws it takes a free point of a finite space at
    random (seeded by the trial). The trials that carry the designs of a trained model
    have its training parameters and their own objective values, so the wrapped sampler
    learns from every design.

    Args:
        base: The study's sampler (a :class:`TrialSeededSampler`).
        space: The study's :class:`dse.study.space.DesignSpace`.
        seed: The study seed.
    """

    def __init__(self, base: BaseSampler, space: Any, seed: int) -> None:
        self.base = base
        self.space = space
        self.seed = int(seed)

    @staticmethod
    def _key(params: dict[str, Any]) -> tuple[tuple[str, Any], ...]:
        return tuple(sorted((k, float(v)) for k, v in params.items()))

    def taken(self, study: Study, number: int | None = None) -> set[tuple[tuple[str, Any], ...]]:
        """The training parameters of every trial that trained, trains or will train."""
        states = (TrialState.COMPLETE, TrialState.RUNNING, TrialState.WAITING)
        taken = set()
        for t in study.get_trials(deepcopy=False, states=states):
            # a waiting retry holds its parameters as Optuna's fixed parameters
            params = t.params or t.system_attrs.get("fixed_params") or {}
            if t.number != number:
                taken.add(self._key(params))
        return taken

    def free_points(self, study: Study) -> list[dict[str, Any]] | None:
        """The parameters of the training points nobody took yet (None: a continuous space)."""
        grid = self.space.training_grid()
        if grid is None:
            return None
        taken = self.taken(study)
        params = [self.space.training_params(tp) for tp in grid]
        return [p for p in params if self._key(p) not in taken]

    def before_trial(self, study: Study, trial: FrozenTrial) -> None:
        self.base.before_trial(study, trial)

    def infer_relative_search_space(
        self, study: Study, trial: FrozenTrial
    ) -> dict[str, BaseDistribution]:
        return dict(self.space.training_distributions())

    def sample_relative(
        self, study: Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        if not search_space:
            return {}
        taken = self.taken(study, trial.number)
        inner = self.base.infer_relative_search_space(study, trial)
        inner = {k: v for k, v in inner.items() if k in search_space}
        params: dict[str, Any] = {}
        for _ in range(DISTINCT_ATTEMPTS):
            params = dict(self.base.sample_relative(study, trial, inner) if inner else {})
            for name, dist in search_space.items():
                if name not in params:
                    params[name] = self.base.sample_independent(study, trial, name, dist)
            if self._key(params) not in taken:
                return params
        free = self.free_points(study)
        if free:
            free = [p for p in free if self._key(p) not in taken]
        if free:
            import random

            return dict(random.Random(trial_seed(self.seed, trial.number)).choice(free))
        return params

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
