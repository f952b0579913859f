"""Create, resume and join studies: a trial per trained model, its designs the inner step's.

``run_study`` (``adapex run``) creates the study (our tables, the config, Optuna's study)
or resumes it, then trains models until the study holds ``--trials`` trained models (or
every distinct model of a finite space is trained); ``join_study`` (``adapex worker``) joins
an existing study from another process or machine with the config stored in the database.

A training trial samples only the knobs that need a training (bit widths, pruning rates;
:class:`dse.study.samplers.DistinctTrainings` never proposes a model that is trained or
being trained). The model is trained (the accuracy pipeline, cached), its exact front over
the cheap knobs is found by the inner step (:mod:`dse.study.inner`), and everything is
stored in one transaction (:meth:`dse.storage.Store.complete_training`): the trial carries
the front's first design and one more COMPLETE trial carries each further design, so
Optuna's views and samplers see every design with its objectives.

Both use Optuna's RDB storage with heartbeats: a trial whose worker died (no heartbeat within
the grace period) is failed and retried once more with the same parameters
(``RetryHeartbeatStaleTrialCallback``) by the next worker that starts a trial.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dse.config import StudyConfig, load_config, parse_config, study_name_problem
from dse.errors import DseError, StateError
from dse.optuna_bridge import (
    check_optuna_version,
    drop_cached_trials,
    heartbeat_thread,
    rdb_backend,
    sampler_after_trial,
    study_storage,
    trial_id,
)
from dse.pareto import ObjectiveSpec
from dse.storage import Store, normalise_url
from dse.storage.engine import check_reachable, optuna_engine_kwargs, redact
from dse.study.config_diff import comparable, first_difference
from dse.study.lifecycle import StopRequest
from dse.study.provenance import provenance
from dse.study.seeds import trial_seed

if TYPE_CHECKING:
    from dse.study.evaluate import Evaluator

log = logging.getLogger("dse.study")


def _quiet_optuna() -> None:
    """Silence Optuna's experimental-feature warnings (heartbeats, retry callback)."""
    import optuna

    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    # our ask/tell loop runs the heartbeat thread and the stale-trial checks itself
    warnings.filterwarnings("ignore", message="Heartbeat of storage is supposed to be used")
    optuna.logging.set_verbosity(optuna.logging.WARNING)


def optuna_storage(url: str, config: StudyConfig) -> Any:
    """Optuna's RDB storage with heartbeats and retry of stale trials."""
    from optuna.storages import RDBStorage, RetryHeartbeatStaleTrialCallback

    check_optuna_version()
    _quiet_optuna()
    st = config.storage
    return RDBStorage(
        url,
        engine_kwargs=optuna_engine_kwargs(url),
        heartbeat_interval=st.heartbeat_interval_s,
        grace_period=st.grace_period_s or 3 * st.heartbeat_interval_s,
        heartbeat_stale_trial_callback=RetryHeartbeatStaleTrialCallback(max_retry=st.max_retry),
    )


@dataclass
class _Started:
    """A training trial started under the study lock, with its sampled training point."""

    trial: Any
    point: Any


@dataclass
class RunSummary:
    """What one ``run_study`` / ``join_study`` call did.

    Attributes:
        trials_run: Trained models this call stored.
        n_complete: Trained models the study holds.
        target: The number of trained models the study runs to.
        exhausted: Every distinct model of the (finite) space is trained.
        n_designs: Designs the study holds.
    """

    study: str
    url: str
    created: bool
    trials_run: int
    n_complete: int
    target: int
    stopped_by: str | None
    seconds: float
    hypervolume: float | None
    pareto: list[Any] = field(default_factory=list)
    exhausted: bool = False
    n_designs: int = 0
    space_size: int | None = None
    #: the checkpoint cache this call trained into (workers must see the same one)
    cache_dir: str | None = None

    def __repr__(self) -> str:
        """One line (the Pareto designs by id, not in full: see ``pareto``)."""
        stop = f", stopped_by={self.stopped_by!r}" if self.stopped_by else ""
        return (
            f"RunSummary(study={self.study!r}, trained={self.n_complete}/{self.target}, "
            f"this_call={self.trials_run}, designs={self.n_designs}, "
            f"pareto_ids={[d.id for d in self.pareto]}, hypervolume={self.hypervolume!r}, "
            f"seconds={self.seconds:.1f}{stop})"
        )


