"""Runtime-manager benchmark: simulator speed and the comparison against static FINN.

1. Speed: every policy's simulation of a 24-hour smart-IoT trace at 1-second resolution
   (86,400 intervals) on the study's operating points; target <= 2 s per simulation. The
   baseline measured in the same run is a naive per-arrival discrete-event simulation of the
   same workload for 20 s at noon (extrapolated to the day's arrivals), to show what the
   fluid per-interval model buys.
2. Ratios: on the quickstart study (created with ``adapex run`` when the storage lacks it),
   the four policies (static FINN, pruning-only, exit-only, adapex) on the default built-in
   smart-IoT trace, for several peak loads (multiples of static FINN's throughput) and three
   accuracy thresholds (static FINN's accuracy minus 0.01, 0.03 and 0.2), with the table
   minimising energy (the default) and EDP. ``processed`` ratio > 1: more inferences than static FINN; ``edp``
   ratio > 1: better energy-delay product than static FINN. The AdaPEx paper reported up to
   1.32x and 2.55x.

Run: ``.venv/bin/python benchmarks/bench_runtime.py [--storage URL] [--study quickstart]``.
"""

from __future__ import annotations

import argparse
import heapq
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from dse.runtime import (
    NO_HYSTERESIS,
    HysteresisPolicy,
    builtin_trace,
    compare_policies,
    policy_point_sets,
    simulate,
    study_points,
)
from dse.storage import Store

ROOT = Path(__file__).resolve().parent.parent


def ensure_study(storage: str, study: str, trials: int | None) -> None:
    """Run the quickstart study with ``adapex run`` when the storage does not hold it."""
    try:
        with Store(storage, read_only=True) as store:
            if any(s.name == study and s.n_designs > 0 for s in store.list_studies()):
                return
    except Exception:  # noqa: BLE001 - a missing file: create it below
        pass
    cmd = [str(ROOT / ".venv/bin/adapex"), "run", "--study", study, "--storage", storage]
    if trials:
        cmd += ["--trials", str(trials)]
    print(f"creating the study: {' '.join(cmd)}", flush=True)
    subprocess.run(cmd, check=True)


