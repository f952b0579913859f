"""Mutation score of the pure parts, per module (mutmut; not part of CI).

The modules and their fast tests are configured in pyproject.toml (``[tool.mutmut]``): the
hw_builders cost models, folding, stages and queueing, the Pareto filter, the runtime table
and the simulator. mutmut changes one expression at a time and runs the tests that cover it;
a mutant is *killed* when a test fails, *survived* when every test passes.

    .venv/bin/python scripts/mutation_score.py --run     # a fresh run (tens of minutes), then the table
    .venv/bin/python scripts/mutation_score.py           # the table of the last run (mutants/)
    .venv/bin/python scripts/mutation_score.py --survivors hw_builders/ops/mvau.py
    .venv/bin/python scripts/mutation_score.py --against /tmp/before/mutants   # before/after
    .venv/bin/python scripts/mutation_score.py --report docs/MUTATION.md   # survivors, with why

Score = killed / (killed + survived + timeout + suspicious + no tests): a mutant that no
configured test covers counts against the module.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tomllib
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MUTANTS = ROOT / "mutants"
#: why a survivor was left, by mutant name or by the function it mutates (the name up to
#: ``__mutmut_``), where no rule of :func:`reason_by_rule` says it
REASONS = ROOT / "scripts" / "mutation_reasons.toml"
COUNTED = ("killed", "survived", "timeout", "suspicious", "no tests")


def statuses(mutants: Path = MUTANTS) -> dict[str, dict[str, str]]:
    """Per source file (relative path): mutant name -> mutmut's status."""
    from mutmut.stats import status_by_exit_code

    out: dict[str, dict[str, str]] = {}
    for meta in sorted(mutants.rglob("*.py.meta")):
        source = meta.relative_to(mutants).as_posix().removesuffix(".meta")
        data = json.loads(meta.read_text())
        codes = data.get("exit_code_by_key", {})
        if codes:
            out[source] = {k: status_by_exit_code.get(v, "not checked") for k, v in codes.items()}
    return out


def table(by_file: dict[str, dict[str, str]]) -> list[tuple[str, Counter[str], float | None]]:
    rows = []
    for source, per_mutant in by_file.items():
        counts = Counter(per_mutant.values())
        judged = sum(counts[s] for s in COUNTED)
        rows.append((source, counts, counts["killed"] / judged if judged else None))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", action="store_true", help="run mutmut afresh first")
    parser.add_argument("--survivors", metavar="FILE", help="list the survivors of one file")
    parser.add_argument(
        "--diff", action="store_true", help="with --survivors: each survivor's changed lines"
    )
    parser.add_argument(
        "--against",
        metavar="DIR",
        type=Path,
        help="another run's mutants/ folder (e.g. of an older commit): per module, the score "
        "of both runs on the mutants that both judged (same name, same mutation)",
    )
    parser.add_argument(
        "--report",
        metavar="FILE",
        type=Path,
        help="write the scores and every survivor with its change and why it was left "
        "(rules below, then scripts/mutation_reasons.toml) as Markdown",
    )
    args = parser.parse_args(argv)
    if args.run:
        shutil.rmtree(MUTANTS, ignore_errors=True)
        done = subprocess.run(
            [sys.executable, "-m", "mutmut", "run", "--max-children", "2"], cwd=ROOT
        )
        if done.returncode not in (0, 1):
            print(f"mutmut run failed (exit {done.returncode})", file=sys.stderr)
            return 2
    if not MUTANTS.is_dir():
        print("no mutants/ folder: run with --run first", file=sys.stderr)
        return 2
    by_file = statuses()
    if args.against is not None:
        return compare(statuses(args.against), by_file)
    if args.report is not None:
        return write_report(by_file, args.report)
    if args.survivors:
        for name, status in sorted(by_file.get(args.survivors, {}).items()):
            if status != "killed":
                print(f"{status:10} {name}")
                if args.diff:
                    print(changed_lines(name, MUTANTS / args.survivors))
        return 0
    total: Counter[str] = Counter()
    print(f"{'module':42} {'mutants':>7} {'killed':>7} {'survived':>8} {'no test':>7} {'score':>6}")
    for source, counts, score in table(by_file):
        total += counts
        shown = "-" if score is None else f"{100 * score:.1f}%"
        print(
            f"{source:42} {sum(counts.values()):7} {counts['killed']:7} "
            f"{counts['survived']:8} {counts['no tests']:7} {shown:>6}"
        )
    judged = sum(total[s] for s in COUNTED)
    overall = f"{100 * total['killed'] / judged:.1f}%" if judged else "-"
    print(
        f"{'all':42} {sum(total.values()):7} {total['killed']:7} {total['survived']:8} "
        f"{total['no tests']:7} {overall:>6}"
    )
    return 0


