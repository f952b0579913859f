"""``fold()``: choose a folding for a graph by a named strategy (hls4ml-style registry).

Strategies:

* ``"finn"``: FINN's SetFolding (the baseline, :mod:`hw_builders.folding.finn`). With
  ``target_fps`` it is exactly what FINN's builder does (resources ignored). Without a
  target it does what a FINN user does to fill a device: it takes the fastest SetFolding
  result (over every distinct cycles target) that fits the budget (the whole device when
  no budget is given).
* ``"optimised"``: the fastest folding within the budget, or with ``target_fps`` the
  cheapest meeting it (:mod:`hw_builders.folding.optimal`); early-exit stages are weighted
  by their reach. It is never slower than ``"finn"`` at the same budget: the FINN result is
  costed too and kept if (rarely) it is faster.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from hw_builders.devices import clock_ns, resolve_device
from hw_builders.errors import HwError
from hw_builders.estimate import check_folding, layer_cost
from hw_builders.folding.config import FoldingConfig
from hw_builders.folding.finn import MVAU_WWIDTH_MAX, set_folding, target_cycles_for_fps
from hw_builders.folding.optimal import no_fit_message, optimal_choice
from hw_builders.folding.options import FoldingSpace, Option, budget_vector
from hw_builders.plugins import Registry

Strategy = Callable[..., FoldingConfig]


def _adopt_strategy(name: str, fn: Any) -> object:
    """Register a plugin's strategy (entry point group ``adapex.folding_strategies``)."""
    if not callable(fn):
        raise HwError(f"strategy {name!r}: the entry point must name a function")
    return register_strategy(name)(fn)


_STRATEGIES: Registry[Strategy] = Registry(
    "register_strategy",
    lambda name, choices: f"strategy {name!r} is unknown; use one of: {choices}",
    group="adapex.folding_strategies",
    adopt=_adopt_strategy,
    error=HwError,
)


def register_strategy(name: str) -> Callable[[Strategy], Strategy]:
    """Decorator: register a folding strategy under ``name`` (a name taken is refused;
    installed packages add strategies through ``adapex.folding_strategies``).

    The function is called as ``fn(graph, *, device, clk_ns, target_fps, budget, reach)``.

    Raises:
        HwError: ``name`` is registered already.
    """

    def deco(fn: Strategy) -> Strategy:
        _STRATEGIES.register(name, fn)
        return fn

    return deco


def strategies() -> list[str]:
    """Names of the registered folding strategies (installed plugins' included)."""
    return _STRATEGIES.names()


def layer_weights(graph: Any, reach: Sequence[float] | None) -> dict[str, float]:
    """Per layer name, the reach of its stage (1.0 for every layer when reach is None).

    Raises:
        HwError: reach does not match the graph's stages or is not a valid reach vector.
    """
    if reach is None:
        return {layer.name: 1.0 for layer in graph.layers}
    from hw_builders.stages import check_reach, stage_index

    idx = stage_index(graph)
    n_stages = max(idx.values(), default=0) + 1
    r = check_reach(reach, n_stages)
    return {name: r[k] for name, k in idx.items()}


def _finn_fit(
    graph: Any, space: FoldingSpace, limits: Sequence[float], mvau_wwidth_max: int
) -> tuple[FoldingConfig, list[Option]] | None:
    """The fastest SetFolding result (over all distinct targets) that fits the limits.

    Which targets fit depends on the graph and the limits only: the search over them is
    kept per limits with the graph (:attr:`FoldingSpace.finn_cache`), and only the pick of
    the fastest by the space's weights is made anew.
    """
    shared = space.finn_cache
    key = ("fits", tuple(float(b) for b in limits), mvau_wwidth_max)
    if key not in shared:
        shared[key] = _finn_fits(graph, space, limits, mvau_wwidth_max)
    fitting = shared[key]
    if not fitting:
        return None

    def objective(choice: Sequence[Option]) -> float:
        return max(
            (space.weights[n] * c for o in choice for n, c in o.layer_cycles.items()), default=0.0
        )

    _, t_best = min((objective(ch), t) for t, (_, ch) in fitting.items())
    cfg, unit = fitting[t_best]
    return cfg, space.reweight(unit)


