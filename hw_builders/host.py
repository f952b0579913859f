"""The host's share of an early-exit accelerator: the link to its streams and its decisions.

The accelerator as built (one FINN build per design, docs/DESIGN.md) has one input and one
output stream per stage: the host streams each image in, reads every exit's logits, takes
the exit decision, and streams the features of the samples that are not confident into the
next stage. Per inference, with ``reach_k`` the share of inputs entering stage k, the host
moves

    input image + sum_k reach_k (logits_k + features out of stage k, when it has a next
    stage) + sum_{k >= 1} reach_k (features into stage k) + reach_last (the label)

bytes (every tensor packed to whole bytes per element group, as FINN's PYNQ driver packs
it), and takes ``sum_{k < last} reach_k`` exit decisions. Transfers (DMA) and decisions
(the host's CPU) overlap, so the host sustains

    min(bandwidth / bytes per inference, 1 / (decisions per inference x time per decision))

inferences per second; a design's throughput is the lesser of this and the accelerator's.

The figures per board family are documented assumptions (:data:`HOST_LINKS`), each with
its source; ``adapex deploy`` can measure them on a board and a calibrated
:class:`HostLink` replaces them (``Device.host``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from hw_builders.datatypes import bitwidth

__all__ = [
    "HOST_LINKS",
    "NO_HOST",
    "HostLink",
    "HostTraffic",
    "calibrate",
    "host_link_for",
    "host_traffic",
    "shape_size",
]


@dataclass(frozen=True)
class HostLink:
    """What the host of a board sustains.

    Attributes:
        bandwidth_bytes_s: Bytes per second the host moves to and from the accelerator's
            streams (both directions together).
        decision_s: Host time per exit decision of one sample (softmax confidence against
            the threshold, and gathering the sample's features when it goes on).
        source: Where the figures come from.
    """

    bandwidth_bytes_s: float
    decision_s: float
    source: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (an unbounded bandwidth is None)."""
        d = asdict(self)
        if math.isinf(self.bandwidth_bytes_s):
            d["bandwidth_bytes_s"] = None
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> HostLink:
        """The link of :meth:`to_dict`."""
        bw = d.get("bandwidth_bytes_s")
        return cls(
            math.inf if bw is None else float(bw),
            float(d.get("decision_s", 0.0)),
            str(d.get("source", "")),
        )


def calibrate(timings: Sequence[Mapping[str, float]], *, source: str = "measured") -> HostLink:
    """A host link from measured timings, e.g. the per-stage timings of the deploy runtime.

    Args:
        timings: Records of ``bytes`` moved in ``transfer_s`` seconds and ``decisions``
            taken in ``decision_s`` seconds (either pair may be absent from a record).
        source: Where the timings come from (kept in the link).

    Returns:
        The link whose bandwidth is all bytes over all transfer time and whose time per
        decision is all decision time over all decisions.

    Raises:
        HwError: no record holds a transfer, or none a decision.
    """
    from hw_builders.errors import HwError

    moved = sum(float(t.get("bytes", 0.0)) for t in timings)
    busy = sum(float(t.get("transfer_s", 0.0)) for t in timings)
    decided = sum(float(t.get("decisions", 0.0)) for t in timings)
    deciding = sum(float(t.get("decision_s", 0.0)) for t in timings)
    if moved <= 0 or busy <= 0:
        raise HwError("timings: no transfer measured; give records with bytes and transfer_s > 0")
    if decided <= 0 or deciding < 0:
        raise HwError("timings: no decision measured; give records with decisions > 0")
    return HostLink(moved / busy, deciding / decided, source)


#: The accelerator alone: no host traffic or decision limits it.
NO_HOST = HostLink(math.inf, 0.0, "none: the accelerator alone")

#: Per FPGA family (the part's prefix), the host link assumed when none is calibrated.
HOST_LINKS: dict[str, HostLink] = {
    # Zynq-7000 (Pynq-Z1/Z2): an AXI HP port is 1200 MB/s in theory (UG585); zero-copy DMA
    # from Linux measured above 400 MB/s (rsoc-framework.com, "How fast are DMA transfers on
    # Xilinx Zynq?"); one decision: vectorised numpy softmax on a 650 MHz Cortex-A9, taken
    # as 1 us per sample (adapex's estimate, to be calibrated with adapex deploy).
    "xc7z": HostLink(400e6, 1.0e-6, "UG585 HP port; rsoc-framework zero-copy DMA; A9 estimate"),
    # Zynq UltraScale+ (Ultra96, ZCU10x, RFSoC, Kria): an HP port is 128 bit at up to
    # 333 MHz, 5.3 GB/s (UG1085); effective throughput measured at 75% of theoretical on a
    # ZCU102 (Manchester, FPT 2019): 4 GB/s; a 1.2 GHz Cortex-A53: 0.4 us per decision.
    "xczu": HostLink(4.0e9, 0.4e-6, "UG1085 HP port; FPT 2019 75% effective; A53 estimate"),
    "xck": HostLink(4.0e9, 0.4e-6, "UG1085 HP port; FPT 2019 75% effective; A53 estimate"),
    # Versal (VCK190, VEK280): taken as Zynq UltraScale+'s PS-PL link, 1.4 GHz Cortex-A72.
    "xcv": HostLink(4.0e9, 0.3e-6, "as Zynq UltraScale+ (AM011 CIPS AXI); A72 estimate"),
    # Alveo over PCIe Gen3 x16: 15.75 GB/s in theory, about 12 GB/s with XDMA (PG195); an
    # x86 server core: 0.05 us per decision.
    "xcu": HostLink(12e9, 0.05e-6, "PCIe Gen3 x16 with XDMA (PG195); x86 estimate"),
}


def host_link_for(part: str) -> HostLink:
    """The assumed host link of an FPGA part (by family; the slowest one when unknown)."""
    p = part.strip().lower()
    for prefix in sorted(HOST_LINKS, key=len, reverse=True):
        if p.startswith(prefix):
            return HOST_LINKS[prefix]
    return HOST_LINKS["xc7z"]


@dataclass(frozen=True)
class HostTraffic:
    """The host's work per inference of a design at one reach.

    Attributes:
        bytes_per_inference: Bytes moved between the host and the streams.
        decisions_per_inference: Exit decisions taken.
        stream_bytes: Per stream (``input``, ``exit<k>_logits``, ``stage<k>_features_out``,
            ``stage<k>_features_in``, ``label``), its bytes per sample that uses it.
    """

    bytes_per_inference: float
    decisions_per_inference: float
    stream_bytes: dict[str, int]

    def cap_fps(self, link: HostLink) -> float:
        """Inferences per second the host sustains over ``link``."""
        by_link = link.bandwidth_bytes_s / self.bytes_per_inference
        if self.decisions_per_inference <= 0 or link.decision_s <= 0:
            return by_link
        return min(by_link, 1.0 / (self.decisions_per_inference * link.decision_s))


def _tensor_bytes(elements: int, dtype: str) -> int:
    return int(math.ceil(elements * bitwidth(dtype) / 8))


def shape_size(values: Sequence[int] | int) -> int:
    """The product of a shape (an int is its own product)."""
    if isinstance(values, int):
        return values
    out = 1
    for v in values:
        out *= int(v)
    return out


def host_traffic(graph: Any, reach: Sequence[float]) -> HostTraffic:
    """The host's bytes and decisions per inference for ``graph`` (exits marked) at ``reach``.

    The input stream is the first layer's input; exit k's logits are its classifier MVAU's
    output (MH values of its output datatype); the features are the stream its
    DuplicateStreams forks (``NumChannels`` x ``numInputVectors`` of its input datatype);
    the label is the LabelSelect's output.
    """
    from hw_builders.stage_split import exit_groups

    layers = list(graph.layers)
    first = layers[0].resolved_attrs()
    in_dt = _dtype(first, "inputDataType", "dataType")
    streams = {"input": _tensor_bytes(_input_elements(layers[0]), in_dt)}
    backbone, exits = exit_groups(graph)
    total = float(streams["input"])
    decisions = 0.0
    for k, (pos, _exit_id, head) in enumerate(exits):
        feat = _output_bytes(backbone[pos])
        logits = _output_bytes(head[-1])
        streams[f"exit{k}_logits"] = logits
        streams[f"stage{k}_features_out"] = feat
        streams[f"stage{k + 1}_features_in"] = feat
        total += reach[k] * (logits + feat) + reach[k + 1] * feat
        decisions += reach[k]
    label = next((lay for lay in reversed(layers) if lay.op_type == "LabelSelect"), None)
    label_bytes = 1 if label is None else _output_bytes(label)
    streams["label"] = label_bytes
    total += reach[len(exits)] * label_bytes
    return HostTraffic(total, decisions, streams)


def _dtype(a: dict[str, Any], *keys: str) -> str:
    """The first of ``keys`` that the attributes set (UINT8 when none)."""
    return next((str(a[k]) for k in keys if a.get(k) is not None), "UINT8")


def _output_bytes(layer: Any) -> int:
    """Bytes of one output frame of a layer (the features an exit forks, an exit's logits):
    an MVAU's MH values per input vector, a stream op's channels per vector, a LabelSelect's
    K labels; one byte when the op's output shape is not known here."""
    a = layer.resolved_attrs()
    dt = _dtype(a, "outputDataType", "inputDataType", "dataType")
    if "MH" in a:  # an MVAU
        return _tensor_bytes(int(a["MH"]) * shape_size(a.get("numInputVectors") or 1), dt)
    if "NumChannels" in a and "numInputVectors" in a:  # DuplicateStreams, a stream op
        dt = _dtype(a, "inputDataType", "dataType", "outputDataType")
        return _tensor_bytes(int(a["NumChannels"]) * shape_size(a["numInputVectors"]), dt)
    if layer.op_type == "LabelSelect":
        return _tensor_bytes(int(a.get("K") or 1), dt)
    return 1


def _input_elements(layer: Any) -> int:
    """Elements of one input frame of the graph's first layer."""
    a = layer.resolved_attrs()
    if "IFMDim" in a:
        return int(a["IFMChannels"]) * shape_size(a["IFMDim"])
    if "ImgDim" in a:
        return int(a.get("NumChannels", 1)) * shape_size(a["ImgDim"])
    if "numInputVectors" in a:
        channels = int(a.get("NumChannels", a.get("MW", 1)))
        return channels * shape_size(a["numInputVectors"])
    return int(a.get("MW", 1))
