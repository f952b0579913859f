"""The ``pynq`` backend: a design's bitstream through FINN's generated PYNQ driver, and the
stream packing it needs.

Packing is FINN's (``finn.util.data_packing.finnpy_to_packed_bytearray`` with
``reverse_inner`` and ``reverse_endian``, as its driver calls it): the stream's tensor in
channels-last layout is reshaped to its folded shape, and each folded row (one stream word)
becomes ``sum_i bits(v_i) << (i * bitwidth)`` (BIPOLAR -1/+1 as 0/1, signed types in two's
complement), written little-endian in whole bytes: the packed shape. A stream whose
integers in model.onnx are BIPOLAR but which FINN builds BINARY (the input of a later
stage that starts with an XNOR layer, and the features that feed it) carries -1/+1 as the
same bits, 0/1 (deployment.json's ``onnx.datatype``). :func:`pack_stream`
and :func:`unpack_stream` do that from deployment.json alone, without FINN or a board.

:class:`PynqBackend` needs a board with ``pynq`` and the design built through FINN's bitfile
steps (``output/deploy`` in its folder); the import of ``pynq`` is guarded, so this module
imports anywhere. One stage runs at a time: its input DMA and its output DMAs only.
"""

from __future__ import annotations

import importlib.util
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from dse.deploy.backends import Backend, register_backend
from dse.deploy.library import DeployedDesign, DeployError
from dse.library_format import stream_encoding
from hw_builders.datatypes import datatype


def _to_stream_layout(stream: Mapping[str, Any], x: np.ndarray) -> np.ndarray:
    if stream["onnx"]["layout"] == "NCHW" and stream["layout"] == "NHWC":
        return np.transpose(x, (0, 2, 3, 1))
    return x


def _from_stream_layout(stream: Mapping[str, Any], x: np.ndarray) -> np.ndarray:
    if stream["onnx"]["layout"] == "NCHW" and stream["layout"] == "NHWC":
        return np.transpose(x, (0, 3, 1, 2))
    return x


def _encoding(stream: Mapping[str, Any]) -> str:
    """How the stream carries model.onnx's integers (dse.library_format.stream_encoding)."""
    onnx_dt = stream["onnx"].get("datatype", stream["datatype"])
    try:
        return stream_encoding(onnx_dt, stream["datatype"])
    except ValueError as exc:
        raise DeployError(f"stream {stream['stream']}: {exc}; export the library again") from None


def _check_range(stream: Mapping[str, Any], data: np.ndarray, dt: Any) -> None:
    bad = bool(np.any(data == 0)) if dt.name == "BIPOLAR" else False
    if data.size and (bad or data.min() < dt.min or data.max() > dt.max):
        raise DeployError(
            f"stream {stream['stream']}: values {data.min()}..{data.max()} outside {dt.name}"
        )


def pack_stream(stream: Mapping[str, Any], x: np.ndarray) -> np.ndarray:
    """Integers ``x`` (batch first, the layout of the stream's tensor in model.onnx) as the
    bytes FINN's driver writes to the stream's DMA buffer: ``[N, *shape_packed[1:]]`` uint8.

    Raises:
        DeployError: a value outside the stream's datatype, or a wrong shape.
    """
    dt = datatype(stream["datatype"])
    bits = dt.bitwidth
    data = _to_stream_layout(stream, np.asarray(x)).astype(np.int64)
    if _encoding(stream) == "bipolar_as_binary":
        _check_range(stream, data, datatype("BIPOLAR"))
        data = (data + 1) // 2
    n = data.shape[0]
    if list(data.shape[1:]) != list(stream["shape_normal"][1:]):
        raise DeployError(
            f"stream {stream['stream']}: shape {list(data.shape[1:])}, expected "
            f"{stream['shape_normal'][1:]}"
        )
    _check_range(stream, data, dt)
    folded = data.reshape(n, *stream["shape_folded"][1:])
    if dt.name == "BIPOLAR":
        folded = (folded + 1) // 2
    words = folded.reshape(-1, folded.shape[-1]) & ((1 << bits) - 1)
    nbytes = int(stream["shape_packed"][-1])
    out = np.zeros((words.shape[0], nbytes), dtype=np.uint8)
    for row, vals in enumerate(words.tolist()):
        word = 0
        for i, v in enumerate(vals):
            word |= int(v) << (i * bits)
        out[row] = np.frombuffer(word.to_bytes(nbytes, "little"), dtype=np.uint8)
    return out.reshape(n, *stream["shape_packed"][1:])


