"""The README.md of an exported design library: what it holds, how FINN builds it, how the host
runtime serves it, and how it checks that nothing was changed after the export.

Written by :func:`dse.export.library.export_library` before the library is sealed, so its
digest is recorded with every other file's.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dse.library_format import LIBRARY_FORMAT, LIBRARY_VERSION

#: The file's name inside a library.
README = "README.md"


def library_readme(index: Mapping[str, Any]) -> str:
    """The README of a library whose ``library.json`` is ``index`` (before its digests).

    Args:
        index: ``library.json``'s content: ``study``, ``target``, ``steps``, ``dataset``,
            ``designs`` (entries with ``id``, ``folder``) and ``runtime_table``.

    Returns:
        Markdown text.
    """
    designs = list(index.get("designs", []))
    folders = sorted({str(d.get("folder")) for d in designs})
    example = folders[0] if folders else "design_<id>"
    dataset = index.get("dataset") or {}
    data_name = dataset.get("name", "the study's dataset") if isinstance(dataset, dict) else ""
    table = index.get("runtime_table")
    lines = [
        f"# adapex design library: study `{index.get('study')}`",
        "",
        f"{len(designs)} designs of the study (its Pareto front and the designs its runtime "
        f"table selects), in {len(folders)} FINN builds (designs whose exit thresholds alone "
        "differ share one build). Target `"
        f"{index.get('target')}`, builder steps up to `{index.get('steps')}`, data "
        f"`{data_name}`. Format `{LIBRARY_FORMAT}` version {LIBRARY_VERSION}.",
        "",
        *_contents(table),
        *_build_and_serve(example, designs),
        *_METRICS,
        *_INTEGRITY,
    ]
    return "\n".join(lines)


def _contents(table: Any) -> list[str]:
    """The section on the library's files."""
    return [
        "## What is here",
        "",
        "- `library.json`: the index. Every design's id, folder, objectives, exits and "
        "thresholds; the digests described below.",
        (
            f"- `{table}`: the runtime selection table. For each workload and accuracy threshold, "
            "the design and exit thresholds to run, with the accuracy each row guarantees."
            if table
            else "- no runtime table: the study had none stored when it was exported."
        ),
        "- `design_<id>/`: one FINN accelerator, the early exits included.",
        "  - `model.onnx`: the design in FINN's form, one stage per early exit.",
        "  - `dataflow_build_config.json`, `folding_config.json`: FINN's builder config and "
        "every layer's PE/SIMD.",
        "  - `build.py`, where present: FINN's builder with the custom steps this design needs "
        "(the fork to an exit classifier, a stage quantised to 1 bit).",
        "  - `deployment.json`: what the host runtime needs. Stream names, shapes, datatypes "
        "and scales; which stage feeds which; the exit thresholds.",
        "  - `hw_graph.json`, `hw_report.json`, `adapex_report/`: the accelerator adapex "
        "costed, and its estimates in FINN's report format.",
        "  - `metrics.json`, `provenance.json`, `node_names.json`: the stored figures, where "
        "they came from, and adapex's layer names against FINN's.",
        "",
    ]


