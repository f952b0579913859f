"""`adapex runtime table|simulate` against a real small stored study (SQLite, real training)."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest
from cli_checks import copy_sqlite, immutable

from dse.cli import main
from dse.runtime import (
    SelectionTable,
    design_points,
    operating_points,
    point_sets,
    pruning_rate,
    static_finn_point,
)
from dse.runtime.derive import static_best_point
from dse.runtime.points import STATIC_BEST_ID
from dse.storage import Store

pytestmark = pytest.mark.slow  # trains real models

STUDY = "rt"


@pytest.fixture(scope="module")
def study_url(tmp_path_factory):
    """A real study: TFC on digits 8x8, pruning 0 and 0.5 (two trained models), exits 0/1."""
    import torch

    from dse.config import parse_config
    from dse.study.run import run_study

    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("rtstudy")
    url = f"sqlite:///{root / 'studies.db'}"
    cfg = parse_config(
        {
            "study": {"name": STUDY, "seed": 0, "sampler": "random", "trials": 2},
            "storage": {"url": url},
            "dataset": {"name": "digits", "image_size": 8, "seed": 0},
            "model": {
                "family": "tfc",
                "width_mult": 0.5,
                "weight_bits": [2],
                "act_bits": [2],
                "candidate_exits": [0, 1],
            },
            "training": {"epochs": 3, "finetune_epochs": 1, "batch_size": 64},
            "pruning": {"mode": "uniform", "rates": [0.0, 0.5]},
            "exits": {"thresholds": [0.3, 0.8]},
            "folding": {"strategies": ["optimised"], "budget": [0.25, 1.0]},
            "hardware": {"board": "Pynq-Z1", "clk_ns": [10.0]},
            "cache_dir": str(root / "cache"),
        }
    )
    run_study(cfg)
    return url


def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    try:
        main(list(args))
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def test_points_and_static_baseline_from_the_study(study_url):
    with Store(study_url, read_only=True) as store:
        records = store.designs(STUDY)
    points = operating_points(records)
    static = static_finn_point(records)
    best = static_best_point(records)
    feasible = {r.id for r in records if r.feasible}
    assert points and {p.design_id for p in points} <= feasible
    assert static.is_static_finn and static.exits == () and "FINN SetFolding" in static.label
    assert best.design_id == STATIC_BEST_ID and not best.is_static_finn
    # static best is the unpruned network with adapex's optimised folding of the whole device:
    # at least as fast as FINN's SetFolding and every stored unpruned design, exits disabled
    unpruned_plain = [p for p in points if p.pruning_rate == 0 and not p.exits_enabled]
    assert unpruned_plain
    assert best.throughput_fps >= max(p.throughput_fps for p in unpruned_plain) * (1 - 1e-9)
    assert best.throughput_fps >= static.throughput_fps * (1 - 1e-9)
    assert best.accuracy == static.accuracy
    # every stored design keeps an exits-disabled setting (pruning-only baseline)
    for r in records:
        if r.feasible and r.exits:
            assert any(p.design_id == r.id and not p.exits_enabled for p in points)
    # the setting a design was stored with reproduces the study's own figures
    for r in records:
        if not r.feasible:
            continue
        own = [
            p
            for p in design_points(r, keep_dominated=True)
            if p.thresholds == tuple(float(t) for t in r.thresholds)
        ]
        assert own, r.id
        assert own[0].accuracy == pytest.approx(r.metrics["accuracy"], rel=1e-9)
        assert own[0].throughput_fps == pytest.approx(r.metrics["throughput_fps"], rel=1e-9)
        assert own[0].energy_per_inference_j == pytest.approx(
            r.metrics["energy_per_inference_j"], rel=1e-9
        )
    sets = point_sets(points, static)
    assert all(not p.exits for p in sets["pruning_only"])  # no exit heads in hardware
    assert all(p.pruning_rate == 0 for p in sets["exit_only"])
    assert pruning_rate(SimpleNamespace(params={"pruning": [0.25, 0.75]}, metrics={})) == 0.5


def test_table_is_stored_and_exported(study_url, capsys, tmp_path):
    out_csv = tmp_path / "table.csv"
    code, out, err = run_cli(
        capsys, "runtime", "table", "--study", STUDY, "--storage", study_url, "--json",
        "--out", str(out_csv),
    )  # fmt: skip
    assert code == 0, err
    printed = json.loads(out)
    with Store(study_url, read_only=True) as store:
        stored = store.runtime_table(STUDY)
    assert stored is not None
    assert stored["entries"] == printed["entries"]
    table = SelectionTable.from_dict(stored)
    assert any(p.is_static_finn for p in table.points)
    lines = out_csv.read_text().splitlines()
    assert lines[0].startswith("accuracy_threshold,rate_min_fps,rate_max_fps,design_id")
    assert len(lines) == 1 + len(printed["entries"])
    # a threshold-filtered human view
    code, out, _ = run_cli(
        capsys, "runtime", "table", "--study", STUDY, "--storage", study_url,
        "--accuracy-threshold", "0.3",
    )  # fmt: skip
    assert code == 0 and "runtime selection table" in out
    # by default a person gets the default threshold's few rows, with the way to the rest
    code, out, _ = run_cli(capsys, "runtime", "table", "--study", STUDY, "--storage", study_url)
    rows = [line for line in out.splitlines() if "@" in line or " - " in line or "> " in line]
    default = table.row_entries(
        max(0.0, next(p for p in table.points if p.is_static_finn).served_accuracy - 0.01)
    )
    assert code == 0 and f"{len(default)} of the table's {len(stored['entries'])} rows" in out
    assert "--all shows every threshold" in out and len(rows) >= len(default)
    # every threshold shown carries its exit
    for e in default:
        for x, t in zip(e["exits"], e["thresholds"], strict=True):
            assert f"{x}@{t:g}" in out or f"{x}@off" in out
    code, out, _ = run_cli(
        capsys, "runtime", "table", "--study", STUDY, "--storage", study_url, "--all"
    )
    assert code == 0 and "of the table's" not in out


def test_the_table_is_one_library_call(study_url, tmp_path):
    """dse.runtime.study_runtime_table does what `adapex runtime table` does: resolves the
    study, builds its table by the study's objective (or the one given) and stores it."""
    from dse.runtime import study_runtime_table

    built = study_runtime_table(study_url)  # the database's only study
    assert built.study == STUDY and built.stored
    assert built.table.objective == "energy"  # the study's [runtime] select
    with Store(study_url, read_only=True) as store:
        assert store.runtime_table(STUDY)["entries"] == built.table.to_dict()["entries"]
    assert repr(built).startswith(f"StudyRuntimeTable(study='{STUDY}'") and "\n" not in repr(built)
    by_edp = study_runtime_table(study_url, STUDY, select="edp", store=False)
    assert by_edp.table.objective == "edp" and not by_edp.stored
    with Store(study_url, read_only=True) as store:  # not stored: the energy table stays
        assert store.runtime_table(STUDY)["objective"] == "energy"
    # a database this process may not write (chattr +i: not even root): built, not stored
    copy = tmp_path / "studies.db"
    copy_sqlite(Path(study_url.removeprefix("sqlite:///")), copy)
    with immutable(copy):
        ro = study_runtime_table(f"sqlite:///{copy}", select="edp")
    assert ro.study == STUDY and not ro.stored and ro.table.objective == "edp"


