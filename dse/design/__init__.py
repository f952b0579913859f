"""dse.design: a stored design and its one costing path.

- :class:`DesignRecord`: what a study stores per design, with typed views of its graph,
  folding and report;
- :func:`design_graph`: the lowering from weights (FINN's minimised datatypes);
- :class:`Hardware` and :func:`cost`: the one call that costs a design, used by the study,
  the runtime's operating points and baselines, and the export.

The package reads weights (:mod:`dse.design.weights`) but never trains: it imports
``search_spaces`` and ``hw_builders``, never ``dse.accuracy``.
"""

from __future__ import annotations

from dse.design.cost import CostCache, Hardware, cost
from dse.design.lowering import design_graph, trained_design_graph
from dse.design.record import DesignRecord, ModelRecord, clock_note_of, pruning_rate_of
from dse.design.weights import MODEL_FILE, load_design_model, load_pruned_model, load_state_dict

__all__ = [
    "MODEL_FILE",
    "CostCache",
    "DesignRecord",
    "Hardware",
    "ModelRecord",
    "clock_note_of",
    "cost",
    "design_graph",
    "load_design_model",
    "load_pruned_model",
    "load_state_dict",
    "pruning_rate_of",
    "trained_design_graph",
]
