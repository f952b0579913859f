"""Study configuration: a TOML file validated with pydantic (unknown keys rejected).

``load_config(path)`` reads and validates a file; ``load_config(None)`` returns the built-in
``quickstart`` (``dse/configs/quickstart.toml``: digits, a small CNV at W2A2 with three
candidate exits, four pruning rates, exit thresholds, folding budgets and two clocks on a
Pynq-Z1). ``examples/study.toml`` documents every key. Every validation failure is a
one-line :class:`dse.errors.DseError` naming the key and the fix.
"""

from __future__ import annotations

import math
import os
import tomllib
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from dse.errors import DseError
from dse.objectives import get_objective, objective_names
from dse.pareto import ObjectiveSpec
from dse.runtime.table import DEFAULT_SELECT
from hw_builders.devices import DEFAULT_BOARD
from search_spaces.families.arch import ALLOWED_BITS

QUICKSTART = "quickstart"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Range(_Model):
    """A numeric range ``low..high``; with ``step`` it is a finite grid (enumerable)."""

    low: float
    high: float
    step: float | None = None
    log: bool = False

    @model_validator(mode="after")
    def _check(self) -> Range:
        if not (math.isfinite(self.low) and math.isfinite(self.high)) or self.high < self.low:
            raise ValueError("needs finite low <= high")
        if self.step is not None and self.step <= 0:
            raise ValueError("step must be > 0")
        if self.log and (self.low <= 0 or self.step is not None):
            raise ValueError("log ranges need low > 0 and no step")
        return self

    def values(self) -> list[float] | None:
        """The grid of values, or None when the range is continuous."""
        if self.step is None:
            return [self.low] if self.low == self.high else None
        n = int(math.floor((self.high - self.low) / self.step + 1e-9))
        return [round(self.low + i * self.step, 10) for i in range(n + 1)]


Knob = list[float] | Range


def knob_values(knob: Knob) -> list[float] | None:
    """The finite values of a knob (a list, or a range with a step); None if continuous."""
    return list(knob) if isinstance(knob, list) else knob.values()


def _check_knob(knob: Knob, lo: float, hi: float, *, hi_open: bool = False) -> Knob:
    values = list(knob) if isinstance(knob, list) else [knob.low, knob.high]
    if isinstance(knob, list) and not knob:
        raise ValueError("give at least one value")
    for v in values:
        if not math.isfinite(v) or v < lo or v > hi or (hi_open and v >= hi):
            bound = f"[{lo}, {hi})" if hi_open else f"[{lo}, {hi}]"
            raise ValueError(f"{v} is out of range; values must lie in {bound}")
    return knob


def _registered(value: str, names: list[str], what: str) -> str:
    """``value`` when it is one of a registry's ``names``; else the one-line error."""
    if value not in names:
        raise ValueError(f"{value!r} is not {what}; choose one of {', '.join(names)}")
    return value


def study_name_problem(name: str) -> str | None:
    """Why ``name`` cannot name a study (None when it can): printable text of 1 to 200
    characters, without line breaks, tabs or surrounding spaces."""
    if not isinstance(name, str) or not 1 <= len(name) <= 200:
        return f"{name!r}: a study name has 1 to 200 characters"
    if not name.isprintable() or name != name.strip():
        return (
            f"{name!r}: a study name is printable text without line breaks, tabs or "
            "surrounding spaces"
        )
    return None


class StudySection(_Model):
    """``[study]``: name, seed, sampler, the number of trainings (``trials``: each trial
    trains one model, whose designs the inner step finds) and the inner step's limit."""

    name: str = Field(default=QUICKSTART, min_length=1, max_length=200)
    seed: int = Field(default=0, ge=0, le=2**31 - 1)
    sampler: str = "tpe"
    population_size: int = Field(default=12, ge=2, le=10_000)
    trials: int = Field(default=40, ge=1, le=1_000_000)
    timeout_s: float | None = Field(default=None, gt=0)
    # designs evaluated per trained model at most: exhaustive below it, an optimiser above
    inner_limit: int = Field(default=4096, ge=16, le=10_000_000)

    @field_validator("sampler")
    @classmethod
    def _sampler(cls, v: str) -> str:
        from dse.study.samplers import sampler_names

        return _registered(v, sampler_names(), "a sampler")

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        problem = study_name_problem(v)
        if problem:
            raise ValueError(problem)
        return v


