"""`study pareto --min-accuracy/--sort/--top`: the selection of a front's designs (property
tests on the pure part, the table on a real study)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dse.errors import DseError
from dse.study.status import FRONT_ORDERS, select_front

metric = st.floats(0.0, 1e6, allow_nan=False)
designs_strategy = st.lists(
    st.tuples(st.floats(0.0, 1.0), metric, metric, metric, metric),
    max_size=30,
).map(
    lambda rows: [
        SimpleNamespace(
            id=i + 1,
            metrics={
                "accuracy": a,
                "throughput_fps": f,
                "energy_per_inference_j": e,
                "latency_s": lat,
                "LUT": lut,
            },
        )
        for i, (a, f, e, lat, lut) in enumerate(rows)
    ]
)


@settings(max_examples=80, deadline=None)
@given(
    designs_strategy,
    st.one_of(st.none(), st.floats(0.0, 1.0)),
    st.sampled_from(sorted(FRONT_ORDERS)),
    st.one_of(st.none(), st.integers(1, 40)),
)
def test_selection_filters_orders_and_cuts(
    designs: list, min_acc: float | None, sort: str, top: int | None
) -> None:
    got = select_front(designs, min_accuracy=min_acc, sort=sort, top=top)
    kept = [d for d in designs if min_acc is None or d.metrics["accuracy"] >= min_acc]
    assert {d.id for d in got} <= {d.id for d in kept}
    assert len(got) == (len(kept) if top is None else min(top, len(kept)))
    key, largest = FRONT_ORDERS[sort]
    values = [d.metrics[key] for d in got]
    assert values == sorted(values, reverse=largest)
    if got and top is not None and len(kept) > top:  # the cut keeps the best ones
        worst_kept = values[-1]
        for d in kept:
            if d.id not in {g.id for g in got}:
                v = d.metrics[key]
                assert (v <= worst_kept) if largest else (v >= worst_kept)


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"sort": "speed"}, "`sort` 'speed': unknown; use one of fps"),
        ({"min_accuracy": 95.0}, "`min_accuracy` 95.0: give a fraction in [0, 1]"),
        ({"top": 0}, "`top` 0: give at least 1"),
    ],
)
def test_bad_selections_name_the_argument(kwargs: dict, needle: str) -> None:
    with pytest.raises(DseError) as info:
        select_front([], **kwargs)
    assert needle in str(info.value)


@pytest.mark.slow
def test_the_pareto_table_says_what_to_build(
    small_study: object, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    from cli_checks import cli

    from dse.export.library import build_key
    from dse.storage import Store

    url = small_study.url  # type: ignore[attr-defined]
    with Store(url, read_only=True) as store:
        front = store.pareto(small_study.name)  # type: ignore[attr-defined]
    code, out, err = cli(["study", "pareto", "--storage", url], capsys)
    assert code == 0, err
    for column in ("W/A", "limited by", "exits@thr", "budget"):
        assert column in out
        assert any(line.startswith(column.split(",")[0]) for line in out.splitlines())
    # designs that build the same accelerator with the same figures share one row
    keys: dict[str, list[int]] = {}
    for d in front:
        keys.setdefault(build_key(d), []).append(d.id)
    lines = [line.split() for line in out.splitlines() if line.strip()[:1].isdigit()]
    shown_ids = [int(i) for row in lines for i in row[0].split(",")]
    assert sorted(shown_ids) == sorted(d.id for d in front)
    assert len(lines) < len(front) or all(len(v) == 1 for v in keys.values())
    for d in front:
        wa = f"W{d.arch['weight_bits']}A{d.arch['act_bits']}"
        row = next(r for r in lines if str(d.id) in r[0].split(","))
        assert row[1] == wa
    # the flags: the most accurate design first, one shown, the rest counted in the title
    code, out, _ = cli(
        ["study", "pareto", "--storage", url, "--sort", "accuracy", "--top", "1", "--json"],
        capsys,
    )
    best = max(front, key=lambda d: (d.metrics["accuracy"], -d.id))
    assert [r["design_id"] for r in json.loads(out)] == [best.id]
    cut = sorted(d.metrics["accuracy"] for d in front)[-1]
    code, out, _ = cli(
        ["study", "pareto", "--storage", url, "--min-accuracy", repr(cut), "--json"], capsys
    )
    assert code == 0
    assert sorted(r["design_id"] for r in json.loads(out)) == sorted(
        d.id for d in front if d.metrics["accuracy"] >= cut
    )
    code, _, err = cli(["study", "pareto", "--storage", url, "--sort", "speed"], capsys)
    assert code == 2 and err.strip() == (
        "error: --sort 'speed': unknown; use one of fps, accuracy, energy, latency, lut"
    )
