"""Tests for xltransfer.analysis.gains (and the atomic Parquet writer it relies on)."""

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from xltransfer.analysis import gains as analysis
from xltransfer.io import write_parquet_atomic


def _row(source, target, language, seed, value, metric="accuracy", primary=True, model="m"):
    return {
        "run": f"{model}/{source}/{target}/{seed}",
        "model": model,
        "source": source,
        "target": target,
        "language": language,
        "seed": seed,
        "shard": 0,
        "metric": metric,
        "value": value,
        "primary": primary,
        "git_commit": "abc123",  # provenance column that must survive aggregation
    }


def _scores(rows) -> pd.DataFrame:
    return pd.DataFrame([_row(*r) if isinstance(r, tuple) else r for r in rows])


# ---------------------------------------------------------------- io


def test_write_parquet_atomic_roundtrip(tmp_path: Path) -> None:
    df = _scores([("none", "xnli", "en", 1, 0.5)])
    path = tmp_path / "deep" / "dir" / "scores.parquet"
    write_parquet_atomic(df, path)
    pd.testing.assert_frame_equal(pd.read_parquet(path), df)
    # No temporary file left behind; the checksum recorded beside it (xltransfer.integrity).
    assert sorted(p.name for p in path.parent.iterdir()) == [
        "scores.parquet",
        "scores.parquet.sha256",
    ]


def test_write_parquet_atomic_failure_leaves_nothing(tmp_path: Path) -> None:
    bad = pd.DataFrame({"x": [object()]})  # pyarrow cannot serialise a bare object
    path = tmp_path / "scores.parquet"
    with pytest.raises(Exception):  # noqa: B017 - any pyarrow error is fine
        write_parquet_atomic(bad, path)
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------- aggregate


def _write_shards(tmp_path: Path) -> list[Path]:
    a = _scores([("none", "xnli", "de", 1, 0.5), ("none", "xnli", "en", 1, 0.8)])
    b = _scores([("mnli", "xnli", "de", 1, 0.6)])
    pa, pb = tmp_path / "a.parquet", tmp_path / "b.parquet"
    write_parquet_atomic(a, pa)
    write_parquet_atomic(b, pb)
    return [pb, pa]


def test_aggregate_sorted_and_keeps_provenance(tmp_path: Path) -> None:
    out = analysis.aggregate_scores(_write_shards(tmp_path), allow_partial=False)
    assert len(out) == 3
    assert "git_commit" in out.columns and "run" in out.columns
    keys = list(out[["source", "language"]].itertuples(index=False, name=None))
    assert keys == [("mnli", "de"), ("none", "de"), ("none", "en")]
    assert out["seed"].dtype == np.int64 and out["primary"].dtype == bool


def test_aggregate_missing_shard(tmp_path: Path) -> None:
    paths = _write_shards(tmp_path)
    missing = tmp_path / "missing" / "c.parquet"
    with pytest.raises(analysis.MissingShardsError, match="c.parquet") as err:
        analysis.aggregate_scores([*paths, missing], allow_partial=False)
    assert str(missing) in str(err.value).splitlines()
    with pytest.warns(UserWarning, match="c.parquet"):
        out = analysis.aggregate_scores([*paths, missing], allow_partial=True)
    assert len(out) == 3
    with pytest.raises(analysis.MissingShardsError):
        analysis.aggregate_scores([missing], allow_partial=True)


def test_aggregate_duplicate_keys(tmp_path: Path) -> None:
    paths = _write_shards(tmp_path)
    with pytest.raises(ValueError, match="duplicate"):
        analysis.aggregate_scores([*paths, paths[0]], allow_partial=False)


# ---------------------------------------------------------------- gains


def test_compute_gains_hand_computed() -> None:
    scores = _scores(
        [
            ("none", "xnli", "de", 1, 0.50),
            ("none", "xnli", "en", 1, 0.80),
            ("mnli", "xnli", "de", 1, 0.56),
            ("mnli", "xnli", "en", 1, 0.78),
            ("none", "xnli", "de", 1, 0.40, "f1_macro", False),
            ("mnli", "xnli", "de", 1, 0.45, "f1_macro", False),
        ]
    )
    gains = analysis.compute_gains(scores)
    assert list(gains.columns) == analysis.GAIN_COLUMNS
    assert set(gains["source"]) == {"mnli"}
    got = {(r.language, r.metric): r.gain for r in gains.itertuples()}
    assert got == pytest.approx(
        {("de", "accuracy"): 0.06, ("en", "accuracy"): -0.02, ("de", "f1_macro"): 0.05}
    )
    de = gains[(gains["language"] == "de") & (gains["metric"] == "accuracy")].iloc[0]
    assert de["score"] == pytest.approx(0.56) and de["baseline_score"] == pytest.approx(0.50)
    assert bool(de["primary"]) is True