def test_simulate_json_compares_every_baseline(study_url, capsys):
    code, out, err = run_cli(
        capsys, "runtime", "simulate", "--study", STUDY, "--storage", study_url,
        "--duration-s", "7200", "--json",
    )  # fmt: skip
    assert code == 0, err
    res = json.loads(out)
    assert set(res["policies"]) == {
        "static_finn",
        "static_best",
        "pruning_only",
        "exit_only",
        "adapex",
    }
    assert set(res["ratios_vs_static"]) == {"processed", "edp", "edp_service"}
    threshold = res["accuracy_threshold"]
    arrivals = res["trace"]["arrivals"]
    for name, m in res["policies"].items():
        assert m["available"], name
        assert m["arrivals"] == arrivals == m["processed"] + m["dropped"] + m["queued_at_end"]
        if name != "static_finn":
            assert m["intervals_below_threshold"] == 0
            assert m["mean_accuracy"] >= threshold - 1e-9
        assert len(m["timeline"]["t_s"]) == 120
    static = res["policies"]["static_finn"]
    adapex = res["policies"]["adapex"]
    assert res["ratios_vs_static"]["processed"] == pytest.approx(
        adapex["processed"] / static["processed"]
    )
    assert res["ratios_vs_static"]["edp"] == pytest.approx(static["edp_js"] / adapex["edp_js"])
    # hysteresis (default: at least 30 s between reconfigurations) bounds the switching
    assert adapex["reconfigurations"] <= 1 + 7200 // 30
    assert static["reconfigurations"] == 0
    with Store(study_url, read_only=True) as store:
        stored = store.simulation(STUDY)
    assert stored["ratios_vs_static"] == res["ratios_vs_static"]
    assert stored["timeline"]["t_s"] == adapex["timeline"]["t_s"]
    # human output
    code, out, _ = run_cli(
        capsys, "runtime", "simulate", "--study", STUDY, "--storage", study_url,
        "--duration-s", "600", "--trace", "bursty",
    )  # fmt: skip
    assert code == 0 and "adapex vs static FINN" in out and "adapex vs exit-only" in out
    assert "energy per inference (uJ)" in out and "service EDP (uJ*ms)" in out


