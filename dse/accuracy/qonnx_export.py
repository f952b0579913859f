"""QONNX export of a multi-exit model (whole, or one stage), checked by execution.

The exported file is Brevitas' QONNX (``Quant`` / ``BipolarQuant`` nodes) cleaned with
``qonnx.util.cleanup.cleanup_model``: the input format that FINN's builder expects. Every
export is verified by executing the ONNX graph with ``qonnx.core.onnx_exec.execute_onnx``
and comparing its argmax with PyTorch's on a sample batch.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from dse.errors import DseError

# torch's ONNX exporter warns on every export that torchvision (which adapex never uses) is
# not installed; that line says nothing about our models.
logging.getLogger("torch.onnx._internal.exporter._registration").setLevel(logging.ERROR)


def _flatten(out: Any) -> list[np.ndarray]:
    if isinstance(out, (list, tuple)):
        items: list[np.ndarray] = []
        for o in out:
            items.extend(_flatten(o))
        return items
    value = out.value if hasattr(out, "value") and not hasattr(out, "detach") else out
    return [value.detach().cpu().numpy()]


def _sample_input(shape: Sequence[int], n: int, seed: int = 0) -> Any:
    import torch

    gen = torch.Generator().manual_seed(seed)
    return torch.rand((n, *shape), generator=gen)


def verify_qonnx(
    path: str | os.PathLike[str],
    module: Any,
    sample: Any,
    *,
    atol: float = 1e-4,
) -> dict[str, Any]:
    """Execute a QONNX file with qonnx and compare it with the PyTorch module.

    Every logits output (2-D) must have the same argmax as PyTorch on every sample (a
    difference only between classes whose PyTorch logits tie within ``atol`` is allowed).

    Args:
        path: The ONNX file.
        module: The module it was exported from (eval mode).
        sample: A batch (torch tensor or numpy array); executed one sample at a time,
            matching the exported batch size of 1.
        atol: Tie tolerance on logits.

    Returns:
        ``{"samples", "outputs", "max_abs_diff"}`` (largest |qonnx - torch| per output).

    Raises:
        DseError: the argmax differs, or the graph cannot be executed.
    """
    import torch
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.core.onnx_exec import execute_onnx

    x = sample if isinstance(sample, torch.Tensor) else torch.from_numpy(np.asarray(sample))
    x = x.float()
    module.eval()
    with torch.no_grad():
        ref = _flatten(module(x))
    model = ModelWrapper(str(path))
    in_name = model.graph.input[0].name
    out_names = [o.name for o in model.graph.output]
    if len(out_names) != len(ref):
        raise DseError(
            f"qonnx {path}: {len(out_names)} outputs but the PyTorch module has {len(ref)}; "
            "re-export the model"
        )
    max_diff = [0.0] * len(ref)
    for i in range(x.shape[0]):
        try:
            res = execute_onnx(model, {in_name: x[i : i + 1].numpy()})
        except Exception as exc:  # noqa: BLE001 - report any execution failure as one line
            raise DseError(
                f"qonnx {path}: execution failed ({type(exc).__name__}: "
                f"{str(exc).splitlines()[0] if str(exc) else ''}); re-export the model"
            ) from exc
        for j, name in enumerate(out_names):
            got = np.asarray(res[name], dtype=np.float64).reshape(ref[j][i : i + 1].shape)
            want = ref[j][i : i + 1].astype(np.float64)
            max_diff[j] = max(max_diff[j], float(np.max(np.abs(got - want))) if got.size else 0.0)
            if want.ndim == 2:
                a = int(np.argmax(got[0]))
                b = int(np.argmax(want[0]))
                if a != b and want[0, a] < want[0, b] - atol:
                    raise DseError(
                        f"qonnx {path}: output {name} sample {i}: argmax {a} differs from "
                        f"PyTorch's {b}; the export is not faithful (check the quantisers)"
                    )
    return {"samples": int(x.shape[0]), "outputs": out_names, "max_abs_diff": max_diff}


def export_qonnx(
    model: Any,
    out_path: str | os.PathLike[str],
    *,
    stage: int | None = None,
    exits: Sequence[int] | None = None,
    sample: Any = None,
    verify: bool = True,
    n_verify: int = 4,
    dynamo: bool | None = None,
) -> Path:
    """Export the whole multi-exit model, or one stage of it, to cleaned QONNX.

    Args:
        model: A ``MultiExitNet``.
        out_path: The ``.onnx`` file to write (atomically).
        stage: ``None`` for the whole model (all attached exits as outputs), else the stage
            index of the design that uses ``exits`` (stage k = backbone segment + exit k's
            head; outputs ``(exit logits, features)``; the last stage outputs logits).
        exits: Exits in use for a stage export (default: all attached).
        sample: Input batch of the *whole model* for the verification (default: a seeded
            random batch in [0, 1]); a stage is checked on the features this batch yields.
        verify: Execute the file with qonnx and compare with PyTorch (argmax).
        n_verify: Number of random samples when ``sample`` is None.
        dynamo: torch's exporter: None for Brevitas' default (torch.export), False for the
            TorchScript exporter (a few times faster; the same integer graph).

    Returns:
        The written path.

    Raises:
        DseError: a bad stage/exit, or the exported graph disagrees with PyTorch.
    """
    import torch

    from search_spaces import SpaceError

    model.eval()
    model.cpu()
    x = sample if sample is not None else _sample_input(model.arch.input_shape, n_verify)
    x = x if isinstance(x, torch.Tensor) else torch.from_numpy(np.asarray(x))
    x = x.float()
    if stage is None:
        if exits is not None and list(exits) != list(model.arch.exits):
            raise DseError(
                "exits: a whole-model export contains every attached exit; export stages to "
                "use a subset"
            )
        module = model
        stage_x = x
    else:
        try:
            module = model.stage(int(stage), exits)
            stage_x = model.stage_inputs(x, exits)[int(stage)]
        except SpaceError as exc:
            raise DseError(str(exc)) from exc
    module.eval()
    return write_qonnx(
        module,
        stage_x[:1],
        out_path,
        check=(lambda path: verify_qonnx(path, module, stage_x)) if verify else None,
        dynamo=dynamo,
    )


def write_qonnx(
    module: Any,
    example: Any,
    out_path: str | os.PathLike[str],
    *,
    transform: Callable[[Any], Any] | None = None,
    check: Callable[[Path], Any] | None = None,
    dynamo: bool | None = None,
) -> Path:
    """Brevitas' QONNX export of ``module``, cleaned with qonnx, written atomically.

    Args:
        module: The module (eval mode) to export.
        example: One input batch of batch size 1 to trace with.
        out_path: The ``.onnx`` file to write.
        transform: Applied to the cleaned ``ModelWrapper`` before saving (returns it).
        check: Called with the saved temporary file before it replaces ``out_path``
            (raises to refuse it).
        dynamo: torch's exporter (None: Brevitas' default; False: TorchScript).

    Returns:
        The written path (nothing is written when the export or ``check`` fails).
    """
    from hw_builders.atomic import new_parents

    out = Path(out_path)
    with new_parents(out):
        return _write_qonnx(module, example, out, transform, check, dynamo)


def _write_qonnx(
    module: Any,
    example: Any,
    out: Path,
    transform: Callable[[Any], Any] | None,
    check: Callable[[Path], Any] | None,
    dynamo: bool | None,
) -> Path:
    """:func:`write_qonnx` into an existing folder."""
    import torch
    from brevitas.export import export_qonnx as brevitas_export_qonnx
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.util.cleanup import cleanup_model

    fd, tmp_name = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".onnx")
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        # torch.onnx prints progress on stdout: keep stdout clean for --json callers
        with torch.no_grad(), contextlib.redirect_stdout(io.StringIO()):
            kwargs = {} if dynamo is None else {"dynamo": bool(dynamo)}
            brevitas_export_qonnx(module, example, export_path=str(tmp), **kwargs)
        wrapped = cleanup_model(ModelWrapper(str(tmp)))
        if transform is not None:
            wrapped = transform(wrapped)
        wrapped.save(str(tmp))
        if check is not None:
            check(tmp)
        mask = os.umask(0)
        os.umask(mask)
        os.chmod(tmp, 0o666 & ~mask)  # mkstemp's file is private (0600): the usual mode
        os.replace(tmp, out)
    finally:
        # the exporter may write external data beside the temporary file (<tmp>.data)
        for leftover in out.parent.glob(tmp.name + "*"):
            with contextlib.suppress(OSError):
                leftover.unlink()
    return out


def export_stages(
    model: Any,
    out_dir: str | os.PathLike[str],
    exits: Sequence[int],
    *,
    sample: Any = None,
    verify: bool = True,
) -> list[Path]:
    """Export every stage of the design that uses ``exits`` (``stage_<k>.onnx``).

    Returns:
        The written paths, in stage order.
    """
    ex = list(exits)
    return [
        export_qonnx(
            model,
            Path(out_dir) / f"stage_{k}.onnx",
            stage=k,
            exits=ex,
            sample=sample,
            verify=verify,
        )
        for k in range(len(ex) + 1)
    ]
