"""Calibration of the correlation and mixed-model statistics on simulated grids.

Simulates grids with a known model (xltransfer.analysis.simulation), puts each through the
workflow's own `analysis.correlate` and `mixed_model.mixed_effects`, and prints Markdown tables: the
false-positive rate at alpha = 0.05 of every test (goal 5 % +- 1.5 %), the coverage of every 95 %
interval (goal 93-97 %), and the power against the effect size and the number of sources, beside
the analytic power of `simulation.pooled_power`. For example (about 20 minutes on 2 cores):

    .venv/bin/python benchmarks/calibration.py --grids 1000 --power-grids 200 --workers 2

Resamples are reduced to 499 bootstrap and 499 permutation draws per grid (SIMULATION_SETTINGS).
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from multiprocessing import Pool
from pathlib import Path

import pandas as pd

from xltransfer.analysis.simulation import (
    DEMO,
    SIMULATION_SETTINGS,
    XTREME,
    Effects,
    GridShape,
    pooled_power,
    run_setting,
    true_spearman,
)

CHUNK = 50  # grids per job
POWER_SETTINGS = replace(SIMULATION_SETTINGS, permutation_resamples=199)
SHAPES = {"demo": DEMO, "xtreme": XTREME}
NULL_ROWS = {
    "reject:pooled:spearman:permutation": "FPR pooled Spearman, source permutation",
    "reject:pooled:pearson:permutation": "FPR pooled Pearson, source permutation",
    "reject:pooled:kendall:permutation": "FPR pooled Kendall, source permutation",
    "reject:pooled:spearman:scipy": "FPR pooled Spearman, scipy p (rows independent)",
    "reject:legacy_pooled:spearman:permutation": "FPR old pooled Spearman (within-target shuffle)",
    "reject:mixed:pair_fixed": "FPR mixed pair_fixed (default)",
    "reject:mixed:pair_random_source": "FPR mixed pair_random_source",
    "reject:mixed:per_language": "FPR mixed per_language (old)",
    "reject:target:spearman:permutation": "FPR per-target Spearman, permutation",
    "cover:pooled:spearman": "coverage pooled Spearman jackknife (default)",
    "cover:pooled:pearson": "coverage pooled Pearson jackknife",
    "cover:pooled:kendall": "coverage pooled Kendall jackknife",
    "cover:pooled_bca:spearman": "coverage pooled Spearman BCa bootstrap",
    "cover:pooled_percentile:spearman": "coverage pooled Spearman percentile bootstrap",
    "cover:legacy_pooled:spearman": "coverage old pooled Spearman (raw, percentile)",
    "cover:mixed:pair_fixed": "coverage mixed pair_fixed t interval",
    "cover:mixed:pair_random_source": "coverage mixed pair_random_source Wald",
    "cover:mixed:per_language": "coverage mixed per_language Wald (old)",
    "cover:target:spearman": "coverage per-target Spearman jackknife",
}


def _job(args: tuple) -> tuple[str, int, dict]:
    label, shape, slope, effects, grids, first_seed, kwargs = args
    return label, grids, run_setting(shape, slope, effects, grids, first_seed, **kwargs)


def _jobs(label, shape, slope, effects, grids, seed_offset=0, **kwargs):
    return [
        (label, shape, slope, effects, min(CHUNK, grids - start), seed_offset + start, kwargs)
        for start in range(0, grids, CHUNK)
    ]


def plan(grids: int, power_grids: int, old_grids: int) -> list[tuple]:
    """Every job: (label, ...) chunks of grids; labels name the setting a row reports."""
    jobs = []
    for name, shape in SHAPES.items():
        for share in (0.0, 0.5):
            effects = Effects(similarity_source_share=share)
            label = f"null|{name}|{share}"
            jobs += _jobs(label, shape, 0.0, effects, grids, legacy=True)
            jobs += _jobs(
                label,
                shape,
                0.0,
                effects,
                old_grids,
                10**6,
                variants=("per_language",),
                scopes=("target",),
            )
            for offset, interval in ((2, "bca"), (3, "percentile")):
                jobs += _jobs(
                    label,
                    shape,
                    0.0,
                    effects,
                    old_grids,
                    offset * 10**6,
                    variants=(),
                    settings=replace(SIMULATION_SETTINGS, interval=interval),
                    tag=f"pooled_{interval}",
                )
    effects = Effects(similarity_source_share=0.5)
    # Power runs: 199 permutations (slightly conservative at 0.05), the default fit only.
    quick = {"settings": POWER_SETTINGS, "variants": ("pair_fixed",)}
    for name, shape in SHAPES.items():
        for slope in (0.25, 0.5, 0.75, 1.0):
            label = f"power|{name}|{slope}"
            jobs += _jobs(label, shape, slope, effects, power_grids, 4 * 10**6, **quick)
    for sources in (5, 10, 20):
        shape = GridShape(sources, DEMO.targets, DEMO.languages, DEMO.seeds)
        label = f"sources|{sources}|0.5"
        jobs += _jobs(label, shape, 0.5, effects, power_grids, 5 * 10**6, **quick)
    return jobs


def _table(frame: pd.DataFrame) -> str:
    lines = ["| " + " | ".join(frame.columns) + " |", "|" + "---|" * len(frame.columns)]
    lines += ["| " + " | ".join(str(v) for v in row) + " |" for row in frame.itertuples(False)]
    return "\n".join(lines)


def _pct(value) -> str:
    return "" if pd.isna(value) else f"{100 * value:.1f}"


def report(results: dict[str, dict], counts: dict[str, dict]) -> str:
    """The three Markdown tables from the pooled job results."""
    null_columns = [f"null|{n}|{s}" for n in SHAPES for s in (0.0, 0.5)]
    rows = []
    for key, name in NULL_ROWS.items():
        row = {"statistic (%)": name}
        for column in null_columns:
            n = counts.get(column, {}).get(key)
            row[column] = f"{_pct(results[column].get(key))} ({n})" if n else ""
        rows.append(row)
    null = pd.DataFrame(rows).rename(
        columns={c: f"{c.split('|')[1]}, source share {c.split('|')[2]}" for c in null_columns}
    )
    power_rows = []
    effects = Effects(similarity_source_share=0.5)
    for label in sorted(k for k in results if not k.startswith("null")):
        kind, which, value = label.split("|")
        shape = SHAPES[which] if kind == "power" else GridShape(int(which), 5, 5, 1)
        slope = float(value)
        rho = true_spearman(shape, slope, effects)
        res = results[label]
        power_rows.append(
            {
                "grid (S×T×L×K)": f"{shape.sources}×{shape.targets}×{shape.languages}"
                f"×{shape.seeds}",
                "slope": slope,
                "true ρ_S": f"{rho:.2f}",
                "grids": counts[label]["reject:pooled:spearman:permutation"],
                "power pooled Spearman %": _pct(res["reject:pooled:spearman:permutation"]),
                "analytic %": _pct(pooled_power(shape, rho, effects)),
                "power mixed pair_fixed %": _pct(res.get("reject:mixed:pair_fixed")),
                "coverage Spearman jackknife %": _pct(res.get("cover:pooled:spearman")),
                "coverage pair_fixed %": _pct(res.get("cover:mixed:pair_fixed")),
            }
        )
    return (
        "False-positive rate at α = 0.05 and coverage of 95 % intervals, no effect "
        "(grids in brackets):\n\n"
        + _table(null)
        + "\n\nPower at α = 0.05 (similarity half source-level):\n\n"
        + _table(pd.DataFrame(power_rows))
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--grids", type=int, default=1000, help="grids per null setting")
    parser.add_argument("--power-grids", type=int, default=200, help="grids per power setting")
    parser.add_argument(
        "--old-grids", type=int, default=200, help="grids for the slow old fit and extras"
    )
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", type=Path, help="also write the tables here")
    args = parser.parse_args()
    start = time.time()
    jobs = plan(args.grids, args.power_grids, args.old_grids)
    sums: dict[str, dict] = {}
    counts: dict[str, dict] = {}
    with Pool(args.workers) as pool:
        for done, (label, grids, means) in enumerate(pool.imap_unordered(_job, jobs), 1):
            for key, value in means.items():
                if pd.isna(value):
                    continue
                sums.setdefault(label, {}).setdefault(key, 0.0)
                sums[label][key] += value * grids
                counts.setdefault(label, {}).setdefault(key, 0)
                counts[label][key] += grids
            print(f"{done}/{len(jobs)} jobs, {time.time() - start:.0f} s", file=sys.stderr)
            if args.out and done % 10 == 0:  # partial tables while it runs
                args.out.write_text(_text(sums, counts, start, args.workers, done, len(jobs)))
    text = _text(sums, counts, start, args.workers, len(jobs), len(jobs))
    print(text)
    if args.out:
        args.out.write_text(text)


def _text(sums, counts, start, workers, done, total) -> str:
    results = {
        label: {key: value / counts[label][key] for key, value in values.items()}
        for label, values in sums.items()
    }
    partial = "" if done == total else f", partial: {done}/{total} jobs"
    return report(results, counts) + (
        f"\n\n({time.time() - start:.0f} s on {workers} workers{partial})\n"
    )


if __name__ == "__main__":
    main()