def test_simulate_user_csv_trace(study_url, capsys, tmp_path):
    f = tmp_path / "load.csv"
    f.write_text("start,rate\n0,1000\n60,5e9\n120,2000\n")
    code, out, err = run_cli(
        capsys, "runtime", "simulate", "--study", STUDY, "--storage", study_url,
        "--trace", str(f), "--accuracy-threshold", "0.0", "--json",
    )  # fmt: skip
    assert code == 0, err
    res = json.loads(out)
    assert res["trace"]["name"] == "load.csv" and res["trace"]["duration_s"] == 180
    static = res["policies"]["static_finn"]
    assert static["dropped"] > 0  # 5e9/s is beyond any design on a Pynq-Z1


def test_the_shipped_example_trace(study_url, capsys):
    """examples/arrivals.csv, as the README runs it: one hour of piecewise-constant rates."""
    example = Path(__file__).resolve().parents[2] / "examples" / "arrivals.csv"
    code, out, err = run_cli(
        capsys, "runtime", "simulate", "--study", STUDY, "--storage", study_url,
        "--trace", str(example), "--json",
    )  # fmt: skip
    assert code == 0, err
    trace = json.loads(out)["trace"]
    assert trace["name"] == "arrivals.csv" and trace["duration_s"] == 3600
    # by hand from the file: 200x600 + 900x300 + 2500x300 + 600x600 + 3500x300 + 1200x600
    # + 300x450 + 300x450 inferences over 3600 s
    assert trace["mean_fps"] == pytest.approx(3_540_000 / 3600)
    assert trace["peak_fps"] == 3500


def test_bad_input_exits_2_and_writes_nothing(study_url, capsys, tmp_path):
    with Store(study_url, read_only=True) as store:
        before = store.simulation(STUDY)
    bad = tmp_path / "bad.csv"
    bad.write_text("start,rate\n0,1\n1,2\n2,oops\n")
    code, out, err = run_cli(
        capsys, "runtime", "simulate", "--study", STUDY, "--storage", study_url,
        "--trace", str(bad),
    )  # fmt: skip
    assert code == 2 and out == ""
    assert err.strip() == (
        "error: trace bad.csv line 4: rate 'oops' is not a number; "
        "write inferences per second, e.g. 120"
    )
    code, _, err = run_cli(capsys, "runtime", "simulate", "--study", "nope", "--storage", study_url)
    assert code == 2 and "--study nope: not found in" in err
    code, _, err = run_cli(
        capsys, "runtime", "table", "--study", STUDY, "--storage", study_url,
        "--accuracy-threshold", "1.5",
    )  # fmt: skip
    assert code == 2 and "--accuracy-threshold 1.5 is out of range" in err
    code, _, err = run_cli(
        capsys, "runtime", "simulate", "--study", STUDY, "--storage", study_url,
        "--trace", "no-such-trace",
    )  # fmt: skip
    assert code == 2 and "unknown; use one of smart-iot" in err
    missing = tmp_path / "missing.db"
    code, _, err = run_cli(
        capsys, "runtime", "table", "--study", STUDY, "--storage", f"sqlite:///{missing}"
    )
    assert code == 2 and not missing.exists()
    with Store(study_url, read_only=True) as store:
        assert store.simulation(STUDY) == before


