"""tfc: FINN's TFC multilayer perceptron (FC 64-64-64-classes) as a multi-exit model.

The input (C, H, W) is flattened (channel-major) and quantised; each hidden layer is a
quantised FC + BatchNorm1d + activation quantiser. Candidate exit k follows hidden layer k
(0, 1, 2); its head is one quantised FC to the classes and a logit scale. The final
classifier is the output FC.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from hw_builders.datatypes import activation_datatype
from search_spaces.families.arch import ArchSpec
from search_spaces.families.base import Family, PruneRole
from search_spaces.lowering import GraphBuilder, label_select, mvau


class TfcFamily(Family):
    """FINN's TFC MLP with candidate early exits after each hidden layer."""

    name = "tfc"
    model_module = "search_spaces.families.tfc_model"
    base_widths = (64, 64, 64)

    def candidate_exits(self, arch: ArchSpec) -> list[int]:
        return list(range(len(self.base_widths)))

    def prune_roles(self, arch: ArchSpec) -> dict[str, PruneRole]:
        roles: dict[str, PruneRole] = {}
        for i in range(len(arch.widths)):
            roles[f"blocks.{i}.0"] = PruneRole(i, i - 1 if i > 0 else None)
            roles[f"blocks.{i}.1"] = PruneRole(i, None)
            roles[f"blocks.{i}.2"] = PruneRole(i, None)
        for k in arch.exits:
            roles[f"heads.{k}.0"] = PruneRole(None, k)
        roles["classifier.0"] = PruneRole(None, len(arch.widths) - 1)
        return roles

    def lower_dict(
        self, arch: ArchSpec, *, exits: Sequence[int] | None = None, name: str | None = None
    ) -> dict[str, Any]:
        """FINN dataflow graph dict of the tfc ``arch`` with the exits in use."""
        ex = self._exits_in_use(arch, exits)
        wb = arch.weight_bits
        xnor_net = wb == 1
        g = GraphBuilder(self._graph_name(arch, name))
        c, h, w = arch.input_shape
        mw = c * h * w
        src: list[str] = []
        dt = "UINT8"
        if arch.in_bits < 8:
            out_dt = activation_datatype(arch.in_bits, xnor_consumer=xnor_net)
            src = [
                g.add(
                    "Thresholding",
                    src,
                    {
                        "NumChannels": mw,
                        "PE": 1,
                        "numSteps": 2**arch.in_bits - 1,
                        "numInputVectors": [1],
                        "inputDataType": "UINT8",
                        "weightDataType": "UINT8",
                        "outputDataType": out_dt,
                        "ActVal": 0,
                    },
                )
            ]
            dt = out_dt
        adt = activation_datatype(arch.act_bits, xnor_consumer=xnor_net)
        for i, width in enumerate(arch.widths):
            src = [
                mvau(
                    g,
                    src[0] if src else "",
                    mw=mw,
                    mh=width,
                    nvec=[1],
                    idt=dt,
                    weight_bits=wb,
                    odt=adt,
                )
            ]
            if not g.layers[-1]["inputs"][0]:
                g.layers[-1]["inputs"] = []
            dt = adt
            mw = width
            if i in ex:
                dup = g.add(
                    "DuplicateStreams",
                    src,
                    {
                        "NumChannels": width,
                        "PE": 1,
                        "NumOutputStreams": 2,
                        "numInputVectors": [1],
                        "inputDataType": dt,
                    },
                )
                # the exit's logits leave the stage: the host takes the exit decision
                mvau(
                    g,
                    dup,
                    mw=width,
                    mh=arch.num_classes,
                    nvec=[1],
                    idt=dt,
                    weight_bits=wb,
                    odt=None,
                    exit=i,
                )
                src = [dup]
        fc = mvau(g, src[0], mw=mw, mh=arch.num_classes, nvec=[1], idt=dt, weight_bits=wb, odt=None)
        label_select(g, fc, labels=arch.num_classes, idt=g.layers[-1]["outputDataType"])
        return g.to_dict()
