"""adapex's own tables, in the same database as Optuna's (every name prefixed ``adapex_``).

``SCHEMA_VERSION`` is stored in ``adapex_meta`` (key ``schema_version``). Bump it whenever a
table or column changes, and register the step in :data:`dse.storage.schema.MIGRATIONS`.
"""

from __future__ import annotations

import sqlalchemy as sa

SCHEMA_VERSION = 2
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
)

designs = sa.Table(
    "adapex_designs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("study", sa.String(512), nullable=False, index=True),
    sa.Column("trial_number", sa.Integer, nullable=False),
    sa.Column("params", sa.JSON, nullable=False),
    sa.Column("objectives", sa.JSON, nullable=False),
    sa.Column("metrics", sa.JSON, nullable=False),
    sa.Column("feasible", sa.Boolean, nullable=False),
    sa.Column("pareto", sa.Boolean, nullable=False, default=False),
    sa.Column("arch", sa.JSON, nullable=False),
    sa.Column("exits", sa.JSON, nullable=False),
    sa.Column("thresholds", sa.JSON, nullable=False),
    sa.Column("exit_profile", sa.JSON, nullable=False),
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

ALL_TABLES = tuple(metadata.sorted_tables)
