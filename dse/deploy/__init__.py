"""The host runtime: serve an exported design library, as its host program does.

A library (``adapex export``) holds one FINN accelerator per design and its
``deployment.json``. This package reads them, never the study database:

* :class:`AdaptiveRunner` serves batches through one design (exit decisions, features of
  the samples an exit does not answer forwarded to the next stage);
* backends by name (:func:`get_backend`): ``software`` executes the exported
  ``model.onnx`` with qonnx, ``pynq`` drives the bitstream through FINN's PYNQ driver;
* :func:`serve_trace` is the runtime manager, live: a request source, the library's
  runtime table with the simulator's hysteresis, designs switched by loading them;
* :func:`verify_library` checks every design's accuracy and exit fractions on the
  study's test split against the stored ones.
"""

from __future__ import annotations

from dse.deploy.backends import (
    Backend,
    SoftwareBackend,
    backend_names,
    get_backend,
    register_backend,
)
from dse.deploy.library import (
    DeployedDesign,
    DeployedLibrary,
    DeployError,
    check_deployment,
    load_deployed_library,
)
from dse.deploy.manager import LiveResult, serve_trace
from dse.deploy.pynq import pack_stream, unpack_stream
from dse.deploy.runner import AdaptiveRunner, RunResult, confidence
from dse.deploy.verify import (
    DesignCheck,
    GuaranteeCheck,
    check_design,
    check_guarantees,
    load_split,
    verify_library,
)

__all__ = [
    "AdaptiveRunner",
    "Backend",
    "DeployError",
    "DeployedDesign",
    "DeployedLibrary",
    "DesignCheck",
    "GuaranteeCheck",
    "LiveResult",
    "RunResult",
    "SoftwareBackend",
    "backend_names",
    "check_deployment",
    "check_design",
    "check_guarantees",
    "confidence",
    "get_backend",
    "load_deployed_library",
    "load_split",
    "pack_stream",
    "register_backend",
    "serve_trace",
    "unpack_stream",
    "verify_library",
]