def test_library_holds_whole_subspaces_and_is_cached(study_url, monkeypatch):
    import optuna
    from optuna.trial import TrialState

    from dse.runtime import baseline_names
    from dse.runtime import library as L

    # the runtime only reads: nothing is evaluated into the study
    trials_before = optuna.load_study(study_name=STUDY, storage=study_url).trials
    with Store(study_url, read_only=True) as store:
        before = len(store.designs(STUDY))
        baselines = store.designs(STUDY, role="baseline")
        models = store.models(STUDY)
    lib = L.load_library(study_url, STUDY, refresh=True)
    with Store(study_url, read_only=True) as store:
        designs = store.designs(STUDY)
        assert len(designs) == before
    trials = optuna.load_study(study_name=STUDY, storage=study_url).trials
    assert len(trials) == len(trials_before)
    # the baselines' sub-space designs live apart from the user's trials: no trial carries
    # them, and the study's designs are exactly its COMPLETE trials'
    complete = {t.number for t in trials if t.state == TrialState.COMPLETE}
    assert {n for d in designs for n in d.trial_numbers} == complete
    assert all(b.trial_number is None and not b.exits for b in baselines)
    # pruning-only: every trained model's designs without exits (its own front of them);
    # exit-only: the unpruned model's designs
    no_exits = [d for d in designs + baselines if not d.exits and d.feasible]
    assert {d.model_id for d in no_exits} == {m.id for m in models}
    assert lib.subspaces["pruning_only"] == len(no_exits)
    assert lib.subspaces["exit_only"] == sum(
        1 for d in designs + baselines if d.params["pruning"] == 0.0 and d.feasible
    )
    sets = lib.point_sets()
    assert baseline_names() == ["static_finn", "static_best", "pruning_only", "exit_only"]
    for name in baseline_names():  # adapex's library holds every baseline's
        assert set(sets[name]) <= set(sets["adapex"]), name
    assert all(not p.exits for p in sets["pruning_only"])
    assert all(p.pruning_rate == 0 for p in sets["exit_only"])
    assert {p.design_id for p in sets["adapex"]} >= {b.id for b in baselines if b.feasible}
    # every configuration carries its guarantee: at most its calibration accuracy
    for p in sets["adapex"]:
        assert p.guaranteed_accuracy is not None
        assert 0.0 <= p.guaranteed_accuracy <= p.accuracy + 1e-12
    # unchanged study: the points come from the database, nothing is recomputed

    def boom(*_a, **_k):
        raise AssertionError("recomputed")

    monkeypatch.setattr(L, "operating_points", boom)
    monkeypatch.setattr(L, "static_finn_point", boom)
    again = L.load_library(study_url, STUDY)
    assert again.points == lib.points and again.static_finn == lib.static_finn


