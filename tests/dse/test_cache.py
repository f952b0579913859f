"""Checkpoint cache: content keys, atomic writes, concurrent processes, corrupt files."""

from __future__ import annotations

import multiprocessing as mp
import os
import time
from pathlib import Path

import pytest
import torch

from dse.accuracy.cache import (
    CheckpointCache,
    atomic_write_bytes,
    cache_key,
    default_cache_dir,
    load_state_dict,
)
from dse.errors import DseError


def test_key_is_stable_and_sensitive() -> None:
    a = cache_key(arch={"widths": [8, 16], "family": "cnv"}, recipe={"lr": 0.01}, seed=0)
    b = cache_key(seed=0, recipe={"lr": 0.01}, arch={"family": "cnv", "widths": (8, 16)})
    assert a == b and len(a) == 64
    assert a != cache_key(arch={"widths": [8, 16], "family": "cnv"}, recipe={"lr": 0.01}, seed=1)
    assert a != cache_key(arch={"widths": [8, 12], "family": "cnv"}, recipe={"lr": 0.01}, seed=0)
    with pytest.raises(DseError, match="cannot hash"):
        cache_key(x=object())


def test_default_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ADAPEX_CACHE_DIR", raising=False)
    db = tmp_path / "studies.db"
    db.write_text("")
    assert default_cache_dir(db) == tmp_path / ".adapex_cache"
    monkeypatch.setenv("ADAPEX_CACHE_DIR", str(tmp_path / "elsewhere"))
    assert default_cache_dir(db) == tmp_path / "elsewhere"


def test_save_and_load_roundtrip(tmp_path: Path) -> None:
    cache = CheckpointCache(tmp_path)
    key = cache_key(name="m")
    state = {"w": torch.arange(6, dtype=torch.float32).reshape(2, 3), "b": torch.ones(2)}
    entry = cache.save(key, state, {"family": "cnv"}, {"note": "x"})
    assert entry.exists()
    assert entry.dir == tmp_path / key[:2] / key
    back = entry.load_state_dict()
    assert torch.equal(back["w"], state["w"]) and torch.equal(back["b"], state["b"])
    assert entry.arch() == {"family": "cnv"} and entry.meta() == {"note": "x"}
    # no temporary files are left behind
    assert not [p for p in entry.dir.iterdir() if p.name.endswith(".tmp")]


def test_atomic_write_leaves_old_file_on_failure(tmp_path: Path) -> None:
    target = tmp_path / "f.bin"
    atomic_write_bytes(target, b"old")

    with pytest.raises(TypeError):
        atomic_write_bytes(target, 12345)  # type: ignore[arg-type]
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["f.bin"]


def test_corrupt_checkpoint_names_file_and_fix(tmp_path: Path) -> None:
    cache = CheckpointCache(tmp_path)
    key = cache_key(name="c")
    entry = cache.save(key, {"w": torch.ones(3)}, {}, {})
    entry.model_path.write_bytes(b"this is not a torch file")
    with pytest.raises(DseError) as info:
        entry.load_state_dict()
    msg = str(info.value)
    assert str(entry.model_path) in msg and "and run again" in msg and "\n" not in msg
    (entry.dir / "meta.json").write_text("{not json")
    with pytest.raises(DseError, match="meta.json is corrupt"):
        entry.meta()
    with pytest.raises(DseError, match="not found"):
        load_state_dict(tmp_path / "missing.pt")


def test_pickled_module_is_refused(tmp_path: Path) -> None:
    # weights_only=True: a checkpoint holding an arbitrary object is not unpickled
    path = tmp_path / "model.pt"
    torch.save({"w": torch.ones(1), "evil": Path("/")}, path)
    with pytest.raises(DseError, match="corrupt"):
        load_state_dict(path)


def _worker(root: str, key: str, log: str, out: mp.Queue) -> None:
    cache = CheckpointCache(root)
    entry = cache.entry(key)
    with cache.lock(key):
        if entry.exists():
            out.put(("reused", float(entry.load_state_dict()["w"][0])))
            return
        with open(log, "a") as fh:
            fh.write(f"{os.getpid()}\n")
        time.sleep(0.5)  # "training"
        cache.save(key, {"w": torch.full((4,), float(os.getpid()))}, {}, {})
        out.put(("trained", float(os.getpid())))


def test_concurrent_processes_train_once(tmp_path: Path) -> None:
    ctx = mp.get_context("spawn")
    out: mp.Queue = ctx.Queue()
    key = cache_key(name="shared")
    log = str(tmp_path / "trainings.log")
    procs = [
        ctx.Process(target=_worker, args=(str(tmp_path / "cache"), key, log, out)) for _ in range(3)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    results = [out.get(timeout=5) for _ in procs]
    assert sorted(r[0] for r in results) == ["reused", "reused", "trained"]
    # everyone sees the weights of the one process that trained
    assert len({r[1] for r in results}) == 1
    assert len(Path(log).read_text().split()) == 1


def _pipeline_worker(root: str, out: mp.Queue) -> None:
    import logging

    torch.set_num_threads(1)
    from dse.accuracy import AccuracyPipeline, TrainRecipe
    from search_spaces import get_family, load_dataset

    records: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record.getMessage())

    logger = logging.getLogger("dse.accuracy")
    logger.addHandler(Collect())
    logger.setLevel(logging.INFO)
    data = load_dataset("digits", seed=0, limit=200)
    arch = get_family("cnv").default_arch(data.input_shape, data.num_classes, width_mult=0.125)
    recipe = TrainRecipe(epochs=1, finetune_epochs=1, batch_size=64)
    res = AccuracyPipeline(data, cache_dir=root, device="cpu", recipe=recipe).evaluate(arch, 0.25)
    trained = [m.split(":")[0] for m in records if "cached:" in m]
    out.put((str(res.checkpoint), trained, res.profile.predictions.tolist()))


@pytest.mark.slow  # trains a real model (once, in one of two processes)
def test_concurrent_pipelines_share_one_training(tmp_path: Path) -> None:
    ctx = mp.get_context("spawn")
    out: mp.Queue = ctx.Queue()
    root = str(tmp_path / "cache")
    procs = [ctx.Process(target=_pipeline_worker, args=(root, out)) for _ in range(2)]
    for p in procs:
        p.start()
    results = [out.get(timeout=300) for _ in procs]
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    (ck_a, trained_a, pred_a), (ck_b, trained_b, pred_b) = results
    assert ck_a == ck_b and pred_a == pred_b
    # the joint training and the pruning step were each done by exactly one process
    done = sorted(trained_a + trained_b)
    assert done == ["joint training cached", "pruning step 0.25 cached"], done
    assert len(list((tmp_path / "cache").glob("??/*/meta.json"))) == 2
