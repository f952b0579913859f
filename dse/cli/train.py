"""CLI command ``adapex train``: train, prune, calibrate and export one design point."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

import typer


def _print_table(result: dict) -> None:
    from rich.table import Table

    from dse.cli.output import console as make_console

    console = make_console()
    details = result.get("details", {})
    arch = details.get("arch", {})
    metrics = details.get("metrics", {})
    table = Table(title="adapex train: exits in use")
    for col in ("exit", "threshold", "reach", "leaves here", "accuracy there"):
        table.add_column(col, justify="right")
    reach = details.get("reach", [None] * len(result["exits"]))
    for row, r in zip(result["exits"], reach, strict=False):
        table.add_row(
            "final" if row["index"] == -1 else str(row["index"]),
            "-" if row["index"] == -1 else f"{row['threshold']:.3f}",
            "-" if r is None else f"{r:.3f}",
            f"{row['exit_fraction']:.3f}",
            "-" if row["accuracy"] is None else f"{row['accuracy']:.4f}",
        )
    console.print(table)
    if arch:
        console.print(
            f"model: {arch.get('family')} W{arch.get('weight_bits')}A{arch.get('act_bits')} "
            f"widths {arch.get('widths')} pruning {metrics.get('rates')}"
        )
    if metrics.get("exit_accuracy"):
        per_exit = ", ".join(
            f"{'final' if k == '-1' else 'exit ' + k}: {v:.4f}"
            for k, v in metrics["exit_accuracy"].items()
        )
        console.print(f"test accuracy of every exit alone: {per_exit}")
    console.print(f"[bold]early-exit accuracy: {result['accuracy']:.4f}[/bold]")
    console.print(f"checkpoint: {result['checkpoint']}")
    console.print(f"qonnx: {result['qonnx']}")


def train(
    config: Path | None = typer.Option(
        None,
        "--config",
        help="TOML file with a `train` table (dataset, path, image_size, family, "
        "width_mult, weight_bits, act_bits, exits, pruning, thresholds, recipe fields). "
        "Default: the quickstart point (digits, small CNV, W2A2, every exit, unpruned).",
    ),
    json_out: bool = typer.Option(False, "--json", help="Print machine-readable JSON only."),
    device: str = typer.Option(
        "auto",
        "--torch-device",
        help="Where PyTorch trains: auto | cpu | cuda (the FPGA is the config's board).",
    ),
    seed: int = typer.Option(0, "--seed", help="Seed of data split, weights and shuffling."),
    cache_dir: Path | None = typer.Option(
        None,
        "--cache-dir",
        help="Checkpoint cache directory (default: $ADAPEX_CACHE_DIR or ./.adapex_cache).",
    ),
    no_cache: bool = typer.Option(
        False, "--no-cache", help="Ignore cached checkpoints (train into a fresh temp dir)."
    ),
    threads: int = typer.Option(
        1,
        "--threads",
        help="CPU threads for torch (1 is fastest for the small quickstart models).",
    ),
    out: Path | None = typer.Option(
        None, "--out", help="Directory of the QONNX file (default: next to the checkpoint)."
    ),
) -> None:
    """Train, prune, calibrate and export one design point."""
    from dse.accuracy.point import TrainPoint, prepare_point, run_point
    from dse.accuracy.train import resolve_torch_device
    from dse.errors import DseError

    if seed < 0:
        raise DseError(f"--seed={seed}: must be >= 0")
    if device.lower() not in ("auto", "cpu", "cuda"):
        raise DseError(f"--torch-device={device!r}: choose one of auto, cpu, cuda")
    point = TrainPoint.load(config) if config is not None else TrainPoint.quickstart()
    dev = resolve_torch_device(device)
    if threads < 1:
        raise DseError(f"--threads={threads}: must be >= 1")
    # progress (epochs, cached steps) goes to stderr, also with --json: stdout holds
    # only the result
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
    logger = logging.getLogger("dse.accuracy")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    prepared = prepare_point(point, seed=seed)
    if dev == "cpu":
        import torch

        torch.set_num_threads(threads)
    if no_cache:
        import tempfile

        cache = Path(tempfile.mkdtemp(prefix="adapex_nocache_"))
    else:
        from dse.accuracy.cache import default_cache_dir

        cache = cache_dir if cache_dir is not None else default_cache_dir()
    from dse.accuracy.cache import CheckpointCache

    CheckpointCache(cache).check_usable()
    if out is not None:
        from hw_builders import check_output_dir

        check_output_dir(out, "--out")  # before hours of training, not after
    result = run_point(prepared, cache_dir=cache, device=dev, seed=seed, out_dir=out)
    if json_out:
        keys = ("exits", "accuracy", "checkpoint", "qonnx")
        typer.echo(json.dumps({k: result[k] for k in keys}))
    else:
        _print_table(result)


def register(app: typer.Typer) -> None:
    """Attach this module's commands to the ``adapex`` app."""
    app.command("train")(train)