def is_training(trial: Any) -> bool:
    """Whether a trial is a training trial (not one that carries a further design of a
    trained model)."""
    return trial.user_attrs.get("kind") != "design"


class StudyRunner:
    """Runs training trials of one study in this process."""

    def __init__(
        self,
        config: StudyConfig,
        *,
        url: str,
        store: Store,
        evaluator: Evaluator,
        worker: str,
    ) -> None:
        self.config = config
        self.url = url
        self.store = store
        self.evaluator = evaluator
        self.worker = worker
        self.name = config.study.name
        self.specs: list[ObjectiveSpec] = config.objectives.specs()
        self.stop = StopRequest()
        self.trials_run = 0
        self.exhausted = False

    # ------------------------------------------------------------------ one trial
    @staticmethod
    def _set_constraints(trial: Any, constraints: dict[str, float]) -> None:
        """Record the constraint values (a retried trial inherits its first attempt's).

        Named, with ``trial.set_constraint`` (what Optuna's samplers and
        ``optuna.visualization`` read), and also as the list under ``constraints`` that
        optuna-dashboard reads (Optuna reads it as constraints "0", "1", ...: the same values
        once more, which changes no feasibility and no ranking).
        """
        have = trial.storage.get_trial_system_attrs(trial_id(trial))
        for key, value in constraints.items():
            if f"constraints:{key}" not in have:
                trial.set_constraint(key, float(value))
        if "constraints" not in have:
            values = [float(v) for v in constraints.values()]
            trial.storage.set_trial_system_attr(trial_id(trial), "constraints", values)

    def _record(self, ev: Any, trial: Any, retried: list[int], seconds: dict[str, float]) -> Any:
        """The DesignRecord of one design of the trained model (the Store sets its id,
        trial number and model)."""
        ev.metrics["constraints"] = dict(ev.constraints)
        return ev.to_record(
            study=self.name,
            trial_number=trial.number,
            board=self.evaluator.board,
            part=self.evaluator.part,
            device_resources=self.config.hardware.resources,
            dataset=self.evaluator.dataset_info(),
            provenance=provenance(
                seed=self.config.study.seed,
                trial_seed=trial_seed(self.config.study.seed, trial.number),
                sampler=self.config.study.sampler,
                worker=self.worker,
                retry_of=retried,
                seconds=seconds,
            ),
        )

    def run_trial(self, study: Any, started: _Started) -> list[Any]:
        """Train the trial's model, find its front over the cheap knobs, and store the model,
        its designs and the trials that carry them with the trial COMPLETE, atomically.

        Returns:
            The stored designs of the model's front (the trial's own first).

        Raises:
            TrialNotRunning: another worker failed the trial as stale meanwhile.
        """
        from optuna.storages import RetryHeartbeatStaleTrialCallback

        from dse.accuracy.profile import PROFILE_FORMAT
        from dse.design import ModelRecord
        from dse.study.inner import inner_front

        trial, point = started.trial, started.point
        t0 = time.perf_counter()
        pruned = self.evaluator.train(point)
        t1 = time.perf_counter()
        inner = inner_front(
            self.evaluator,
            pruned,
            point,
            limit=self.config.study.inner_limit,
            seed=self.config.study.seed,
        )
        front = inner.front
        self._set_constraints(trial, front[0].constraints)
        frozen = trial.storage.get_trial(trial_id(trial))
        retried = RetryHeartbeatStaleTrialCallback.retry_history(frozen)
        seconds = {"training": round(t1 - t0, 4), "inner": round(inner.seconds, 4)}
        designs = [
            (
                self._record(ev, trial, retried, seconds),
                ev.objective_values(self.specs),
                ev.constraints,
            )
            for ev in front
        ]
        baselines = [self._record(ev, trial, retried, seconds) for ev in inner.baselines]
        model = ModelRecord(
            id=0,
            study=self.name,
            trial_number=trial.number,
            key=str(pruned.metrics["key"]),
            params=point.to_params(),
            arch=pruned.arch.to_dict(),
            checkpoint=str(pruned.checkpoint),
            profiles={
                "format": PROFILE_FORMAT,
                "calibration": pruned.profile.to_dict(),
                "test": pruned.test_profile.to_dict(),
            },
            metrics={
                "training_seconds": round(t1 - t0, 4),
                "reused": bool(pruned.metrics.get("reused")),
                "val_accuracy": pruned.metrics.get("val_accuracy"),
                "inner": inner.summary(),
                "worker": self.worker,
            },
        )
        trial.set_user_attr("feasible", bool(front[0].feasible))
        sampler_after_trial(study, trial, designs[0][1])
        stored = self.store.complete_training(
            model, designs, trial_id=trial_id(trial), baselines=baselines
        )
        drop_cached_trials(study)
        return stored

    @staticmethod
    def _retry_later(study: Any, trial: Any) -> None:
        """Enqueue a failed trial's parameters again, as Optuna retries a stale trial (the
        same callback, so ``[storage] max_retry`` bounds both): a trial cut short by a
        second Ctrl-C, a full disk or a crash runs first when the study resumes, and no
        parameter set is left unevaluated."""
        import copy

        storage = study_storage(study)
        backend = rdb_backend(storage)
        callback = backend.get_heartbeat_stale_trial_callback()
        if callback is not None:
            callback(study, copy.deepcopy(storage.get_trial(trial_id(trial))))

    # ------------------------------------------------------------------ loop
    def n_complete(self, study: Any) -> int:
        """Trained models of the study (its COMPLETE training trials, all workers)."""
        from optuna.trial import TrialState

        return sum(
            1
            for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
            if is_training(t)
        )

    def _counts(self, study: Any) -> tuple[int, int, int]:
        """Trained models, trainings running, and waiting retries of stale trials."""
        from optuna.trial import TrialState

        states = (TrialState.COMPLETE, TrialState.RUNNING, TrialState.WAITING)
        trials = study.get_trials(deepcopy=False, states=states)
        complete = sum(1 for t in trials if t.state == TrialState.COMPLETE and is_training(t))
        running = sum(1 for t in trials if t.state == TrialState.RUNNING)
        retries = sum(
            1
            for t in trials
            if t.state == TrialState.WAITING and "failed_trial" in t.system_attrs  # Optuna's mark
        )
        return complete, running, retries

    def _fail_silent_trials(self, study: Any) -> None:
        """Fail (and retry) RUNNING trials that never recorded a heartbeat and started more
        than the grace period ago: their worker died between asking and its first heartbeat,
        and Optuna's stale-trial check only looks at trials with a heartbeat."""
        import copy
        import datetime

        import optuna
        from optuna.trial import TrialState

        from dse.optuna_bridge import has_heartbeat

        storage = study_storage(study)
        backend = rdb_backend(storage)
        interval = backend.get_heartbeat_interval()
        if interval is None:
            return
        grace = backend.grace_period or 2 * interval
        now = datetime.datetime.now()
        old = [
            t
            for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
            if t.datetime_start is not None and (now - t.datetime_start).total_seconds() > grace
        ]
        if not old:
            return
        with self.store.engine.connect() as conn:
            beating = {trial_id(t) for t in old if has_heartbeat(conn, trial_id(t))}
        callback = backend.get_heartbeat_stale_trial_callback()
        for t in old:
            if trial_id(t) in beating:
                continue
            try:
                failed = storage.set_trial_state_values(trial_id(t), state=TrialState.FAIL)
            except optuna.exceptions.UpdateFinishedTrialError:
                continue
            if failed:
                log.warning(
                    "trial %d: RUNNING with no heartbeat since %s; failed (its worker died)",
                    t.number,
                    t.datetime_start,
                )
                if callback is not None:
                    callback(study, copy.deepcopy(storage.get_trial(trial_id(t))))

    def _retry_failures(self, study: Any) -> None:
        """Enqueue the retry of every failed training that has none: a trial cut short by
        a full disk is failed, but the retry's own write may have failed with it. Optuna's
        retry callback bounds the retries (``[storage] max_retry``), as for stale trials."""
        import copy

        from optuna.trial import TrialState

        trials = study.get_trials(deepcopy=False)
        retried = {n for t in trials for n in t.system_attrs.get("retry_history", ())}
        failed = [
            t
            for t in trials
            if t.state == TrialState.FAIL
            and is_training(t)
            and t.params
            and t.number not in retried
        ]
        if not failed:
            return
        storage = study_storage(study)
        callback = rdb_backend(storage).get_heartbeat_stale_trial_callback()
        if callback is None:
            return
        for t in failed:
            if len(t.system_attrs.get("retry_history", ())) < self.config.storage.max_retry:
                log.warning("trial %d: failed with no retry queued; its retry is queued", t.number)
                callback(study, copy.deepcopy(t))

    def _ask(self, study: Any, target: int) -> tuple[_Started | None, int]:
        """Start a training trial if trained plus training models are below ``target`` and
        a model of the space is still untrained.

        Under the study lock: fail stale trials (enqueueing their retries), count, ask
        (which takes a waiting retry before it creates a trial), and sample the training
        point, so that every running trial's parameters are known to the others and the
        sampler never proposes them again.

        Returns:
            (the started trial or None, trained models).
        """
        from optuna.storages import fail_stale_trials

        from dse.study.claims import study_lock

        with study_lock(self.store, self.name):
            # Failing a stale trial and enqueueing its retry (WAITING) are two writes: under
            # the lock, no other worker can count between them, see the dead trial gone and
            # no retry yet, and start a new trial in the slot the retry needs. The count then
            # holds the retry's slot and ``study.ask()`` pops the retry before any new trial.
            fail_stale_trials(study)
            self._fail_silent_trials(study)
            self._retry_failures(study)
            complete, running, waiting = self._counts(study)
            # a waiting retry runs even where it takes the study past the target: its
            # parameter set would otherwise never be evaluated
            if complete >= target or (complete + running >= target and not waiting):
                return None, complete
            queued = any(t.state.name == "WAITING" for t in study.get_trials(deepcopy=False))
            if not queued:
                free = study.sampler.free_points(study)
                if free is not None and not free:  # every model of the space is taken
                    self.exhausted = True
                    return None, complete
            trial = study.ask()
            study_storage(study).record_heartbeat(trial_id(trial))
            point = self.evaluator.space.sample_training(trial)
            return _Started(trial, point), complete

    def optimize(
        self,
        study: Any,
        *,
        target: int,
        timeout_s: float | None,
        on_trial: Callable[[Any, int], None] | None = None,
    ) -> str | None:
        """Train models until the study holds ``target`` of them, every model of a finite
        space is trained, a timeout or a stop.

        A worker starts a training only while trained plus training models (of every
        worker) are below the target, so workers together stop at exactly ``target``; while
        the remaining trainings run elsewhere it waits, failing any whose worker died (stale
        heartbeat) so that it can retry them.

        Returns:
            Why it stopped early: the signal name, ``"timeout"``, or None.
        """
        from optuna.trial import TrialState

        from dse.storage.store import TrialNotRunning

        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        poll = min(1.0, float(self.config.storage.heartbeat_interval_s))
        with self.stop:
            while True:
                if self.stop.requested:
                    return self.stop.signal_name
                if deadline is not None and time.monotonic() >= deadline:
                    return "timeout" if self.n_complete(study) < target else None
                started, complete = self._ask(study, target)
                if started is None:
                    _, running, _ = self._counts(study)
                    if complete >= target or (self.exhausted and not running):
                        return None
                    time.sleep(poll)  # the last trainings run on other workers
                    continue
                trial = started.trial
                try:
                    with heartbeat_thread(study, trial):
                        self.run_trial(study, started)
                except TrialNotRunning as exc:
                    log.warning("trial %d: %s", trial.number, exc)
                    continue
                except BaseException:
                    with contextlib.suppress(Exception):
                        study.tell(trial, state=TrialState.FAIL)
                        self._retry_later(study, trial)
                    raise
                self.trials_run += 1
                if on_trial is not None:
                    on_trial(
                        study_storage(study).get_trial(trial_id(trial)), self.n_complete(study)
                    )


