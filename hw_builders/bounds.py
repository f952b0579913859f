"""What limits a design's throughput: a layer and why, the input stream, or the host link.

With reach_k the share of inputs entering stage k and T_k the stage's own throughput, the
accelerator sustains at most min_k T_k / reach_k; the slowest stage's slowest layer (FINN's
``max_cycles_node_name``) sets T_k. That layer is limited by

* the **input stream** when it reads the input image (no MVAU before it), is folded as far
  as FINN allows and takes about one cycle per pixel of its frame (the padded image for a
  sliding window): nothing but a faster clock makes it faster;
* its **parallelism** when it is folded as far as FINN allows (every folding attribute at
  its largest legal value);
* a **resource** otherwise: the resource nearest its utilisation limit is what kept the
  folding from going further.

The **host link** limits the design instead when the host's traffic and decisions
(:mod:`hw_builders.host`) sustain less than the accelerator.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["PIXEL_RATE_SLACK", "limited_by"]

#: a layer at most this many cycles per input pixel is bound by the input stream (FINN's
#: sliding windows add a few cycles per frame to one per pixel: 1026 for 32 x 32)
PIXEL_RATE_SLACK = 1.05


def _frame_pixels(layer: Any) -> int:
    """Pixels of the frame a layer reads (H x W; its input vectors without a spatial shape)."""
    from hw_builders.host import shape_size

    a = layer.resolved_attrs()
    for key in ("IFMDim", "ImgDim"):
        if a.get(key) is not None:
            return shape_size(a[key])
    return shape_size(a.get("numInputVectors") or 1)


def _on_the_image_side(graph: Any, name: str) -> bool:
    """Whether the layer reads the input image: no MVAU comes before it (the input
    quantiser, padding, the first sliding window)."""
    for layer in graph.layers:
        if layer.name == name:
            return True
        if layer.op_type in ("MVAU", "VVAU"):
            return False
    return False


def _at_max_parallelism(layer: Any) -> bool:
    from hw_builders.estimate import legal_values

    return all(
        int(layer.resolved_attrs().get(attr, 1)) >= max(values)
        for attr, values in legal_values(layer).items()
        if values
    )


def limited_by(
    graph: Any,
    stages: Sequence[Any],
    reports: Sequence[Any],
    reach: Sequence[float],
    *,
    fpga_fps: float,
    host_fps: float,
    utilisation: Mapping[str, float],
    limits: Mapping[str, float] | None,
) -> dict[str, Any]:
    """The bound that limits a design (see the module doc).

    Args:
        graph: The folded graph (exits marked).
        stages: Its stage sub-graphs; ``reports`` their HardwareReports.
        reach: Per stage, the share of inputs entering it.
        fpga_fps: The accelerator's sustained throughput.
        host_fps: What the host sustains (``math.inf`` without a host model).
        utilisation: The design's utilisation per resource.
        limits: The utilisation limits (None: 1.0 each).

    Returns:
        ``{"kind": "layer" | "input_stream" | "host_link", "stage", "layer", "op_type",
        "resource", "fps", "detail"}``.
    """
    if host_fps < fpga_fps:
        return {
            "kind": "host_link",
            "stage": None,
            "layer": None,
            "op_type": None,
            "resource": "host",
            "fps": host_fps,
            "detail": f"the host's transfers and exit decisions sustain {host_fps:.4g} "
            f"inferences/s, the accelerator {fpga_fps:.4g}",
        }
    capacity = [
        float(rep.performance["estimated_throughput_fps"]) / r if r > 0 else float("inf")
        for rep, r in zip(reports, reach, strict=False)
    ]
    k = min(range(len(capacity)), key=lambda i: capacity[i])
    name = str(reports[k].performance["max_cycles_node_name"])
    layer = stages[k].layer(name)
    cycles = int(reports[k].performance["max_cycles"])
    out = {"stage": k, "layer": name, "op_type": layer.op_type, "fps": fpga_fps}
    if _at_max_parallelism(layer):
        pixels = _frame_pixels(layer)
        if _on_the_image_side(graph, name) and cycles <= PIXEL_RATE_SLACK * pixels:
            return {
                **out,
                "kind": "input_stream",
                "resource": "input stream",
                "detail": f"{name} takes {cycles} cycles per frame, about one per input pixel "
                f"({pixels} pixels): only a faster clock serves more",
            }
        return {
            **out,
            "kind": "layer",
            "resource": "parallelism",
            "detail": f"{name} is folded as far as FINN allows ({cycles} cycles per frame)",
        }
    lim = limits or {}
    resource = max(utilisation, key=lambda key: utilisation[key] / lim.get(key, 1.0))
    share = utilisation[resource]
    return {
        **out,
        "kind": "layer",
        "resource": resource,
        "detail": f"{name} ({cycles} cycles per frame) could fold further within FINN's rules; "
        f"{resource} is the scarcest resource ({100 * share:.0f}% of the device used, limit "
        f"{100 * lim.get(resource, 1.0):.0f}%)",
    }