class StorageSection(_Model):
    """``[storage]``: database URL and the heartbeat/retry of stale trials."""

    url: str = "sqlite:///studies.db"
    heartbeat_interval_s: int = Field(default=10, ge=1, le=3600)
    grace_period_s: int | None = Field(default=None, ge=2, le=86_400)
    max_retry: int = Field(default=2, ge=0, le=100)


class DatasetSection(_Model):
    """``[dataset]``: which data the models are trained on (never downloaded) and its three
    disjoint splits: train (training and fine-tuning), calibration (every choice: the
    accuracy objective, the designs, the runtime table and its guarantees) and test (held
    out, read by no choice; reported beside the calibration figures).

    ``calibration_fraction`` is the calibration split's share of the training pool
    (``val_fraction``, its earlier name, is read the same); ``test_fraction`` the test
    split's share where the source has no official test set (CIFAR-10, SVHN and npz files
    with ``x_test`` keep theirs)."""

    name: str = "digits"
    path: str | None = None
    image_size: int | None = Field(default=None, ge=4, le=1024)
    seed: int = Field(default=0, ge=0)
    limit: int | None = Field(default=None, ge=10)
    calibration_fraction: float = Field(default=0.15, gt=0, lt=0.5)
    test_fraction: float = Field(default=0.2, gt=0, lt=0.5)

    @model_validator(mode="before")
    @classmethod
    def _earlier_name(cls, data: Any) -> Any:
        if isinstance(data, dict) and "val_fraction" in data:
            if "calibration_fraction" in data:
                raise ValueError(
                    "calibration_fraction and val_fraction name the same split; keep "
                    "calibration_fraction"
                )
            data = {**data, "calibration_fraction": data["val_fraction"]}
            del data["val_fraction"]
        return data


def model_options() -> list[str]:
    """The keys ``[model] options`` may hold: the keyword arguments of a family's
    ``default_arch`` that the other ``[model]`` keys do not set."""
    import inspect

    from search_spaces.families.base import Family

    own = {"width_mult", "weight_bits", "act_bits", "exits"}
    params = inspect.signature(Family.default_arch).parameters.values()
    return [p.name for p in params if p.kind == p.KEYWORD_ONLY and p.name not in own]


class ModelSection(_Model):
    """``[model]``: the model family, its size, bit widths (sampled if several) and exits."""

    family: str = "cnv"
    width_mult: float = Field(default=0.25, gt=0, le=4)
    weight_bits: list[int] = Field(default_factory=lambda: [2], min_length=1)
    act_bits: list[int] = Field(default_factory=lambda: [2], min_length=1)
    candidate_exits: list[int] | None = None
    options: dict[str, Any] = Field(default_factory=dict)

    @field_validator("family")
    @classmethod
    def _family(cls, v: str) -> str:
        from search_spaces.families.registry import family_names

        return _registered(v, family_names(), "a model family")

    @field_validator("weight_bits", "act_bits")
    @classmethod
    def _bits(cls, v: list[int]) -> list[int]:
        for b in v:
            if b not in ALLOWED_BITS:
                raise ValueError(f"{b} bits is not supported; choose among 1, 2, 4, 8")
        if len(set(v)) != len(v):
            raise ValueError("values must be unique")
        return sorted(v)

    @field_validator("options")
    @classmethod
    def _options(cls, v: dict[str, Any]) -> dict[str, Any]:
        known = model_options()
        for key in v:
            if key not in known:
                raise ValueError(
                    f"unknown option {key!r}; the families take {', '.join(known)} "
                    "(width_mult, weight_bits, act_bits and candidate_exits are [model] keys)"
                )
        return v

    @field_validator("candidate_exits")
    @classmethod
    def _exits(cls, v: list[int] | None) -> list[int] | None:
        if v is None:
            return v
        if any(e < 0 for e in v) or len(set(v)) != len(v):
            raise ValueError("exit indices must be unique and >= 0")
        return sorted(v)