def test_sweep_json_ratios_and_breakdown(study_url, capsys):
    code, out, err = run_cli(
        capsys, "runtime", "sweep", "--study", STUDY, "--storage", study_url, "--json"
    )
    assert code == 0, err
    res = json.loads(out)
    assert set(res) >= {"accuracy_threshold", "baselines", "rows", "breakdown"}
    assert set(res["baselines"]) == {"static_finn", "static_best", "pruning_only", "exit_only"}
    static = res["baselines"]["static_finn"]
    # the default threshold: what static FINN is guaranteed, less a point
    assert res["accuracy_threshold"] == pytest.approx(static["guaranteed_accuracy"] - 0.01)
    keys = {
        "trace",
        "load",
        "load_basis",
        "baseline",
        "processed_ratio",
        "service_edp_ratio",
        "energy_per_inference_ratio",
        "mean_accuracy",
        "attribution",
        "limited_by",
        "why",
    }
    assert all(set(r) == keys for r in res["rows"])
    traces = {r["trace"] for r in res["rows"]}
    assert traces == {"smart-iot", "camera", "traffic", "bursty", "constant"}
    assert {r["load"] for r in res["rows"]} == {0.5, 1.0, 1.5, 2.0, 3.0, 4.0}
    # loads against static FINN's throughput and against static best's, the stronger one
    assert {r["load_basis"] for r in res["rows"]} == {"static_finn", "static_best"}
    assert res["settings"]["load_basis_fps"] == {
        "static_finn": pytest.approx(static["throughput_fps"]),
        "static_best": pytest.approx(res["baselines"]["static_best"]["throughput_fps"]),
    }
    assert len(res["rows"]) == 2 * 5 * 6 * 4
    assert res["select"] == "energy"
    for r in res["rows"]:
        assert r["mean_accuracy"] >= res["accuracy_threshold"] - 1e-9
        if r["trace"] == "constant":  # no reconfiguration: adapex's library holds every one
            assert r["processed_ratio"] >= 1 - 1e-9, r
        if r["baseline"] == "static_finn":
            assert r["energy_per_inference_ratio"] >= 1 - 1e-9, r
            # the attribution: folding x pruning x exits is adapex's ratio over static FINN
            a = r["attribution"]
            assert a["total"] == pytest.approx(r["processed_ratio"])
            assert a["folding"] * a["pruning"] * a["exits"] == pytest.approx(a["total"])
        # where adapex loses on a metric, the row says why; where it does not, nothing
        ratios = [
            r[k] for k in ("processed_ratio", "service_edp_ratio", "energy_per_inference_ratio")
        ]
        loses = any(x is not None and x < 1 - 1e-9 for x in ratios)
        assert (r["why"] is not None) == loses, r
        if loses:
            assert "adapex loses on" in r["why"] and "mostly ran" in r["why"]
        # what limits the fastest configuration adapex used, named
        bound = r["limited_by"]
        assert bound["kind"] in {"layer", "input_stream", "host_link"} and bound["detail"]
        assert bound["design_id"] is not None and bound["throughput_fps"] > 0
    # the breakdown explains each ratio: shares of time per configuration, per policy
    assert set(res["breakdown"]) == {"static_finn", "static_best"}
    for by_trace in res["breakdown"].values():
        for by_load in by_trace.values():
            for per_policy in by_load.values():
                assert set(per_policy) == {*res["baselines"], "adapex"}
                for b in per_policy.values():
                    assert sum(c["share"] for c in b["configurations"]) == pytest.approx(1.0)
    # stored with the study's runtime cache: the same call answers from it
    with Store(study_url, read_only=True) as store:
        assert list((store.runtime_cache(STUDY) or {}).get("sweeps", {}).values()) == [res]
    code, human, _ = run_cli(capsys, "runtime", "sweep", "--study", STUDY, "--storage", study_url)
    assert code == 0 and "static FINN" in human and "constant" in human
    assert "loads x static best" in human and "folding" in human and "limited by" in human
    # the hint to the breakdown names its study and database: it works beside other studies
    assert f"adapex runtime sweep --study {STUDY} --storage {study_url} --json | jq" in human


