"""Folding benchmark: the "optimised" strategy against FINN's SetFolding and exhaustive search.

For random small graphs (2-4 layers, small enough for exhaustive search) and a range of
resource budgets (shares of a Pynq-Z1), compare throughput at equal budgets:

* optimised / exhaustive  (target: >= 0.98, i.e. within 2% of the exact optimum)
* optimised / finn        (target: >= 1.0, never below FINN's best SetFolding that fits)

and, when the bundled example graph exists, optimised / finn on it. Prints min/mean ratios
and the verdict. Run: ``.venv/bin/python benchmarks/fold_bench.py`` (also called from
benchmarks/bench_hw.py).
"""

from __future__ import annotations

import random
import statistics
import time
from pathlib import Path
from typing import Any

from hw_builders import get_device, load_graph
from hw_builders.errors import HwError
from hw_builders.folding import FoldingSpace, budget_vector, exhaustive_choice, fold
from hw_builders.folding.exhaustive import combinations

BUDGETS: tuple[float | dict[str, float], ...] = (
    0.01,
    0.02,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    {"LUT": 0.05, "BRAM_18K": 0.5, "DSP": 0.02},  # LUT-bound
    {"LUT": 0.5, "BRAM_18K": 0.02, "DSP": 0.5},  # BRAM-bound
)
DEVICES = ("Pynq-Z1", "ZCU104")
MAX_COMBINATIONS = 60_000


def random_graph(rng: random.Random, n_layers: int) -> dict[str, Any]:
    """A random chain of MVAUs (some with Thresholding after them) as a graph dict."""
    layers: list[dict[str, Any]] = []
    prev: list[str] = []
    mh_prev = rng.choice([3, 8, 16])
    for i in range(n_layers):
        mw = mh_prev * rng.choice([1, 4, 9])
        mh = rng.choice([4, 8, 10, 16, 32])
        wdt = rng.choice(["INT2", "INT4", "BIPOLAR", "INT8"])
        layer = {
            "name": f"MVAU_hls_{i}",
            "op_type": "MVAU",
            "inputs": prev,
            "MW": mw,
            "MH": mh,
            "PE": 1,
            "SIMD": 1,
            "numInputVectors": rng.choice([1, 4, 16, 64, 256]),
            "inputDataType": rng.choice(["UINT2", "UINT4", "INT8"]),
            "weightDataType": wdt,
            "outputDataType": "UINT4",
            "accDataType": "INT24",
            "mem_mode": rng.choice(["internal_decoupled", "internal_embedded"]),
            "ram_style": rng.choice(["auto", "block", "distributed"]),
            "resType": rng.choice(["lut", "dsp"]),
        }
        layers.append(layer)
        prev = [layer["name"]]
        mh_prev = mh
    return {"name": f"rand{n_layers}", "layers": layers}


def _tp(space: FoldingSpace, choice: Any) -> float:
    return 1.0 / FoldingSpace.objective(choice)


def compare(
    graph: Any, device: Any, budget: float | dict[str, float], exhaustive: bool = True
) -> dict[str, float]:
    """Throughput ratios of optimised vs finn (and vs exhaustive) at one budget."""
    space = FoldingSpace(graph, device)
    limits = budget_vector(device, budget)
    out: dict[str, float] = {}
    try:
        opt_cfg = fold(graph, strategy="optimised", device=device, budget=budget)
    except HwError:
        opt_cfg = None
    try:
        finn_cfg = fold(graph, strategy="finn", device=device, budget=budget)
    except HwError:
        finn_cfg = None
    if exhaustive:
        exh = exhaustive_choice(space, limits)
        if exh is None:
            assert opt_cfg is None, "optimised returned a folding where exhaustive found none"
            return out
        assert opt_cfg is not None, "optimised found no folding where exhaustive found one"
        out["opt_vs_exhaustive"] = _tp(space, space.choice_of(opt_cfg.resolved(graph))) / _tp(
            space, exh
        )
    if opt_cfg is not None and finn_cfg is not None:
        out["opt_vs_finn"] = _tp(space, space.choice_of(opt_cfg.resolved(graph))) / _tp(
            space, space.choice_of(finn_cfg.resolved(graph))
        )
    return out


def main(n_graphs: int = 40, seed: int = 0) -> dict[str, Any]:
    """Run the benchmark, print the figures and the verdict; return them."""
    rng = random.Random(seed)
    devices = [get_device(board=b) for b in DEVICES]
    device = devices[0]
    vs_exh: list[float] = []
    vs_finn: list[float] = []
    t0 = time.perf_counter()
    n_cases = 0
    made = 0
    while made < n_graphs:
        g = load_graph(random_graph(rng, rng.choice([2, 3, 3, 4])))
        dev = devices[made % len(devices)]
        if combinations(FoldingSpace(g, dev)) > MAX_COMBINATIONS:
            continue
        made += 1
        for b in BUDGETS:
            r = compare(g, dev, b)
            n_cases += 1
            if "opt_vs_exhaustive" in r:
                vs_exh.append(r["opt_vs_exhaustive"])
            if "opt_vs_finn" in r:
                vs_finn.append(r["opt_vs_finn"])
    elapsed = time.perf_counter() - t0
    example = Path(__file__).resolve().parents[1] / "hw_builders" / "examples" / "cnv_w2a2.json"
    ex_ratios: list[float] = []
    ex_labels: list[str] = []
    if example.exists():
        g = load_graph(example)
        for b in (0.1, 0.25, 0.5, 0.7, 0.8, 0.9, 1.0):
            r = compare(g, device, b, exhaustive=False)
            if "opt_vs_finn" in r:
                ex_ratios.append(r["opt_vs_finn"])
                ex_labels.append(f"{b:g}: {r['opt_vs_finn']:.3f}")
    print(
        f"fold_bench: {made} random graphs ({', '.join(DEVICES)}) x {len(BUDGETS)} budgets = "
        f"{n_cases} cases, {elapsed:.1f} s"
    )
    if vs_exh:
        print(
            f"  optimised / exhaustive throughput: min {min(vs_exh):.4f}  mean "
            f"{statistics.mean(vs_exh):.4f}  (n={len(vs_exh)}; exact in "
            f"{sum(x >= 1 - 1e-9 for x in vs_exh)})"
        )
    if vs_finn:
        print(
            f"  optimised / finn throughput:       min {min(vs_finn):.4f}  mean "
            f"{statistics.mean(vs_finn):.4f}  max {max(vs_finn):.3f}  (n={len(vs_finn)})"
        )
    if ex_ratios:
        print(
            "  cnv_w2a2 example, optimised / finn at budgets 0.1..1.0: "
            + ", ".join(f"{x:.3f}" for x in ex_ratios)
        )
    within = bool(vs_exh) and min(vs_exh) >= 0.98
    never_below = all(x >= 1 - 1e-9 for x in vs_finn + ex_ratios)
    print(
        f"  target: within 2% of exhaustive -> {'MET' if within else 'MISSED'}; "
        f"never below finn -> {'MET' if never_below else 'MISSED'}"
    )
    return {
        "opt_vs_exhaustive_min": min(vs_exh) if vs_exh else None,
        "opt_vs_exhaustive_mean": statistics.mean(vs_exh) if vs_exh else None,
        "opt_vs_finn_min": min(vs_finn) if vs_finn else None,
        "opt_vs_finn_mean": statistics.mean(vs_finn) if vs_finn else None,
        "example_opt_vs_finn": ex_ratios,
        "within_2pct": within,
        "never_below_finn": never_below,
    }


if __name__ == "__main__":
    import sys

    main(*(int(a) for a in sys.argv[1:3]))