def changed_lines(mutant: str, path: Path) -> str:
    """The lines a mutant changes (``-`` original, ``+`` mutated), from mutmut's diff."""
    import os

    from mutmut.mutation.diff_apply import get_diff_for_mutant

    here = os.getcwd()
    os.chdir(ROOT)  # mutmut reads its files relative to the project
    try:
        diff = get_diff_for_mutant(mutant, path=path)
    finally:
        os.chdir(here)
    lines = diff.splitlines()[2:]  # past the ---/+++ header
    return "\n".join(
        f"    {line.rstrip()}"
        for line in lines
        if line[:1] in "+-" and not line.startswith(("@@", "---", "+++"))
    )


#: Survivors that change nothing the code can observe, by the shape of their change:
#: (pattern on the original line, pattern on the mutated line, reason). The first that
#: matches both lines gives the reason.
RULES: tuple[tuple[str, str, str], ...] = (
    (
        r"zip\(.*strict=(True|False)",
        r"zip\(.*(strict=(None|False|True)|, \))",
        "equivalent: the zipped sequences have the same length by construction, so strict= "
        "(which only checks that) never fires",
    ),
    (
        r'kind="stable"',
        r'kind=None|kind="STABLE"|argsort\([^)]*, \)',
        "equivalent: the order of tied values does not change the result (a volume, a sum)",
    ),
    (
        r"np\.(asarray|array|empty)\(.*dtype=float",
        r"dtype=None|, \)",
        "equivalent: the values are floats already, and numpy's default dtype is float64",
    ),
    (
        r"dtype=np\.(int64|float64)|astype\(np\.float64\)",
        r"dtype=None|astype\(None\)|asarray\([^)]*, \)",
        "equivalent: numpy infers the same dtype from these Python ints and floats "
        "(astype(None) is float64)",
    ),
    (
        r'impl: str = ""',
        r'impl: str = "XXXX"',
        "equivalent: the op's rule reads impl not at all or only as impl == 'rtl', so a "
        "default of '' or 'XXXX' behaves the same",
    ),
    (
        r"\.round\(6\)",
        r"\.round\(7\)",
        "equivalent at any figure a test or a reader compares: the rounding of a displayed "
        "timeline to 6 or 7 decimals",
    ),
    (
        r'"_design_rows"',
        r'"XX_design_rowsXX"|"_DESIGN_ROWS"|setdefault\(None',
        "equivalent: the name of a private cache attribute",
    ),
)

#: a comparison against a tolerance turned strict or not strict: the two differ only at
#: exactly threshold -/+ 1e-9, which accuracies (ratios k/N) never are
TOLERANT = (
    "equivalent: accuracies are ratios k/N, never exactly ACC_TOL (1e-9) away from a "
    "threshold, so the comparison with the tolerance gives the same answer strict or not"
)


