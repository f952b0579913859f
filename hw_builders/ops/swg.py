"""ConvolutionInputGenerator (sliding window generator), rtl and hls.

rtl: FINN rtl/convolutioninputgenerator_rtl.py (main, 2024): get_buffer_depth,
get_exp_cycles (default/parallel styles, 1D and depthwise terms), bram_estimation
(ram width ladder 36/18/9/4/2/1 with the cascade correction above 16384),
lut_estimation, uram_estimation. Quirk kept: ram_style auto is costed like block.
Impl style: "parallel" when parallel_window is set or the kernel is 1x1
(docs/COST_MODEL.md), else "default". Legality is select_impl_style's: SIMD divides
IFMChannels; the parallel style of a non-depthwise window wider than 1x1 needs SIMD ==
IFMChannels; the window and stride fit the feature map.

hls: FINN hls/convolutioninputgenerator_hls.py (2D square and the 1D variants).
"""

from __future__ import annotations

from typing import Any

from hw_builders.ops._common import bits, ceil, pair
from hw_builders.registry import OpModel, divisors, register_op


def _norm_1d(a: dict[str, Any]) -> tuple[int, int, int, int, int, int]:
    """FINN get_1d_conv_attrs_normalized: (ifm_w, ofm_w, k_w, stride_w, dil_w, C)."""
    ih, iw = pair(a["IFMDim"])
    oh, ow = pair(a["OFMDim"])
    kh, kw = pair(a["ConvKernelDim"])
    sh, sw = pair(a["Stride"])
    dh, dw = pair(a["Dilation"])
    if iw == 1 and ih != 1:  # [H, 1] -> [1, H]
        return ih, oh, kh, sh, dh, a["IFMChannels"]
    return iw, ow, kw, sw, dw, a["IFMChannels"]


def _ram_width(depth: float) -> int:
    if depth <= 512:
        return 36
    if depth <= 1024:
        return 18
    if depth <= 2048:
        return 9
    if depth <= 4096:
        return 4
    if depth <= 8192:
        return 2
    return 1


