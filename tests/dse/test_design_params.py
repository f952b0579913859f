"""The one encoding of a design's parameters (DesignPoint.to_params) and its readers: the
pruning rate of stored parameters, and the exit subsets both the study's space and the
runtime enumerate."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from dse.accuracy.profile import exit_subsets
from dse.design import pruning_rate_of
from dse.study.space import DesignPoint

RATES = st.floats(0.0, 0.9, allow_nan=False)


@given(
    pruning=st.one_of(RATES, st.lists(RATES, min_size=1, max_size=6).map(tuple)),
    exits=st.lists(st.integers(0, 3), max_size=3, unique=True).map(lambda e: tuple(sorted(e))),
)
def test_the_stored_pruning_rate_is_read_from_the_one_encoding(
    pruning: float | tuple[float, ...], exits: tuple[int, ...]
) -> None:
    point = DesignPoint(2, 2, pruning, exits, (0.9,) * len(exits), "optimised", 1.0, None, 10.0)
    params = point.to_params()
    assert DesignPoint.from_params(params) == point
    rates = list(pruning) if isinstance(pruning, tuple) else [pruning]
    assert pruning_rate_of(params) == sum(rates) / len(rates)


def test_parameters_that_name_no_pruning_give_none() -> None:
    assert pruning_rate_of({}) is None
    assert pruning_rate_of({"pruning": None}) is None
    assert pruning_rate_of({"pruning": []}) is None
    # other spellings are not an encoding adapex writes
    assert pruning_rate_of({"pruning_rate": 0.5, "pruning_0": 0.5}) is None


@given(st.lists(st.integers(0, 5), max_size=5, unique=True))
def test_every_exit_subset_once_smallest_first(candidates: list[int]) -> None:
    subsets = exit_subsets(candidates)
    assert len(subsets) == 2 ** len(candidates) == len(set(subsets))
    assert [len(s) for s in subsets] == sorted(len(s) for s in subsets)
    order = {c: i for i, c in enumerate(candidates)}
    assert all([order[e] for e in s] == sorted(order[e] for e in s) for s in subsets)
