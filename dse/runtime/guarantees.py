"""Accuracy guarantees: which configurations may serve a user's accuracy threshold.

A configuration is a trained model, the exits a design uses and a setting of their
thresholds (the hardware does not change accuracy). Its accuracy on the calibration split is
an estimate from ``n`` samples; the runtime lets it serve an accuracy threshold ``a`` only
when its true accuracy is at least ``a`` with confidence ``1 - delta``, for every ``a`` and
every configuration the table may choose, at once.

The procedure is Learn-then-Test (Angelopoulos et al., "Learn then Test: Calibrating
Predictive Algorithms to Achieve Risk Control", 2021) with fixed-sequence testing:

* For a threshold ``a`` and a configuration with ``k`` correct of ``n`` calibration samples,
  the null hypothesis "accuracy < a" has the binomial p-value ``P(Binomial(n, a) >= k)``;
  it is rejected at level ``alpha`` exactly when the one-sided Clopper-Pearson lower bound
  ``L(k, n, alpha) = BetaInv(alpha; k, n - k + 1)`` is at least ``a``.
* A **family** is one trained model with one subset of its exits. Its threshold settings are
  tested in a fixed order, from the most conservative (every exit off, then the highest
  common threshold) to the least (:func:`setting_order`), stopping at the first that is not
  rejected: fixed-sequence testing controls the family-wise error at ``alpha`` without
  dividing it among the settings.
* The families share ``delta`` by Bonferroni: ``alpha = delta / F`` with ``F`` every family
  the study could have chosen from (its trained models times the subsets of the candidate
  exits), since the designs the table offers were themselves chosen on the calibration data.

Equivalently, each configuration's **guaranteed accuracy** is the smallest
``L(k_j, n, alpha)`` over its family's settings up to and including its own in that order;
it serves ``a`` exactly when its guaranteed accuracy is at least ``a``. ``adapex deploy verify
--split test`` measures the held-out accuracy of every configuration the runtime table picks.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass

__all__ = [
    "DEFAULT_CONFIDENCE",
    "FamilyBound",
    "clopper_pearson_lower",
    "family_bounds",
    "setting_order",
]

#: The default ``delta`` of ``[runtime] confidence`` (the guarantees hold with 95%).
DEFAULT_CONFIDENCE = 0.05


def clopper_pearson_lower(k: int, n: int, alpha: float) -> float:
    """The one-sided Clopper-Pearson lower confidence bound of a binomial proportion: the
    accuracy that ``k`` correct of ``n`` samples exceed with probability ``1 - alpha``
    (0 when ``k == 0`` or ``n == 0``)."""
    from scipy.stats import beta

    if n <= 0 or k <= 0:
        return 0.0
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha={alpha!r} must lie in (0, 1)")
    return float(beta.ppf(alpha, k, n - k + 1))


def setting_order(thresholds: Sequence[float]) -> tuple[float, ...]:
    """The key that orders a family's threshold settings from the most conservative (the
    fewest samples leave early) to the least: the smallest threshold first (every exit off
    has thresholds above 1), then their sum, then the thresholds themselves, all descending
    (sort by this key, ascending). It depends on the thresholds alone, never on data."""
    t = [float(x) for x in thresholds]
    return (-min(t, default=math.inf), -sum(t), *(-x for x in t))


@dataclass(frozen=True)
class FamilyBound:
    """A configuration's guarantee.

    Attributes:
        accuracy: Its calibration accuracy (``correct / samples``).
        correct: Correct calibration samples.
        samples: Calibration samples.
        lower: Its own Clopper-Pearson lower bound at ``alpha``.
        guaranteed: Its guaranteed accuracy (the smallest ``lower`` up to it in its family).
        alpha: The level of each family's test (``delta / families``).
        position: Its place in its family's test sequence (0: tested first).
    """

    accuracy: float
    correct: int
    samples: int
    lower: float
    guaranteed: float
    alpha: float
    position: int

    def to_dict(self) -> dict[str, float | int]:
        return {
            "accuracy": self.accuracy,
            "correct": self.correct,
            "samples": self.samples,
            "lower_bound": self.lower,
            "guaranteed_accuracy": self.guaranteed,
            "alpha": self.alpha,
            "position": self.position,
        }


def family_bounds(
    settings: Mapping[Hashable, Iterable[tuple[tuple[float, ...], int]]],
    samples: int,
    *,
    delta: float,
    families: int,
) -> dict[tuple[Hashable, tuple[float, ...]], FamilyBound]:
    """The guarantee of every configuration (module doc).

    Args:
        settings: Per family, its threshold settings with their correct calibration samples
            (any order; a setting listed twice is tested once).
        samples: Calibration samples ``n``.
        delta: One minus the confidence (``[runtime] confidence``).
        families: ``F``, the families the study could choose from (at least those given).

    Returns:
        ``(family, thresholds) -> FamilyBound``.

    Raises:
        ValueError: ``delta`` outside (0, 1), or fewer families than given.
    """
    if not 0.0 < delta < 1.0:
        raise ValueError(f"delta={delta!r} must lie in (0, 1)")
    if families < len(settings):
        raise ValueError(f"families={families}: fewer than the {len(settings)} given")
    alpha = delta / max(int(families), 1)
    out: dict[tuple[Hashable, tuple[float, ...]], FamilyBound] = {}
    for family, rows in settings.items():
        unique = dict((tuple(float(t) for t in th), int(k)) for th, k in rows)
        running = math.inf
        for pos, th in enumerate(sorted(unique, key=setting_order)):
            k = unique[th]
            lower = clopper_pearson_lower(k, samples, alpha)
            running = min(running, lower)
            out[(family, th)] = FamilyBound(
                accuracy=k / samples if samples else 0.0,
                correct=k,
                samples=samples,
                lower=lower,
                guaranteed=running,
                alpha=alpha,
                position=pos,
            )
    return out
