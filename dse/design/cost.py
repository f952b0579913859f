"""One costing path: a design's hardware -> its staged FINN report.

The study (:mod:`dse.study.evaluate`), the runtime's operating points and static baselines
(:mod:`dse.runtime.derive`) and the export (:mod:`dse.export.library`) all cost a design
through :func:`cost`, so the figures a study stores, the runtime table selects from and the
library's ``adapex_report/`` holds come from one call with one set of inputs.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from hw_builders.folding.config import FoldingConfig

if TYPE_CHECKING:
    from hw_builders.devices import Device
    from hw_builders.graph import HwGraph
    from hw_builders.host import HostLink
    from hw_builders.stages import StagedReport, StageMemo


@dataclass(frozen=True)
class Hardware:
    """What a design's accelerator is costed from, besides its reach.

    Attributes:
        graph: The minimised ``HwGraph`` with the design's exits marked.
        folding: Its ``FoldingConfig`` (or a folding dict).
        device: The ``Device`` it is costed on.
        clk_ns: The clock period.
        buffer_depth: Frames each inter-stage FIFO holds (None: the default; ``math.inf``:
            unbounded).
        limits: Maximum utilisation share per resource for ``fits`` (None: 1.0 each).
        host: The host's link to the streams (``hw_builders.HostLink``; None: the one
            assumed for the device, ``hw_builders.host.HOST_LINKS``; calibrated from
            measured timings where a board was measured).
    """

    graph: HwGraph
    folding: FoldingConfig | Mapping[str, Any] | None
    device: Device
    clk_ns: float
    buffer_depth: float | None = None
    limits: Mapping[str, float] | None = field(default=None, hash=False)
    host: HostLink | None = None

    @functools.cached_property
    def key(self) -> str:
        """A canonical JSON key of everything the cost depends on (for caching; computed
        once per Hardware)."""
        folding = (
            self.folding.to_dict() if isinstance(self.folding, FoldingConfig) else self.folding
        )
        depth = self.buffer_depth
        return json.dumps(
            [
                self.graph.to_dict(),
                folding or None,
                self.device.to_dict(),
                float(self.clk_ns),
                None if depth is None else ("inf" if math.isinf(depth) else float(depth)),
                dict(sorted((self.limits or {}).items())),
                None if self.host is None else repr(self.host),
            ],
            sort_keys=True,
        )


def cost(
    hardware: Hardware, reach: Sequence[float] | None = None, *, memo: StageMemo | None = None
) -> StagedReport:
    """The staged FINN report of a design at one reach.

    Args:
        hardware: The design's :class:`Hardware`.
        reach: Per stage, the share of inputs entering it (``reach[0] == 1``); None means
            ``[1.0]`` for a graph without exits.
        memo: A ``hw_builders.StageMemo`` kept by the caller for designs of graphs it does
            not change (the inner step's designs of one model).

    Returns:
        The ``hw_builders.StagedReport``: per-stage FINN reports, resources, fit,
        throughput with finite inter-stage buffers, power, energy and latency.

    Raises:
        HwError: a bad reach, buffer depth, device or folding.
    """
    from hw_builders.stages import staged_performance

    return staged_performance(
        hardware.graph,
        None if reach is None else list(reach),
        device=hardware.device,
        clk_ns=hardware.clk_ns,
        folding=hardware.folding,
        buffer_depth=hardware.buffer_depth,
        limits=hardware.limits,
        host=hardware.host,
        memo=memo,
    )


class CostCache:
    """:func:`cost` with identical hardware and reach costed once (a study often stores the
    same design more than once; the runtime costs every design at many thresholds).

    Args:
        maxsize: How many (hardware, reach) reports to keep.
    """

    def __init__(self, maxsize: int = 4096) -> None:
        self._cost = functools.lru_cache(maxsize=maxsize)(_cost_keyed)

    def __call__(self, hardware: Hardware, reach: Sequence[float] | None = None) -> StagedReport:
        """:func:`cost`, from the cache when the same hardware and reach were costed."""
        rounded = None if reach is None else tuple(round(float(r), 9) for r in reach)
        return self._cost(_Keyed(hardware), rounded)


class _Keyed:
    """A Hardware as a cache key: equal and hashed by :attr:`Hardware.key`."""

    __slots__ = ("hardware",)

    def __init__(self, hardware: Hardware) -> None:
        self.hardware = hardware

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Keyed) and other.hardware.key == self.hardware.key

    def __hash__(self) -> int:
        return hash(self.hardware.key)


def _cost_keyed(keyed: _Keyed, reach: tuple[float, ...] | None) -> StagedReport:
    return cost(keyed.hardware, reach)