def reason_by_rule(change: str) -> str | None:
    """The reason a rule of :data:`RULES` gives for a one-line change, or None."""
    minus = [line[5:] for line in change.splitlines() if line.startswith("    -")]
    plus = [line[5:] for line in change.splitlines() if line.startswith("    +")]
    if not minus or not plus:
        return None
    ops = re.compile(r"[<>]=?")
    if any(
        "ACC_TOL" in m and m != p and ops.sub("<>", m) == ops.sub("<>", p)
        for m in minus
        for p in plus
    ):
        return TOLERANT
    for old, new, why in RULES:
        if any(re.search(old, m) for m in minus) and any(re.search(new, p) for p in plus):
            return why
    return None


def write_report(by_file: dict[str, dict[str, str]], out: Path) -> int:
    """Scores per module, then every mutant not killed: its change and why it was left."""
    reasons = tomllib.loads(REASONS.read_text()) if REASONS.exists() else {}
    by_mutant: dict[str, str] = reasons.get("mutants", {})
    by_function: dict[str, str] = reasons.get("functions", {})
    lines = [
        "# Mutation testing: scores and the survivors",
        "",
        "Written by `scripts/mutation_score.py --report` from the last `mutmut run` of the",
        "modules in `[tool.mutmut]` (`pyproject.toml`) against their fast tests. Score = killed",
        "/ (killed + survived + no tests + timeout). Every mutant that was not killed is listed",
        "with its change and why it was left: a rule of `scripts/mutation_score.py` (changes",
        "that nothing can observe), or `scripts/mutation_reasons.toml` (by mutant or function).",
        "A module shown with `-` was not part of the run (`mutmut run` names the modules it",
        'runs); "not caught in this run" names a test added after the run that targets it.',
        "",
        "| module | mutants | killed | survived | no tests | score |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for source, counts, score in table(by_file):
        shown = "-" if score is None else f"{100 * score:.1f}%"
        lines.append(
            f"| `{source}` | {sum(counts.values())} | {counts['killed']} | "
            f"{counts['survived']} | {counts['no tests']} | {shown} |"
        )
    missing = 0
    for source, per_mutant in by_file.items():
        left = sorted(n for n, st in per_mutant.items() if st != "killed" and st in COUNTED)
        if not left:
            continue
        lines += ["", f"## `{source}`", ""]
        for name in left:
            change = changed_lines(name, MUTANTS / source)
            function = name.split("__mutmut_")[0]
            why = by_mutant.get(name) or reason_by_rule(change) or by_function.get(function)
            if why is None:
                missing += 1
                why = "NO REASON GIVEN"
            lines.append(
                f"- `{name.removeprefix(function + '__')}` of `{function}` "
                f"({per_mutant[name]}): {why}"
            )
            lines += ["", "  ```diff", *("  " + c.strip() for c in change.splitlines()), "  ```"]
    out.write_text("\n".join(lines) + "\n")
    print(f"wrote {out}; {missing} survivors without a reason")
    return 1 if missing else 0


def compare(before: dict[str, dict[str, str]], after: dict[str, dict[str, str]]) -> int:
    """Print, per module, killed / judged before and after over the mutants both runs
    judged (a mutant's name names its function and its mutation, so a function changed in
    between contributes only the mutations both versions share)."""
    print(f"{'module':42} {'shared':>7} {'before':>7} {'after':>7}")
    kb = ka = n = 0
    for source in sorted(set(before) & set(after)):
        shared = [
            m
            for m, st in after[source].items()
            if st in COUNTED and before[source].get(m) in COUNTED
        ]
        if not shared:
            continue
        b = sum(before[source][m] == "killed" for m in shared)
        a = sum(after[source][m] == "killed" for m in shared)
        kb, ka, n = kb + b, ka + a, n + len(shared)
        print(
            f"{source:42} {len(shared):7} {100 * b / len(shared):6.1f}% {100 * a / len(shared):6.1f}%"
        )
    if n:
        print(f"{'all':42} {n:7} {100 * kb / n:6.1f}% {100 * ka / n:6.1f}%")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
