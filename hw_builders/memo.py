"""Forget what the cost path memoises.

Layer costs (:mod:`hw_builders.estimate`), the queueing model's sample paths
(:mod:`hw_builders.queueing`) and divisor lists (:mod:`hw_builders.registry`) are memoised
per process: they depend on their arguments alone, and the folding search and the inner
step ask for the same ones over and over. A process that changes the code under them (a
test that must exercise the cost models, mutation testing, which forks one process per
mutant from one that has run the tests) forgets them first.
"""

from __future__ import annotations

__all__ = ["clear_memos"]


def clear_memos() -> None:
    """Empty every memo of the cost path (the next call computes afresh)."""
    from hw_builders import queueing, registry
    from hw_builders.estimate import _COST_MEMO

    _COST_MEMO.clear()
    queueing._thinning.cache_clear()
    queueing._relative_throughput.cache_clear()
    registry.divisors.cache_clear()
