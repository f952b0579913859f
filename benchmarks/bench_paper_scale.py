"""The paper's scale, hardware only: FINN's CNV at full width on a Pynq-Z1 at 100 MHz.

FINN's CNV (64, 64, 128, 128, 256, 256 channels, two 512-wide FC layers) on 32x32x3 inputs,
at W1A1 (FINN's CNV-W1A1) and W2A2, fills a Pynq-Z1, the AdaPEx paper's setting. No
network is trained (at W1A1 too, exits are placed: a later stage's XNOR layer reads its
binary input stream, as FINN builds it from the exported build.py): the exit profile is given (the share of inputs that go on past exits
0 / 1 / 2: 0.5 / 0.35 / 0.25; a design using a subset of the exits continues with that
exit's share), so only the hardware is costed, with the same cost path as a study
(lowering, FINN-legal folding within the study's utilisation limits, the staged model with
finite inter-stage buffers and the host's link). Datatypes are the conversion's (a study
narrows them from the trained weights, which only lowers the cost).

Printed, for each bit width, the five configurations the runtime compares, each at its
peak throughput (the fastest design it may use) and its least energy per inference, as
ratios to static best (the same network with adapex's folding; the baseline measured in
the same run):

* static FINN: the unpruned network without exits, FINN's SetFolding;
* static best: the same, adapex's optimised folding;
* pruning-only: uniform pruning 0 / 25 / 50 / 75%, no exits;
* exit-only: the unpruned network with every non-empty subset of the exits;
* joint: pruning and exits together (AdaPEx).

Run: ``.venv/bin/python benchmarks/bench_paper_scale.py``.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass

from hw_builders import fold, get_device
from hw_builders.stages import staged_performance
from search_spaces import get_family

BOARD = "Pynq-Z1"
CLK_NS = 10.0
LIMITS = {"LUT": 0.85, "BRAM_18K": 0.9, "URAM": 0.9, "DSP": 0.9}
#: share of inputs that go on past exit 0, 1, 2
CONTINUATION = {0: 0.5, 1: 0.35, 2: 0.25}
RATES = (0.0, 0.25, 0.5, 0.75)


@dataclass(frozen=True)
class Design:
    """One costed design."""

    bits: int
    rate: float
    exits: tuple[int, ...]
    strategy: str
    fps: float
    energy_j: float
    limited_by: str


def _cost(bits: int, rate: float, exits: tuple[int, ...], strategy: str) -> Design | None:
    """The design's staged report on the board; None when it does not fit."""
    cnv = get_family("cnv")
    base = cnv.default_arch((3, 32, 32), 10, width_mult=1.0, weight_bits=bits, act_bits=bits)
    widths = tuple(max(1, round(w * (1.0 - rate))) for w in base.widths)
    arch = base.replace(widths=widths)
    graph = cnv.lower(arch, exits=list(exits))
    reach = [1.0] + [CONTINUATION[e] for e in exits]
    device = get_device(board=BOARD)
    folding = fold(
        graph,
        strategy=strategy,
        device=device,
        clk_ns=CLK_NS,
        budget=LIMITS,
        **({"reach": reach} if strategy == "optimised" else {}),
    )
    rep = staged_performance(
        graph, reach, device=device, clk_ns=CLK_NS, folding=folding, limits=LIMITS
    )
    if not rep.fits:
        return None
    return Design(
        bits,
        rate,
        exits,
        strategy,
        rep.throughput_fps,
        rep.energy_per_inference_j,
        str(rep.limited_by.get("detail", "")),
    )


def _subsets() -> list[tuple[int, ...]]:
    exits = sorted(CONTINUATION)
    return [c for n in range(1, len(exits) + 1) for c in itertools.combinations(exits, n)]


def main() -> None:
    t0 = time.perf_counter()
    print(
        f"FINN's CNV at full width, 32x32x3, on a {BOARD} at {1e3 / CLK_NS:.0f} MHz; exit "
        f"profile: {', '.join(f'{v:g} go on past exit {k}' for k, v in CONTINUATION.items())}"
    )
    for bits in (1, 2):
        designs: dict[str, list[Design]] = {
            "static FINN": [d for d in [_cost(bits, 0.0, (), "finn")] if d],
            "static best": [d for d in [_cost(bits, 0.0, (), "optimised")] if d],
            "pruning-only": [
                d for r in RATES if (d := _cost(bits, r, (), "optimised")) is not None
            ],
            "exit-only": [
                d for e in _subsets() if (d := _cost(bits, 0.0, e, "optimised")) is not None
            ],
        }
        designs["joint"] = designs["pruning-only"] + [
            d
            for r in RATES
            for e in _subsets()
            if (d := _cost(bits, r, e, "optimised")) is not None
        ]
        best = designs["static best"][0]
        print(
            f"\nW{bits}A{bits}: static best serves {best.fps:,.0f} fps at {best.energy_j * 1e6:.1f} uJ"
        )
        print(
            f"  {'configuration':14s} {'peak fps':>12s} {'x static best':>14s} "
            f"{'least uJ/inf':>13s} {'x static best':>14s}  peak design; limited by"
        )
        for name, members in designs.items():
            peak = max(members, key=lambda d: d.fps)
            frugal = min(members, key=lambda d: d.energy_j)
            print(
                f"  {name:14s} {peak.fps:12,.0f} {peak.fps / best.fps:13.2f}x "
                f"{frugal.energy_j * 1e6:13.1f} {best.energy_j / frugal.energy_j:13.2f}x  "
                f"pruning {peak.rate:.0%}, exits {list(peak.exits) or 'none'}; {peak.limited_by}"
            )
    print(f"\n({time.perf_counter() - t0:.1f} s)")


if __name__ == "__main__":
    main()