def naive_des(points, arrivals_per_s: np.ndarray, buffer_size: int, seed: int = 0) -> int:
    """Per-arrival event simulation of one static design (heap of events); returns processed."""
    p = points[0]
    rng = np.random.default_rng(seed)
    events: list[tuple[float, int]] = []
    for sec, n in enumerate(arrivals_per_s.tolist()):
        for t in np.sort(rng.uniform(sec, sec + 1, n)).tolist():
            heapq.heappush(events, (t, 0))
    busy_until = 0.0
    queue = 0
    processed = 0
    while events:
        t, kind = heapq.heappop(events)
        if kind == 0:  # arrival
            if t >= busy_until and queue == 0:
                busy_until = t + 1.0 / p.throughput_fps
                heapq.heappush(events, (busy_until, 1))
            elif queue < buffer_size:
                queue += 1
        else:  # departure
            processed += 1
            if queue:
                queue -= 1
                busy_until = t + 1.0 / p.throughput_fps
                heapq.heappush(events, (busy_until, 1))
    return processed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--storage", default=f"sqlite:///{ROOT / 'studies.db'}")
    ap.add_argument("--study", default="quickstart")
    ap.add_argument("--trials", type=int, default=None, help="trials when creating the study")
    args = ap.parse_args()

    ensure_study(args.storage, args.study, args.trials)
    t0 = time.perf_counter()
    with Store(args.storage, read_only=True) as store:
        points, static = study_points(store, args.study)
    t_points = time.perf_counter() - t0
    sets = policy_point_sets(points, static)
    designs = len({p.design_id for p in points})
    print(
        f"study {args.study}: {designs} feasible designs -> {len(points)} operating points "
        f"(derived in {t_points:.2f} s)"
    )
    print(
        f"static FINN: {static.label}: {static.throughput_fps:.4g} fps, accuracy "
        f"{static.accuracy:.4f}, {static.energy_per_inference_j * 1e3:.4g} mJ/inference"
    )
    a_static = static.accuracy

    # -- 1. speed -------------------------------------------------------------------------
    trace = builtin_trace(
        "smart-iot", duration_s=86_400, dt_s=1.0, seed=0, peak_fps=1.5 * static.throughput_fps
    )
    arrivals = trace.arrivals(0)
    print("\n1. simulator speed: 24 h at 1 s resolution (86,400 intervals)")
    worst = 0.0
    for name, pts in sets.items():
        if not pts:
            continue
        t0 = time.perf_counter()
        simulate(pts, trace, accuracy_threshold=a_static - 0.02, arrivals=arrivals)
        el = time.perf_counter() - t0
        worst = max(worst, el)
        print(f"   {name:13s} {len(pts):4d} points: {el:.3f} s  ({86_400 / el:,.0f}x real time)")
    verdict = "OK" if worst <= 2.0 else "TOO SLOW"
    print(f"   slowest {worst:.3f} s per simulated day (target <= 2 s): {verdict}")
    sample = arrivals[12 * 3600 : 12 * 3600 + 20]  # 20 s at noon
    t0 = time.perf_counter()
    naive_des([static], sample, 1024)
    el_naive = (time.perf_counter() - t0) * arrivals.sum() / max(int(sample.sum()), 1)
    t0 = time.perf_counter()
    simulate([static], trace, arrivals=arrivals)
    el_fluid = time.perf_counter() - t0
    print(
        f"   baseline: per-arrival event simulation of static FINN ({int(sample.sum()):,} "
        f"arrivals in 20 s at noon) extrapolated to the day's {int(arrivals.sum()):,} arrivals: "
        f"{el_naive:,.0f} s; the fluid model takes {el_fluid:.3f} s "
        f"({el_naive / el_fluid:,.0f}x faster)"
    )

    # hysteresis against none, on the adapex library
    for label, pol in (
        ("hysteresis (default)", HysteresisPolicy()),
        ("no hysteresis", NO_HYSTERESIS),
    ):
        r = simulate(
            sets["adapex"], trace, accuracy_threshold=a_static - 0.02, policy=pol, arrivals=arrivals
        )
        print(
            f"   adapex with {label}: {r.metrics['reconfigurations']} reconfigurations, "
            f"processed {r.metrics['processed']:,}, EDP {r.metrics['edp_js']:.4g} J*s"
        )

    # -- 2. ratios against static FINN ------------------------------------------------------
    print("\n2. ratios against static FINN (default smart-iot trace, 24 h, seed 0)")
    print("   peak = peak input rate / static FINN throughput; thr = accuracy threshold;")
    print("   per policy: processed ratio, EDP ratio (queueing included), service EDP ratio")
    best: dict[str, tuple[float, float, float]] = {}
    for objective in ("energy", "edp"):
        print(f"\n   table objective: {objective}")
        names = ("pruning_only", "exit_only", "adapex")
        print(f"   {'peak':>5s} {'thr':>7s} | " + " | ".join(f"{n:>26s}" for n in names))
        for peak in (0.5, 1.0, 2.0, 4.0):
            tr = builtin_trace("smart-iot", peak_fps=peak * static.throughput_fps, seed=0)
            for thr in (a_static - 0.01, a_static - 0.03, a_static - 0.2):
                res = compare_policies(
                    sets, tr, accuracy_threshold=thr, seed=0, objective=objective
                )
                cells = []
                for n in names:
                    m = res["policies"][n]
                    if not m.get("available", True):
                        cells.append(f"{'n/a':>26s}")
                        continue
                    r = m["ratios_vs_static"]
                    cells.append(
                        f"{r['processed']:>7.3f}x {r['edp']:>7.3f}x {r['edp_service']:>7.3f}x"
                    )
                    if n == "adapex":
                        old = best.get(objective, (0.0, 0.0, 0.0))
                        best[objective] = (
                            max(old[0], r["processed"]),
                            max(old[1], r["edp"]),
                            max(old[2], r["edp_service"]),
                        )
                a = res["policies"]["adapex"]
                print(
                    f"   {peak:>5.2f} {thr:>7.4f} | "
                    + " | ".join(cells)
                    + f"   (adapex: {a['reconfigurations']} reconfigs, accuracy "
                    f"{a['mean_accuracy']:.4f}, static drops {res['policies']['static_finn']['drop_rate']:.2%})"
                )
    for objective, (bp, be, bs) in best.items():
        print(
            f"\n   best adapex vs static FINN ({objective} objective): {bp:.3f}x inferences, "
            f"{be:.3f}x EDP, {bs:.3f}x service EDP (paper: up to 1.32x and 2.55x)"
        )


if __name__ == "__main__":
    sys.exit(main())
