"""Backends of the host runtime, registered by name: what runs one stage of a design.

A backend holds one design at a time (``load``: on an FPGA, its bitstream) and runs a
stage on a batch of integer inputs (the stage's input stream, in the layout of its tensor
in ``model.onnx``: batch first, NCHW for feature maps), returning the integers of the
stage's output streams by role (``logits``, ``features``, ``label``). Values are
``integer * scale`` (deployment.json); the exit decision is the runner's.

Built in:

* ``software``: executes exactly the design's exported ``model.onnx`` with the integer
  executor (:mod:`dse.integer_exec`), each stage on its own input stream, in batches. The
  reference; it runs anywhere, without torch.
* ``pynq``: the design's bitstream through FINN's generated PYNQ driver
  (:mod:`dse.deploy.pynq`; needs a board with ``pynq`` installed).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from dse.deploy.library import DeployedDesign, DeployError
from hw_builders.plugins import Registry


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


#: Samples per execution of the software backend.
BATCH = 256

#: How far (relative) a stream's scale in deployment.json may lie from the scale the model
#: gives it (the float32 constants an exporter folds against their float64 definition).
SCALE_RTOL = 1e-6


class SoftwareBackend(Backend):
    """The exported model.onnx executed by the integer executor (module doc).

    Each stage is its own compiled graph (the nodes its input stream reaches), run on its
    input stream's integers, ``BATCH`` samples at a time, by :mod:`dse.integer_exec`: the
    integers the accelerator computes, the same on every machine, and the same the study's
    exit profiles were computed with. The final stage's label is its ``TopK`` on the
    integer logits (the lowest class among equal ones, as FINN's LabelSelect). Every
    scale deployment.json states is checked against the one the model gives the stream.
    """

    name = "software"

    def __init__(self) -> None:
        super().__init__()
        self._stages: list[Any] = []

    def load(self, design: DeployedDesign) -> float:
        import onnx

        from dse.integer_exec import CompiledGraph, IntegerExecError

        t0 = time.perf_counter()
        if self.design is None or self.design.build_id != design.build_id:
            try:
                proto = onnx.load(str(design.model_path))
            except (OSError, ValueError, onnx.onnx_cpp2py_export.checker.ValidationError) as exc:
                raise DeployError(
                    f"{design.model_path}: unreadable model ({type(exc).__name__}); export the "
                    "library again with `adapex export`"
                ) from None
            dep = design.deployment
            stages = []
            try:
                for row in dep["stages"]:
                    name = dep["inputs"][row["input"]]["onnx"]["name"]
                    outs = [
                        dep["outputs"][row[k]]["onnx"]["name"]
                        for k in ("logits", "features", "label")
                        if k in row
                    ]
                    stages.append(CompiledGraph(proto, inputs=[name], outputs=outs))
            except IntegerExecError as exc:
                raise DeployError(f"{design.model_path}: {exc}") from None
            self._stages = stages
        self.design = design
        return time.perf_counter() - t0

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
            got = self._execute(stage, inp["onnx"]["name"], x[start : start + BATCH], roles)
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
        from dse.integer_exec import output_integers

        design = self._loaded()
        res = self._stages[stage].run({name: chunk})
        out = {}
        for role, stream in roles.items():
            tensor = stream["onnx"]["name"]
            ints, scale = output_integers(res[tensor], tensor)
            stated = stream.get("scale")
            if (
                role != "label"
                and stated is not None
                and not math.isclose(float(stated), scale, rel_tol=SCALE_RTOL)
            ):
                raise DeployError(
                    f"{design.folder / 'deployment.json'}: output {stream.get('index')} "
                    f"({tensor}) has scale {stated!r} but the model gives {scale!r}; export the "
                    "library again with `adapex export`"
                )
            out[role] = ints
        return out


_BACKENDS: Registry[Callable[[], Backend]] = Registry(
    "register_backend",
    lambda name, known: f"`backend` {name!r}: unknown; choose one of {known}",
    group="adapex.deploy_backends",
    adopt=lambda name, factory: register_backend(name, factory),
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
