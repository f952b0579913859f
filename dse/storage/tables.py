"""adapex's own tables, in the same database as Optuna's (every name prefixed ``adapex_``).

``SCHEMA_VERSION`` is stored in ``adapex_meta`` (key ``schema_version``). Bump it whenever a
table or column changes, and register the step in :data:`dse.storage.schema.MIGRATIONS`.
"""

from __future__ import annotations

import sqlalchemy as sa

SCHEMA_VERSION = 3
PREFIX = "adapex_"
# Tables that mark a database as Optuna's (any of them is enough).
OPTUNA_TABLES = frozenset({"studies", "version_info", "alembic_version", "trials"})

metadata = sa.MetaData()

meta = sa.Table(
    "adapex_meta",
    metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("value", sa.String(256), nullable=False),
)

studies = sa.Table(
    "adapex_studies",
    metadata,
    sa.Column("name", sa.String(512), primary_key=True),
    sa.Column("config", sa.JSON, nullable=False),
    sa.Column("objectives", sa.JSON, nullable=False),
    sa.Column("directions", sa.JSON, nullable=False),
    sa.Column("hypervolume", sa.Float, nullable=True),
    sa.Column("n_designs", sa.Integer, nullable=False, default=0),
    sa.Column("created_at", sa.String(40), nullable=False),
    sa.Column("updated_at", sa.String(40), nullable=False),
    # how the study's trials relate to its designs: 2 (a trial per trained model, its
    # designs the inner step's front), 1 (a design per trial, adapex before schema 3)
    sa.Column("layout", sa.Integer, nullable=False, server_default="1"),
)

#: Values of ``adapex_studies.layout``.
LAYOUT_DESIGN_PER_TRIAL = 1
LAYOUT_TRAINING_PER_TRIAL = 2

models = sa.Table(
    "adapex_models",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("study", sa.String(512), nullable=False, index=True),
    # the Optuna trial that trained it
    sa.Column("trial_number", sa.Integer, nullable=True),
    # the checkpoint cache's key of its weights
    sa.Column("key", sa.String(64), nullable=False),
    # its training knobs (weight_bits, act_bits, pruning)
    sa.Column("params", sa.JSON, nullable=False),
    sa.Column("arch", sa.JSON, nullable=False),
    sa.Column("checkpoint", sa.Text, nullable=True),
    # {"format", "calibration": ExitProfile, "test": ExitProfile}: the integer model's exit
    # profiles, stored once for every design of the model
    sa.Column("profiles", sa.JSON, nullable=False),
    # training and inner-step figures: seconds, designs evaluated, inner mode, ...
    sa.Column("metrics", sa.JSON, nullable=False),
    sa.Column("created_at", sa.String(40), nullable=False),
    sa.UniqueConstraint("study", "key", name="uq_adapex_models_study_key"),
)

designs = sa.Table(
    "adapex_designs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("study", sa.String(512), nullable=False, index=True),
    # the COMPLETE Optuna trial that carries it (None for a baseline)
    sa.Column("trial_number", sa.Integer, nullable=True),
    sa.Column("params", sa.JSON, nullable=False),
    sa.Column("objectives", sa.JSON, nullable=False),
    sa.Column("metrics", sa.JSON, nullable=False),
    sa.Column("feasible", sa.Boolean, nullable=False),
    sa.Column("pareto", sa.Boolean, nullable=False, default=False),
    sa.Column("arch", sa.JSON, nullable=False),
    sa.Column("exits", sa.JSON, nullable=False),
    sa.Column("thresholds", sa.JSON, nullable=False),
    # layout 1 only: the exit profile (test split); layout 2 reads its model's profiles
    sa.Column("exit_profile", sa.JSON, nullable=True),
    sa.Column("hw_graph", sa.JSON, nullable=False),
    sa.Column("folding", sa.JSON, nullable=False),
    sa.Column("hw_report", sa.JSON, nullable=False),
    sa.Column("board", sa.String(64), nullable=True),
    sa.Column("part", sa.String(64), nullable=False),
    sa.Column("clk_ns", sa.Float, nullable=False),
    sa.Column("checkpoint", sa.Text, nullable=True),
    sa.Column("dataset", sa.JSON, nullable=False),
    sa.Column("provenance", sa.JSON, nullable=False),
    sa.Column("created_at", sa.String(40), nullable=False),
    # sha256 of the parameters' canonical JSON (params_hash): a repeat is found by index
    sa.Column("params_hash", sa.String(64), nullable=True),
    # the trained model it is a design of (layout 2)
    sa.Column("model_id", sa.Integer, nullable=True),
    # "study": a design of the user's study; "baseline": a sub-space design the runtime's
    # baselines use (not a trial, not on the study's front)
    sa.Column("role", sa.String(16), nullable=False, server_default="study"),
    sa.UniqueConstraint("study", "trial_number", name="uq_adapex_designs_study_trial"),
    sa.Index("ix_adapex_designs_study_params", "study", "params_hash"),
)


def params_hash(params: object) -> str:
    """The hash a design's parameters are looked up by: sha256 of their JSON, keys sorted
    (the JSON-ready form the designs table stores)."""
    import hashlib
    import json

    return hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()


hypervolume = sa.Table(
    "adapex_hypervolume",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("study", sa.String(512), nullable=False, index=True),
    sa.Column("trial_number", sa.Integer, nullable=False),
    sa.Column("n_designs", sa.Integer, nullable=False),
    sa.Column("n_pareto", sa.Integer, nullable=False),
    sa.Column("hypervolume", sa.Float, nullable=False),
    sa.Column("created_at", sa.String(40), nullable=False),
)

runtime_tables = sa.Table(
    "adapex_runtime",
    metadata,
    sa.Column("study", sa.String(512), primary_key=True),
    sa.Column("content", sa.JSON, nullable=False),
    sa.Column("updated_at", sa.String(40), nullable=False),
)

simulations = sa.Table(
    "adapex_simulation",
    metadata,
    sa.Column("study", sa.String(512), primary_key=True),
    sa.Column("content", sa.JSON, nullable=False),
    sa.Column("updated_at", sa.String(40), nullable=False),
)

#: Rows of ``adapex_simulation`` under this prefix hold a study's runtime cache (its
#: operating points, baselines and load sweeps), not a simulation.
CACHE_PREFIX = "adapex-runtime-cache:"

#: Values of ``adapex_designs.role``.
ROLE_STUDY = "study"
ROLE_BASELINE = "baseline"

ALL_TABLES = tuple(metadata.sorted_tables)
