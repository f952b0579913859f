"""TrainPoint: the one design point that ``adapex train`` trains, prunes and calibrates.

Read from the ``[train]`` table of a TOML file (other top-level tables, e.g. a full study
config, are ignored; any unknown key inside ``[train]`` is an error)::

    [train]
    dataset = "digits"        # digits | cifar10 | svhn | npz | imagefolder
    path = "..."              # dataset path (not for digits)
    image_size = 16           # resize (digits: upsampling); omit for the native size
    family = "cnv"            # cnv | tfc
    width_mult = 0.25
    weight_bits = 2
    act_bits = 2
    exits = [0, 1, 2]         # exits in use (default: every candidate exit)
    pruning = 0.0             # rate in [0, 1), or one per prunable layer
    thresholds = 0.9          # one number for all exits, or one per exit in use
    epochs = 15               # ... and any other TrainRecipe field
"""

from __future__ import annotations

import math
import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from dse.accuracy.prune import normalise_rates
from dse.accuracy.recipe import TrainRecipe
from dse.errors import DseError
from search_spaces.families.arch import ALLOWED_BITS

RECIPE_FIELDS = TrainRecipe.field_names()


class TrainPoint(BaseModel):
    """A design point for ``adapex train`` (see the module docstring for the TOML form); a
    pydantic model like the study config and the recipe.

    Attributes:
        dataset: Dataset name.
        path: Dataset path (``None`` for the bundled digits).
        image_size: Resize to ``image_size`` x ``image_size`` (``None``: native).
        family: Model family name.
        width_mult: Multiplier on the family's base widths.
        weight_bits: Weight bit width.
        act_bits: Activation bit width.
        exits: Exits in use (``None``: every candidate exit of the family).
        pruning: Pruning rate, or one per prunable layer.
        thresholds: One threshold for all exits in use, or one per exit.
        recipe: Training recipe.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    dataset: str = "digits"
    path: str | None = None
    image_size: int | None = None
    family: str = "cnv"
    width_mult: float = 0.25
    weight_bits: int = 2
    act_bits: int = 2
    exits: tuple[int, ...] | None = None
    pruning: float | tuple[float, ...] = 0.0
    thresholds: float | tuple[float, ...] = 0.9
    recipe: TrainRecipe = Field(default_factory=TrainRecipe.quickstart)

    @field_validator("dataset", "family", "path", mode="before")
    @classmethod
    def _name(cls, v: Any, info: ValidationInfo) -> Any:
        if v is None and info.field_name == "path":
            return v
        if not isinstance(v, str) or not v:
            raise ValueError(f"train.{info.field_name}={v!r}: must be a non-empty string")
        return v

    @field_validator("image_size", "weight_bits", "act_bits", mode="before")
    @classmethod
    def _count(cls, v: Any, info: ValidationInfo) -> Any:
        if v is None and info.field_name == "image_size":
            return v
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"train.{info.field_name}={v!r}: must be an integer >= 1")
        if info.field_name != "image_size" and v not in ALLOWED_BITS:
            raise ValueError(
                f"train.{info.field_name}={v}: unsupported; choose one of {ALLOWED_BITS}"
            )
        return v

    @field_validator("width_mult", mode="before")
    @classmethod
    def _width(cls, v: Any) -> Any:
        if (
            isinstance(v, bool)
            or not isinstance(v, (int, float))
            or not math.isfinite(v)
            or not 0 < v <= 8
        ):
            raise ValueError(f"train.width_mult={v!r}: must be a number in (0, 8]")
        return float(v)

    @field_validator("exits", mode="before")
    @classmethod
    def _exits(cls, v: Any) -> Any:
        if v is None:
            return v
        if not isinstance(v, (list, tuple)) or any(
            isinstance(e, bool) or not isinstance(e, int) or e < 0 for e in v
        ):
            raise ValueError(f"train.exits={v!r}: must be a list of exit indices (>= 0)")
        if len(set(v)) != len(v):
            raise ValueError(f"train.exits={list(v)}: each exit may appear once")
        return tuple(sorted(v))

    @field_validator("pruning", mode="before")
    @classmethod
    def _pruning(cls, v: Any) -> Any:
        try:
            return normalise_rates(v)
        except DseError as exc:
            raise ValueError(f"train.{exc}") from None

    @field_validator("thresholds", mode="before")
    @classmethod
    def _thresholds(cls, v: Any) -> Any:
        vals = v if isinstance(v, (list, tuple)) else [v]
        for x in vals:
            if (
                isinstance(x, bool)
                or not isinstance(x, (int, float))
                or not math.isfinite(x)
                or not 0 <= x <= 1
            ):
                raise ValueError(f"train.thresholds={v!r}: thresholds must be numbers in [0, 1]")
        return tuple(float(x) for x in v) if isinstance(v, (list, tuple)) else float(v)

    @classmethod
    def quickstart(cls) -> TrainPoint:
        """The quickstart study's point: digits at 16x16 on the small CNV at W2A2, every
        candidate exit, unpruned, the quickstart recipe (so that `adapex train` after
        `adapex run` reuses the study's checkpoints rather than training a model of its own)."""
        return cls(image_size=16)

    @classmethod
    def from_dict(cls, table: dict[str, Any], *, where: str = "train") -> TrainPoint:
        """Validate a ``[train]`` table: the point's keys and any recipe field, flat.

        Raises:
            DseError: an unknown key or an invalid value (one line naming ``train.<key>``).
        """
        if not isinstance(table, dict):
            raise DseError(f"{where}: must be a table of keys")
        point_keys = set(cls.model_fields) - {"recipe"}
        for key in table:
            if key not in point_keys and key not in RECIPE_FIELDS:
                raise DseError(
                    f"{where}.{key}: unknown key; allowed: "
                    f"{', '.join(sorted(point_keys | set(RECIPE_FIELDS)))}"
                )
        kw: dict[str, Any] = {k: v for k, v in table.items() if k in point_keys}
        recipe_kw = {k: table[k] for k in RECIPE_FIELDS if k in table}
        if recipe_kw:
            try:
                kw["recipe"] = TrainRecipe.quickstart().with_(**recipe_kw)
            except DseError as exc:
                raise DseError(str(exc).replace("recipe.", f"{where}.", 1)) from None
        try:
            return cls(**kw)
        except ValidationError as exc:
            msg = exc.errors()[0]["msg"].removeprefix("Value error, ")
            raise DseError(msg.replace("train.", f"{where}.", 1)) from None

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> TrainPoint:
        """Read the ``[train]`` table of a TOML file.

        Raises:
            DseError: unreadable TOML, no ``[train]`` table, an unknown key or a bad value.
        """
        p = Path(path)
        if p.is_dir():
            raise DseError(
                f"`config` {p}: is a folder; give a TOML file (e.g. examples/point.toml)",
                arguments=("config",),
            )
        try:
            doc = tomllib.loads(p.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise DseError(f"`config` {p}: file not found", arguments=("config",)) from exc
        except (OSError, UnicodeDecodeError) as exc:
            raise DseError(
                f"`config` {p}: cannot read ({type(exc).__name__})", arguments=("config",)
            ) from exc
        except tomllib.TOMLDecodeError as exc:
            raise DseError(f"`config` {p}: invalid TOML ({exc})", arguments=("config",)) from exc
        for key, value in doc.items():
            if key != "train" and not isinstance(value, dict):
                raise DseError(f"{key}: unknown top-level key; put training options in [train]")
        if "train" not in doc:
            raise DseError(
                f"`config` {p}: no [train] table; add one (see `adapex train --help`)",
                arguments=("config",),
            )
        return cls.from_dict(doc["train"])

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (recipe fields flattened, like the TOML table)."""
        out: dict[str, Any] = {
            "dataset": self.dataset,
            "path": self.path,
            "image_size": self.image_size,
            "family": self.family,
            "width_mult": self.width_mult,
            "weight_bits": self.weight_bits,
            "act_bits": self.act_bits,
            "exits": list(self.exits) if self.exits is not None else None,
            "pruning": list(self.pruning) if isinstance(self.pruning, tuple) else self.pruning,
            "thresholds": list(self.thresholds)
            if isinstance(self.thresholds, tuple)
            else self.thresholds,
        }
        out.update(self.recipe.to_dict())
        return out


@dataclass
class PreparedPoint:
    """A validated point with its data and architecture (nothing written yet)."""

    point: TrainPoint
    data: Any
    arch: Any
    exits: list[int]
    pruning: Any


def prepare_point(point: TrainPoint, *, seed: int = 0) -> PreparedPoint:
    """Validate a point against its family and dataset (reads the dataset; writes nothing).

    Raises:
        InputError: unknown family/dataset, an exit that does not exist, thresholds that
            do not match the exits, pruning rates of the wrong length.
    """
    from search_spaces import get_family, load_dataset

    family = get_family(point.family)
    if point.path is None:
        data = load_dataset(point.dataset, seed=seed, image_size=point.image_size)
    else:
        data = load_dataset(point.dataset, point.path, seed=seed, image_size=point.image_size)
    arch = family.default_arch(
        data.input_shape,
        data.num_classes,
        width_mult=point.width_mult,
        weight_bits=point.weight_bits,
        act_bits=point.act_bits,
        exits=None,
    )
    cands = list(family.candidate_exits(arch))
    exits = list(point.exits) if point.exits is not None else cands
    for e in exits:
        if e not in cands:
            raise DseError(
                f"train.exits: exit {e} does not exist in {point.family}; candidates are {cands}"
            )
    if isinstance(point.thresholds, tuple) and len(point.thresholds) != len(exits):
        raise DseError(
            f"train.thresholds: {len(point.thresholds)} value(s) for {len(exits)} exit(s) "
            f"{exits}; give one per exit or a single number"
        )
    try:
        pruning = normalise_rates(point.pruning, len(arch.widths))
    except DseError as exc:
        raise DseError(f"train.{exc}") from exc
    check_buildable_arch(family, arch, "train.act_bits", point.dataset, exits)
    return PreparedPoint(point, data, arch, exits, pruning)


def check_buildable_arch(
    family: Any, arch: Any, field: str, dataset: str, exits: list[int] | None = None
) -> None:
    """Refuse, before training, an architecture whose accelerator FINN cannot build
    (hw_builders.legality), naming the config ``field`` and the bit widths.

    Raises:
        DseError: one line naming the combination, why FINN refuses it and the fix.
    """
    from hw_builders import check_buildable
    from hw_builders.errors import HwError

    shape = "x".join(str(d) for d in arch.input_shape[1:])
    what = (
        f"{field}: W{arch.weight_bits}A{arch.act_bits} of {family.name} on {dataset} at "
        f"{shape} (padding {arch.padding!r})"
    )
    try:
        check_buildable(family.lower(arch, exits=exits), what)
    except HwError as exc:
        raise DseError(str(exc)) from None


def run_point(
    prepared: PreparedPoint,
    *,
    cache_dir: str | os.PathLike[str] | None,
    device: str = "auto",
    seed: int = 0,
    out_dir: str | os.PathLike[str] | None = None,
) -> dict[str, Any]:
    """Train, prune, calibrate and export one design point.

    Returns:
        ``{"exits": [{"index", "threshold", "exit_fraction", "accuracy"}], "accuracy",
        "checkpoint", "qonnx"}`` plus ``"details"`` (arch, widths, per-exit test accuracy,
        threshold table) for the human-readable output.
    """
    from dse.accuracy.pipeline import AccuracyPipeline
    from dse.accuracy.qonnx_export import export_qonnx
    from dse.design import load_design_model

    pipe = AccuracyPipeline(
        prepared.data,
        cache_dir=cache_dir,
        device=device,
        seed=seed,
        recipe=prepared.point.recipe,
    )
    result = pipe.evaluate(prepared.arch, prepared.pruning)
    ev = result.profile.evaluate(prepared.point.thresholds, prepared.exits)
    design = load_design_model(result.arch, result.checkpoint, prepared.exits)
    target = Path(out_dir) if out_dir is not None else result.checkpoint.parent
    name = "design_exits_" + ("-".join(str(e) for e in ev.exits[:-1]) or "none") + ".onnx"
    onnx_path = export_qonnx(design, target / name, sample=prepared.data.x_test[:4])
    rows = []
    for idx, thr, frac, acc in zip(
        ev.exits, ev.thresholds, ev.exit_fraction, ev.exit_accuracy, strict=True
    ):
        rows.append(
            {
                "index": idx,
                "threshold": thr,
                "exit_fraction": frac,
                "accuracy": None if math.isnan(acc) else acc,
            }
        )
    return {
        "exits": rows,
        "accuracy": ev.accuracy,
        "checkpoint": str(result.checkpoint),
        "qonnx": str(onnx_path),
        "details": {
            "arch": result.arch.to_dict(),
            "metrics": result.metrics,
            "reach": ev.reach,
        },
    }