def test_sweep_select_edp_never_loses_service_edp_where_both_sustain(study_url, capsys):
    """--select edp: wherever adapex and a baseline both serve the whole constant load, the
    service EDP of adapex is at least as good as the baseline's."""
    code, out, err = run_cli(
        capsys,
        "runtime",
        "sweep",
        "--study",
        STUDY,
        "--storage",
        study_url,
        "--select",
        "edp",
        "--load-basis",
        "static_best",
        "--json",
    )
    assert code == 0, err
    res = json.loads(out)
    assert res["select"] == "edp" and res["settings"]["load_bases"] == ["static_best"]
    checked = 0
    for r in res["rows"]:
        if r["trace"] != "constant":
            continue
        per = res["breakdown"]["static_best"]["constant"][f"{r['load']:g}"]
        if per["adapex"]["drop_rate"] == 0 and per[r["baseline"]]["drop_rate"] == 0:
            assert r["service_edp_ratio"] >= 1 - 1e-9, r
            checked += 1
    assert checked > 0
    code, _out, err = run_cli(
        capsys, "runtime", "sweep", "--study", STUDY, "--storage", study_url, "--select", "speed"
    )
    assert (
        code == 2
        and "--select 'speed' is unknown; use one of energy, edp, latency, accuracy" in err
    )
    code, _out, err = run_cli(
        capsys,
        "runtime",
        "sweep",
        "--study",
        STUDY,
        "--storage",
        study_url,
        "--load-basis",
        "nope",
    )
    assert code == 2 and "--load-basis 'nope' is unknown" in err


def test_where_adapex_loses_it_says_why(capsys):
    """The comparison lines say why adapex is worse on a metric and which flag changes it."""
    from dse.cli.runtime import _print_against_baselines

    def policy(processed, edp, energy, reconfigurations=0):
        return {
            "processed": processed,
            "edp_service_js": edp,
            "energy_per_inference_j": energy,
            "reconfigurations": reconfigurations,
        }

    policies = {
        "adapex": policy(990, 2e-9, 1e-4, reconfigurations=7),
        "static_finn": policy(900, 5e-9, 2e-4),  # adapex better on everything: no why
        "exit_only": policy(1000, 1e-9, 1e-4),  # fewer processed, worse EDP, equal energy
    }
    _print_against_baselines(policies, "energy")
    out = capsys.readouterr().out.splitlines()
    finn = out.index(next(line for line in out if line.startswith("adapex vs static FINN")))
    assert not out[finn + 1].startswith("  why")
    whys = [line for line in out if line.startswith("  why")]
    assert len(whys) == 2
    assert "service EDP is worse" in whys[1] and "--select edp" in whys[1]
    assert "inferences processed is worse" in whys[0] and "7 reconfigurations" in whys[0]
    # selecting by EDP, a loss on energy points to --select energy
    policies["exit_only"] = policy(990, 2e-9, 5e-5)
    _print_against_baselines(policies, "edp")
    out = capsys.readouterr().out
    assert "energy per inference is worse" in out and "--select energy" in out


def test_simulate_peak_as_a_load_or_a_rate(study_url, capsys):
    """--peak-load scales a built-in trace to a multiple of static FINN's throughput,
    --peak-fps to an absolute rate (the same two flags as deploy run), never both."""
    base = ["runtime", "simulate", "--study", STUDY, "--storage", study_url]
    base += ["--trace", "constant", "--duration-s", "600", "--json"]
    code, out, err = run_cli(capsys, *base, "--peak-load", "2")
    assert code == 0, err
    by_load = json.loads(out)
    static_fps = by_load["static_finn_point"]["throughput_fps"]
    assert by_load["trace"]["peak_fps"] == pytest.approx(2 * static_fps, rel=1e-9)
    assert by_load["trace"]["peak_load_vs_static"] == pytest.approx(2.0)
    code, out, err = run_cli(capsys, *base, "--peak-fps", f"{0.5 * static_fps!r}")
    assert code == 0, err
    by_rate = json.loads(out)
    assert by_rate["trace"]["peak_fps"] == pytest.approx(0.5 * static_fps, rel=1e-9)
    assert by_rate["trace"]["peak_load_vs_static"] == pytest.approx(0.5)
    code, _, err = run_cli(capsys, *base, "--peak-load", "2", "--peak-fps", "100")
    assert code == 2 and err.count("\n") == 1 and "not both" in err
    code, _, err = run_cli(capsys, *base, "--peak-fps", "-3")
    assert code == 2 and "peak-fps" in err