class PruningSection(_Model):
    """``[pruning]``: uniform (one rate) or per block (one rate per prunable layer)."""

    mode: Literal["uniform", "per_block"] = "uniform"
    rates: Knob = Field(default_factory=lambda: [0.0, 0.25, 0.5, 0.75])

    @field_validator("rates")
    @classmethod
    def _rates(cls, v: Knob) -> Knob:
        return _check_knob(v, 0.0, 1.0, hi_open=True)


class ExitsSection(_Model):
    """``[exits]``: exit subsets are sampled from the candidates; thresholds per exit."""

    thresholds: Knob = Field(default_factory=lambda: [0.7, 0.8, 0.9, 0.95, 0.99])
    allow_none: bool = True

    @field_validator("thresholds")
    @classmethod
    def _thr(cls, v: Knob) -> Knob:
        return _check_knob(v, 0.0, 1.0)


class FoldingSection(_Model):
    """``[folding]``: ``optimised`` (FINN-legal optimiser under a sampled resource budget or
    target fps) and/or ``sampled`` (PE/SIMD per layer drawn from the legal divisors).

    ``budget``: shares of each resource's usable amount (the device times ``[hardware]
    max_utilisation``), as ``adapex hw fold --budget`` is with ``--max-utilisation``."""

    strategies: list[Literal["optimised", "sampled"]] = Field(
        default_factory=lambda: ["optimised"],  # type: ignore[arg-type]  # a list of literals
        min_length=1,
    )
    budget: Knob = Field(default_factory=lambda: [0.25, 0.5, 0.75, 1.0])
    target_fps: list[float] = Field(default_factory=list)

    @field_validator("budget")
    @classmethod
    def _budget(cls, v: Knob) -> Knob:
        return _check_knob(v, 0.01, 1.0)

    @field_validator("target_fps")
    @classmethod
    def _fps(cls, v: list[float]) -> list[float]:
        if any(not math.isfinite(f) or f <= 0 for f in v):
            raise ValueError("target fps values must be > 0")
        return v

    @field_validator("strategies")
    @classmethod
    def _unique(cls, v: list[str]) -> list[str]:
        if len(set(v)) != len(v):
            raise ValueError("strategies must be unique")
        return v


class HardwareSection(_Model):
    """``[hardware]``: the target (a board or a part) and the clock periods to sample."""

    board: str | None = DEFAULT_BOARD
    part: str | None = None
    # with `part`, for a part the device catalogue lacks (or to override its figures):
    # {LUT = .., BRAM_18K = .., URAM = .., DSP = ..}; FF optional
    resources: dict[str, int] | None = None
    clk_ns: Knob = Field(default_factory=lambda: [10.0, 5.0])
    buffer_depth: int | None = Field(default=None, ge=1)
    # Highest utilisation per resource that still counts as fitting the device: FINN's
    # estimates leave out routing, and designs much above ~85% LUT rarely close timing.
    # The folding budget is a share of these usable amounts.
    max_utilisation: dict[str, float] = Field(
        default_factory=lambda: {"LUT": 0.85, "BRAM_18K": 0.9, "URAM": 0.9, "DSP": 0.9}
    )
    # the host's link to the accelerator's streams, measured on the board (e.g. with
    # hw_builders.host.calibrate): {bandwidth_mb_s = .., decision_us = ..}; default: the
    # figures hw_builders.host assumes for the part's family
    host_link: dict[str, float] | None = None

    @field_validator("host_link")
    @classmethod
    def _host_link(cls, v: dict[str, float] | None) -> dict[str, float] | None:
        if v is None:
            return None
        keys = {"bandwidth_mb_s", "decision_us"}
        if set(v) != keys:
            raise ValueError("give {bandwidth_mb_s = .., decision_us = ..} (both, nothing else)")
        if not (v["bandwidth_mb_s"] > 0 and v["decision_us"] >= 0):
            raise ValueError("bandwidth_mb_s must be > 0 and decision_us >= 0")
        return {k: float(x) for k, x in v.items()}

    def link(self) -> Any:
        """The configured ``hw_builders.HostLink`` (None: the part family's assumed one)."""
        if self.host_link is None:
            return None
        from hw_builders.host import HostLink

        return HostLink(
            self.host_link["bandwidth_mb_s"] * 1e6,
            self.host_link["decision_us"] * 1e-6,
            "[hardware] host_link of the study config",
        )

    @field_validator("clk_ns")
    @classmethod
    def _clk(cls, v: Knob) -> Knob:
        return _check_knob(v, 1.0, 100.0)

    @field_validator("max_utilisation")
    @classmethod
    def _limits(cls, v: dict[str, float]) -> dict[str, float]:
        known = ("LUT", "BRAM_18K", "URAM", "DSP")
        for key, share in v.items():
            if key not in known:
                raise ValueError(f"unknown resource {key!r}; use {', '.join(known)}")
            if not (0.0 < share <= 1.0):
                raise ValueError(f"{key}={share}: must be a share in (0, 1]")
        return {**{k: 1.0 for k in known}, **v}

    @field_validator("resources")
    @classmethod
    def _resources(cls, v: dict[str, int] | None) -> dict[str, int] | None:
        if v is None:
            return None
        from hw_builders import HwError
        from hw_builders.devices import parse_resources

        try:
            return parse_resources(v)
        except HwError as exc:
            raise ValueError(str(exc).removeprefix("resources: ")) from None

    @model_validator(mode="before")
    @classmethod
    def _part_replaces_default_board(cls, data: Any) -> Any:
        # TOML has no null: a config that names a part (and no board) must not keep the
        # default board, or no TOML file could ever select a part
        if isinstance(data, dict) and data.get("part") is not None and "board" not in data:
            return {**data, "board": None}
        return data

    @model_validator(mode="after")
    def _target(self) -> HardwareSection:
        if self.board is not None and self.part is not None:
            raise ValueError(
                f"board {self.board!r} and part {self.part!r} both given; keep one of them"
            )
        if self.board is None and self.part is None:
            raise ValueError('give board = "..." (see `adapex hw boards`) or part = "..."')
        if self.resources is not None and self.part is None:
            raise ValueError('resources describe a part: give part = "..." instead of board')
        if self.part is not None:
            from hw_builders import HwError, get_device

            try:
                get_device(part=self.part, resources=self.resources)
            except HwError as exc:
                raise ValueError(str(exc)) from None
        return self


