"""Sustained throughput of a line of stages with finite buffers (a tandem queue).

Each stage is a deterministic server (its initiation interval); between stage k and k+1 a
FIFO holds ``buffer_depth`` frames; an item that must go on while that FIFO is full blocks
its stage (blocking after service); each item leaves after stage k with probability
``1 - reach_{k+1} / reach_k``. The long-run completion rate is computed for one fixed-seed
sample path by the max-plus recursion of the departure times (see
:func:`tandem_throughput`); the model is explained in :mod:`hw_builders.stages`.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence

from hw_builders.errors import HwError

__all__ = ["QUEUE_FRAMES", "tandem_throughput"]

#: Frames in the sample path of the queueing computation.
QUEUE_FRAMES = 4096


def tandem_throughput(
    service_s: Sequence[float],
    reach: Sequence[float],
    buffer_depth: float,
    *,
    frames: int = QUEUE_FRAMES,
    seed: int = 0,
) -> float:
    """Sustained frames/s of a saturated tandem line with Bernoulli-thinned stages.

    Args:
        service_s: per stage, the deterministic service time (initiation interval, s).
        reach: per stage, the fraction of frames entering it (reach[0] = 1).
        buffer_depth: frames each inter-stage FIFO holds (``math.inf``: unbounded).
        frames: length of the sample path (raised, up to 8x, so that the least-reached
            stage sees at least 512 frames).
        seed: seed of the thinning draw.

    Returns:
        The long-run throughput (frames per second entering stage 0).
    """
    K = len(service_s)
    bound = min(
        1.0 / (s * r) if r > 0 else math.inf for s, r in zip(service_s, reach, strict=False)
    )
    if K == 1 or math.isinf(buffer_depth) or all(r >= 1.0 for r in reach):
        return bound
    if buffer_depth < 0:
        raise HwError(f"buffer_depth={buffer_depth}: must be >= 0 frames")
    cap = int(buffer_depth) + 1
    # enough frames that the least-reached stage still sees a few hundred of them
    r_min = min((r for r in reach if r > 0), default=1.0)
    frames = max(frames, min(8 * frames, int(512 / r_min)))
    rng = random.Random(seed)
    # which frames reach each stage: exact counts, random choice among the previous ones
    goes_on: list[set[int]] = []
    current = list(range(frames))
    for k in range(1, K):
        n_next = min(len(current), round(reach[k] * frames))
        chosen = sorted(rng.sample(current, n_next))
        goes_on.append(set(chosen))
        current = chosen
    seq_pos: list[dict[int, int]] = [{}]  # per stage, frame -> position in the stage's stream
    for k in range(1, K):
        seq_pos.append({f: j for j, f in enumerate(sorted(goes_on[k - 1]))})
    release: list[list[float]] = [[] for _ in range(K)]  # per stage, release time by position
    last_release = [0.0] * K
    t_end = 0.0
    for f in range(frames):
        arrival = 0.0
        k = 0
        while True:
            start = max(arrival, last_release[k])
            finish = start + service_s[k]
            if k + 1 < K and f in goes_on[k]:
                j = seq_pos[k + 1][f]
                rel = finish
                if j - cap >= 0:
                    rel = max(rel, release[k + 1][j - cap])
                # the stage k+1 release of position j - cap is known: it is an earlier frame
            else:
                rel = finish
            release[k].append(rel)
            last_release[k] = rel
            t_end = max(t_end, rel)
            if k + 1 < K and f in goes_on[k]:
                arrival = rel
                k += 1
            else:
                break
    fill = sum(service_s)
    got = (frames - 1) / max(t_end - fill, 1e-30)
    return min(got, bound)