# ---------------------------------------------------------------------- entry points
def _worker_name() -> str:
    import platform

    return f"{platform.node()}:{os.getpid()}"


def _sampler(config: StudyConfig) -> Any:
    from dse.study.samplers import make_sampler

    return make_sampler(
        config.study.sampler, seed=config.study.seed, population_size=config.study.population_size
    )


def _validate_target(trials: int | None, config: StudyConfig) -> int:
    target = config.study.trials if trials is None else trials
    if isinstance(target, bool) or not isinstance(target, int) or not 1 <= target <= 1_000_000:
        raise DseError(
            f"`trials`={trials!r}: give a number of completed trials from 1 to 1000000",
            arguments=("trials",),
        )
    return target


def _execute(
    config: StudyConfig,
    *,
    url: str,
    store: Store,
    evaluator: Evaluator,
    created: bool,
    target: int,
    timeout_s: float | None,
    on_trial: Callable[[Any, int], None] | None,
    on_start: Callable[[str, int, int], None] | None,
) -> RunSummary:
    import optuna

    from dse.study.samplers import DistinctTrainings

    t0 = time.perf_counter()
    storage = optuna_storage(url, config)
    directions: list[Any] = [s.direction for s in config.objectives.specs()]
    study = optuna.create_study(
        storage=storage,
        sampler=DistinctTrainings(_sampler(config), evaluator.space, config.study.seed),
        study_name=config.study.name,
        directions=directions,
        load_if_exists=True,
    )
    if [d.name.lower() for d in study.directions] != directions:
        raise DseError(
            f"study {config.study.name!r}: Optuna study has directions "
            f"{[d.name.lower() for d in study.directions]}, config has {directions}; use a new "
            "study name (`study`)",
            arguments=("study",),
        )
    names = [s.name for s in config.objectives.specs()]
    if study.metric_names != names:  # so Optuna's own views label the objectives
        study.set_metric_names(names)
    if created:
        first = first_training(evaluator.space)
        if first:  # the unpruned network first: every comparison needs it
            study.enqueue_trial(first)
    runner = StudyRunner(config, url=url, store=store, evaluator=evaluator, worker=_worker_name())
    if on_start is not None:
        on_start(config.study.name, runner.n_complete(study), target)
    stopped = runner.optimize(study, target=target, timeout_s=timeout_s, on_trial=on_trial)
    info = store.study_info(config.study.name) or {}
    return RunSummary(
        study=config.study.name,
        url=url,
        created=created,
        trials_run=runner.trials_run,
        n_complete=runner.n_complete(study),
        target=target,
        stopped_by=stopped,
        seconds=time.perf_counter() - t0,
        hypervolume=info.get("hypervolume"),
        pareto=store.pareto(config.study.name),
        exhausted=runner.exhausted,
        n_designs=int(info.get("n_designs") or 0),
        space_size=evaluator.space.training_size(),
        cache_dir=str(evaluator.pipeline.cache.root),
    )


