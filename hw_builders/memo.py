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
    from hw_builders.estimate import clear_cost_memo
    from hw_builders.queueing import clear_queueing_memo
    from hw_builders.registry import divisors

    clear_cost_memo()
    clear_queueing_memo()
    divisors.cache_clear()