def test_compute_gains_missing_baseline() -> None:
    scores = _scores(
        [
            ("none", "xnli", "de", 1, 0.5),
            ("mnli", "xnli", "de", 1, 0.6),
            ("mnli", "xnli", "sw", 2, 0.6),
        ]
    )
    with pytest.raises(ValueError, match="missing baseline") as err:
        analysis.compute_gains(scores)
    assert "language=sw" in str(err.value) and "seed=2" in str(err.value)
    assert "language=de" not in str(err.value)


def _gains(rows) -> pd.DataFrame:
    """Build a gains table from (model, source, target, language, seed, gain) tuples."""
    recs = [
        {
            "model": m,
            "source": s,
            "target": t,
            "language": lang,
            "seed": seed,
            "metric": "accuracy",
            "primary": True,
            "score": 0.5 + g,
            "baseline_score": 0.5,
            "gain": g,
        }
        for m, s, t, lang, seed, g in rows
    ]
    return pd.DataFrame(recs, columns=analysis.GAIN_COLUMNS)


def test_summarize_excludes_english() -> None:
    gains = _gains(
        [
            ("m", "mnli", "xnli", "en", 1, 10.0),  # must not leak into the mean
            ("m", "mnli", "xnli", "de", 1, 0.1),
            ("m", "mnli", "xnli", "sw", 1, 0.3),
            ("m", "mnli", "xnli", "en", 2, 10.0),
            ("m", "mnli", "xnli", "de", 2, 0.0),
            ("m", "mnli", "xnli", "sw", 2, 0.2),
            ("m", "pos", "xnli", "de", 1, -0.1),
        ]
    )
    extra = _gains([("m", "mnli", "xnli", "de", 1, 99.0)]).assign(metric="f1", primary=False)
    out = analysis.summarize_gains(pd.concat([gains, extra], ignore_index=True))
    assert list(out.columns) == analysis.SUMMARY_COLUMNS
    row = out[out["source"] == "mnli"].iloc[0]
    # seed 1: (0.1 + 0.3) / 2 = 0.2; seed 2: (0.0 + 0.2) / 2 = 0.1 -> mean 0.15
    assert row["gain_mean"] == pytest.approx(0.15)
    assert row["gain_std"] == pytest.approx(np.std([0.2, 0.1], ddof=1))
    assert (row["n_seeds"], row["n_languages"], row["metric"]) == (2, 2, "accuracy")
    single = out[out["source"] == "pos"].iloc[0]
    assert single["gain_mean"] == pytest.approx(-0.1) and math.isnan(single["gain_std"])
    assert not row["spread_exceeds_gain"]  # std 0.07 < mean 0.15
    assert not single["spread_exceeds_gain"]  # one seed: no spread to compare


def test_no_source_language_keeps_every_row() -> None:
    gains = _gains([("m", "s", "t", "en", 1, 0.4), ("m", "s", "t", "de", 1, 0.2)])
    assert analysis.summarize_gains(gains).iloc[0]["gain_mean"] == pytest.approx(0.2)
    row = analysis.summarize_gains(gains, source_language=None).iloc[0]
    assert row["gain_mean"] == pytest.approx(0.3) and row["n_languages"] == 2
    sim = pd.DataFrame([{"model": "m", "source": "s", "target": "t", "method": "x", "value": 1}])
    assert len(analysis.zero_shot_pairs(gains, sim, source_language=None)) == 2
    assert len(analysis.zero_shot_pairs(gains, sim)) == 1


def test_a_gain_within_its_seed_spread_is_flagged() -> None:
    gains = _gains([("m", "s", "t", "de", 1, 0.3), ("m", "s", "t", "de", 2, -0.1)])
    row = analysis.summarize_gains(gains).iloc[0]
    assert row["gain_mean"] == pytest.approx(0.1) and row["gain_std"] > 0.1
    assert row["spread_exceeds_gain"]


# ---------------------------------------------------------------- correlate