def _finn_fits(
    graph: Any, space: FoldingSpace, limits: Sequence[float], mvau_wwidth_max: int
) -> dict[int, tuple[FoldingConfig, list[Option]]]:
    """The SetFolding targets :func:`_finn_fit` looks at that fit the limits, with their
    folding and costed options: a binary search for the smallest target whose SetFolding
    fits, and the few below it (fitting is not quite monotone in the target)."""

    def cycles_of(layer: Any) -> int:
        return layer_cost(layer, space.device).cycles

    targets = sorted({c + 1 for c in space.all_cycles if c >= 0})
    cache: dict[int, tuple[FoldingConfig, list[Option], bool]] = {}
    # SetFolding depends on the graph and the target only: shared by every space of the graph
    finn = space.finn_cache

    def run(t: int) -> tuple[FoldingConfig, list[Option], bool]:
        if t not in cache:
            key = (t, mvau_wwidth_max)
            if key not in finn:
                cfg = set_folding(
                    graph,
                    target_cycles=t,
                    cycles_of=cycles_of,
                    mvau_wwidth_max=mvau_wwidth_max,
                    memo=finn.setdefault(("cycles", bool(space.device.versal)), {}),
                )
                finn[key] = (cfg, space.choice_of(cfg.resolved(graph)))
            cfg, unit = finn[key]
            cache[t] = (cfg, unit, FoldingSpace.fits(FoldingSpace.usage(unit), limits))
        return cache[t]

    if not targets or not run(targets[-1])[2]:
        return {}
    lo, hi = 0, len(targets) - 1
    while lo < hi:
        mid = (lo + hi) // 2
        if run(targets[mid])[2]:
            hi = mid
        else:
            lo = mid + 1
    for j in range(hi - 1, max(-1, hi - 9), -1):
        run(targets[j])
    return {t: (cfg, ch) for t, (cfg, ch, ok) in cache.items() if ok}


@register_strategy("finn")
def _finn_strategy(
    graph: Any,
    *,
    device: Any,
    clk_ns: float,
    target_fps: float | None,
    budget: float | Mapping[str, float] | None,
    reach: Sequence[float] | None,
    mvau_wwidth_max: int = MVAU_WWIDTH_MAX,
) -> FoldingConfig:
    if target_fps is not None:
        cycles = target_cycles_for_fps(target_fps, clk_ns)
        if cycles < 1:  # FINN's formula gives 0: faster than one frame per clock cycle
            raise HwError(
                f"`target_fps` {target_fps:g}: above one frame per clock cycle "
                f"({1e9 / clk_ns:g} frames/s at {clk_ns:g} ns), which no folding reaches; "
                f"give at most {1e9 / clk_ns:g}",
                arguments=("target_fps",),
            )
        return set_folding(
            graph,
            target_cycles=cycles,
            cycles_of=lambda layer: layer_cost(layer, device).cycles,
            mvau_wwidth_max=mvau_wwidth_max,
        )
    space = FoldingSpace(graph, device, layer_weights(graph, reach))
    limits = budget_vector(device, budget)
    got = _finn_fit(graph, space, limits, mvau_wwidth_max)
    if got is None:
        raise HwError(no_fit_message(space, limits, "budget (finn strategy)"))
    return got[0]


@register_strategy("optimised")
def _optimal_strategy(
    graph: Any,
    *,
    device: Any,
    clk_ns: float,
    target_fps: float | None,
    budget: float | Mapping[str, float] | None,
    reach: Sequence[float] | None,
) -> FoldingConfig:
    space = FoldingSpace(graph, device, layer_weights(graph, reach))
    limits = budget_vector(device, budget)
    if target_fps is not None:
        target_cycles_for_fps(target_fps, clk_ns)  # validates
        choice = optimal_choice(space, limits, target_wcycles=(1e9 / clk_ns) / float(target_fps))
        return FoldingConfig(space.to_folding(choice))
    choice = optimal_choice(space, limits)
    finn = _finn_fit(graph, space, limits, MVAU_WWIDTH_MAX)
    if finn is not None and FoldingSpace.objective(finn[1]) < FoldingSpace.objective(choice):
        return FoldingConfig(space.to_folding(finn[1]))
    return FoldingConfig(space.to_folding(choice))


def fold(
    graph: Any,
    *,
    strategy: str = "finn",
    device: Any,
    clk_ns: float | None = None,
    target_fps: float | None = None,
    budget: float | Mapping[str, float] | None = None,
    reach: Sequence[float] | None = None,
) -> FoldingConfig:
    """Choose a folding for ``graph``.

    Args:
        graph: the HwGraph.
        strategy: a registered strategy name ("finn" or "optimised").
        device: the Device (or a board name).
        clk_ns: clock period; the device's default when None.
        target_fps: frames per second to reach (FINN's target_fps).
        budget: share of the device's LUT, BRAM_18K, URAM, DSP (one float for all, or a
            dict per resource; the whole device when None).
        reach: per stage, the fraction of inputs entering it (early-exit designs).

    Returns:
        A legal FoldingConfig (checked with ``check_folding``).

    Raises:
        HwError: unknown strategy, bad arguments, or no folding fits the budget.
    """
    run = _STRATEGIES.lookup(strategy)
    if device is None:
        raise HwError("device: give a Device (hw_builders.get_device) or a board name")
    dev = resolve_device(device)
    clk = clock_ns(dev, clk_ns)
    if target_fps is not None and (
        isinstance(target_fps, bool)
        or not isinstance(target_fps, (int, float))
        or not target_fps > 0
        or not math.isfinite(target_fps)
    ):
        raise HwError(
            f"`target_fps` {target_fps!r} must be a positive number of frames per second",
            arguments=("target_fps",),
        )
    cfg = run(graph, device=dev, clk_ns=clk, target_fps=target_fps, budget=budget, reach=reach)
    check_folding(cfg.apply(graph))
    return cfg
