"""Benchmark: full-graph hardware estimates per second (one core).

Measures, on FINN's CNV-W2A2 dataflow graph with a StreamingFIFO between every pair of
layers (37 layers, as after FINN's InsertFIFO), varying the folding between calls:

* fast path: ``Estimator.fast`` (memoised per-layer costs, no report objects);
* full report path: ``Estimator.report`` (memoised, builds the HardwareReport);
* naive path: ``estimate(graph, folding=...)`` from scratch each call;

and prints the ratios between them and against FINN's own estimate step (~40 estimates/s,
the figure quoted in the issue). Target: >= 30,000 fast estimates/s.

Ends by running benchmarks/fold_bench.py's ``main()`` when that file exists.
"""

from __future__ import annotations

import json
import random
import sys
import time
from pathlib import Path

import hw_builders as hb

FINN_ESTIMATES_PER_S = 40.0  # FINN's estimate step on a CNV-size model (quoted in the issue)
TARGET = 30_000


def cnv_with_fifos() -> hb.HwGraph:
    """CNV-W2A2 with a StreamingFIFO (depth 32, FINN's default) after every layer."""
    base = hb.load_graph(Path(hb.__file__).parent / "examples" / "cnv_w2a2.json").to_dict()
    layers, prev, n = [], None, 0
    for lay in base["layers"]:
        if prev is not None:
            fifo = {
                "name": f"StreamingFIFO_rtl_{n}",
                "op_type": "StreamingFIFO",
                "impl": "rtl",
                "inputs": [prev["name"]],
                "depth": 32,
                "dataType": prev.get("outputDataType") or prev.get("dataType") or "INT8",
                "folded_shape": [1, 1],
            }
            n += 1
            layers.append(fifo)
            lay = {**lay, "inputs": [fifo["name"]]}
        layers.append(lay)
        prev = lay
    return hb.load_graph({"name": "cnv_w2a2_fifos", "layers": layers})


def random_foldings(est: hb.Estimator, n: int, seed: int = 0) -> tuple[list[list], list[dict]]:
    """n random legal foldings as knob tuples (fast path) and FINN folding dicts (naive)."""
    rng = random.Random(seed)
    tuples, dicts = [], []
    legal = [hb.legal_values(lay) for lay in est.graph.layers]
    for _ in range(n):
        vals, fold = [], {}
        for i, lay in enumerate(est.graph.layers):
            if not legal[i]:
                vals.append(None)
                continue
            choice = {k: rng.choice(v) for k, v in legal[i].items()}
            fold[lay.name] = choice
            cur = dict(zip(est.knobs[i], est.current[i], strict=True))
            cur.update(choice)
            vals.append(tuple(cur[k] for k in est.knobs[i]))
        tuples.append(vals)
        dicts.append(fold)
    return tuples, dicts


def rate(fn, items, min_time: float = 1.0) -> float:
    """Calls per second of fn over items, repeated for at least min_time seconds."""
    count, t0 = 0, time.perf_counter()
    while True:
        for it in items:
            fn(it)
        count += len(items)
        dt = time.perf_counter() - t0
        if dt >= min_time:
            return count / dt


def main() -> None:
    graph = cnv_with_fifos()
    est = hb.Estimator(graph, board="Pynq-Z1")
    tuples, dicts = random_foldings(est, 2000)
    print(f"graph: {graph.name}, {len(graph.layers)} layers; 2000 random legal foldings")
    # warm the memo once (the optimiser revisits per-layer choices constantly)
    for t in tuples:
        est.fast(t)
    fast = rate(est.fast, tuples)
    cold_est = hb.Estimator(graph, board="Pynq-Z1")
    t0 = time.perf_counter()
    for t in tuples[:500]:
        cold_est.fast(t)
    cold = 500 / (time.perf_counter() - t0)
    full = rate(est.report, tuples[:300], 0.5)
    naive = rate(lambda f: hb.estimate(graph, board="Pynq-Z1", folding=f), dicts[:100], 0.5)
    print(f"fast path (memo warm)      : {fast:12,.0f} estimates/s")
    print(f"fast path (memo cold, 500) : {cold:12,.0f} estimates/s")
    print(f"full report (memoised)     : {full:12,.0f} estimates/s")
    print(f"naive estimate() per call  : {naive:12,.0f} estimates/s")
    print(f"ratio fast / naive         : {fast / naive:12,.1f} x")
    print(f"ratio fast / full report   : {fast / full:12,.1f} x")
    print(f"ratio fast / FINN (~40/s)  : {fast / FINN_ESTIMATES_PER_S:12,.0f} x")
    print(f"ratio naive / FINN (~40/s) : {naive / FINN_ESTIMATES_PER_S:12,.1f} x")
    status = "OK" if fast >= TARGET else "BELOW TARGET"
    print(f"target >= {TARGET:,}/s       : {status}")
    print(
        json.dumps(
            {"fast_per_s": fast, "cold_per_s": cold, "full_per_s": full, "naive_per_s": naive}
        )
    )


if __name__ == "__main__":
    main()
    here = Path(__file__).resolve().parent
    if (here / "fold_bench.py").exists():
        sys.path.insert(0, str(here))
        import fold_bench  # type: ignore[import-not-found]

        fold_bench.main()