def _planted():
    """Gains that are a strictly increasing function of similarity, per target and pooled."""
    sources, targets, langs = ["s1", "s2", "s3", "s4"], ["t1", "t2"], ["en", "de", "sw"]
    rng = np.random.default_rng(0)
    sim_rows, gain_rows = [], []
    for ti, t in enumerate(targets):
        for si, s in enumerate(sources):
            sim = 0.1 + 0.2 * si + 0.05 * ti  # distinct across all 8 pairs
            sim_rows.append({"model": "m", "source": s, "target": t, "method": "tax", "value": sim})
            g = sim**2
            # Per-language noise that cancels in the non-English mean; English is wild.
            noise = 0.001 * rng.normal()
            for seed in (1, 2):
                gain_rows += [
                    ("m", s, t, "de", seed, g + noise),
                    ("m", s, t, "sw", seed, g - noise),
                    ("m", s, t, "en", seed, rng.normal()),
                ]
    return _gains(gain_rows), pd.DataFrame(sim_rows), langs


def test_correlate_planted_monotone() -> None:
    gains, sim, _ = _planted()
    out = analysis.correlate(gains, sim)
    assert list(out.columns) == analysis.CORRELATION_COLUMNS
    assert set(out["scope"]) == {"target", "target_language", "pooled"}
    sp = out[out["statistic"] == "spearman"]
    pooled = sp[sp["scope"] == "pooled"]
    assert len(pooled) == 1
    assert pooled.iloc[0]["estimate"] == pytest.approx(1.0)
    assert (pooled.iloc[0]["target"], pooled.iloc[0]["language"], pooled.iloc[0]["n"]) == (
        "*",
        "non-en",
        8,
    )
    per_target = sp[sp["scope"] == "target"]
    assert sorted(per_target["target"]) == ["t1", "t2"]
    assert np.allclose(per_target["estimate"], 1.0) and set(per_target["n"]) == {4}
    assert set(per_target["language"]) == {"non-en"}
    kendall = out[(out["statistic"] == "kendall") & (out["scope"] != "target_language")]
    assert np.allclose(kendall["estimate"], 1.0)
    tl = out[out["scope"] == "target_language"]
    assert set(tl["language"]) == {"en", "de", "sw"}  # English is reported at this scope
    # Sources are the unit: the interval and the joint permutation of sources see 4 of them,
    # and |rho| = 1 under only 2 of the 4! joint orders of the sources.
    row = pooled.iloc[0]
    assert row["ci_high"] == pytest.approx(1.0)
    assert row["p_permutation"] == pytest.approx(2 / 24, abs=0.02)
    # Per target, 4 sources: |rho| = 1 in 2 of the 4! orders; Holm doubles it over 2 targets.
    per_target_p = per_target["p_permutation"].to_numpy()
    assert per_target_p == pytest.approx([2 / 24] * 2, abs=0.02)
    assert per_target["p_adjusted"].to_numpy() == pytest.approx(2 * per_target_p)


def test_correlate_matches_scipy() -> None:
    gains, sim, _ = _planted()
    # Scramble the relation so the estimate is not trivially 1.
    sim = sim.assign(value=sim["value"].to_numpy()[[3, 1, 0, 2, 7, 4, 6, 5]])
    raw = analysis.InferenceSettings(pooled="raw")
    out = analysis.correlate(gains, sim, settings=raw)
    summary = analysis.summarize_gains(gains).merge(sim, on=["model", "source", "target"])
    ref = stats.spearmanr(summary["value"], summary["gain_mean"])
    pooled = out[(out["scope"] == "pooled") & (out["statistic"] == "spearman")].iloc[0]
    assert pooled["estimate"] == pytest.approx(ref.statistic)
    assert pooled["p_value"] == pytest.approx(ref.pvalue)
    # The default pools ranks within each target: Pearson of the within-target ranks.
    ranked = summary.assign(
        rx=summary.groupby("target")["value"].rank(),
        ry=summary.groupby("target")["gain_mean"].rank(),
    )
    default = analysis.correlate(gains, sim, scopes=("pooled",))
    row = default[default["statistic"] == "spearman"].iloc[0]
    assert set(default["scope"]) == {"pooled"}
    assert row["estimate"] == pytest.approx(stats.spearmanr(ranked["rx"], ranked["ry"]).statistic)
    zscored = analysis.correlate(
        gains, sim, settings=analysis.InferenceSettings(pooled="z_score"), scopes=("pooled",)
    )
    zx = summary.groupby("target")["value"].transform(lambda v: (v - v.mean()) / v.std(ddof=0))
    zy = summary.groupby("target")["gain_mean"].transform(lambda v: (v - v.mean()) / v.std(ddof=0))
    pearson = zscored[zscored["statistic"] == "pearson"].iloc[0]
    assert pearson["estimate"] == pytest.approx(stats.pearsonr(zx, zy).statistic)
    with pytest.raises(ValueError, match="unknown pooling"):
        analysis.InferenceSettings(pooled="quantile")
    en = gains[(gains["language"] == "en") & (gains["target"] == "t1")]
    en = en.groupby("source", as_index=False)["gain"].mean().merge(sim[sim["target"] == "t1"])
    ref = stats.pearsonr(en["value"], en["gain"])
    row = out[
        (out["scope"] == "target_language")
        & (out["target"] == "t1")
        & (out["language"] == "en")
        & (out["statistic"] == "pearson")
    ].iloc[0]
    assert row["estimate"] == pytest.approx(ref.statistic)


