"""Bitext retrieval from a frozen encoder's sentence embeddings (XTREME's Tatoeba and BUCC).

* Tatoeba `accuracy`: each foreign sentence's nearest English sentence by cosine is its own
  translation (top-1, foreign → English).
* BUCC `f1`: every foreign sentence proposes its best English sentence by the ratio margin of
  Artetxe & Schwenk (2019): cos(x, y) divided by the mean of the average cosine of x to its k
  nearest English sentences and of y to its k nearest foreign ones. Proposals scoring at least a
  threshold are the mined pairs; the threshold that maximises F1 on the dev split is applied to
  test, as XTREME does. google/xtreme's `bucc18.<lang>` keeps only the gold pairs, not the
  shared task's unaligned distractors, so here mining runs among the gold sentences: F1 measures
  how well the margin ranks right above wrong proposals, and is higher than on full BUCC.

English sentences are candidates once each: a duplicated translation counts as one candidate,
so retrieving either copy is right. With alignment on, every foreign embedding is first mapped
into the English space by a matrix fit on the other folds' pairs (`cross_fit_alignment`), and
the same metrics are reported again as `<metric>_aligned`.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from xltransfer.evaluation.alignment import ALIGNED_SUFFIX, cross_fit_alignment
from xltransfer.results import score_rows

log = logging.getLogger(__name__)


def _unit(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=float)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    if (norms == 0).any():
        raise ValueError("a zero sentence embedding has no direction for cosine retrieval")
    return vectors / norms


def cosine_matrix(queries: np.ndarray, candidates: np.ndarray) -> np.ndarray:
    """Cosine similarity of every (query, candidate) pair."""
    return _unit(queries) @ _unit(candidates).T


def _checked_gold(gold: np.ndarray | None, n_queries: int, n_candidates: int) -> np.ndarray:
    gold = np.arange(n_queries) if gold is None else np.asarray(gold)
    if gold.shape != (n_queries,) or not ((0 <= gold) & (gold < n_candidates)).all():
        raise ValueError(
            f"gold must give one candidate index in [0, {n_candidates}) per query "
            f"({n_queries} queries)"
        )
    return gold


def retrieval_accuracy(
    queries: np.ndarray, candidates: np.ndarray, gold: np.ndarray | None = None
) -> float:
    """Share of queries whose nearest candidate by cosine is `gold[i]` (default: candidate i)."""
    gold = _checked_gold(gold, len(queries), len(candidates))
    return float((cosine_matrix(queries, candidates).argmax(axis=1) == gold).mean())


def _knn_mean(similarity: np.ndarray, k: int) -> np.ndarray:
    """Per row, the mean of its k largest entries."""
    k = min(k, similarity.shape[1])
    return np.sort(similarity, axis=1)[:, -k:].mean(axis=1)


def margin_matrix(queries: np.ndarray, candidates: np.ndarray, k: int) -> np.ndarray:
    """Ratio margin: cos(x, y) / ((knn(x) + knn(y)) / 2), knn the mean cosine to the k nearest
    sentences of the other side. It discounts hubs that are close to everything."""
    cosine = cosine_matrix(queries, candidates)
    scale = (_knn_mean(cosine, k)[:, None] + _knn_mean(cosine.T, k)[None, :]) / 2
    return cosine / scale


@dataclass(frozen=True)
class Proposals:
    """Each query's best candidate by margin, its score and whether it is the gold one."""

    scores: np.ndarray
    correct: np.ndarray

    @classmethod
    def mine(cls, queries, candidates, k: int, gold: np.ndarray | None = None) -> Proposals:
        gold = _checked_gold(gold, len(queries), len(candidates))
        margin = margin_matrix(queries, candidates, k)
        best = margin.argmax(axis=1)
        return cls(margin[np.arange(len(best)), best], best == gold)

    def prf(self, threshold: float) -> dict[str, float]:
        """Precision, recall and F1 of the proposals scoring at least `threshold`; every
        query has one gold pair."""
        kept = self.scores >= threshold
        hits = int((kept & self.correct).sum())
        precision = hits / kept.sum() if kept.any() else 0.0
        recall = hits / len(self.scores)
        f1 = 2 * precision * recall / (precision + recall) if hits else 0.0
        return {"precision": float(precision), "recall": float(recall), "f1": float(f1)}

    def best_threshold(self) -> float:
        """The threshold of highest F1 (the highest such threshold on ties): one of the scores."""
        order = np.argsort(-self.scores, kind="stable")
        ranked = self.scores[order]
        hits = np.cumsum(self.correct[order])
        kept = np.arange(1, len(order) + 1)
        f1 = 2 * hits / (kept + len(order))  # 2PR/(P+R) with P = hits/kept, R = hits/n
        # A threshold keeps every tied score at once: only the last of a tie is a cut point.
        f1[np.append(ranked[1:] == ranked[:-1], False)] = -1.0
        return float(ranked[int(np.argmax(f1))])


def candidate_index(english: list[str]) -> tuple[list[str], np.ndarray]:
    """Unique English sentences (first-seen order) and each row's index among them."""
    unique = list(dict.fromkeys(english))
    position = {text: i for i, text in enumerate(unique)}
    return unique, np.array([position[text] for text in english], dtype=int)


