"""Conformance tests a model family must pass, for the authors of plugin families.

Subclass :class:`FamilyConformance` in a test module of your own, set ``family`` (and, if
the family needs them, ``input_shape`` and ``num_classes``), and run pytest: every method
whose name starts with ``test_`` checks one rule adapex relies on (as Optuna's
``BasicSamplerTestCase`` does for samplers)::

    from search_spaces.testing import FamilyConformance
    from my_pkg import FAMILY

    class TestMyFamily(FamilyConformance):
        family = FAMILY

The checks that build a model import torch; the others do not.
"""

from __future__ import annotations

from typing import Any, ClassVar

from search_spaces.errors import SpaceError
from search_spaces.families.arch import ALLOWED_BITS, ArchSpec
from search_spaces.families.base import Family
from search_spaces.families.registry import family_names, get_family

__all__ = ["FamilyConformance"]


class FamilyConformance:
    """The rules every family follows (subclass it with ``family`` set)."""

    family: ClassVar[Family | None] = None
    input_shape: ClassVar[tuple[int, int, int]] = (1, 8, 8)
    num_classes: ClassVar[int] = 10

    def _family(self) -> Family:
        assert self.family is not None, "set `family` on the FamilyConformance subclass"
        return self.family

    def _arch(self, **kw: Any) -> ArchSpec:
        return self._family().default_arch(self.input_shape, self.num_classes, **kw)

    def test_registered_under_its_name(self) -> None:
        fam = self._family()
        assert fam.name and fam.name in family_names(), f"{fam.name!r} is not registered"
        assert get_family(fam.name) is fam

    def test_default_arch_is_valid_and_round_trips(self) -> None:
        for bits in ALLOWED_BITS:
            arch = self._arch(weight_bits=bits, act_bits=bits)
            assert arch.family == self._family().name
            assert ArchSpec.from_dict(arch.to_dict()) == arch
            assert list(arch.exits) == self._family().candidate_exits(arch)
            assert len(arch.widths) == len(self._family().base_widths)

    def test_exits_are_checked(self) -> None:
        arch = self._arch()
        bad = max([*self._family().candidate_exits(arch), -1]) + 100
        try:
            arch.replace(exits=[bad])
        except SpaceError as exc:
            assert "exit" in str(exc)
        else:
            raise AssertionError(f"exit {bad} was accepted")

    def test_widths_are_checked(self) -> None:
        arch = self._arch()
        try:
            arch.replace(widths=[*arch.widths, 4])
        except SpaceError as exc:
            assert "widths" in str(exc)
        else:
            raise AssertionError("a width too many was accepted")

    def test_prune_roles_name_every_prunable_layer(self) -> None:
        arch = self._arch()
        roles = self._family().prune_roles(arch)
        assert roles, "prune_roles gives no module"
        groups = {g for r in roles.values() for g in (r.out_group, r.in_group) if g is not None}
        assert groups == set(range(len(arch.widths))), groups

    def test_lowers_to_a_hardware_graph_per_exit_subset(self) -> None:
        arch = self._arch()
        for exits in ([], list(arch.exits)):
            graph = self._family().lower(arch, exits=exits)
            marked = {layer.exit for layer in graph.layers if layer.exit is not None}
            assert marked == set(exits), (exits, marked)

    def test_model_gives_logits_per_exit_then_final(self) -> None:
        import torch

        arch = self._arch()
        model = self._family().build(arch).eval()
        with torch.no_grad():
            outs = model(torch.rand(2, *self.input_shape))
        assert len(outs) == len(arch.exits) + 1
        for out in outs:
            assert tuple(out.shape) == (2, self.num_classes)