def unpack_stream(stream: Mapping[str, Any], packed: np.ndarray) -> np.ndarray:
    """The inverse of :func:`pack_stream`: the integers of a stream's DMA buffer, batch
    first, in the layout of the stream's tensor in model.onnx."""
    dt = datatype(stream["datatype"])
    bits = dt.bitwidth
    packed = np.asarray(packed, dtype=np.uint8)
    n = packed.shape[0]
    per_word = int(stream["shape_folded"][-1])
    rows = packed.reshape(-1, packed.shape[-1])
    vals = np.zeros((rows.shape[0], per_word), dtype=np.int64)
    mask = (1 << bits) - 1
    for r, raw in enumerate(rows):
        word = int.from_bytes(bytes(raw.tolist()), "little")
        for i in range(per_word):
            vals[r, i] = (word >> (i * bits)) & mask
    if dt.name == "BIPOLAR" or _encoding(stream) == "bipolar_as_binary":
        vals = vals * 2 - 1
    elif dt.signed:
        vals = np.where(vals >= 1 << (bits - 1), vals - (1 << bits), vals)
    normal = vals.reshape(n, *stream["shape_normal"][1:])
    return _from_stream_layout(stream, normal)


def _load_driver(driver_dir: Path) -> Any:
    """FINN's generated driver.py of a design (its ``io_shape_dict``)."""
    path = driver_dir / "driver.py"
    if not path.is_file():
        raise DeployError(
            f"{path}: missing; build the design's bitfile first (python build.py "
            "dataflow_build_config.bitfile.json) and copy its output/deploy to the board"
        )
    sys.path.insert(0, str(driver_dir))
    spec = importlib.util.spec_from_file_location("adapex_finn_driver", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def check_driver(deployment: Mapping[str, Any], io: Mapping[str, Any]) -> None:
    """Refuse a FINN driver whose streams are not deployment.json's."""
    for side, key in (("inputs", "i"), ("outputs", "o")):
        streams = deployment[side]
        if int(io[f"num_{side}"]) != len(streams):
            raise DeployError(
                f"FINN's driver has {io[f'num_{side}']} {side}, deployment.json {len(streams)}"
            )
        for j, st in enumerate(streams):
            got_dt = getattr(io[f"{key}dt"][j], "name", str(io[f"{key}dt"][j]))
            got = (got_dt, list(io[f"{key}shape_folded"][j][1:]))
            want = (st["datatype"], list(st["shape_folded"][1:]))
            if got != want:
                raise DeployError(
                    f"FINN's driver stream {side}[{j}] is {got}, deployment.json says {want}; "
                    "the bitfile was not built from this folder"
                )


class PynqBackend(Backend):
    """A design's bitstream on a PYNQ board (module doc)."""

    name = "pynq"

    def __init__(self) -> None:
        super().__init__()
        try:
            import pynq  # noqa: F401
        except ImportError:
            raise DeployError(
                "`backend` pynq: the pynq package is not installed here; run on the board "
                "(with PYNQ) or use the software backend",
                arguments=("backend",),
            ) from None
        self.accel: Any = None

    def load(self, design: DeployedDesign) -> float:
        dep = design.deployment
        deploy = design.folder / str(Path(dep["bitfile"]["deploy"]))
        driver = _load_driver(deploy / "driver")
        check_driver(dep, driver.io_shape_dict)
        bitfile = deploy / "bitfile" / Path(dep["bitfile"]["bitfile"]).name
        platform = "alveo" if dep.get("shell_flow_type") == "vitis_alveo" else "zynq-iodma"
        t0 = time.perf_counter()
        self.accel = driver.FINNExampleOverlay(
            bitfile_name=str(bitfile),
            platform=platform,
            io_shape_dict=driver.io_shape_dict,
            batch_size=1,
        )
        self.design = design
        return time.perf_counter() - t0

    def run_stage(self, stage: int, x: np.ndarray) -> dict[str, np.ndarray]:
        from pynq import allocate

        design = self._loaded()
        dep, accel = design.deployment, self.accel
        row = dep["stages"][stage]
        n = int(np.asarray(x).shape[0])
        inp = dep["inputs"][row["input"]]
        roles = {k: row[k] for k in ("logits", "features", "label") if k in row}
        ibuf = allocate(shape=(n, *inp["shape_packed"][1:]), dtype=np.uint8)
        ibuf[:] = pack_stream(inp, x)
        ibuf.flush()
        obufs = {
            k: allocate(shape=(n, *dep["outputs"][j]["shape_packed"][1:]), dtype=np.uint8)
            for k, j in roles.items()
        }
        if accel.platform == "zynq-iodma":
            for k, j in roles.items():
                odma = accel.odma[j]
                odma.write(0x10, obufs[k].device_address)
                odma.write(0x1C, n)
                odma.write(0x00, 1)
            idma = accel.idma[row["input"]]
            idma.write(0x10, ibuf.device_address)
            idma.write(0x1C, n)
            idma.write(0x00, 1)
            for j in roles.values():
                while accel.odma[j].read(0x00) & 0x2 == 0:
                    pass
        else:
            handles = [accel.odma[j].start(obufs[k], n) for k, j in roles.items()]
            accel.idma[row["input"]].start(ibuf, n)
            for h in handles:
                h.wait()
        out = {}
        for k, j in roles.items():
            obufs[k].invalidate()
            out[k] = unpack_stream(dep["outputs"][j], np.array(obufs[k]))
        return out


register_backend("pynq", PynqBackend)