def check_layout(info: dict[str, Any], study: str) -> None:
    """Refuse to run more trials in a study made before trials were trainings.

    Raises:
        StateError: the study holds a design per trial (adapex before schema 3); it stays
            readable, and a new study continues the search.
    """
    from dse.storage.tables import LAYOUT_TRAINING_PER_TRIAL

    if int(info.get("layout") or 1) != LAYOUT_TRAINING_PER_TRIAL:
        raise StateError(
            f"study {study!r} was run by an adapex whose trials were single designs; it stays "
            "readable (study status, runtime, export), and a new study name continues the "
            f"search with a trial per trained model: `adapex run --study {study}-2 --config ...`"
        )


def first_training(space: Any) -> dict[str, Any] | None:
    """The Optuna parameters of the study's first training: the unpruned network at the
    widest bit widths (the static baselines' network), when the space holds it."""
    from dse.config import knob_values
    from dse.study.space import TrainingPoint

    cfg = space.config
    rates = knob_values(cfg.pruning.rates)
    has_zero = 0.0 in (rates or []) or (rates is None and cfg.pruning.rates.low == 0.0)
    if not has_zero:
        return None
    pruning = 0.0 if cfg.pruning.mode == "uniform" else (0.0,) * space.n_prunable
    point = TrainingPoint(max(cfg.model.weight_bits), max(cfg.model.act_bits), pruning)
    return space.training_params(point)


