"""Registry of per-op cost models (hls4ml-style ``@register_op("MVAU")``).

Every op model is a subclass of :class:`OpModel`, one module per op under
``hw_builders/ops/``. An op model knows FINN's attribute names and defaults, the
attributes that folding may set, the legal folding values, and FINN's closed-form
cycle and resource estimates (``get_exp_cycles``, ``lut_estimation``,
``bram_estimation``, ``uram_estimation``, ``dsp_estimation`` and the efficiencies).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from hw_builders.errors import HwError
from hw_builders.plugins import Registry

__all__ = ["LayerCost", "OpModel", "register_op", "get_op", "known_ops", "divisors"]


@dataclass(frozen=True)
class LayerCost:
    """FINN's estimates for one layer (the fields of FINN's per-node resource report)."""

    cycles: int
    LUT: int
    BRAM_18K: int
    BRAM_efficiency: float
    URAM: int
    URAM_efficiency: float
    DSP: int

    def resources(self) -> dict[str, Any]:
        """FINN's ``node_res_estimation`` dict (same key order)."""
        return {
            "BRAM_18K": self.BRAM_18K,
            "BRAM_efficiency": self.BRAM_efficiency,
            "LUT": self.LUT,
            "URAM": self.URAM,
            "URAM_efficiency": self.URAM_efficiency,
            "DSP": self.DSP,
        }


@functools.lru_cache(maxsize=4096)
def divisors(n: int) -> tuple[int, ...]:
    """All positive divisors of ``n`` in increasing order (``()`` for n < 1)."""
    n = int(n)
    if n < 1:
        return ()
    small, large = [], []
    i = 1
    while i * i <= n:
        if n % i == 0:
            small.append(i)
            if i != n // i:
                large.append(n // i)
        i += 1
    return tuple(small + large[::-1])


def fmt_divisors(n: int) -> str:
    """Divisors of n as text for error messages (abbreviated when long)."""
    d = divisors(n)
    if len(d) > 16:
        return ", ".join(str(x) for x in d[:8]) + ", ..., " + ", ".join(str(x) for x in d[-3:])
    return ", ".join(str(x) for x in d)


class OpModel:
    """Base class of a FINN op's analytical model.

    Subclasses set the class attributes and override the estimate methods, which take
    ``a``: the layer's attributes merged over :attr:`defaults`, and ``impl``.
    """

    op_type: ClassVar[str] = ""
    impls: ClassVar[tuple[str, ...]] = ("hls",)
    default_impl: ClassVar[str] = "hls"
    required: ClassVar[tuple[str, ...]] = ()
    defaults: ClassVar[dict[str, Any]] = {}
    fold_attrs: ClassVar[tuple[str, ...]] = ()
    # attributes that must be positive integers / int lists (checked on load)
    int_attrs: ClassVar[tuple[str, ...]] = ()
    choices: ClassVar[dict[str, tuple[Any, ...]]] = {}

    def impl_for(self, a: dict[str, Any]) -> str:
        """FINN's ``SpecializeLayers`` choice for a layer without a preference (by default
        :attr:`default_impl`; an op whose choice depends on its attributes overrides it)."""
        return self.default_impl

    # -- estimates (FINN's HWCustomOp defaults) ---------------------------------------
    def cycles(self, a: dict[str, Any], impl: str) -> int:
        return 0

    def lut(self, a: dict[str, Any], impl: str) -> int:
        return 0

    def bram(self, a: dict[str, Any], impl: str) -> int:
        return 0

    def bram_efficiency(self, a: dict[str, Any], impl: str, bram: int) -> float:
        return 1

    def uram(self, a: dict[str, Any], impl: str) -> int:
        return 0

    def uram_efficiency(self, a: dict[str, Any], impl: str, uram: int) -> float:
        return 1

    def dsp(self, a: dict[str, Any], impl: str, versal: bool) -> int:
        return 0

    def cost(self, a: dict[str, Any], impl: str, versal: bool = False) -> LayerCost:
        """All of FINN's estimates for one layer."""
        bram = int(self.bram(a, impl))
        uram = int(self.uram(a, impl))
        return LayerCost(
            cycles=int(self.cycles(a, impl)),
            LUT=int(self.lut(a, impl)),
            BRAM_18K=bram,
            BRAM_efficiency=self.bram_efficiency(a, impl, bram),
            URAM=uram,
            URAM_efficiency=self.uram_efficiency(a, impl, uram),
            DSP=int(self.dsp(a, impl, versal)),
        )

    # -- folding -----------------------------------------------------------------------
    def legal_values(self, a: dict[str, Any], impl: str = "") -> dict[str, list[int]]:
        """Legal values of each integer folding attribute (e.g. PE, SIMD)."""
        return {}

    def violations(self, a: dict[str, Any], impl: str = "") -> list[str]:
        """One-line messages for each violated folding constraint (empty when legal)."""
        out = []
        for attr, values in self.legal_values(a, impl).items():
            v = a.get(attr)
            if v not in values:
                out.append(self._divisor_message(attr, v, a))
        return out

    def _divisor_message(self, attr: str, v: Any, a: dict[str, Any]) -> str:
        legal = ", ".join(map(str, self.legal_values(a)[attr]))
        return f"{attr}={v} is not legal; choose one of: {legal}"

    @staticmethod
    def must_divide(attr: str, v: Any, of: str, n: int) -> str | None:
        """Message when ``v`` (the value of ``attr``) does not divide ``n`` (named ``of``)."""
        if isinstance(v, bool) or not isinstance(v, int) or v < 1 or n % v != 0:
            return (
                f"{attr}={v} does not divide {of}={n}; choose a divisor of {of}: {fmt_divisors(n)}"
            )
        return None


def _adopt_op(name: str, obj: Any) -> object:
    """Register a plugin's OpModel subclass (entry point group ``adapex.ops``)."""
    if not (isinstance(obj, type) and issubclass(obj, OpModel)):
        raise HwError(f"op_type {name!r}: the entry point must name an OpModel subclass")
    return register_op(name)(obj)


_REGISTRY: Registry[OpModel] = Registry(
    "register_op",
    lambda name, choices: f"op_type {name!r} is unknown; use one of: {choices}",
    group="adapex.ops",
    adopt=_adopt_op,
    error=HwError,
)


def register_op(op_type: str) -> Callable[[type[OpModel]], type[OpModel]]:
    """Class decorator: register an :class:`OpModel` subclass under ``op_type``.

    The built-in ops (``hw_builders.ops``) are registered when ``hw_builders`` is imported,
    before any code of one's own can run, so registering an op never hides them; a name
    already registered is refused. An installed package adds ops through the entry-point
    group ``adapex.ops`` (:mod:`hw_builders.plugins`).

    Raises:
        HwError: ``op_type`` is already registered.
    """

    def deco(cls: type[OpModel]) -> type[OpModel]:
        _REGISTRY.check_free(op_type)
        cls.op_type = op_type
        _REGISTRY.register(op_type, cls())
        return cls

    return deco


def get_op(op_type: str) -> OpModel:
    """The model of ``op_type`` (HwError listing the known op types when unknown)."""
    try:
        return _REGISTRY[op_type]  # the hot path: one dict lookup
    except KeyError:
        return _REGISTRY.lookup(op_type)


def known_ops() -> list[str]:
    """Sorted names of every registered op type (installed plugins' included)."""
    return _REGISTRY.names()
