"""FINN's automatic folding (``SetFolding``), reimplemented exactly: the "finn" baseline.

Follows ``finn.transformation.fpgadataflow.set_folding.SetFolding`` (FINN 0.10 / main):

* MVAU: PE = SIMD = 1; SIMD walks the divisors of MW in increasing order, stopping as soon
  as the layer's cycles drop below the target; when SIMD * (weight bits) exceeds
  ``mvau_wwidth_max`` (36 by default) SIMD steps back once to the previous divisor and
  stops. Then PE walks the divisors of MH until the target is met (or PE = MH).
* Thresholding, DuplicateStreams, AddStreams: PE over the divisors of NumChannels;
  LabelSelect: PE over the divisors of Labels.
* VVAU: SIMD = 1, PE over the divisors of Channels; only when PE = Channels and the
  cycles still exceed the target, SIMD over the divisors of kh * kw. The sliding window
  upstream of a VVAU gets SIMD = PE (and parallel_window = 1 when the VVAU's SIMD > 1).
* Other (non-depthwise) sliding windows: SIMD over the divisors of IFMChannels; the RTL
  one switches on parallel_window when SIMD = IFMChannels still misses the target.
* FMPadding (hls): SIMD over the divisors of NumChannels.
* StreamingMaxPool, StreamingFIFO, FMPadding_rtl are left alone (FINN warns, skips them).
* Two-pass relaxation: when the slowest layer misses the target, the whole pass is run
  again with target = the achieved max cycles, so that the pipeline is balanced.

The target is ``int((1e9 / clk_ns) / target_fps)`` cycles per frame
(``DataflowBuildConfig._resolve_cycles_per_frame``). Resources are ignored, as in FINN.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Any

from hw_builders.datatypes import bitwidth
from hw_builders.errors import HwError
from hw_builders.folding.config import FoldingConfig
from hw_builders.registry import divisors

#: FINN's SetFolding default cap on the MVAU weight stream width per PE (bits).
MVAU_WWIDTH_MAX = 36

_PE_OPS = ("AddStreams", "DuplicateStreams", "Thresholding", "ChannelwiseOp", "GlobalAccPool")


def target_cycles_for_fps(target_fps: float, clk_ns: float) -> int:
    """FINN's cycles-per-frame target: ``int((1e9 / clk_ns) / target_fps)``.

    Raises:
        HwError: target_fps or clk_ns is not positive.
    """
    if not (isinstance(target_fps, (int, float)) and target_fps > 0 and math.isfinite(target_fps)):
        raise HwError(
            f"`target_fps` {target_fps!r} must be a positive number of frames per second",
            arguments=("target_fps",),
        )
    if not (isinstance(clk_ns, (int, float)) and clk_ns > 0):
        raise HwError(
            f"`clk_ns` {clk_ns!r} must be a positive clock period in ns", arguments=("clk_ns",)
        )
    return int((10**9 / clk_ns) / target_fps)


class _State:
    """Mutable per-node attributes plus a memoised cycles function."""

    def __init__(
        self,
        graph: Any,
        cycles_of: Callable[[Any], int],
        memo: dict[tuple[Any, ...], int] | None = None,
    ) -> None:
        self.graph = graph
        self.layers = {layer.name: layer for layer in graph.layers}
        self.attrs: dict[str, dict[str, Any]] = {
            layer.name: dict(layer.attrs) for layer in graph.layers
        }
        self.touched: dict[str, set[str]] = {layer.name: set() for layer in graph.layers}
        self._cycles_of = cycles_of
        self._memo: dict[tuple[Any, ...], int] = {} if memo is None else memo

    def set(self, name: str, attr: str, value: Any) -> None:
        self.attrs[name][attr] = value
        self.touched[name].add(attr)

    def get(self, name: str, attr: str, default: Any = None) -> Any:
        return self.attrs[name].get(attr, default)

    def cycles(self, name: str) -> int:
        a = self.attrs[name]
        key = (name, a.get("PE"), a.get("SIMD"), a.get("parallel_window"))
        got = self._memo.get(key)
        if got is None:
            layer = dataclasses.replace(self.layers[name], attrs=dict(a))
            got = int(self._cycles_of(layer))
            self._memo[key] = got
        return got

    def producer(self, name: str) -> str | None:
        ins = self.layers[name].inputs
        return ins[0] if ins and ins[0] in self.layers else None


def _optimize_attribute_val(st: _State, name: str, max_val: int, attr: str, target: int) -> None:
    st.set(name, attr, 1)
    for val in divisors(int(max_val)):
        st.set(name, attr, val)
        if st.cycles(name) < target:
            break


def _one_pass(st: _State, target: int, mvau_wwidth_max: int) -> None:
    for layer in st.graph.layers:
        name, op = layer.name, layer.op_type
        if op == "MVAU":
            max_simd, max_pe = int(st.get(name, "MW")), int(st.get(name, "MH"))
            wbits = bitwidth(st.get(name, "weightDataType", "INT8"))
            st.set(name, "PE", 1)
            st.set(name, "SIMD", 1)
            for simd_val in divisors(max_simd):
                prev_simd_val = st.get(name, "SIMD")
                st.set(name, "SIMD", simd_val)
                if st.cycles(name) < target:
                    break
                if wbits * st.get(name, "SIMD") > mvau_wwidth_max:
                    st.set(name, "SIMD", prev_simd_val)
                    break
            _optimize_attribute_val(st, name, max_pe, "PE", target)
        elif op in _PE_OPS:
            _optimize_attribute_val(st, name, int(st.get(name, "NumChannels")), "PE", target)
        elif op == "LabelSelect":
            _optimize_attribute_val(st, name, int(st.get(name, "Labels")), "PE", target)
        elif op == "VVAU":
            st.set(name, "SIMD", 1)
            max_pe = int(st.get(name, "Channels"))
            _optimize_attribute_val(st, name, max_pe, "PE", target)
            pe = st.get(name, "PE")
            if pe == max_pe and st.cycles(name) > target:
                max_simd = math.prod(int(k) for k in st.get(name, "Kernel"))
                _optimize_attribute_val(st, name, max_simd, "SIMD", target)
            swu = st.producer(name)
            if swu is not None and st.layers[swu].op_type == "ConvolutionInputGenerator":
                st.set(swu, "SIMD", pe)
                if st.layers[swu].impl == "rtl":
                    st.set(swu, "parallel_window", 1 if st.get(name, "SIMD") > 1 else 0)
            else:
                ksize = math.prod(int(k) for k in st.get(name, "Kernel"))
                if ksize != 1:
                    found = st.layers[swu].op_type if swu is not None else "the graph input"
                    raise HwError(
                        f"layer {name}: a VVAU with a {ksize}-element kernel needs a "
                        f"ConvolutionInputGenerator producer, found {found}"
                    )
        elif op == "ConvolutionInputGenerator":
            if int(st.get(name, "depthwise", 0) or 0) != 0:
                continue  # set by the VVAU downstream
            max_simd = int(st.get(name, "IFMChannels"))
            rtl = layer.impl == "rtl"
            if rtl:
                st.set(name, "parallel_window", 0)
            _optimize_attribute_val(st, name, max_simd, "SIMD", target)
            if rtl and st.get(name, "SIMD") == max_simd and st.cycles(name) > target:
                st.set(name, "parallel_window", 1)
        elif op == "FMPadding" and layer.impl == "hls":
            _optimize_attribute_val(st, name, int(st.get(name, "NumChannels")), "SIMD", target)
        # StreamingMaxPool, StreamingFIFO, FMPadding_rtl: left alone, as FINN does


def set_folding(
    graph: Any,
    *,
    target_cycles: int,
    cycles_of: Callable[[Any], int],
    mvau_wwidth_max: int = MVAU_WWIDTH_MAX,
    two_pass_relaxation: bool = True,
    memo: dict[tuple[Any, ...], int] | None = None,
) -> FoldingConfig:
    """Run FINN's SetFolding on ``graph`` for a cycles-per-frame target.

    Args:
        graph: the HwGraph (its current PE/SIMD are reset as FINN does).
        target_cycles: FINN's ``target_cycles_per_frame``.
        cycles_of: cycles of one layer (FINN's ``get_exp_cycles``), e.g.
            ``lambda layer: layer_cost(layer, device).cycles``.
        mvau_wwidth_max: cap on SIMD * weight bits per PE for MVAUs.
        two_pass_relaxation: FINN's second pass with the achieved cycles.
        memo: cycles by (layer name, PE, SIMD, parallel_window), kept by the caller across
            runs on the same graph and ``cycles_of`` (filled as layers are costed).

    Returns:
        The folding, one entry per layer whose attributes SetFolding set.
    """
    if int(target_cycles) < 1:
        raise HwError(f"target_cycles={target_cycles} must be at least 1 cycle per frame")
    st = _State(graph, cycles_of, memo)
    _one_pass(st, int(target_cycles), mvau_wwidth_max)
    if two_pass_relaxation:
        max_cycles = max((st.cycles(layer.name) for layer in graph.layers), default=0)
        if max_cycles > target_cycles:
            st2 = _State(graph, cycles_of, st._memo)
            _one_pass(st2, max_cycles, mvau_wwidth_max)
            st = st2
    nodes: dict[str, dict[str, Any]] = {
        name: {a: st.attrs[name][a] for a in ("PE", "SIMD", "parallel_window") if a in touched}
        for name, touched in st.touched.items()
        if touched
    }
    return FoldingConfig(nodes)
