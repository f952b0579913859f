"""Studies: design space, evaluation with the real components, samplers, run/worker lifecycle."""

from __future__ import annotations

from dse.study.evaluate import Evaluation, Evaluator
from dse.study.run import RunSummary, StudyRunner, delete_study, join_study, run_study
from dse.study.seeds import derive_seed, trial_seed
from dse.study.space import DesignPoint, DesignSpace

__all__ = [
    "DesignPoint",
    "DesignSpace",
    "Evaluation",
    "Evaluator",
    "RunSummary",
    "StudyRunner",
    "delete_study",
    "derive_seed",
    "join_study",
    "run_study",
    "trial_seed",
]
