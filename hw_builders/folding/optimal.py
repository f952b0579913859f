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


def _fit(groups: Sequence[Group], T: float, limits: Sequence[float]) -> list[Option] | None:
    """A choice meeting weighted cycles <= T within the limits, or None (heuristic)."""
    cands = [[o for o in g.options if o.wcycles <= T] for g in groups]
    if any(not c for c in cands):
        return None
    lam = _lam0(limits)
    choice: list[Option] = []
    for _ in range(10):
        choice = [_cheapest(c, lam) for c in cands]
        use = _sum(choice)
        if FoldingSpace.fits(use, limits):
            return choice
        for i, (u, b) in enumerate(zip(use, limits, strict=False)):
            if u > b and b > 0:
                lam[i] *= 2.0 * (u / b)
    # repair: single-group swaps that most reduce the normalised overflow
    use = _sum(choice)
    norm = _lam0(limits)
    for _ in range(4 * len(groups) + 8):
        ex = _excess(use, limits)
        if ex <= 0:
            return choice
        best: tuple[float, float, int, Option] | None = None
        for gi, c in enumerate(cands):
            cur = choice[gi]
            for o in c:
                if o is cur:
                    continue
                new = [u - a + b for u, a, b in zip(use, cur.res, o.res, strict=False)]
                ex_new = _excess(new, limits)
                if ex_new < ex - 1e-12:
                    tot = sum(n * x for n, x in zip(norm, new, strict=False))
                    key = (ex_new, tot)
                    if best is None or key < best[:2]:
                        best = (ex_new, tot, gi, o)
        if best is None:
            return None
        _, _, gi, o = best
        use = [u - a + b for u, a, b in zip(use, choice[gi].res, o.res, strict=False)]
        choice[gi] = o
    return choice if _excess(use, limits) <= 0 else None


def _shrink(groups: Sequence[Group], choice: list[Option], limits: Sequence[float]) -> list[Option]:
    """Re-pick each group's cheapest option that keeps the objective (budget still met)."""
    T = FoldingSpace.objective(choice)
    lam = _lam0(limits)
    out = list(choice)
    for gi, g in enumerate(groups):
        cands = [o for o in g.options if o.wcycles <= T]
        cheaper = _cheapest(cands, lam)
        trial = out[:gi] + [cheaper] + out[gi + 1 :]
        if FoldingSpace.fits(_sum(trial), limits) and sum(
            a * b for a, b in zip(lam, cheaper.res, strict=False)
        ) <= sum(a * b for a, b in zip(lam, out[gi].res, strict=False)):
            out = trial
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
