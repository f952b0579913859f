"""Backends of the host runtime, registered by name: what runs one stage of a design.

A backend holds one design at a time (``load``: on an FPGA, its bitstream) and runs a
stage on a batch of integer inputs (the stage's input stream, in the layout of its tensor
in ``model.onnx``: batch first, NCHW for feature maps), returning the integers of the
stage's output streams by role (``logits``, ``features``, ``label``). Values are
``integer * scale`` (deployment.json); the exit decision is the runner's.

Built in:

* ``software``: executes exactly the design's exported ``model.onnx`` with qonnx, each
  stage on its own input (:func:`dse.accuracy.design_model.stage_submodel`), one sample at
  a time (the model's batch size). The reference; it runs anywhere.
* ``pynq``: the design's bitstream through FINN's generated PYNQ driver
  (:mod:`dse.deploy.pynq`; needs a board with ``pynq`` installed).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

from dse.deploy.library import DeployedDesign, DeployError
from dse.registry import Registry


class Backend:
    """Runs the stages of one loaded design (subclass and register it by name)."""

    name = ""

    def __init__(self) -> None:
        self.design: DeployedDesign | None = None

    def load(self, design: DeployedDesign) -> float:
        """Make ``design`` the running one (reconfigure); returns the seconds it took."""
        raise NotImplementedError

    def run_stage(self, stage: int, x: np.ndarray) -> dict[str, np.ndarray]:
        """Stage ``stage`` on the integer batch ``x``; integers of its outputs by role."""
        raise NotImplementedError

    def _loaded(self) -> DeployedDesign:
        if self.design is None:
            raise DeployError("the backend holds no design; call load(design) first")
        return self.design


#: Samples per qonnx execution of the software backend.
BATCH = 64


def _with_batch(sub: Any, n: int) -> Any:
    """The same stage graph for batches of ``n`` (its inputs' and outputs' first axis and
    its constant Reshape shapes; shapes inferred again)."""
    import copy

    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.transformation.infer_shapes import InferShapes

    model = ModelWrapper(copy.deepcopy(sub.model))
    for vi in (*model.graph.input, *model.graph.output):
        vi.type.tensor_type.shape.dim[0].dim_value = n
    del model.graph.value_info[:]
    for node in model.get_nodes_by_op_type("Reshape"):
        shape = model.get_initializer(node.input[1])
        if shape is not None:
            shape = shape.copy()
            shape[0] = n
            model.set_initializer(node.input[1], shape)
    return model.transform(InferShapes())


class SoftwareBackend(Backend):
    """The exported model.onnx executed with qonnx (module doc).

    Each stage runs on its own input stream, ``BATCH`` samples per execution (the stage's
    graph with its batch axis set). Outputs become integers by their scale; the final
    stage's label is taken, as FINN's LabelSelect takes it, from the integer logits its TopK
    reads (the float model's rounding noise must not break ties: the lowest class wins,
    as in ONNX's TopK on FINN's integers).
    """

    name = "software"

    def __init__(self) -> None:
        super().__init__()
        self._stages: list[Any] = []
        self._batched: dict[tuple[int, int], Any] = {}

    def load(self, design: DeployedDesign) -> float:
        from qonnx.core.modelwrapper import ModelWrapper

        from dse.accuracy.design_model import stage_submodel

        t0 = time.perf_counter()
        if self.design is None or self.design.build_id != design.build_id:
            model = ModelWrapper(str(design.model_path))
            self._stages = [stage_submodel(model, int(st["stage"])) for st in design.stages]
            self._batched = {}
        self.design = design
        return time.perf_counter() - t0

    def _model(self, stage: int, n: int) -> Any:
        if n == 1:
            return self._stages[stage]
        key = (stage, n)
        if key not in self._batched:
            self._batched[key] = _with_batch(self._stages[stage], n)
        return self._batched[key]

    def run_stage(self, stage: int, x: np.ndarray) -> dict[str, np.ndarray]:
        design = self._loaded()
        dep = design.deployment
        row = dep["stages"][stage]
        inp = dep["inputs"][row["input"]]
        shape = list(inp["onnx"]["shape"])
        x = np.asarray(x)
        if list(x.shape[1:]) != shape[1:]:
            raise DeployError(
                f"stage {stage} of design {design.id}: input shape {list(x.shape[1:])}, the "
                f"model reads {shape[1:]}"
            )
        roles = {k: dep["outputs"][row[k]] for k in ("logits", "features", "label") if k in row}
        parts: dict[str, list[np.ndarray]] = {k: [] for k in roles}
        for start in range(0, x.shape[0], BATCH):
            chunk = x[start : start + BATCH].astype(np.float32)
            got = self._execute(stage, inp["onnx"]["name"], chunk, roles)
            for role, value in got.items():
                parts[role].append(value)
        return {
            role: np.concatenate(v, axis=0)
            if v
            else np.zeros((0, *roles[role]["onnx"]["shape"][1:]), np.int64)
            for role, v in parts.items()
        }

    def _execute(
        self, stage: int, name: str, chunk: np.ndarray, roles: dict[str, Any]
    ) -> dict[str, np.ndarray]:
        from qonnx.core.onnx_exec import execute_onnx

        model = self._model(stage, chunk.shape[0])
        res = execute_onnx(model, {name: chunk}, return_full_exec_context="label" in roles)
        out = {}
        for role, stream in roles.items():
            if role == "label":
                topk = model.find_producer(stream["onnx"]["name"])
                logits = np.asarray(res[topk.input[0]], dtype=np.float64)
                ints = np.rint(logits / float(stream["logits_scale"]))
                out[role] = np.argmax(ints.reshape(chunk.shape[0], -1), axis=1)[:, None]
                continue
            value = np.asarray(res[stream["onnx"]["name"]], dtype=np.float64)
            scale = stream.get("scale")
            value = value if scale is None else value / float(scale)
            out[role] = np.rint(value).astype(np.int64)
        return out


_BACKENDS: Registry[Callable[[], Backend]] = Registry(
    "register_backend",
    lambda name, known: f"`backend` {name!r}: unknown; choose one of {known}",
    error=DeployError,
    arguments=("backend",),
)


def register_backend(name: str, factory: Callable[[], Backend]) -> Callable[[], Backend]:
    """Register a backend factory under ``name`` (a DeployError if it is taken)."""
    return _BACKENDS.register(name, factory)


def get_backend(name: str) -> Backend:
    """A new backend registered as ``name``."""
    return _BACKENDS.lookup(name)()


def backend_names() -> list[str]:
    """The registered backends' names."""
    return _BACKENDS.names()


register_backend("software", SoftwareBackend)
# "pynq" registers itself in dse.deploy.pynq (imported by the package)
