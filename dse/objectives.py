"""Objectives by name: what a study can optimise, and how each is read from a design.

An :class:`Objective` names a figure, its direction, its unit and axis label, the scale and
reference point of the hypervolume (see :mod:`dse.pareto`), and how it is read from an
evaluated design: its staged hardware report (``hw_builders.StagedReport``) and the figures
the evaluation computed (``metrics``: accuracy, exit fractions, ...). The config validation
(``[objectives] names``), the study (:mod:`dse.study.evaluate`), the stored records, the
dashboard's axes and the CLI's tables all read this registry, so an objective is added in
one place::

    from dse.objectives import Objective, register_objective

    register_objective(
        Objective(
            "stage0_fps", "maximize", unit="inferences/s", label="stage 0 throughput",
            read=lambda report, metrics: report.stage_throughput_fps[0],
        )
    )

The value is stored with the design's metrics under the objective's name.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from dse.errors import DseError
from dse.pareto import ObjectiveSpec
from hw_builders.plugins import Registry, named_entry

#: ``read(report, metrics) -> value`` of an objective.
Reader = Callable[[Any, Mapping[str, Any]], float]

DIRECTIONS = ("maximize", "minimize")
SCALES = ("linear", "log")


def _from_metrics(name: str) -> Reader:
    def read(_report: Any, metrics: Mapping[str, Any]) -> float:
        return float(metrics[name])

    return read


def _from_report(attr: str) -> Reader:
    def read(report: Any, _metrics: Mapping[str, Any]) -> float:
        return float(getattr(report, attr))

    return read


def _from_total(resource: str) -> Reader:
    def read(report: Any, _metrics: Mapping[str, Any]) -> float:
        return float(report.total.get(resource, 0))

    return read


@dataclass(frozen=True)
class Objective:
    """One objective a study can optimise.

    Attributes:
        name: The figure's name (a key of the design's metrics).
        direction: ``"maximize"`` or ``"minimize"``.
        unit: Its unit (``""`` for a share or a count).
        label: The axis title of the dashboard and the report.
        scale: ``"log"`` or ``"linear"``: how the hypervolume measures it.
        reference: The hypervolume reference point, in the objective's unit.
        read: ``read(report, metrics)``; by default ``metrics[name]``.
    """

    name: str
    direction: str
    unit: str = ""
    label: str = ""
    scale: str = "log"
    reference: float = 1.0
    read: Reader | None = field(default=None, compare=False, repr=False)

    def value(self, report: Any, metrics: Mapping[str, Any]) -> float:
        """The objective's value for an evaluated design."""
        reader = self.read or _from_metrics(self.name)
        return float(reader(report, metrics))

    def spec(self, reference: float | None = None) -> ObjectiveSpec:
        """The :class:`~dse.pareto.ObjectiveSpec` a study stores (its own reference, or
        ``reference`` when the config overrides it)."""
        ref = self.reference if reference is None else float(reference)
        return ObjectiveSpec(self.name, self.direction, self.scale, ref)

    @property
    def title(self) -> str:
        """The axis title: the label, else the name."""
        return self.label or self.name


_OBJECTIVES: Registry[Objective] = Registry(
    "register_objective",
    lambda name, choices: f"objective {name!r} is not registered; choose one of {choices}",
    group="adapex.objectives",
    adopt=lambda name, obj: register_objective(
        named_entry(name, obj, Objective, "an Objective", DseError)
    ),
    error=DseError,
)


def register_objective(objective: Objective) -> Objective:
    """Make ``objective.name`` usable in ``[objectives] names``.

    Raises:
        DseError: the name is taken, or the direction or scale is unknown.
    """
    if objective.direction not in DIRECTIONS:
        raise DseError(
            f"register_objective: direction={objective.direction!r}; choose one of "
            f"{', '.join(DIRECTIONS)}"
        )
    if objective.scale not in SCALES:
        raise DseError(
            f"register_objective: scale={objective.scale!r}; choose one of {', '.join(SCALES)}"
        )
    if objective.scale == "log" and not objective.reference > 0:
        raise DseError(
            f"register_objective: reference={objective.reference!r} must be > 0 on a log scale"
        )
    return _OBJECTIVES.register(objective.name, objective)


def get_objective(name: str) -> Objective:
    """The registered objective ``name``.

    Raises:
        DseError: no objective has that name (names the ones there are).
    """
    return _OBJECTIVES.lookup(name)


def objective_names() -> list[str]:
    """The registered objectives' names (installed plugins' included), sorted."""
    return _OBJECTIVES.names()


for _objective in (
    Objective("accuracy", "maximize", "", "accuracy", "linear", 0.0),
    Objective(
        "throughput_fps",
        "maximize",
        "inferences/s",
        "throughput (inferences/s)",
        read=_from_report("throughput_fps"),
    ),
    Objective(
        "energy_per_inference_j",
        "minimize",
        "J",
        "energy per inference (J)",
        read=_from_report("energy_per_inference_j"),
    ),
    Objective(
        "latency_s", "minimize", "s", "mean latency (s)", read=_from_report("mean_latency_s")
    ),
    Objective("edp", "minimize", "J*s", "energy-delay product (J*s)", read=_from_report("edp")),
    Objective(
        "power_w", "minimize", "W", "power (W)", reference=100.0, read=_from_report("power_w")
    ),
    Objective("LUT", "minimize", "", "LUT", reference=1e7, read=_from_total("LUT")),
    Objective("BRAM_18K", "minimize", "", "BRAM_18K", reference=1e5, read=_from_total("BRAM_18K")),
    Objective("DSP", "minimize", "", "DSP", reference=1e5, read=_from_total("DSP")),
):
    register_objective(_objective)

__all__ = [
    "Objective",
    "Reader",
    "get_objective",
    "objective_names",
    "register_objective",
]