@register_op("ConvolutionInputGenerator")
class ConvolutionInputGenerator(OpModel):
    impls = ("rtl", "hls")
    default_impl = "rtl"
    required = ("IFMChannels", "IFMDim", "OFMDim", "ConvKernelDim", "inputDataType")
    defaults = {
        "SIMD": 1,
        "Stride": [1, 1],
        "Dilation": [1, 1],
        "ram_style": "distributed",
        "depthwise": 0,
        "parallel_window": 0,
        "M": 1,
        "outputDataType": None,
        "is1D": None,
    }
    fold_attrs = ("SIMD", "ram_style", "parallel_window")
    int_attrs = ("IFMChannels", "SIMD")
    choices = {"ram_style": ("auto", "block", "distributed", "ultra")}

    # -- helpers -----------------------------------------------------------------------
    @staticmethod
    def is_1d(a: dict[str, Any]) -> bool:
        if a.get("is1D") is not None:
            return bool(a["is1D"])
        ih, iw = pair(a["IFMDim"])
        return ih == 1 or iw == 1

    @staticmethod
    def impl_style(a: dict[str, Any]) -> str:
        kh, kw = pair(a["ConvKernelDim"])
        if a["parallel_window"] or (kh == 1 and kw == 1):
            return "parallel"
        return "default"

    def buffer_depth(self, a: dict[str, Any]) -> int:
        """rtl get_buffer_depth."""
        kh, kw = pair(a["ConvKernelDim"])
        h, w = pair(a["IFMDim"])
        sh, sw = pair(a["Stride"])
        dh, dw = pair(a["Dilation"])
        cf = int(a["IFMChannels"] / a["SIMD"])
        if self.impl_style(a) == "default":
            bmin = ((kh - 1) * dh * w + (kw - 1) * dw + 1) * cf
            return bmin + max(0, ((sw - 1) - kh * kw) * cf) + max(0, ((sh - 1) * w - kh * kw) * cf)
        return ((kh - 1) * dh * w + (kw - 1) * dw) * cf + 1 + 1

    # -- cycles ------------------------------------------------------------------------
    def cycles(self, a: dict[str, Any], impl: str) -> int:
        if impl == "hls":
            return self._cycles_hls(a)
        simd, C = a["SIMD"], a["IFMChannels"]
        if self.impl_style(a) == "parallel":
            ih, iw = pair(a["IFMDim"])
            return int(ih * iw * (C // simd) + 2)
        ih, iw = pair(a["IFMDim"])
        oh, ow = pair(a["OFMDim"])
        kh, kw = pair(a["ConvKernelDim"])
        sh, sw = pair(a["Stride"])
        dh, dw = pair(a["Dilation"])
        cf = int(C / simd)
        dws = a["depthwise"]
        if ih == 1 or iw == 1:
            _, ow1, kw1, sw1, _, _ = _norm_1d(a)
            if dws:
                return int(ow1 * kw1 * cf + cf * (kw1 - 1) * (sw1 - 1) - (kw1 - 1) + 2)
            return int(ow1 * kw1 * cf + 2)
        bmin = ((kh - 1) * dh * iw + (kw - 1) * dw + 1) * cf
        mx = max(ow * kw * kh * cf, sw * iw * cf)
        if dws:
            mx += ow * (sw - 1) * (cf - 1)
        cyc = bmin + oh * mx
        if dws:
            cyc += (sh - 1) * iw * cf
        return int(cyc)

    def _hls_variant(self, a: dict[str, Any]) -> str:
        dws = a["depthwise"]
        if self.is_1d(a):
            sh, sw = pair(a["Stride"])
            dh, dw = pair(a["Dilation"])
            strided, stride2, dilated = sh * sw > 1, sh * sw == 2, dh * dw > 1
            if self._hls_parallel(a):
                return "1D_parallel"
            if not dws:
                return "1D"
            if (strided and not stride2) or dilated:
                return "1D_dws_naive"
            return "1D_dws_stride" if stride2 else "1D_dws"
        return "2D"

    def _hls_parallel(self, a: dict[str, Any]) -> bool:
        if not self.is_1d(a) or a["parallel_window"] != 1:
            return False
        sh, sw = pair(a["Stride"])
        dh, dw = pair(a["Dilation"])
        return (
            a["SIMD"] == a["IFMChannels"]
            and a["depthwise"] == 0
            and sh == sw == 1
            and dh == dw == 1
            and a["ram_style"] in ("auto", "distributed")
        )

    def _cycles_hls(self, a: dict[str, Any]) -> int:
        simd, C = a["SIMD"], a["IFMChannels"]
        if not self.is_1d(a):
            kh, kw = pair(a["ConvKernelDim"])
            ih, iw = pair(a["IFMDim"])
            oh, ow = pair(a["OFMDim"])
            sh, sw = pair(a["Stride"])
            dh, dw = pair(a["Dilation"])
            wr = ow * kw * kh * (C / simd)
            rd = sw * iw * (C / simd)
            return int(iw * kh * dh * (C / simd) + oh * max(wr, rd))
        iw, ow, kw, sw, dw, C = _norm_1d(a)
        v = self._hls_variant(a)
        if v == "1D_parallel":
            return int(kw + ow)
        if v == "1D":
            return int(1 + ow * kw * C / simd)
        if v in ("1D_dws", "1D_dws_stride"):
            return int(1 + ow * kw * C / simd + (C / simd) * (kw - 1) - (kw - 1))
        return int(iw * C / simd + ow * kw * C / simd)

    # -- resources ---------------------------------------------------------------------
    def _rtl_buffers(self, a: dict[str, Any]) -> tuple[int, int, int] | None:
        """(width, depth, count) of the rtl line buffer(s); None for 1D parallel."""
        width = a["SIMD"] * bits(a["inputDataType"])
        if self.impl_style(a) == "default":
            return width, self.buffer_depth(a), 1
        ih, iw = pair(a["IFMDim"])
        if ih == 1 or iw == 1:
            return None
        kh, kw = pair(a["ConvKernelDim"])
        dh, dw = pair(a["Dilation"])
        kernel_width = (kw - 1) * dw + 1
        return width, (iw - kernel_width) + iw * (dh - 1), kh - 1

    def bram(self, a: dict[str, Any], impl: str) -> int:
        if impl == "hls":
            return self._bram_hls(a)
        if a["ram_style"] not in ("block", "auto"):
            return 0
        buf = self._rtl_buffers(a)
        if buf is None:
            return 0
        width, depth, count = buf
        rw = _ram_width(depth)
        casc_depth = ceil(depth / 16384)
        casc_width = ceil(width / rw)
        savings = 0
        if depth > 16384:
            savings = casc_width - ceil(width / _ram_width(depth % 16384))
        return int((casc_depth * casc_width - savings) * count)

    def uram(self, a: dict[str, Any], impl: str) -> int:
        if impl == "hls":
            return self._uram_hls(a)
        if a["ram_style"] != "ultra":
            return 0
        buf = self._rtl_buffers(a)
        if buf is None:
            return 0
        width, depth, count = buf
        return int(ceil(depth / 4096) * ceil(width / 72) * count)

    def lut(self, a: dict[str, Any], impl: str) -> int:
        if impl == "hls":
            return self._lut_hls(a)
        ram = 0
        if a["ram_style"] == "distributed":
            ram = int(a["SIMD"] * bits(a["inputDataType"]) * ceil(self.buffer_depth(a) / 38))
        return 300 + ram

    def _hls_dims(self, a: dict[str, Any]) -> tuple[int, int, int, int]:
        """(ifm_dim, k, stride, C) as the hls 2D estimates read them ([0] entries)."""
        return (
            pair(a["IFMDim"])[0],
            pair(a["ConvKernelDim"])[0],
            pair(a["Stride"])[0],
            a["IFMChannels"],
        )

    def _bram_hls(self, a: dict[str, Any]) -> int:
        simd, A = a["SIMD"], bits(a["inputDataType"])
        v = self._hls_variant(a)
        if v == "1D_parallel" or a["ram_style"] not in ("block", "auto"):
            return 0
        if v == "2D":
            ifm_dim, k, stride, C = self._hls_dims(a)
            depth = ifm_dim * C / simd
        else:
            iw, ow, kw, sw, dw, C = _norm_1d(a)
            if v == "1D":
                depth = (kw - 1) * C / simd
            elif v == "1D_dws_naive":
                depth = iw * C / simd
            else:
                depth = kw * C / simd
        width_mul = ceil(simd * A / _ram_width(depth))
        if v == "2D":
            depth_mul = ceil(ifm_dim * C / simd / depth)
            return int((k + stride) * width_mul * depth_mul)
        return int(width_mul * ceil(depth / 18432))

    def _lut_hls(self, a: dict[str, Any]) -> int:
        simd, A = a["SIMD"], bits(a["inputDataType"])
        v = self._hls_variant(a)
        ram = 0
        if v == "1D_parallel":
            kw = _norm_1d(a)[2]
            ram = ceil(simd * A * (kw + 1) / 64)
        if a["ram_style"] == "distributed":
            if v == "2D":
                ifm_dim, k, stride, C = self._hls_dims(a)
                ram = int((k + stride) * (simd * A * ceil(ifm_dim * C / simd / 64)))
            else:
                iw, ow, kw, sw, dw, C = _norm_1d(a)
                if v == "1D":
                    ram = ceil(A * (kw - 1) * C / 64)
                elif v == "1D_dws_naive":
                    ram = ceil(A * iw * C / 64)
                elif v in ("1D_dws", "1D_dws_stride"):
                    ram = ceil(A * kw * C / 64)
        else:
            ram = 0
        return 300 + ram

    def _uram_hls(self, a: dict[str, Any]) -> int:
        simd, A = a["SIMD"], bits(a["inputDataType"])
        v = self._hls_variant(a)
        if v == "1D_parallel" or a["ram_style"] != "ultra":
            return 0
        if v == "2D":
            ifm_dim, k, stride, C = self._hls_dims(a)
            return int((k + stride) * (ceil(simd * A / 64) * ceil(ifm_dim * C / simd / 4096)))
        iw, ow, kw, sw, dw, C = _norm_1d(a)
        wm = ceil(simd * A / 72)
        if v == "1D":
            return wm * ceil((kw - 1) * C / simd / 4096)
        if v == "1D_dws_naive":
            return wm * ceil(iw * C / simd / 4096)
        return wm * ceil(kw * C / simd / 4096)

    # -- folding -----------------------------------------------------------------------
    def _needs_full_simd(self, a: dict[str, Any], impl: str) -> bool:
        """rtl select_impl_style: the parallel style needs SIMD == IFMChannels, except for
        depthwise convolutions and 1x1 kernels, where SIMD only has to divide IFMChannels
        (the VVAU takes the resulting layout; 1x1 depthwise and plain are the same)."""
        if impl != "rtl" or self.impl_style(a) != "parallel":
            return False
        kh, kw = pair(a["ConvKernelDim"])
        return not (a["depthwise"] or (kh == 1 and kw == 1))

    def legal_values(self, a: dict[str, Any], impl: str = "") -> dict[str, list[int]]:
        if self._needs_full_simd(a, impl):
            return {"SIMD": [a["IFMChannels"]]}
        return {"SIMD": list(divisors(a["IFMChannels"]))}

    def violations(self, a: dict[str, Any], impl: str = "") -> list[str]:
        m = self.must_divide("SIMD", a["SIMD"], "IFMChannels", a["IFMChannels"])
        if m:
            return [m]
        if impl == "rtl":
            # rtl select_impl_style: the window (dilation included) and the stride fit the
            # feature map
            kh, kw = pair(a["ConvKernelDim"])
            ih, iw = pair(a["IFMDim"])
            sh, sw = pair(a["Stride"])
            dh, dw = pair(a["Dilation"])
            if (kh - 1) * dh + 1 > ih or (kw - 1) * dw + 1 > iw or sh > ih or sw > iw:
                return [
                    f"kernel {kh}x{kw} (dilation {dh}x{dw}) or stride {sh}x{sw} exceeds IFMDim "
                    f"{ih}x{iw}; choose a kernel and stride that fit the feature map"
                ]
        if self._needs_full_simd(a, impl) and a["SIMD"] != a["IFMChannels"]:
            return [
                f"SIMD={a['SIMD']} must equal IFMChannels={a['IFMChannels']} for the parallel "
                "window style of a non-depthwise kxk window (parallel_window=1); set SIMD to "
                "IFMChannels"
            ]
        return []
