"""Runtime policies and baselines, each defined once, registered by name.

A policy is the set of configurations a runtime manager may switch between; the baselines
are the policies adapex is compared with. Everything that lists, labels or colours them (the
comparison, the sweep, the report, the dashboard, the CLI) reads this registry:

* ``static_finn``: the unpruned, exit-free network folded by FINN's SetFolding at the
  highest target fps that fits (the AdaPEx paper's baseline): one accelerator, never
  reconfigured;
* ``static_best``: the same network with adapex's optimised folding;
* ``pruning_only``: the designs without exit heads (any pruning), plus static FINN, which a
  FINN user already has;
* ``exit_only``: the unpruned designs (any exits and thresholds), plus static FINN;
* ``adapex``: every design and both static accelerators, so that it holds every baseline's
  configurations and can never do worse than any of them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from dse.runtime.errors import RuntimeManagerError
from dse.runtime.points import OperatingPoint
from hw_builders.plugins import Registry, named_entry

__all__ = [
    "Policy",
    "UNPRUNED_TOL",
    "baseline_names",
    "get_policy",
    "point_sets",
    "policy_label",
    "policy_names",
    "register_policy",
]

#: a pruning rate at or below this is "unpruned"
UNPRUNED_TOL = 1e-9

#: ``select(points, static_finn, static_best)``: the configurations the policy may use
Select = Callable[[Sequence[OperatingPoint], OperatingPoint, OperatingPoint], list[OperatingPoint]]


@dataclass(frozen=True)
class Policy:
    """One runtime policy.

    Attributes:
        name: its key in every result (``--json``, the report, the dashboard).
        label: how people read it.
        color: its colour in the figures.
        select: the configurations it may use, from the study's points and the two static
            accelerators.
        baseline: whether adapex is compared with it (every policy but adapex itself).
    """

    name: str
    label: str
    color: str
    select: Select
    baseline: bool = True


_POLICIES: Registry[Policy] = Registry(
    "register_policy",
    lambda name, choices: f"policy={name!r}: unknown; choose one of {choices}",
    group="adapex.policies",
    adopt=lambda name, policy: register_policy(
        named_entry(name, policy, Policy, "a Policy", RuntimeManagerError)
    ),
    error=RuntimeManagerError,
)


def register_policy(policy: Policy) -> Policy:
    """Add a policy (a baseline unless ``baseline=False``); results list it in the order of
    registration.

    Raises:
        RuntimeManagerError: the name is taken.
    """
    return _POLICIES.register(policy.name, policy)


def get_policy(name: str) -> Policy:
    """The registered policy ``name``.

    Raises:
        RuntimeManagerError: an unknown name.
    """
    return _POLICIES.lookup(name)


def policy_names() -> list[str]:
    """Every registered policy (installed plugins' included), baselines first, adapex last,
    each in registration order: the order of the reports' columns."""
    _POLICIES.read_plugins()
    return [n for n, p in _POLICIES.items() if p.baseline] + [
        n for n, p in _POLICIES.items() if not p.baseline
    ]


def baseline_names() -> list[str]:
    """The policies adapex is compared with, in report order."""
    _POLICIES.read_plugins()
    return [n for n, p in _POLICIES.items() if p.baseline]


def policy_label(name: str) -> str:
    """How people read a policy's name (the name itself when it is not registered)."""
    policy = _POLICIES.get(name)
    return policy.label if policy is not None else name


def point_sets(
    points: Sequence[OperatingPoint],
    static_finn: OperatingPoint,
    static_best: OperatingPoint | None = None,
) -> dict[str, list[OperatingPoint]]:
    """The configurations each registered policy may use. Without ``static_best`` (a study
    whose optimised static design was not derived) static FINN stands in for it."""
    best = static_finn if static_best is None else static_best
    return {name: get_policy(name).select(points, static_finn, best) for name in policy_names()}


register_policy(Policy("static_finn", "static FINN", "#d62728", lambda pts, sf, sb: [sf]))
register_policy(Policy("static_best", "static best", "#ff7f0e", lambda pts, sf, sb: [sb]))
register_policy(
    Policy(
        "pruning_only",
        "pruning-only",
        "#2ca02c",
        lambda pts, sf, sb: [p for p in pts if not p.exits] + [sf],
    )
)
register_policy(
    Policy(
        "exit_only",
        "exit-only",
        "#1f77b4",
        lambda pts, sf, sb: [p for p in pts if p.pruning_rate <= UNPRUNED_TOL] + [sf],
    )
)
register_policy(
    Policy(
        "adapex",
        "adapex",
        "#9467bd",
        lambda pts, sf, sb: [*pts, sf] + ([sb] if sb is not sf else []),
        baseline=False,
    )
)
