"""The "optimised" folding strategy: the fastest folding within a resource budget.

Problem: choose one legal folding per layer group (see :mod:`hw_builders.folding.options`)
to minimise ``max_l w_l * cycles_l`` (w_l = the reach of layer l's stage, 1 without
early exits: the stage-weighted initiation interval) subject to
``sum_l res_l <= budget`` for LUT, BRAM_18K, URAM and DSP. With a target fps the problem
turns around: the cheapest folding (by resource use normalised by the budget) whose
weighted cycles meet the target.

Algorithm (exact-ish, checked against exhaustive search in benchmarks/fold_bench.py):

1. The candidate targets are the sorted distinct weighted cycle counts of all options.
2. ``_fit(T)``: every group takes its cheapest option with weighted cycles <= T, cheapest
   by a Lagrangian-weighted resource sum; the weights start at 1/budget and are raised on
   the resources that overflow (a few rounds). If it still does not fit, a repair pass
   swaps single groups to the option that most reduces the normalised overflow.
3. Binary search over the candidate targets for the smallest T that ``_fit`` meets, then a
   short linear probe below it (``_fit`` is a heuristic, so feasibility is not perfectly
   monotone).
4. A last pass re-picks, group by group, the cheapest option still meeting T* (the
   leftover budget is not spent on parallelism that cannot raise throughput).

It never returns an illegal folding (options come from ``legal_values``) and raises
HwError when even the smallest folding does not fit the budget.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from hw_builders.errors import HwError
from hw_builders.folding.options import RESOURCES, FoldingSpace, Group, Option

_BIG = 1e12


def _lam0(limits: Sequence[float]) -> list[float]:
    return [1.0 / b if b > 0 else _BIG for b in limits]


def _excess(use: Sequence[float], limits: Sequence[float]) -> float:
    return sum(max(0.0, u - b) / max(b, 1.0) for u, b in zip(use, limits, strict=False))


def _cheapest(cands: Sequence[Option], lam: Sequence[float]) -> Option:
    return min(
        cands, key=lambda o: (sum(w * r for w, r in zip(lam, o.res, strict=False)), o.wcycles)
    )


def _sum(choice: Sequence[Option]) -> list[float]:
    return [float(sum(o.res[i] for o in choice)) for i in range(len(RESOURCES))]


class _Options:
    """Every group's options as flat arrays (group by group, each group's options in order):
    the Lagrangian picks of :func:`_fit` for all groups in a few array operations."""

    def __init__(self, groups: Sequence[Group]) -> None:
        self.source = groups
        self.groups = list(groups)
        self.options = [o for g in groups for o in g.options]
        self.gid = np.repeat(np.arange(len(groups)), [len(g.options) for g in groups])
        self.wc = np.array([o.wcycles for o in self.options], dtype=float)
        self.res = np.array([o.res for o in self.options], dtype=float).reshape(-1, len(RESOURCES))
        sizes = [len(g.options) for g in groups]
        self.starts = np.cumsum([0, *sizes[:-1]]).astype(np.int64)
        # the same options as a (group, option) table, padded with options never allowed
        # (infinite weighted cycles): one row per group for the picks of _fit
        width = max(sizes, default=0)
        self.pad = np.full((len(groups), width), np.inf)
        self.cols = np.zeros((len(RESOURCES), len(groups), width))
        for g, (start, size) in enumerate(zip(self.starts.tolist(), sizes, strict=True)):
            self.pad[g, :size] = self.wc[start : start + size]
            self.cols[:, g, :size] = self.res[start : start + size].T
        self.rows = np.arange(len(groups))

    def allowed(self, T: float) -> np.ndarray:
        """The (group, option) table of the options with weighted cycles <= ``T``."""
        return self.pad <= T

    def may_fit(self, allowed: np.ndarray, limits: Sequence[float]) -> bool:
        """False when no choice among the ``allowed`` options fits the limits: the sum over
        groups of each resource's least allowed use is already over its limit (then neither
        the Lagrangian picks nor the repair of :func:`_fit` can find one)."""
        if not len(self.groups):
            return True
        least = np.where(allowed[None, :, :], self.cols, np.inf).min(axis=2).sum(axis=1)
        return bool(np.all(least <= np.asarray(limits, dtype=float) + 1e-9))

    def pick(self, allowed: np.ndarray, lam: Sequence[float]) -> list[int] | None:
        """Per group, the index of its option minimising (lam . res, wcycles), the first
        among equal ones, over the ``allowed`` options (a table from :meth:`allowed`; None
        when a group has none): what :func:`_cheapest` picks, group by group."""
        if not len(self.groups):
            return []
        cols = self.cols
        cost = cols[0] * lam[0]
        for i in range(1, len(cols)):
            cost += cols[i] * lam[i]  # summed in _cheapest's order
        cost[~allowed] = np.inf
        # a group's options are in order of their weighted cycles: its first option of
        # least cost is the one of least cost, then least cycles, then first
        first = cost.argmin(axis=1)
        if not allowed[self.rows, first].all():
            return None
        return (self.starts + first).tolist()

    @staticmethod
    def _rowsum(parts: np.ndarray) -> np.ndarray:
        """Per row, the sum of its columns, added left to right (as Python's ``sum``)."""
        out = parts[:, 0]
        for i in range(1, parts.shape[1]):
            out = out + parts[:, i]
        return out

    def repair(
        self, allowed: np.ndarray, picked: list[int], limits: Sequence[float]
    ) -> list[int] | None:
        """:func:`_fit`'s repair: while the choice overflows, swap the one option (of one
        group, among the ``allowed``) that most reduces the normalised overflow, the
        smaller normalised total among equal ones, the first among equal both."""
        lim = np.asarray(limits, dtype=float)
        denom = np.maximum(lim, 1.0)
        norm = np.asarray(_lam0(limits), dtype=float)
        cur = np.asarray(picked, dtype=np.int64)
        use = np.asarray(_sum([self.options[i] for i in picked]), dtype=float)
        idx = np.flatnonzero(allowed)
        for _ in range(4 * len(self.groups) + 8):
            ex = _excess(use.tolist(), limits)
            if ex <= 0:
                return cur.tolist()
            cand = idx[idx != cur[self.gid[idx]]]
            new = (use[None, :] - self.res[cur[self.gid[cand]]]) + self.res[cand]
            ex_new = self._rowsum(np.maximum(0.0, new - lim[None, :]) / denom[None, :])
            ok = ex_new < ex - 1e-12
            if not np.any(ok):
                return None
            cand, new, ex_new = cand[ok], new[ok], ex_new[ok]
            tot = self._rowsum(norm[None, :] * new)
            best = int(cand[np.lexsort((cand, tot, ex_new))[0]])
            g = int(self.gid[best])
            use = (use - self.res[cur[g]]) + self.res[best]
            cur[g] = best
        return cur.tolist() if _excess(use.tolist(), limits) <= 0 else None


def _options(groups: Sequence[Group]) -> _Options:
    """The flat arrays of ``groups``, kept for the last few group lists (the spaces of one
    graph and weights share their Group objects: hw_builders.folding.options)."""
    key = tuple(map(id, groups))
    cache = _options_cache.get(key)
    if cache is None or any(a is not b for a, b in zip(cache.groups, groups, strict=True)):
        cache = _Options(groups)
        if len(_options_cache) >= _OPTIONS_MAX:
            _options_cache.pop(next(iter(_options_cache)))
        _options_cache[key] = cache
    return cache


#: group lists whose arrays are kept (the oldest is dropped first)
_OPTIONS_MAX = 8
_options_cache: dict[tuple[int, ...], _Options] = {}


def _fit(groups: Sequence[Group], T: float, limits: Sequence[float]) -> list[Option] | None:
    """A choice meeting weighted cycles <= T within the limits, or None (heuristic)."""
    arrays = _options(groups)
    allowed = arrays.allowed(T)
    if not arrays.may_fit(allowed, limits):
        return None
    lam = _lam0(limits)
    picked: list[int] = []
    for _ in range(10):
        got = arrays.pick(allowed, lam)
        if got is None:
            return None
        picked = got
        use = arrays.res[picked].sum(axis=0).tolist()  # integers: exact in any order
        if FoldingSpace.fits(use, limits):
            return [arrays.options[i] for i in picked]
        for i, (u, b) in enumerate(zip(use, limits, strict=False)):
            if u > b and b > 0:
                lam[i] *= 2.0 * (u / b)
    # repair: single-group swaps that most reduce the normalised overflow
    repaired = arrays.repair(arrays.wc <= T, picked, limits)
    return None if repaired is None else [arrays.options[i] for i in repaired]


def _shrink(groups: Sequence[Group], choice: list[Option], limits: Sequence[float]) -> list[Option]:
    """Re-pick each group's cheapest option that keeps the objective (budget still met)."""
    T = FoldingSpace.objective(choice)
    lam = _lam0(limits)
    out = list(choice)
    use = [int(u) for u in FoldingSpace.usage(out)]  # integers: updated exactly
    arrays = _options(groups)
    picks = arrays.pick(arrays.allowed(T), lam)
    if picks is None:  # the choice itself holds an option <= T in every group
        raise RuntimeError("folding: a group lost every option of the chosen objective")
    for gi, cheaper in enumerate(arrays.options[i] for i in picks):
        trial = [u - a + b for u, a, b in zip(use, out[gi].res, cheaper.res, strict=True)]
        if FoldingSpace.fits(trial, limits) and sum(
            a * b for a, b in zip(lam, cheaper.res, strict=False)
        ) <= sum(a * b for a, b in zip(lam, out[gi].res, strict=False)):
            out[gi] = cheaper
            use = trial
    return out


def smallest_choice(space: FoldingSpace, limits: Sequence[float]) -> list[Option]:
    """The cheapest option of every group, ignoring speed (normalised by the limits)."""
    lam = [1.0 / b if b > 0 else 1.0 for b in limits]
    return [_cheapest(g.options, lam) for g in space.groups]


def no_fit_message(space: FoldingSpace, limits: Sequence[float], what: str) -> str:
    use = _sum(smallest_choice(space, limits))
    over = [
        f"{r} {int(u)} > {b:.0f}"
        for r, u, b in zip(RESOURCES, use, limits, strict=False)
        if u > b + 1e-9
    ]
    detail = ", ".join(over) if over else "no single combination fits all resources at once"
    return f"{what}: the smallest folding uses {detail}; raise the budget or choose a larger device"


def optimal_choice(
    space: FoldingSpace,
    limits: Sequence[float],
    *,
    target_wcycles: float | None = None,
) -> list[Option]:
    """The fastest (or, with a target, the cheapest meeting it) choice within the limits.

    Args:
        space: the graph's folding space.
        limits: absolute (LUT, BRAM_18K, URAM, DSP) budget.
        target_wcycles: when given, minimise resources subject to weighted cycles <= it.

    Raises:
        HwError: no folding fits the budget (or meets the target within it).
    """
    groups = space.groups
    if not groups:
        return []
    if target_wcycles is not None:
        got = _fit(groups, target_wcycles, limits)
        if got is None:
            best = optimal_choice(space, limits)
            raise HwError(
                f"target: {target_wcycles:.0f} weighted cycles per frame cannot be met within "
                f"the budget; the best folding that fits needs "
                f"{FoldingSpace.objective(best):.0f} cycles; lower `target_fps` or raise the budget",
                arguments=("target_fps",),
            )
        return _shrink(groups, got, limits)
    lower = max(min(o.wcycles for o in g.options) for g in groups)
    targets = sorted({o.wcycles for g in groups for o in g.options if o.wcycles >= lower})
    top = _fit(groups, targets[-1], limits)
    if top is None:
        raise HwError(no_fit_message(space, limits, "budget"))
    lo, hi = 0, len(targets) - 1  # invariant: targets[hi] feasible
    best = top
    while lo < hi:
        mid = (lo + hi) // 2
        got = _fit(groups, targets[mid], limits)
        if got is not None:
            hi, best = mid, got
        else:
            lo = mid + 1
    # probe a few targets below (the heuristic feasibility is not perfectly monotone)
    for j in range(hi - 1, max(-1, hi - 9), -1):
        got = _fit(groups, targets[j], limits)
        if got is not None:
            best = got
    best = _shrink(groups, best, limits)
    return best


__all__ = ["optimal_choice", "smallest_choice"]