def _build_and_serve(example: str, designs: list[Any]) -> list[str]:
    """The sections on building with FINN, the board, and serving."""
    return [
        "## Build an accelerator with FINN",
        "",
        "The folders are for FINN's builder (github.com/Xilinx/finn, branch main). In FINN's "
        "environment, in a design's folder:",
        "",
        "```",
        f"cd {example}",
        "python build.py dataflow_build_config.json          # estimates only (no Vivado)",
        "python build.py dataflow_build_config.bitfile.json  # bitstream and PYNQ driver",
        "```",
        "",
        "A folder without `build.py` needs no custom step: FINN's "
        '`build_dataflow_directory(".")` (`finn.builder.build_dataflow`) builds it from '
        "`dataflow_build_config.json`, or from the `.bitfile.json` config renamed to it. "
        "`dataflow_build_config.json` stops after FINN's estimate reports, which are expected "
        "to equal the ones in `adapex_report/`; the `.bitfile.json` config goes on to "
        "synthesis and writes `output/bitfile/` and `output/deploy/`.",
        "",
        "## On the board",
        "",
        "Copy the library folder with each built design's `output/deploy/` (bitstream, `.hwh` "
        "and driver). The host runtime reads `library.json`, the runtime table and each "
        "design's `deployment.json` and `model.onnx`; `--backend pynq` loads the bitstreams, "
        "`--backend software` (the default) runs the same integer arithmetic on the CPU.",
        "",
        "Install the host runtime there with `pip install adapex` (the deploy-only install: "
        "numpy, onnx and the command line, no torch, Dash or database driver; a library of "
        "the bundled digits also needs `scikit-learn`, whose package holds those images); "
        "the board's PYNQ image provides `pynq` for `--backend pynq`.",
        "",
        "## Serve it",
        "",
        "```",
        "adapex deploy verify --library .               # calibration split: stored == measured",
        "adapex deploy verify --library . --split test  # held-out split: the guarantees",
        f"adapex deploy run --library . --design {_first_id(designs)}   # one design",
        "adapex deploy run --library . --rate 500 --accuracy-threshold 0.9   # live, switching",
        "```",
        "",
    ]


#: The section on metrics.json's fields.
_METRICS = [
    "## metrics.json",
    "",
    "The figures the study stored for the design; SI units (s, J, W, inferences/s). "
    "Accuracy figures are fractions.",
    "",
    "| field | meaning |",
    "|---|---|",
    "| `accuracy` | accuracy at the design's thresholds on the calibration split (every "
    "choice was made on it) |",
    "| `test` | `accuracy`, `exit_fraction`, `exit_accuracy` on the held-out test split |",
    "| `final_accuracy` | the final classifier's accuracy alone (calibration split) |",
    "| `exit_fraction`, `exit_accuracy` | per stage: share of inputs answered there, and "
    "the accuracy on them |",
    "| `reach` | per stage: share of inputs entering it |",
    "| `throughput_fps` | sustained inferences/s: the lesser of `accelerator_fps` and "
    "`host_fps` (the host link) |",
    "| `stage_throughput_fps` | per stage: its own rate (its slowest layer) |",
    "| `limited_by` | what caps `throughput_fps` (stage, layer or host link, and why) |",
    "| `latency_s`, `latency_s_per_exit` | mean latency over the exits, and to each exit "
    "(FINN's critical path at the clock) |",
    "| `power_w`, `energy_per_inference_j`, `edp` | mean power at full load, energy per "
    "inference (J), energy x mean latency (J s) |",
    "| `LUT`, `BRAM_18K`, `URAM`, `DSP` | FINN's resource estimates |",
    "| `utilisation` | each resource's share of the device |",
    "| `fits` | within the study's utilisation limits (`[hardware] max_utilisation`) |",
    "| `constraints.fits_device` | the worst resource's utilisation over its limit, minus "
    "1: at most 0 when the design fits (-0.12: 12 % below the limit) |",
    "| `constraints.min_accuracy` | `[objectives] min_accuracy` minus `accuracy`: at most "
    "0 when met (only with that key) |",
    "| `widths` | the pruned layer widths |",
    "",
]

#: The section on the integrity check.
_INTEGRITY = [
    "## Integrity",
    "",
    "`library.json` records the sha256 of every other file of the library (`digests`). "
    "For each design it also records the sha256 of each top-level field of its "
    "`deployment.json` (`deployment_fields`). Before a design is loaded, the host runtime "
    "(`adapex deploy verify` and `adapex deploy run`) checks its files against these. A "
    "file changed after the export is refused in one line naming the file, and for "
    "`deployment.json` the field; the fix is to export the library again. "
    "`adapex export --force` replaces a library only when the folder holds nothing but "
    "the files listed in `files`: a file or folder of yours in it is kept, and the export "
    "refuses.",
    "",
    "To check by hand: `sha256sum <file>` equals `digests[<file>]` in `library.json`.",
    "",
]


def _first_id(designs: list[Any]) -> str:
    for d in designs:
        if isinstance(d, Mapping) and "id" in d:
            return str(d["id"])
    return "<id>"