class RuntimeSection(_Model):
    """``[runtime]``: how the runtime manager selects among the configurations that sustain
    the load above the accuracy threshold: least ``energy`` per inference (default), least
    service ``edp``, least ``latency``, or the highest guaranteed ``accuracy`` (``adapex
    runtime ... --select`` overrides it);
    and ``confidence``, the delta of its accuracy guarantees: a configuration serves an
    accuracy threshold only when it holds it with probability ``1 - confidence``
    (``--confidence`` overrides it)."""

    select: str = DEFAULT_SELECT
    confidence: float = Field(default=0.05, gt=0.0, lt=0.5)

    @field_validator("select")
    @classmethod
    def _select(cls, v: str) -> str:
        from dse.runtime.table import OBJECTIVES

        return _registered(v, list(OBJECTIVES), "a selection objective")


class ObjectivesSection(_Model):
    """``[objectives]``: metric names (direction from the metric), an optional minimum
    accuracy (a constraint, like fitting the device) and hypervolume reference overrides."""

    names: list[str] = Field(
        default_factory=lambda: ["accuracy", "throughput_fps", "energy_per_inference_j"],
        min_length=1,
    )
    min_accuracy: float | None = Field(default=None, ge=0, le=1)
    reference: dict[str, float] = Field(default_factory=dict)

    @field_validator("names")
    @classmethod
    def _names(cls, v: list[str]) -> list[str]:
        for n in v:
            _registered(n, objective_names(), "an objective")
        if len(set(v)) != len(v):
            raise ValueError("objective names must be unique")
        return v

    @model_validator(mode="after")
    def _refs(self) -> ObjectivesSection:
        for name, value in self.reference.items():
            if name not in self.names:
                raise ValueError(f"reference for {name!r}, which is not an objective")
            if not math.isfinite(value):
                raise ValueError(f"reference for {name!r} must be finite")
            if get_objective(name).scale == "log" and value <= 0:
                raise ValueError(f"reference for {name!r} must be > 0 (log scale)")
        return self

    def specs(self) -> list[ObjectiveSpec]:
        """The objectives with their direction, scale and hypervolume reference."""
        return [get_objective(n).spec(self.reference.get(n)) for n in self.names]