def _resumed_config(
    cfg: StudyConfig, url: str, target: int, explicit: int | None, *, given: bool
) -> tuple[StudyConfig, int]:
    """The config and target a run goes on with: an existing study of that name resumes
    with its stored config (refused when a given config differs), keeping its stored target
    unless one is given now. Validates the database (kind, schema version) and writes
    nothing."""
    from dse.storage.engine import sqlite_path

    existing: dict[str, Any] | None = None
    path = sqlite_path(url)
    if path is None or path.exists():
        with Store(url, read_only=True) as probe:
            existing = probe.study_info(cfg.study.name)
    if existing is None:
        if cfg.study.trials != target:
            cfg = cfg.with_(study={"trials": target})
        return cfg, target
    check_layout(existing, cfg.study.name)
    stored = parse_config(existing["config"], f"stored study {cfg.study.name!r}")
    a, b = comparable(stored.to_dict()), comparable(cfg.to_dict())
    # without --config, an existing study resumes with its own stored config (a study
    # made by an earlier adapex whose built-in defaults differed included)
    if a != b and given:
        raise DseError(
            f"study {cfg.study.name!r} exists in {redact(url)} with a different config "
            f"({first_difference(a, b)}); pass a new `study` name, or drop `config` to resume",
            arguments=("study", "config"),
        )
    target = stored.study.trials if explicit is None else target
    cfg = stored.with_(
        study={"trials": target, "timeout_s": cfg.study.timeout_s}, storage={"url": url}
    )
    return cfg, target