def test_simulate_load_basis_and_select_accuracy(study_url, capsys):
    """--load-basis max makes --peak-load a multiple of the fastest configuration; --select
    accuracy runs the most accurate configuration that sustains the load (never below the
    threshold), and the text output says what adapex selects by and what it ran."""
    base = ["runtime", "simulate", "--study", STUDY, "--storage", study_url]
    base += ["--trace", "traffic", "--duration-s", "7200", "--accuracy-threshold", "0.5"]
    code, out, err = run_cli(
        capsys, *base, "--load-basis", "max", "--peak-load", "1", "--select", "accuracy", "--json"
    )
    assert code == 0, err
    res = json.loads(out)
    fastest = max(
        c["throughput_fps"]
        for m in res["policies"].values()
        if m["available"]
        for c in m["configurations_used"]
    )
    assert res["trace"]["load_basis"] == "max" and res["trace"]["peak_load"] == 1
    assert res["trace"]["peak_fps"] == pytest.approx(fastest, rel=1e-9)
    assert res["settings"]["objective"] == "accuracy"
    adapex = res["policies"]["adapex"]
    assert adapex["intervals_below_threshold"] == 0
    shares = adapex["time_share"]
    assert sum(s["share"] for s in shares) == pytest.approx(1.0)
    assert {s["design_id"] for s in shares} == {
        c["design_id"] for c in adapex["configurations_used"]
    }
    by_energy = json.loads(
        run_cli(capsys, *base, "--load-basis", "max", "--peak-load", "1", "--json")[1]
    )["policies"]["adapex"]
    # spare capacity spent on accuracy: at least as accurate as selecting by energy
    assert adapex["mean_accuracy"] >= by_energy["mean_accuracy"] - 1e-12
    code, out, err = run_cli(
        capsys, *base, "--load-basis", "max", "--peak-load", "1", "--select", "accuracy"
    )
    assert code == 0, err
    assert "adapex selects the highest guaranteed accuracy (--select accuracy)" in out
    assert "share of the time: " in out and "reconfigurations" in out
    code, _, err = run_cli(capsys, *base, "--load-basis", "fastest")
    assert code == 2 and err.count("\n") == 1
    assert "--load-basis 'fastest' is unknown; use one of static_finn, static_best, max" in err


def test_why_names_the_accuracy_objective(capsys):
    """Selecting by accuracy, a loss on energy or EDP is put down to it."""
    from dse.cli.runtime import _print_against_baselines

    adapex = {"processed": 10, "edp_service_js": 2.0, "energy_per_inference_j": 2.0}
    base = {"processed": 10, "edp_service_js": 1.0, "energy_per_inference_j": 1.0}
    _print_against_baselines({"adapex": adapex, "exit_only": base}, "accuracy")
    whys = [line for line in capsys.readouterr().out.splitlines() if line.startswith("  why")]
    assert len(whys) == 2
    assert "adapex selects the highest guaranteed accuracy (--select accuracy)" in whys[0]
    assert "--select edp minimises service EDP" in whys[0]
    assert "--select energy minimises energy per inference" in whys[1]


def test_stored_designs_recost_to_their_stored_figures(study_url):
    """Everything a design was costed with is stored with it: costed again from the record
    alone (DesignRecord.hardware, the one costing path), each design has its stored fit,
    throughput, energy and latency, against the study's utilisation limits."""
    from dse.design import cost

    with Store(study_url, read_only=True) as store:
        records = store.designs(STUDY)
    assert records
    for r in records:
        assert r.limits == {"LUT": 0.85, "BRAM_18K": 0.9, "URAM": 0.9, "DSP": 0.9}
        rep = cost(r.hardware(), r.metrics["reach"])
        assert rep.fits == r.metrics["fits"] == r.feasible, r.id
        assert rep.throughput_fps == r.metrics["throughput_fps"]
        assert rep.energy_per_inference_j == r.metrics["energy_per_inference_j"]
        assert rep.mean_latency_s == r.metrics["latency_s"]
        assert rep.total == {k: r.metrics[k] for k in rep.total}
        for name in ("throughput_fps", "energy_per_inference_j"):
            assert r.objectives[name] == r.metrics[name]