class StudyConfig(_Model):
    """A whole study configuration (see examples/study.toml)."""

    study: StudySection = Field(default_factory=StudySection)
    storage: StorageSection = Field(default_factory=StorageSection)
    dataset: DatasetSection = Field(default_factory=DatasetSection)
    model: ModelSection = Field(default_factory=ModelSection)
    training: dict[str, Any] = Field(default_factory=dict)
    pruning: PruningSection = Field(default_factory=PruningSection)
    exits: ExitsSection = Field(default_factory=ExitsSection)
    folding: FoldingSection = Field(default_factory=FoldingSection)
    hardware: HardwareSection = Field(default_factory=HardwareSection)
    objectives: ObjectivesSection = Field(default_factory=ObjectivesSection)
    runtime: RuntimeSection = Field(default_factory=RuntimeSection)
    cache_dir: str | None = None

    @field_validator("training")
    @classmethod
    def _training(cls, v: dict[str, Any]) -> dict[str, Any]:
        from dse.accuracy.recipe import TrainRecipe

        try:
            TrainRecipe.from_dict(dict(v))
        except DseError as exc:
            raise ValueError(str(exc).replace("recipe.", "")) from None
        return v

    def with_(self, **sections: Any) -> StudyConfig:
        """Copy with some top-level keys replaced (validated again)."""
        data = self.model_dump()
        for key, value in sections.items():
            if isinstance(value, dict) and isinstance(data.get(key), dict):
                if key == "hardware" and ("board" in value or "part" in value):
                    # a new target replaces the old one (board and part exclude each other)
                    data[key] = {k: v for k, v in data[key].items() if k not in ("board", "part")}
                data[key] = {**data[key], **value}
            else:
                data[key] = value
        return parse_config(data, "override")

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable dict (stored with the study, read back by workers)."""
        return self.model_dump(mode="json")


def _describe(exc: ValidationError, source: str) -> str:
    errors = exc.errors()
    # For union knobs (a list or a range table) report the branch that matches the input.
    specific = [e for e in errors if e["type"] not in ("list_type", "model_type", "dict_type")]
    err = (specific or errors)[0]
    parts = [
        str(p)
        for p in err["loc"]
        if str(p) not in ("Range", "list[float]", "list[int]")
        and not str(p).startswith("function-")
    ]
    loc = ".".join(parts)
    kind = err["type"]
    if kind == "extra_forbidden":
        section, _, key = loc.rpartition(".")
        where = f"[{section}]" if section else "the top level"
        return f"config {source}: unknown key {key!r} in {where}; remove it or fix its spelling (see examples/study.toml)"
    msg = err["msg"].removeprefix("Value error, ")
    return f"config {source}: {loc or 'value'}: {msg}; fix it (see examples/study.toml)"


def parse_config(data: dict[str, Any], source: str = "<dict>") -> StudyConfig:
    """Validate a config dict.

    Raises:
        DseError: one line naming the offending key and the fix.
    """
    try:
        return StudyConfig.model_validate(data)
    except ValidationError as exc:
        raise DseError(_describe(exc, source)) from None


def quickstart_text() -> str:
    """The built-in quickstart TOML."""
    return resources.files("dse.configs").joinpath("quickstart.toml").read_text()


def load_config(path: str | os.PathLike[str] | None = None) -> StudyConfig:
    """Read and validate a study TOML file; None (or ``"quickstart"``) gives the quickstart.

    Raises:
        DseError: the file is missing or unreadable, not TOML, or fails validation.
    """
    if path is None or str(path) == QUICKSTART:
        return parse_config(tomllib.loads(quickstart_text()), QUICKSTART)
    p = Path(path)
    if p.is_dir():
        raise DseError(f"config {p}: is a folder; give a TOML file (e.g. examples/study.toml)")
    if not p.is_file():
        raise DseError(
            f"config {p}: no such file; give an existing TOML file or omit `config`",
            arguments=("config",),
        )
    try:
        data = tomllib.loads(p.read_text())
    except (OSError, UnicodeDecodeError) as exc:
        raise DseError(f"config {p}: cannot read it ({exc}); check the file") from None
    except tomllib.TOMLDecodeError as exc:
        raise DseError(f"config {p}: not valid TOML ({exc}); fix the syntax") from None
    return parse_config(data, str(p))
