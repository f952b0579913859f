"""A tiny but real study config for the study tests: 600 of the digits at 8x8 (a
stratified subsample: the tests exercise the engine, not the accuracy), a small CNV with
two candidate exits at W2A2 and W4A2, four pruning rates (eight distinct trained models,
each with 32 designs), real Brevitas training for a few epochs, the real FINN cost model
on a Pynq-Z1, and a 1-second heartbeat (3-second grace period)."""

from __future__ import annotations

import os
from pathlib import Path

TINY_TOML = """
[study]
name = "{name}"
seed = 0
sampler = "{sampler}"
population_size = 4
trials = {trials}

[storage]
heartbeat_interval_s = 1
grace_period_s = 3
max_retry = 2

[dataset]
name = "digits"
limit = 600

[model]
family = "cnv"
width_mult = 0.25
weight_bits = [2, 4]
candidate_exits = [0, 1]

[training]
epochs = 5
finetune_epochs = 1
batch_size = 32
prune_step = 0.25

[pruning]
rates = [0.0, 0.25, 0.5, 0.75]

[exits]
thresholds = [0.8, 0.95]

[folding]
budget = [0.25, 1.0]

[hardware]
board = "Pynq-Z1"
clk_ns = [10.0]
"""


def write_tiny(
    directory: Path, name: str = "tiny", *, trials: int = 6, sampler: str = "nsga2"
) -> Path:
    """Write the tiny study TOML into ``directory`` and return its path."""
    path = directory / f"{name}.toml"
    path.write_text(TINY_TOML.format(name=name, trials=trials, sampler=sampler))
    return path


def subprocess_env(cache_dir: Path | None = None) -> dict[str, str]:
    """Environment for `adapex` subprocesses: one torch thread, unbuffered, a given cache."""
    env = dict(os.environ)
    env.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", PYTHONUNBUFFERED="1")
    if cache_dir is not None:
        env["ADAPEX_CACHE_DIR"] = str(cache_dir)
    return env
