"""Calibration when the data are not what the model assumes: nulls that break each assumption.

Every grid has no effect of similarity (slope 0), and breaks the additive normal model that the
estimators assume as `xltransfer.analysis.simulation.Misspecification` describes: heavy tails
and diverged fine-tunes, unequal noise between targets, a task-family structure shared by
similarity and gains, failed fine-tunes, unequal languages per target, and all of them together.
Each grid goes through the workflow's own `correlate` and `mixed_effects`, and the tables give,
per grid shape, the false-positive rate at alpha = 0.05 of every p-value the tables report, the
answer's verdict, and the coverage of the 95 % intervals (goals: 5 % +- 1.5 %, verdict at most
5 %, coverage 93-97 %). Shapes: the demo's (7 sources x 5 targets x 5 languages, 1 seed) and
config/xtreme.yaml's with its targets' real numbers of zero-shot languages. For example:

    .venv/bin/python benchmarks/calibration_misspecified.py --grids 1000 --workers 2
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from multiprocessing import Pool
from pathlib import Path

import pandas as pd
import yaml
from calibration import _pct, _table

from xltransfer.analysis.simulation import (
    DEMO,
    SIMULATION_SETTINGS,
    Effects,
    GridShape,
    Misspecification,
    run_setting,
)

REPO = Path(__file__).resolve().parents[1]
CHUNK = 25  # grids per job
EFFECTS = Effects(similarity_source_share=0.5)  # the unfavourable case of the calibration table
DEMO_LANGUAGES = (5, 1, 3, 2, 4)


def shapes() -> dict[str, tuple[GridShape, tuple[int, ...] | None]]:
    """Grid shapes, and the languages per target every null of that shape uses (None: equal):
    config/xtreme.yaml's with each target's number of zero-shot languages."""
    config = yaml.safe_load((REPO / "config" / "xtreme.yaml").read_text())
    experiment = config["experiment"]
    counts = tuple(
        len([code for code in config["tasks"][target]["languages"] if code != "en"])
        for target in experiment["targets"]
    )
    xtreme = GridShape(
        len(experiment["sources"]), len(counts), max(counts), len(experiment["seeds"])
    )
    return {"demo": (DEMO, None), "xtreme": (xtreme, counts)}


def nulls(languages: tuple[int, ...] | None) -> dict[str, Misspecification]:
    """Each broken assumption alone, then all together (the demo's unequal languages: 5..1)."""
    unequal = languages or DEMO_LANGUAGES
    alone = {
        "normal": Misspecification(language_counts=languages),
        "t3 noise, 5 % diverged": Misspecification(
            tails_df=3, diverged=0.05, language_counts=languages
        ),
        "target noise x5": Misspecification(target_noise_ratio=5, language_counts=languages),
        "3 task families": Misspecification(families=3, language_counts=languages),
        "30 % failed": Misspecification(missing=0.3, language_counts=languages),
        "unequal languages": Misspecification(language_counts=unequal),
    }
    together = Misspecification(
        tails_df=3,
        diverged=0.05,
        target_noise_ratio=5,
        families=3,
        missing=0.3,
        language_counts=unequal,
    )
    return {**alone, "all together": together}


ROWS = {
    "reject:pooled:spearman:permutation": "FPR pooled Spearman, source permutation",
    "reject:pooled:pearson:permutation": "FPR pooled Pearson, source permutation",
    "reject:pooled:kendall:permutation": "FPR pooled Kendall, source permutation",
    "reject:pooled:spearman:scipy": "FPR pooled Spearman, scipy p (rows independent)",
    "reject:target:spearman:permutation": "FPR per-target Spearman, permutation",
    "reject:mixed:pair_fixed": "FPR mixed pair_fixed (default)",
    "reject:mixed:pair_random_source": "FPR mixed pair_random_source",
    "reject:pooled:verdict:predicts": "answer says 'predicts'",
    "reject:pooled:verdict:any": "answer says 'predicts' or 'weak evidence'",
    "cover:pooled:spearman": "coverage pooled Spearman jackknife",
    "cover:target:spearman": "coverage per-target Spearman jackknife",
    "cover:mixed:pair_fixed": "coverage mixed pair_fixed t interval",
    "cover:mixed:pair_random_source": "coverage mixed pair_random_source Wald",
}


def _job(args: tuple) -> tuple[str, str, int, dict]:
    shape_name, null_name, shape, misspecified, grids, first_seed, settings = args
    means = run_setting(
        shape,
        0.0,
        EFFECTS,
        grids,
        first_seed,
        settings=settings,
        scopes=("pooled", "target"),
        misspecified=misspecified,
    )
    return shape_name, null_name, grids, means


def plan(grids: int, permutations: int, names: list[str]) -> list[tuple]:
    settings = replace(SIMULATION_SETTINGS, permutation_resamples=permutations)
    jobs = []
    for shape_name, (shape, languages) in shapes().items():
        if shape_name not in names:
            continue
        for null_name, misspecified in nulls(languages).items():
            for start in range(0, grids, CHUNK):
                size = min(CHUNK, grids - start)
                jobs.append((shape_name, null_name, shape, misspecified, size, start, settings))
    return jobs


def report(sums: dict, counts: dict) -> str:
    """One Markdown table per shape run: a row per statistic, a column per null."""
    parts = []
    for shape_name, (shape, languages) in shapes().items():
        if not any(s == shape_name for s, _ in counts):
            continue
        names = list(nulls(languages))
        rows = []
        for key, label in ROWS.items():
            row = {"statistic (%)": label}
            for name in names:
                n = counts.get((shape_name, name), {}).get(key)
                value = sums.get((shape_name, name), {}).get(key)
                row[name] = _pct(value / n) if n else ""
            rows.append(row)
        grids = max((c.get(next(iter(ROWS)), 0) for (s, _), c in counts.items() if s == shape_name),
                    default=0)  # fmt: skip
        described = f"{shape.sources}×{shape.targets}×{shape.languages}×{shape.seeds}"
        if languages:
            described += f", languages per target {list(languages)}"
        parts.append(f"{shape_name} ({described}), {grids} grids per null:\n\n"
                     + _table(pd.DataFrame(rows)))  # fmt: skip
    return "\n\n".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--grids", type=int, default=1000, help="grids per null and shape")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--permutations", type=int, default=499, help="permutations per test (199: quicker)"
    )
    parser.add_argument("--out", type=Path, help="also write the tables here")
    parser.add_argument(
        "--shapes", nargs="+", choices=["demo", "xtreme"], default=["demo", "xtreme"]
    )
    args = parser.parse_args()
    start = time.time()
    jobs = plan(args.grids, args.permutations, args.shapes)
    sums: dict[tuple, dict] = {}
    counts: dict[tuple, dict] = {}
    with Pool(args.workers) as pool:
        for done, (shape, null, grids, means) in enumerate(pool.imap_unordered(_job, jobs), 1):
            for key, value in means.items():
                if pd.isna(value):
                    continue
                sums.setdefault((shape, null), {}).setdefault(key, 0.0)
                sums[(shape, null)][key] += value * grids
                counts.setdefault((shape, null), {}).setdefault(key, 0)
                counts[(shape, null)][key] += grids
            print(f"{done}/{len(jobs)} jobs, {time.time() - start:.0f} s", file=sys.stderr)
            if args.out and done % 10 == 0:
                args.out.write_text(report(sums, counts) + f"\n\n(partial: {done}/{len(jobs)})\n")
    took = (
        f"{time.time() - start:.0f} s on {args.workers} workers, {args.permutations} permutations"
    )
    text = report(sums, counts) + f"\n\n({took})\n"
    print(text)
    if args.out:
        args.out.write_text(text)


if __name__ == "__main__":
    main()
