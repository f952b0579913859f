"""Independent, literal transcription of FINN's estimate functions (reference only).

FINN is not installable here and no published estimate reports for the finn-examples
CNV-W1A1 / CNV-W2A2 Pynq-Z1 builds were found in public repositories, so the reference
numbers in this folder are computed by this script: FINN's own Python cost functions,
transcribed method by method (same statement order, same float/int conversions) from

  Xilinx/finn src/finn/custom_op/fpgadataflow/matrixvectoractivation.py   @ 0064baee
  Xilinx/finn src/finn/custom_op/fpgadataflow/hls/matrixvectoractivation_hls.py @ 0064baee
  Xilinx/finn src/finn/custom_op/fpgadataflow/hls/convolutioninputgenerator_hls.py @ 003728eb
  Xilinx/finn src/finn/custom_op/fpgadataflow/rtl/convolutioninputgenerator_rtl.py @ 01c4628a
  Xilinx/finn src/finn/custom_op/fpgadataflow/hls/thresholding_hls.py @ 0883e56c
  Xilinx/finn src/finn/custom_op/fpgadataflow/rtl/thresholding_rtl.py @ 003728eb
  Xilinx/finn src/finn/util/basic.py (mem_primitives_versal, get_memutil_alternatives, memutil)
  FINN streamingmaxpool.py / labelselect.py get_exp_cycles, HWCustomOp defaults,
  analysis/fpgadataflow/dataflow_performance.py and builder step_generate_estimate_reports

and run on the ONNX-free node attributes of hw_builders/examples/cnv_w*.json with the
finn-examples folding applied. It uses qonnx's real DataType (qonnx 1.0 in the venv),
not adapex's, and shares no code with hw_builders.ops.

Run:  .venv/bin/python tests/hw_builders/data/finn_reference/finn_transcription.py  (rewrites the JSON)
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np
from qonnx.core.datatype import DataType
from qonnx.util.basic import roundup_to_integer_multiple

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[3]


class Node:
    """Minimal stand-in for a FINN CustomOp: attribute access only."""

    defaults: dict = {}

    def __init__(self, name, attrs):
        self.name = name
        self.attrs = {**self.defaults, **attrs}

    def get_nodeattr(self, k):
        return self.attrs[k]

    # HWCustomOp defaults
    def bram_estimation(self):
        return 0

    def uram_estimation(self):
        return 0

    def lut_estimation(self):
        return 0

    def dsp_estimation(self, fpgapart):
        return 0

    def bram_efficiency_estimation(self):
        return 1

    def uram_efficiency_estimation(self):
        return 1

    def node_res_estimation(self, fpgapart):
        ret = dict()
        ret["BRAM_18K"] = self.bram_estimation()
        ret["BRAM_efficiency"] = self.bram_efficiency_estimation()
        ret["LUT"] = self.lut_estimation()
        ret["URAM"] = self.uram_estimation()
        ret["URAM_efficiency"] = self.uram_efficiency_estimation()
        ret["DSP"] = self.dsp_estimation(fpgapart)
        return ret


class MVAU_hls(Node):
    defaults = {
        "resType": "auto",
        "accDataType": "INT32",
        "binaryXnorMode": 0,
        "noActivation": 0,
        "numInputVectors": [1],
        "mem_mode": "internal_decoupled",
        "ram_style": "auto",
        "ram_style_thresholds": "auto",
    }

    def get_input_datatype(self, ind=0):
        return DataType[self.get_nodeattr("inputDataType" if ind == 0 else "weightDataType")]

    def get_output_datatype(self):
        return DataType[self.get_nodeattr("outputDataType")]

    def get_accumulator_datatype(self):
        return DataType[self.get_nodeattr("accDataType")]

    def calc_wmem(self):
        mw, mh = self.get_nodeattr("MW"), self.get_nodeattr("MH")
        pe, simd = self.get_nodeattr("PE"), self.get_nodeattr("SIMD")
        assert mh % pe == 0
        assert mw % simd == 0
        return mw * mh // (pe * simd)

    def calc_tmem(self):
        if self.get_nodeattr("noActivation") == 1:
            return 0
        return self.get_nodeattr("MH") // self.get_nodeattr("PE")

    def uram_estimation(self):
        P = self.get_nodeattr("PE")
        Q = self.get_nodeattr("SIMD")
        W = self.get_input_datatype(1).bitwidth()
        D_in = self.get_nodeattr("MW")
        D_out = self.get_nodeattr("MH")
        omega = (D_in * D_out) / (Q * P)
        mem_width = Q * W * P
        mmode = self.get_nodeattr("mem_mode")
        mstyle = self.get_nodeattr("ram_style")
        if (
            (mmode == "internal_decoupled" and mstyle != "ultra")
            or (mmode == "internal_embedded" and self.calc_wmem() <= 128)
            or (mmode == "external")
        ):
            return 0
        width_multiplier = math.ceil(mem_width / 72)
        depth_multiplier = math.ceil(omega / 4096)
        return width_multiplier * depth_multiplier

    def bram_estimation(self):
        P = self.get_nodeattr("PE")
        Q = self.get_nodeattr("SIMD")
        W = self.get_input_datatype(1).bitwidth()
        D_in = self.get_nodeattr("MW")
        D_out = self.get_nodeattr("MH")
        omega = (D_in * D_out) / (Q * P)
        mem_width = Q * W * P
        mmode = self.get_nodeattr("mem_mode")
        mstyle = self.get_nodeattr("ram_style")
        if (
            (mmode == "internal_decoupled" and mstyle in ["distributed", "ultra"])
            or (mmode == "internal_embedded" and self.calc_wmem() <= 128)
            or (mmode == "external")
        ):
            return 0
        if mem_width == 1:
            return math.ceil(omega / 16384)
        elif mem_width == 2:
            return math.ceil(omega / 8192)
        elif mem_width <= 4:
            return (math.ceil(omega / 4096)) * (math.ceil(mem_width / 4))
        elif mem_width <= 9:
            return (math.ceil(omega / 2048)) * (math.ceil(mem_width / 9))
        elif mem_width <= 18 or omega > 512:
            return (math.ceil(omega / 1024)) * (math.ceil(mem_width / 18))
        else:
            return (math.ceil(omega / 512)) * (math.ceil(mem_width / 36))

    def bram_efficiency_estimation(self):
        W = self.get_input_datatype(1).bitwidth()
        D_in = self.get_nodeattr("MW")
        D_out = self.get_nodeattr("MH")
        bram16_est = self.bram_estimation()
        if bram16_est == 0:
            return 1
        wbits = W * D_in * D_out
        bram16_est_capacity = bram16_est * 36 * 512
        return wbits / bram16_est_capacity

    def uram_efficiency_estimation(self):
        W = self.get_input_datatype(1).bitwidth()
        D_in = self.get_nodeattr("MW")
        D_out = self.get_nodeattr("MH")
        uram_est = self.uram_estimation()
        if uram_est == 0:
            return 1
        wbits = W * D_in * D_out
        uram_est_capacity = uram_est * 72 * 4096
        return wbits / uram_est_capacity

    def get_exp_cycles(self):
        pe = self.get_nodeattr("PE")
        simd = self.get_nodeattr("SIMD")
        num_inp_vec = self.get_nodeattr("numInputVectors")
        mh = self.get_nodeattr("MH")
        mw = self.get_nodeattr("MW")
        mmv = 1
        exp_cycles = (mh / pe) * (mw / simd) * np.prod(num_inp_vec) / mmv
        return int(exp_cycles)

    def lut_estimation(self):
        P = self.get_nodeattr("PE")
        Q = self.get_nodeattr("SIMD")
        MW = self.get_nodeattr("MW")
        wdt = self.get_input_datatype(1)
        W = wdt.bitwidth()
        idt = self.get_input_datatype(0)
        A = idt.bitwidth()
        c0 = 300
        c1 = 1.1
        c2 = 0
        mmode = self.get_nodeattr("mem_mode")
        mstyle = self.get_nodeattr("ram_style")
        if (mmode == "internal_decoupled" and mstyle == "distributed") or (
            mmode == "internal_embedded" and self.calc_wmem() <= 128
        ):
            c2 = (P * Q * W) * math.ceil(self.calc_wmem() / 64)
        res_type = self.get_nodeattr("resType")
        mult_luts = 0 if res_type == "dsp" else Q * (2 * math.ceil((W + A) / 6) - 1) * (W + A)
        addertree_luts = (W + A) * (2 * Q - 1)
        acc_datatype = self.get_accumulator_datatype()
        alpha = math.log(MW, 2) + W + A - 1 - int(idt.signed())
        acc_bits = min(
            acc_datatype.bitwidth(),
            np.ceil(alpha + math.log(1 + pow(2, -alpha), 2) + 1),
        )
        acc_luts = acc_bits
        thr_luts = 0
        comp_luts = 0
        noact = self.get_nodeattr("noActivation")
        tmem_style = self.get_nodeattr("ram_style_thresholds")
        if (noact == 0) and (tmem_style == "distributed"):
            odt = self.get_output_datatype()
            B = odt.bitwidth()
            thr_luts = (2**B - 1) * acc_bits * math.ceil(self.calc_tmem() / 64)
            comp_luts = (2**B - 1) * acc_bits
        return int(
            c0 + c1 * (P * (mult_luts + addertree_luts + acc_luts + thr_luts + comp_luts)) + c2
        )

    def dsp_estimation(self, fpgapart):
        P = self.get_nodeattr("PE")
        res_type = self.get_nodeattr("resType")
        Q = self.get_nodeattr("SIMD")
        W = self.get_input_datatype(1).bitwidth()
        A = self.get_input_datatype(0).bitwidth()
        mult_dsp = P * Q * np.ceil((W + A) / 48) if res_type == "dsp" else 0
        return int(mult_dsp)


class ConvolutionInputGenerator_hls(Node):
    """2D, non-depthwise case (the only one CNV uses)."""

    defaults = {"Dilation": [1, 1], "Stride": [1, 1], "ram_style": "distributed", "depthwise": 0}

    def get_input_datatype(self):
        return DataType[self.get_nodeattr("inputDataType")]

    def get_exp_cycles(self):
        simd = self.get_nodeattr("SIMD")
        ifm_ch = self.get_nodeattr("IFMChannels")
        k_h, k_w = self.get_nodeattr("ConvKernelDim")
        ifm_dim_h, ifm_dim_w = self.get_nodeattr("IFMDim")
        ofm_dim_h, ofm_dim_w = self.get_nodeattr("OFMDim")
        stride_h, stride_w = self.get_nodeattr("Stride")
        dilation_h, dilation_w = self.get_nodeattr("Dilation")
        mmv = 1
        cycles_write_block = (ofm_dim_w * k_w * k_h * (ifm_ch / simd)) / mmv
        cycles_read_block = stride_w * ifm_dim_w * (ifm_ch / simd)
        max_cycles = max(cycles_write_block, cycles_read_block)
        exp_cycles = ifm_dim_w * k_h * dilation_h * (ifm_ch / simd) + ofm_dim_h * max_cycles
        return int(exp_cycles)

    def bram_estimation(self):
        simd = self.get_nodeattr("SIMD")
        ifm_ch = self.get_nodeattr("IFMChannels")
        ifm_dim = self.get_nodeattr("IFMDim")[0]
        k = self.get_nodeattr("ConvKernelDim")[0]
        stride = self.get_nodeattr("Stride")[0]
        ram_style = self.get_nodeattr("ram_style")
        if ram_style == "block" or ram_style == "auto":
            ram_depth = ifm_dim * ifm_ch / simd
            if ram_depth <= 512:
                ram_width = 36
            elif ram_depth <= 1024:
                ram_width = 18
            elif ram_depth <= 2048:
                ram_width = 9
            elif ram_depth <= 4096:
                ram_width = 4
            elif ram_depth <= 8192:
                ram_width = 2
            else:
                ram_width = 1
            width_mul = math.ceil(simd * self.get_input_datatype().bitwidth() / ram_width)
            depth_mul = math.ceil(ifm_dim * ifm_ch / simd / ram_depth)
            return int((k + stride) * width_mul * depth_mul)
        return 0

    def lut_estimation(self):
        simd = self.get_nodeattr("SIMD")
        ifm_ch = self.get_nodeattr("IFMChannels")
        ifm_dim = self.get_nodeattr("IFMDim")[0]
        k = self.get_nodeattr("ConvKernelDim")[0]
        stride = self.get_nodeattr("Stride")[0]
        ram_style = self.get_nodeattr("ram_style")
        if ram_style == "distributed":
            ram_luts = int(
                (k + stride)
                * (
                    simd
                    * self.get_input_datatype().bitwidth()
                    * math.ceil(ifm_dim * ifm_ch / simd / 64)
                )
            )
        else:
            ram_luts = 0
        return 300 + ram_luts

    def uram_estimation(self):
        simd = self.get_nodeattr("SIMD")
        ifm_ch = self.get_nodeattr("IFMChannels")
        ifm_dim = self.get_nodeattr("IFMDim")[0]
        k = self.get_nodeattr("ConvKernelDim")[0]
        stride = self.get_nodeattr("Stride")[0]
        if self.get_nodeattr("ram_style") == "ultra":
            return int(
                (k + stride)
                * (
                    math.ceil(simd * self.get_input_datatype().bitwidth() / 64)
                    * math.ceil(ifm_dim * ifm_ch / simd / 4096)
                )
            )
        return 0


class ConvolutionInputGenerator_rtl(Node):
    """Default implementation style, 2D, non-depthwise (the CNV case)."""

    defaults = {
        "Dilation": [1, 1],
        "Stride": [1, 1],
        "ram_style": "distributed",
        "depthwise": 0,
        "parallel_window": 0,
    }

    def get_input_datatype(self):
        return DataType[self.get_nodeattr("inputDataType")]

    def get_buffer_depth(self):
        ifm_ch = self.get_nodeattr("IFMChannels")
        k_h, k_w = self.get_nodeattr("ConvKernelDim")
        h, w = self.get_nodeattr("IFMDim")
        stride_h, stride_w = self.get_nodeattr("Stride")
        dilation_h, dilation_w = self.get_nodeattr("Dilation")
        simd = self.get_nodeattr("SIMD")
        mmv_in = 1
        mmv_out = 1
        channel_factor = int(ifm_ch / simd)
        buffer_min_size = ((k_h - 1) * dilation_h * w + (k_w - 1) * dilation_w + 1) * channel_factor
        buffer_depth = (
            buffer_min_size
            + max(0, ((stride_w - 1) - (int(mmv_out * k_h * k_w / mmv_in))) * channel_factor)
            + max(0, ((stride_h - 1) * w - (int(mmv_out * k_h * k_w / mmv_in))) * channel_factor)
        )
        return buffer_depth

    def get_exp_cycles(self):
        simd = self.get_nodeattr("SIMD")
        ifm_ch = self.get_nodeattr("IFMChannels")
        k_h, k_w = self.get_nodeattr("ConvKernelDim")
        ifm_dim_h, ifm_dim_w = self.get_nodeattr("IFMDim")
        ofm_dim_h, ofm_dim_w = self.get_nodeattr("OFMDim")
        stride_h, stride_w = self.get_nodeattr("Stride")
        dilation_h, dilation_w = self.get_nodeattr("Dilation")
        channel_factor = int(ifm_ch / simd)
        buffer_min_size = (
            (k_h - 1) * dilation_h * ifm_dim_w + (k_w - 1) * dilation_w + 1
        ) * channel_factor
        cycles_write_block = ofm_dim_w * k_w * k_h * channel_factor
        cycles_read_block = stride_w * ifm_dim_w * channel_factor
        max_cycles = max(cycles_write_block, cycles_read_block)
        exp_cycles = buffer_min_size + ofm_dim_h * max_cycles
        return int(exp_cycles)

    def bram_estimation(self):
        simd = self.get_nodeattr("SIMD")
        ram_style = self.get_nodeattr("ram_style")
        if ram_style == "block" or ram_style == "auto":
            buffer_width = simd * self.get_input_datatype().bitwidth()
            buffer_depth = self.get_buffer_depth()
            buffer_count = 1
            if buffer_depth <= 512:
                ram_width = 36
            elif buffer_depth <= 1024:
                ram_width = 18
            elif buffer_depth <= 2048:
                ram_width = 9
            elif buffer_depth <= 4096:
                ram_width = 4
            elif buffer_depth <= 8192:
                ram_width = 2
            else:
                ram_width = 1
            ram_cascade_depth = math.ceil(buffer_depth / 16384)
            ram_cascade_width = math.ceil(buffer_width / ram_width)
            cascade_savings = 0
            assert buffer_depth <= 16384  # CNV never cascades
            return int((ram_cascade_depth * ram_cascade_width - cascade_savings) * buffer_count)
        return 0

    def lut_estimation(self):
        simd = self.get_nodeattr("SIMD")
        ram_style = self.get_nodeattr("ram_style")
        buffer_width = simd * self.get_input_datatype().bitwidth()
        buffer_depth = self.get_buffer_depth()
        if ram_style == "distributed":
            ram_luts = int(buffer_width * math.ceil(buffer_depth / 38))
        else:
            ram_luts = 0
        return 300 + ram_luts

    def uram_estimation(self):
        if self.get_nodeattr("ram_style") == "ultra":
            simd = self.get_nodeattr("SIMD")
            buffer_width = simd * self.get_input_datatype().bitwidth()
            buffer_depth = self.get_buffer_depth()
            return int(math.ceil(buffer_depth / 4096) * math.ceil(buffer_width / 72))
        return 0


class Thresholding(Node):
    defaults = {"PE": 1, "numInputVectors": [1], "ram_style": "distributed"}

    def get_exp_cycles(self):
        # Thresholding.get_exp_cycles: np.prod(folded_output_shape[:-1])
        return int(
            np.prod(list(self.get_nodeattr("numInputVectors")))
            * (self.get_nodeattr("NumChannels") // self.get_nodeattr("PE"))
        )

    def calc_tmem(self):
        return self.get_nodeattr("NumChannels") // self.get_nodeattr("PE")


class Thresholding_hls(Thresholding):
    def get_input_datatype(self):
        return DataType[self.get_nodeattr("inputDataType")]

    def bram_estimation(self):
        style = self.get_nodeattr("ram_style")
        P = self.get_nodeattr("PE")
        A = self.get_input_datatype().bitwidth()
        tmem = self.calc_tmem()
        if style == "block" and tmem > 1:
            return int(math.ceil(A * P / 16)) * int(math.ceil(tmem / 1024))
        else:
            return 0

    def lut_estimation(self):
        style = self.get_nodeattr("ram_style")
        P = self.get_nodeattr("PE")
        A = self.get_input_datatype().bitwidth()
        tmem = self.calc_tmem()
        comparator_cost = A * P
        if style == "distributed" and tmem > 1:
            lutram_cost = P * A * int(math.ceil(tmem / 64))
        else:
            lutram_cost = 0
        return comparator_cost + lutram_cost


mem_primitives_versal = {
    "URAM_72x4096": (72, 4096),
    "URAM_36x8192": (36, 8192),
    "URAM_18x16384": (18, 16384),
    "URAM_9x32768": (9, 32768),
    "BRAM18_36x512": (36, 512),
    "BRAM18_18x1024": (18, 1024),
    "BRAM18_9x2048": (9, 2048),
    "LUTRAM": (1, 64),
}


def memutil(req_mem_spec, primitive_spec):
    req_width, req_depth = req_mem_spec
    prim_width, prim_depth = primitive_spec
    match_width = roundup_to_integer_multiple(req_width, prim_width)
    match_depth = roundup_to_integer_multiple(req_depth, prim_depth)
    count_width = match_width // prim_width
    count_depth = match_depth // prim_depth
    count = count_depth * count_width
    eff = (req_width * req_depth) / (count * prim_width * prim_depth)
    waste = (count * prim_width * prim_depth) - (req_width * req_depth)
    return (count, eff, waste)


def get_memutil_alternatives(
    req_mem_spec, mem_primitives=mem_primitives_versal, sort_min_waste=True
):
    ret = [(n, memutil(req_mem_spec, s)) for (n, s) in mem_primitives.items()]
    if sort_min_waste:
        ret = sorted(ret, key=lambda x: x[1][2])
    return ret


class Thresholding_rtl(Thresholding):
    defaults = {
        **Thresholding.defaults,
        "uniform_thres": 0,
        "depth_trigger_uram": 0,
        "depth_trigger_bram": 0,
    }

    def get_pe_mem_geometries(self):
        pe = self.get_nodeattr("PE")
        wdt_bits = DataType[self.get_nodeattr("weightDataType")].bitwidth()
        odt_bits = DataType[self.get_nodeattr("outputDataType")].bitwidth()
        t_channels = self.get_nodeattr("NumChannels")
        cf = t_channels / pe
        if self.get_nodeattr("uniform_thres"):
            return [(odt_bits - x, cf * (2**x)) for x in range(1, odt_bits)]
        return [(wdt_bits, (cf) * 2**x) for x in range(odt_bits)]

    def get_memory_estimate(self):
        res_dict = {}
        depth_trigger_bram = self.get_nodeattr("depth_trigger_bram")
        depth_trigger_uram = self.get_nodeattr("depth_trigger_uram")
        pe = self.get_nodeattr("PE")
        for mem_cfg in self.get_pe_mem_geometries():
            (width, depth) = mem_cfg
            primitives = mem_primitives_versal
            if depth_trigger_bram != 0 or depth_trigger_uram != 0:
                if depth >= depth_trigger_bram and depth < depth_trigger_uram:
                    primitives = {k: v for (k, v) in mem_primitives_versal.items() if "BRAM" in k}
                elif depth >= depth_trigger_uram:
                    primitives = {k: v for (k, v) in mem_primitives_versal.items() if "URAM" in k}
            alts = get_memutil_alternatives(mem_cfg, primitives)
            primary_alt = alts[0]
            res_type = primary_alt[0].split("_")[0]
            res_count, eff, waste = primary_alt[1]
            res_dict[res_type] = res_dict.get(res_type, 0) + pe * res_count
        return res_dict

    def bram_estimation(self):
        return self.get_memory_estimate().get("BRAM", 0)

    def uram_estimation(self):
        return self.get_memory_estimate().get("URAM", 0)

    def lut_estimation(self):
        return self.get_memory_estimate().get("LUTRAM", 0)


class StreamingMaxPool_hls(Node):
    defaults = {"PE": 1}

    def get_exp_cycles(self):
        ifm_dim = self.get_nodeattr("ImgDim")
        k = self.get_nodeattr("PoolDim")
        assert ifm_dim[0] != 1 and ifm_dim[1] != 1  # 2D case only (CNV)
        return int(ifm_dim[1] * ifm_dim[1] * (1 + 1 / (k[1] * k[1])))


class LabelSelect_hls(Node):
    defaults = {"PE": 1}

    def get_exp_cycles(self):
        nlabels = self.get_nodeattr("Labels")
        pe = self.get_nodeattr("PE")
        exp_cycles = nlabels / pe
        return int(exp_cycles)


CLASSES = {
    "MVAU_hls": MVAU_hls,
    "ConvolutionInputGenerator_hls": ConvolutionInputGenerator_hls,
    "ConvolutionInputGenerator_rtl": ConvolutionInputGenerator_rtl,
    "Thresholding_hls": Thresholding_hls,
    "Thresholding_rtl": Thresholding_rtl,
    "StreamingMaxPool_hls": StreamingMaxPool_hls,
    "LabelSelect_hls": LabelSelect_hls,
}


def finn_reports(graph: dict, folding: dict, clk_ns: float):
    """FINN's three estimate reports for a graph dict with a folding dict applied."""
    nodes, inputs = [], {}
    for lay in graph["layers"]:
        attrs = {
            k: v for k, v in lay.items() if k not in ("name", "op_type", "impl", "inputs", "exit")
        }
        attrs.update(folding.get(lay["name"], {}))
        cls = CLASSES[f"{lay['op_type']}_{lay['impl']}"]
        nodes.append(cls(lay["name"], attrs))
        inputs[lay["name"]] = lay["inputs"]
    # step_generate_estimate_reports: cycles_estimate per node, res_estimation
    cycles = {n.name: n.get_exp_cycles() for n in nodes}
    res = {n.name: n.node_res_estimation("xc7z020clg400-1") for n in nodes}
    total = {}
    for layer in res.values():  # aggregate_dict_keys (efficiencies skipped)
        for r_type, r_amount in layer.items():
            if "efficiency" in r_type:
                continue
            total[r_type] = total.get(r_type, 0) + float(r_amount)
    res["total"] = total
    # dataflow_performance
    latency_at_node_output = {}
    max_cycles = 0
    max_node_name = ""
    for n in nodes:
        node_cycles = int(cycles[n.name])
        if node_cycles > max_cycles:
            max_cycles = node_cycles
            max_node_name = n.name
        preds = inputs[n.name]
        max_pred_latency = max((latency_at_node_output[p] for p in preds), default=0)
        latency_at_node_output[n.name] = node_cycles + max_pred_latency
    critical_path_cycles = max(latency_at_node_output.values())
    perf = {
        "critical_path_cycles": int(critical_path_cycles),
        "max_cycles": int(max_cycles),
        "max_cycles_node_name": max_node_name,
    }
    n_clock_cycles_per_sec = (10**9) / clk_ns
    perf["estimated_throughput_fps"] = n_clock_cycles_per_sec / perf["max_cycles"]
    perf["estimated_latency_ns"] = perf["critical_path_cycles"] * clk_ns
    return cycles, res, perf


def main() -> None:
    for tag in ("w1a1", "w2a2"):
        ex = ROOT / "hw_builders" / "examples"
        graph = json.loads((ex / f"cnv_{tag}.json").read_text())
        folding = json.loads((ex / f"cnv_{tag}_folding.json").read_text())
        cycles, res, perf = finn_reports(graph, folding, clk_ns=10.0)
        out = {
            "design": f"cnv_{tag}",
            "board": "Pynq-Z1",
            "clk_ns": 10.0,
            "estimate_layer_cycles": cycles,
            "estimate_layer_resources": res,
            "estimate_network_performance": perf,
        }
        (HERE / f"cnv_{tag}_pynq_z1.json").write_text(json.dumps(out, indent=2) + "\n")
        print(tag, perf, file=sys.stderr)


if __name__ == "__main__":
    main()