def run_study(
    config: StudyConfig | str | os.PathLike[str] | None = None,
    *,
    study: str | None = None,
    storage: str | None = None,
    trials: int | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    on_trial: Callable[[Any, int], None] | None = None,
    on_start: Callable[[str, int, int], None] | None = None,
) -> RunSummary:
    """Create or resume a study and run it until it holds ``trials`` completed trials.

    Everything is validated (config, storage URL, database kind and schema version, the
    model, dataset and device) before anything is written.

    Args:
        config: A StudyConfig, a TOML path, or None for the built-in quickstart.
        study: Study name (default: ``[study].name``).
        storage: Storage URL (default: ``[storage].url``).
        trials: Target number of completed trials (default: ``[study].trials`` of ``config``;
            a study resumed without ``config`` keeps the target it was last run with). The
            target is stored with the study (``adapex study status`` shows it).
        cache_dir: Checkpoint cache directory (default: config, ``$ADAPEX_CACHE_DIR``,
            ``.adapex_cache``).
        on_trial: Called after each trial of this process with (FrozenTrial, n_complete).
        on_start: Called once with (study name, n_complete, target) before the first trial.

    Raises:
        DseError: bad input (one line naming it and the fix), database untouched.
    """
    if study is not None and study_name_problem(study):
        raise DseError(f"`study` {study_name_problem(study)}", arguments=("study",))
    cfg = config if isinstance(config, StudyConfig) else load_config(config)
    if study is not None or storage is not None:
        cfg = cfg.with_(
            study={"name": study} if study is not None else {},
            storage={"url": storage} if storage is not None else {},
        )
    url = normalise_url(cfg.storage.url)
    # the target given now: --trials, else the config's; without either, a resumed study
    # keeps the target it was last run with (stored with its config)
    explicit = trials if trials is not None else (None if config is None else cfg.study.trials)
    target = _validate_target(trials, cfg)
    check_reachable(url, must_exist=False)
    cfg, target = _resumed_config(cfg, url, target, explicit, given=config is not None)
    from dse.study.evaluate import Evaluator

    evaluator = Evaluator(cfg, cache_dir=cache_dir)
    evaluator.pipeline.cache.verify()  # a damaged checkpoint stops us before any write
    for note in evaluator.clock_notes():
        log.warning(note)
    with Store(url) as store:
        created = store.register_study(cfg.study.name, cfg.to_dict(), cfg.objectives.specs())
        if not created:
            store.set_target_trials(cfg.study.name, target)
        return _execute(
            cfg,
            url=url,
            store=store,
            evaluator=evaluator,
            created=created,
            target=target,
            timeout_s=cfg.study.timeout_s,
            on_trial=on_trial,
            on_start=on_start,
        )