@dataclass(frozen=True)
class EmbeddedPairs:
    """One split's parallel rows as embeddings: a query per row, each English sentence once."""

    foreign: np.ndarray  # n × d, row i the foreign sentence of pair i
    english: np.ndarray  # m × d, the unique English sentences
    gold: np.ndarray  # n: the index in `english` of row i's translation

    def aligned(self, method: str, folds: int, seed: int) -> EmbeddedPairs:
        """The same pairs with the foreign side mapped into the English space, cross-fit."""
        mapped = cross_fit_alignment(
            self.foreign, self.english[self.gold], method, folds=folds, seed=seed
        )
        return EmbeddedPairs(mapped, self.english, self.gold)


@dataclass(frozen=True)
class RetrievalSetup:
    """What a retrieval evaluation does: the metric family, margin and alignment settings."""

    mine: bool
    margin_k: int = 4
    alignment: str = "procrustes"
    folds: int = 2
    seed: int = 0


def split_scores(test: EmbeddedPairs, dev: EmbeddedPairs | None, setup: RetrievalSetup):
    """Accuracy, and with mining the dev-thresholded precision, recall and F1, of one split."""
    scores = {"accuracy": retrieval_accuracy(test.foreign, test.english, test.gold)}
    if setup.mine:
        if dev is None:
            raise ValueError("mining needs the dev split to choose its threshold on")
        threshold = Proposals.mine(dev.foreign, dev.english, setup.margin_k, dev.gold)
        mined = Proposals.mine(test.foreign, test.english, setup.margin_k, test.gold)
        scores.update(mined.prf(threshold.best_threshold()))
    return scores


def language_scores(
    test: EmbeddedPairs, dev: EmbeddedPairs | None, setup: RetrievalSetup
) -> dict[str, float]:
    """Plain scores and, unless alignment is `none`, the same after cross-fit alignment."""
    scores = split_scores(test, dev, setup)
    if setup.alignment == "none":
        return scores
    align = {"method": setup.alignment, "folds": setup.folds, "seed": setup.seed}
    aligned = split_scores(
        test.aligned(**align), dev.aligned(**align) if dev is not None else None, setup
    )
    return {**scores, **{name + ALIGNED_SUFFIX: value for name, value in aligned.items()}}


def embed_pairs(frame: pd.DataFrame, embed) -> EmbeddedPairs:
    """A standardised retrieval split (text_a foreign, text_b English) through `embed`, a
    function from a list of sentences to an n × d array."""
    english, gold = candidate_index(frame["text_b"].tolist())
    return EmbeddedPairs(embed(frame["text_a"].tolist()), embed(english), gold)


def pretrained_summary(model_path: str, revision: str | None) -> dict:
    """Provenance of a pretrained encoder, shaped like a training summary: nothing trained, so
    no hyperparameters, batch or best epoch (null) and no training versions."""
    return {
        "spec": {"init_model": model_path, "revision": revision, "hyperparameters": {}},
        "num_processes": 1,
        "global_batch_size": None,
        "mixed_precision": "no",
        "head_carried_over": False,
        "state": {"best_epoch": None},
        "versions": {},
    }


def encoder_summary(summary: dict | None, model_path: str, revision: str | None) -> dict:
    """A source checkpoint's training summary with no head carried over (retrieval reads the
    encoder only), or the pretrained encoder's provenance when there is no checkpoint."""
    if summary is None:
        return pretrained_summary(model_path, revision)
    return {**summary, "head_carried_over": False}


def evaluate_retrieval_shard(
    encoder_path: Path | str,
    files: dict[str, dict[str, Path]],
    *,
    context: dict,
    summary: dict,
    setup: RetrievalSetup,
    layer: int,
    primary_metric: str,
    max_length: int,
    batch_size: int,
    revision: str | None = None,
    threads: int = 1,
) -> pd.DataFrame:
    """Score rows of one encoder on each language of a shard; `files[lang]` maps the roles
    `test` (and `dev` when mining) to standardised splits. The encoder is loaded once."""
    import torch

    from xltransfer.data.load import read_standard
    from xltransfer.similarity.embeddings import frozen_encoder, pool_states

    torch.set_num_threads(threads)
    tokenizer, encoder = frozen_encoder(str(encoder_path), revision)
    if torch.cuda.is_available():  # an evaluation job given a GPU embeds on it
        encoder.to("cuda")

    def embed(texts: list[str]) -> np.ndarray:
        frame = pd.DataFrame({"text_a": texts, "text_b": None})
        return pool_states(
            tokenizer, encoder, frame, max_length=max_length, batch_size=batch_size, layer=layer
        )

    scores, sizes = {}, {}
    for language, roles in files.items():
        test_frame = read_standard(Path(roles["test"]))
        test = embed_pairs(test_frame, embed)
        dev = embed_pairs(read_standard(Path(roles["dev"])), embed) if "dev" in roles else None
        scores[language] = language_scores(test, dev, setup)
        sizes[language] = len(test_frame)
        log.info("%s %s: %s", context.get("target"), language, scores[language])
    settings = {"layer": layer, "margin_k": setup.margin_k, "alignment": setup.alignment}
    rows = score_rows(
        scores,
        context={**context, "retrieval": json.dumps(settings, sort_keys=True)},
        summary=summary,
        primary_metric=primary_metric,
        n_examples=sizes,
    )
    return pd.DataFrame(rows)
