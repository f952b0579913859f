"""The stored design: one evaluated design with everything needed to rebuild and cost it.

:class:`DesignRecord` is what the study stores (:mod:`dse.storage`) and what the runtime,
the export and the dashboard read. Its :meth:`~DesignRecord.graph`,
:meth:`~DesignRecord.folding_config`, :meth:`~DesignRecord.report` and
:meth:`~DesignRecord.hardware` parse the stored JSON into hw_builders' types once, here, so
no reader parses the record's dicts by hand.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dse.design.cost import Hardware
    from hw_builders.devices import Device
    from hw_builders.folding.config import FoldingConfig
    from hw_builders.graph import HwGraph
    from hw_builders.host import HostLink
    from hw_builders.stages import StagedReport


def pruning_rate_of(params: Mapping[str, Any]) -> float | None:
    """The mean structured-pruning rate of a design's parameters (``DesignPoint.to_params``:
    ``pruning`` is one rate, or one per prunable layer), or None where they name none."""
    v = (params or {}).get("pruning")
    if isinstance(v, (list, tuple)):
        vals = [float(x) for x in v if _number(x)]
        return sum(vals) / len(vals) if vals else None
    return float(v) if isinstance(v, (int, float)) and _number(v) else None


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(float(v))


@dataclass
class ModelRecord:
    """One trained model of a study: a training trial's result, shared by its designs.

    Attributes:
        id: Its row id.
        study: The study.
        trial_number: The Optuna trial that trained it (None for a model of an older study).
        key: The checkpoint cache's key of its weights.
        params: Its training knobs (``weight_bits``, ``act_bits``, ``pruning``).
        arch: The pruned architecture (every candidate exit attached).
        checkpoint: Its weights in the checkpoint cache.
        profiles: ``{"format", "calibration": ..., "test": ...}``: the integer model's exit
            profiles (``ExitProfile.to_dict``) on the calibration and test splits.
        metrics: Training and inner-step figures (seconds, designs evaluated, inner mode).
    """

    id: int
    study: str
    trial_number: int | None
    key: str
    params: dict[str, Any]
    arch: dict[str, Any]
    checkpoint: str | None
    profiles: dict[str, Any]
    metrics: dict[str, Any] = field(default_factory=dict)


@dataclass
class DesignRecord:
    """One evaluated design of a study, with everything needed to rebuild it.

    ``objectives`` holds the objective values as Optuna saw them (objective name -> value);
    ``metrics`` every figure the evaluation produced (the calibration split's accuracy
    figures, and the held-out test split's under ``metrics["test"]``). ``pareto`` is True
    for the members of the feasible Pareto front of the study (updated after every
    training). A design of the study is carried by one COMPLETE Optuna trial
    (``trial_number``); a baseline design (``role == "baseline"``) by none.

    ``exit_profile`` and ``test_profile`` are its model's integer profiles on the
    calibration and test splits (read from :class:`ModelRecord`; a design of a study made
    before schema 3 has only ``exit_profile``, measured on its test split).
    """

    id: int
    study: str
    trial_number: int | None
    params: dict[str, Any]
    objectives: dict[str, float]
    metrics: dict[str, Any]
    feasible: bool
    pareto: bool
    arch: dict[str, Any] = field(default_factory=dict)
    exits: list[int] = field(default_factory=list)
    thresholds: list[float] = field(default_factory=list)
    exit_profile: dict[str, Any] = field(default_factory=dict)
    hw_graph: dict[str, Any] = field(default_factory=dict)
    folding: dict[str, Any] = field(default_factory=dict)
    hw_report: dict[str, Any] = field(default_factory=dict)
    board: str | None = None
    part: str = ""
    clk_ns: float = 10.0
    checkpoint: str | None = None
    dataset: dict[str, Any] = field(default_factory=dict)
    provenance: dict[str, Any] = field(default_factory=dict)
    model_id: int | None = None
    role: str = "study"
    test_profile: dict[str, Any] = field(default_factory=dict)

    @property
    def design_id(self) -> int:
        """The design's id, by the name JSON output, library.json and the CLI give it."""
        return self.id

    def __repr__(self) -> str:
        """One line: id, study, W/A, pruning, exits, the objectives (not the stored graphs,
        reports and profiles, which ``dataclasses.asdict`` gives in full)."""
        objectives = ", ".join(f"{k}={v:.4g}" for k, v in self.objectives.items())
        bits = f"W{self.arch.get('weight_bits', '?')}A{self.arch.get('act_bits', '?')}"
        return (
            f"DesignRecord(design_id={self.id}, study={self.study!r}, {bits}, "
            f"pruning={self.params.get('pruning')!r}, exits={self.exits}, "
            f"thresholds={self.thresholds}, {objectives}, pareto={self.pareto})"
        )

    @property
    def profile_split(self) -> str:
        """The split ``exit_profile`` was measured on: ``"calibration"``, or ``"test"`` for
        a design of a study made before schema 3 (one split for choices and figures)."""
        return "calibration" if self.model_id is not None else "test"

    @property
    def pruning_rate(self) -> float | None:
        """The design's mean structured-pruning rate (None when its parameters name none)."""
        return pruning_rate_of(self.params)

    @property
    def device(self) -> Device:
        """The FPGA target the design was costed for (``hw_builders.Device``)."""
        from hw_builders.devices import resolve_device

        return resolve_device(
            board=self.board,
            part=None if self.board else self.part,
            resources=(self.hw_report or {}).get("device_resources"),
        )

    @property
    def clock_note(self) -> str | None:
        """One line when the design's clock is faster than FINN's own builds close on its
        part (``hw_builders.clock_note``), else None."""
        return clock_note_of(self.board, self.part, self.clk_ns)

    @property
    def repeats(self) -> list[int]:
        """Later trials that sampled these same parameters and were answered from this
        design (never evaluated or stored again)."""
        return [int(t) for t in self.provenance.get("repeats", [])]

    @property
    def trial_numbers(self) -> list[int]:
        """Every COMPLETE trial this design answers: its own and, in a study made before
        schema 3, its repeats (none for a baseline design)."""
        if self.trial_number is None:
            return []
        return [int(self.trial_number), *self.repeats]

    @property
    def buffer_depth(self) -> float | None:
        """The inter-stage buffer depth the design was costed with (None: the default;
        ``math.inf``: unbounded)."""
        report = self.hw_report or {}
        if "buffer_depth" not in report:
            return None
        value = report["buffer_depth"]
        return math.inf if value is None else float(value)

    def graph(self) -> HwGraph:
        """The design's minimised hardware graph (``hw_builders.HwGraph``), exits marked.

        Raises:
            HwError: the stored graph is unreadable.
        """
        from hw_builders import load_graph

        return load_graph(self.hw_graph)

    def folding_config(self) -> FoldingConfig:
        """The design's folding (``hw_builders.FoldingConfig``; the field ``folding`` holds
        its stored dict)."""
        from hw_builders.folding.config import FoldingConfig

        return FoldingConfig.from_dict(self.folding or {})

    def report(self) -> StagedReport:
        """The stored staged hardware report (``hw_builders.StagedReport``).

        Raises:
            HwError: the stored report is unreadable.
        """
        from hw_builders.stages import StagedReport

        return StagedReport.from_dict(self.hw_report or {})

    @property
    def host_link(self) -> HostLink | None:
        """The host link the design was costed with (``hw_builders.HostLink``; None for a
        design stored before links were recorded: the part family's assumed one)."""
        from hw_builders.host import HostLink

        link = (self.hw_report or {}).get("host_link")
        return HostLink.from_dict(link) if link else None

    @property
    def limits(self) -> dict[str, float] | None:
        """The utilisation limits the design's ``fits`` was judged against (None for a
        design stored before limits were recorded)."""
        stored = (self.hw_report or {}).get("limits")
        return {k: float(v) for k, v in stored.items()} if stored else None

    def hardware(self, **changes: Any) -> Hardware:
        """What the design is costed from (:class:`dse.design.Hardware`): its graph, folding,
        device, clock, buffer depth, host link and utilisation limits, as stored; ``changes``
        replace some of them (a baseline costed as the study's designs are).

        Args:
            **changes: Fields of :class:`dse.design.Hardware` to replace (``graph``,
                ``folding``, ``clk_ns``, ...).
        """
        from dse.design.cost import Hardware

        fields: dict[str, Any] = {
            "device": self.device,
            "clk_ns": float(self.clk_ns),
            "buffer_depth": self.buffer_depth,
            "limits": self.limits,
            "host": self.host_link,
            **changes,
        }
        if "graph" not in fields:
            fields["graph"] = self.graph()
        if "folding" not in fields:
            fields["folding"] = self.folding_config()
        return Hardware(**fields)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-serialisable dict of every field."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DesignRecord:
        """Build a record from :meth:`to_dict` output (unknown keys are ignored)."""
        names = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in names})


@functools.lru_cache(maxsize=256)
def clock_note_of(board: str | None, part: str | None, clk_ns: float | None) -> str | None:
    """:attr:`DesignRecord.clock_note` of a design's target and clock (a stored dict's
    ``board``, ``part`` and ``clk_ns``); None when either is unknown."""
    from hw_builders.devices import clock_note, resolve_device
    from hw_builders.errors import HwError

    if clk_ns is None or not (board or part):
        return None
    try:
        device = resolve_device(board=board, part=None if board else part)
    except HwError:
        return None
    return clock_note(device, float(clk_ns))