def join_study(
    study: str,
    storage: str,
    *,
    trials: int | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    on_trial: Callable[[Any, int], None] | None = None,
    on_start: Callable[[str, int, int], None] | None = None,
    remember_target: bool = True,
) -> RunSummary:
    """Join an existing study as a worker, with the config stored in the database.

    A ``trials`` given becomes the study's stored target (``remember_target``), as with
    :func:`run_study`; without it the worker runs to the stored target.

    Raises:
        DseError: the storage is unreachable or not ours, or the study does not exist
            (nothing is written).
    """
    url = normalise_url(storage)
    with Store(url, read_only=True) as probe:
        info = probe.study_info(study)
        if info is None:
            names = [s.name for s in probe.list_studies()]
            known = f" (studies: {', '.join(names)})" if names else ""
            raise DseError(
                f"study {study!r}: not found in {redact(url)}{known}; create it with "
                f"`adapex run --study {study} --storage {redact(url)}`"
            )
    check_layout(info, study)
    cfg = parse_config(info["config"], f"stored study {study!r}").with_(storage={"url": url})
    target = _validate_target(trials, cfg)
    from dse.study.evaluate import Evaluator

    evaluator = Evaluator(cfg, cache_dir=cache_dir)
    evaluator.pipeline.cache.verify()  # a damaged checkpoint stops us before any write
    with Store(url) as store:
        if trials is not None and remember_target:  # the target it was last run with
            store.set_target_trials(study, target)
        return _execute(
            cfg,
            url=url,
            store=store,
            evaluator=evaluator,
            created=False,
            target=target,
            timeout_s=cfg.study.timeout_s,
            on_trial=on_trial,
            on_start=on_start,
        )


def delete_study(study: str, storage: str) -> None:
    """Delete a study: Optuna's trials and adapex's rows (used by tests and clean-ups)."""
    import optuna

    url = normalise_url(storage)
    with Store(url) as store:
        store.delete_study(study)
    with contextlib.suppress(KeyError):
        optuna.delete_study(study_name=study, storage=url)
