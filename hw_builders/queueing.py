"""Sustained throughput of a line of stages with finite buffers (a tandem queue).

Each stage is a deterministic server (its initiation interval); between stage k and k+1 a
FIFO holds ``buffer_depth`` frames; an item that must go on while that FIFO is full blocks
its stage (blocking after service); each item leaves after stage k with probability
``1 - reach_{k+1} / reach_k``. The long-run completion rate is computed for one fixed-seed
sample path by the max-plus recursion of the departure times (see
:func:`tandem_throughput`); the model is explained in :mod:`hw_builders.stages`.
"""

from __future__ import annotations

import functools
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
    # every time of the recursion scales with the service times: the sample path is
    # computed once per shape of the line (service times relative to stage 0's)
    unit = float(service_s[0]) if service_s[0] > 0 else 1.0
    rel = tuple(float(s) / unit for s in service_s)
    got = _relative_throughput(
        rel, tuple(float(r) for r in reach), int(buffer_depth) + 1, int(frames), int(seed)
    )
    return min(got / unit, bound)


def clear_queueing_memo() -> None:
    """Forget every memoised sample path (hw_builders.clear_memos)."""
    _thinning.cache_clear()
    _relative_throughput.cache_clear()


@functools.lru_cache(maxsize=256)
def _thinning(
    reach: tuple[float, ...], frames: int, seed: int
) -> tuple[tuple[tuple[int, int], ...], tuple[int, ...], int]:
    """Which frames reach each stage, for one seeded draw (exact counts per stage, the frames
    drawn at random among those of the stage before).

    Returns:
        ``(deep, counts, tail)``: for each frame that goes past stage 0, in order, how many
        frames leaving at stage 0 come just before it and how many stages it enters; how
        many frames enter each stage; how many frames leaving at stage 0 come last.
    """
    rng = random.Random(seed)
    depth = [1] * frames
    counts = [frames]
    current = list(range(frames))
    for k in range(1, len(reach)):
        n_next = min(len(current), round(reach[k] * frames))
        current = sorted(rng.sample(current, n_next))
        for f in current:
            depth[f] = k + 1
        counts.append(len(current))
    deep = []
    gap = 0
    for d in depth:
        if d == 1:
            gap += 1
        else:
            deep.append((gap, d))
            gap = 0
    return tuple(deep), tuple(counts), gap


@functools.lru_cache(maxsize=4096)
def _relative_throughput(
    service: tuple[float, ...], reach: tuple[float, ...], cap: int, frames: int, seed: int
) -> float:
    """The max-plus recursion of the departure times on one sample path (module doc), for
    service times relative to stage 0's; frames per unit of stage 0's service time.

    A frame is released by stage k when it finishes there and, if it goes on, when stage
    k + 1's FIFO has room for it: the frame ``cap`` places ahead of it in stage k + 1's
    stream has been released there (blocking after service). Frames leaving at stage 0
    only advance stage 0 by one service time each; each stage's releases only grow, so the
    path ends at the largest last release.
    """
    K = len(service)
    r_min = min((r for r in reach if r > 0), default=1.0)
    # enough frames that the least-reached stage still sees a few hundred of them
    frames = max(frames, min(8 * frames, int(512 / r_min)))
    deep, counts, tail = _thinning(reach, frames, seed)
    ends = (_path_upto4 if K <= 4 else _path)(service, deep, counts, cap)
    ends[0] += tail * service[0]
    fill = sum(service)
    return (frames - 1) / max(max(ends) - fill, 1e-30)


def _path(
    service: Sequence[float], deep: Sequence[tuple[int, int]], counts: Sequence[int], cap: int
) -> list[float]:
    """Each stage's last release on the sample path (any number of stages)."""
    K = len(service)
    release: list[list[float]] = [[0.0] * n for n in counts]  # per stage, by position
    entered = [0] * K
    last = [0.0] * K
    s0 = service[0]
    for gap, d in deep:
        arrival = 0.0
        last[0] += gap * s0
        for k in range(d):
            start = arrival if arrival > last[k] else last[k]
            done = start + service[k]
            if k + 1 < d:
                j = entered[k + 1]  # its position in stage k + 1's stream
                if j >= cap:
                    ahead = release[k + 1][j - cap]
                    if ahead > done:
                        done = ahead
            release[k][entered[k]] = done
            entered[k] += 1
            last[k] = done
            arrival = done
    return last


def _path_upto4(
    service: Sequence[float], deep: Sequence[tuple[int, int]], counts: Sequence[int], cap: int
) -> list[float]:
    """:func:`_path` for up to four stages, the loop over stages unrolled (the same
    arithmetic in the same order: the inner step's hot loop)."""
    s0, s1, s2, s3 = (list(service) + [0.0, 0.0, 0.0])[:4]
    n = list(counts) + [0, 0, 0]
    r1, r2, r3 = [0.0] * n[1], [0.0] * n[2], [0.0] * n[3]
    e1 = e2 = e3 = 0
    last0 = last1 = last2 = last3 = 0.0
    for gap, d in deep:
        done = last0 + gap * s0
        last0 = done  # (stage 0's release of the frames leaving there)
        done = done + s0  # frames arrive at once: stage 0 starts at its last release
        if e1 >= cap:
            ahead = r1[e1 - cap]
            if ahead > done:
                done = ahead
        last0 = done
        done = (done if done > last1 else last1) + s1
        if d > 2:
            if e2 >= cap:
                ahead = r2[e2 - cap]
                if ahead > done:
                    done = ahead
            r1[e1] = done
            e1 += 1
            last1 = done
            done = (done if done > last2 else last2) + s2
            if d > 3:
                if e3 >= cap:
                    ahead = r3[e3 - cap]
                    if ahead > done:
                        done = ahead
                r2[e2] = done
                e2 += 1
                last2 = done
                done = (done if done > last3 else last3) + s3
                r3[e3] = done
                e3 += 1
                last3 = done
            else:
                r2[e2] = done
                e2 += 1
                last2 = done
        else:
            r1[e1] = done
            e1 += 1
            last1 = done
    return [last0, last1, last2, last3][: len(service)]