def test_correlate_missing_similarity() -> None:
    gains, sim, _ = _planted()
    sim = sim[~((sim["source"] == "s2") & (sim["target"] == "t1"))]
    with pytest.raises(ValueError, match="source=s2, target=t1"):
        analysis.correlate(gains, sim)


def test_a_method_that_covers_some_targets_is_correlated_on_those():
    """Fine-tuned TaskEmb has no value for a target without a task head: its whole (model,
    target) block is absent, and its statistics come from the targets it covers alone."""
    gains, sim, _ = _planted()
    partial = sim[sim["target"] == "t2"].assign(method="taskemb")
    out = analysis.correlate(gains, pd.concat([sim, partial]), scopes=("pooled", "target"))
    spearman = out[out["statistic"] == "spearman"].set_index(["method", "scope", "target"])
    assert spearman.loc[("taskemb", "pooled", "*"), "n"] == 4  # t2's four sources
    assert ("taskemb", "target", "t1") not in spearman.index
    alone = analysis.correlate(gains[gains["target"] == "t2"], partial, scopes=("pooled",))
    assert spearman.loc[("taskemb", "pooled", "*"), "estimate"] == pytest.approx(
        alone.loc[alone["statistic"] == "spearman", "estimate"].item()
    )


# ---------------------------------------------------------------- reporting


def test_language_summary_averages() -> None:
    scores = _scores(
        [
            ("mnli", "xnli", "en", 1, 0.9),
            ("mnli", "xnli", "de", 1, 0.6),
            ("mnli", "xnli", "sw", 1, 0.3),
            ("mnli", "xnli", "sw", 1, 0.1, "f1_macro", False),
        ]
    )
    out = analysis.language_summary(scores)
    assert len(out) == 1
    row = out.iloc[0]
    assert [c for c in out.columns if c in {"en", "de", "sw"}] == ["en", "de", "sw"]
    assert row["avg_all"] == pytest.approx(0.6)
    assert row["avg_non_en"] == pytest.approx(0.45)


def test_headline() -> None:
    corr = pd.DataFrame(
        [
            ["tiny-xlmr", "taxonomy", "pooled", "*", "non-en", "spearman", 0.4123, 0.1812, 12]
            + [0.1234, 0.6345, 0.0456, 0.09],
            ["tiny-xlmr", "taxonomy", "pooled", "*", "non-en", "pearson", 0.3, 0.2, 12]
            + [0.0, 0.5, 0.1, 0.2],
            ["tiny-xlmr", "taxonomy", "target", "xnli", "non-en", "spearman", 0.9, 0.01, 4]
            + [0.5, 1.0, 0.04, 0.08],
        ],
        columns=analysis.CORRELATION_COLUMNS,
    )
    text = analysis.headline(corr)
    assert text == (
        "tiny-xlmr, taxonomy similarity vs gain (pooled over 12 source-target pairs): "
        "Spearman ρ = 0.41, 95% CI over sources [0.12, 0.63], permutation p = 0.05"
    )
    corr.loc[0, ["estimate", "ci_low"]] = [math.nan, math.nan]
    assert "ρ = undefined, 95% CI over sources [undefined, 0.63]" in analysis.headline(corr)


def test_transfer_gap_is_the_share_of_english_lost_by_the_baseline() -> None:
    scores = _scores(
        [
            ("none", "xnli", "en", 1, 0.80),
            ("none", "xnli", "en", 2, 0.60),  # English mean 0.70
            ("none", "xnli", "de", 1, 0.63),
            ("none", "xnli", "de", 2, 0.63),
            ("mnli", "xnli", "de", 1, 0.10),  # not a baseline run: ignored
        ]
    )
    gaps = analysis.transfer_gaps(scores)
    assert gaps[["target", "language"]].values.tolist() == [["xnli", "de"]]
    assert gaps["gap_percent"].iloc[0] == pytest.approx(100 * (0.70 - 0.63) / 0.70)
