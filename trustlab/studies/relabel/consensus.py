"""Consensus labels from several raters: majority vote, Dawid-Skene EM, and CROWDLAB (cleanlab).

Inputs follow cleanlab's multi-annotator format: ``labels_multiannotator`` is an (N, M) array (or
DataFrame) of class indices in 0..K-1 with NaN where rater m did not label item n. Dawid-Skene also
takes an (N, M, K) array of counts, for raters who labelled an item more than once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

# EM stops when neither the class priors nor any confusion-matrix entry moves by more than this
# (sum of absolute changes, as in Dawid & Skene's own stopping rule) between two iterations.
DS_TOLERANCE = 1e-6
DS_MAX_ITER = 200
# Pseudo-count added to every confusion-matrix cell in the M-step. Plain maximum likelihood (0)
# reproduces the paper; a small count keeps a rater's unseen (true, given) pairs from being
# impossible, which otherwise lets one odd answer veto a class outright.
DS_SMOOTHING = 0.01
# log(0) guard in the E-step when smoothing is 0.
_LOG_FLOOR = 1e-300

TIE_BREAKS = ("none", "lowest", "random", "pred_probs")


# ---------------------------------------------------------------- input handling


def as_label_matrix(labels_multiannotator: np.ndarray | pd.DataFrame) -> np.ndarray:
    """(N, M) float array with NaN for missing; validates values are whole non-negative numbers."""
    if isinstance(labels_multiannotator, pd.DataFrame):
        array = labels_multiannotator.astype(float).to_numpy()
    else:
        array = np.asarray(labels_multiannotator, dtype=float)
    if array.ndim != 2:
        raise ValueError(f"labels_multiannotator must be 2-D (items x raters), got shape {array.shape}")
    present = array[~np.isnan(array)]
    if present.size and (np.any(present < 0) or np.any(present != np.round(present))):
        raise ValueError("labels_multiannotator holds values that are not class indices 0..K-1 (or NaN)")
    return array.copy()


def _infer_num_classes(array: np.ndarray, num_classes: int | None) -> int:
    present = array[~np.isnan(array)]
    needed = int(present.max()) + 1 if present.size else 0
    if num_classes is None:
        if needed == 0:
            raise ValueError("no labels given and num_classes not set")
        return needed
    if needed > num_classes:
        raise ValueError(f"a label {needed - 1} is out of range for num_classes={num_classes}")
    return int(num_classes)


def annotation_counts(
    labels_multiannotator: np.ndarray | pd.DataFrame, *, num_classes: int | None = None
) -> np.ndarray:
    """(N, M, K) counts: how often rater m gave class k to item n (0 or 1 per rater here)."""
    array = as_label_matrix(labels_multiannotator)
    k = _infer_num_classes(array, num_classes)
    counts = np.zeros((*array.shape, k))
    rows, cols = np.nonzero(~np.isnan(array))
    counts[rows, cols, array[rows, cols].astype(int)] = 1.0
    return counts


def vote_counts(
    labels_multiannotator: np.ndarray | pd.DataFrame, *, num_classes: int | None = None
) -> np.ndarray:
    """(N, K) number of raters who chose each class."""
    return annotation_counts(labels_multiannotator, num_classes=num_classes).sum(axis=1)


# ---------------------------------------------------------------- majority vote


@dataclass(frozen=True)
class MajorityVote:
    """labels (N,) winning class or -1 (no votes, or an unresolved tie); votes (N, K) counts;
    agreement (N,) fraction of votes for the winner (0 where no label); tied (N,) whether the top
    count was shared before tie-breaking."""

    labels: np.ndarray
    votes: np.ndarray
    agreement: np.ndarray
    tied: np.ndarray


def majority_vote(
    labels_multiannotator: np.ndarray | pd.DataFrame,
    *,
    num_classes: int | None = None,
    tie_break: str = "none",
    pred_probs: np.ndarray | None = None,
    seed: int = 0,
) -> MajorityVote:
    """The most chosen class per item.

    tie_break: "none" leaves a tie unresolved (label -1), "lowest" takes the lowest class index,
    "random" a seeded random tied class, "pred_probs" the tied class the model finds likeliest
    (needs ``pred_probs`` of shape (N, K)).
    """
    if tie_break not in TIE_BREAKS:
        raise ValueError(f"tie_break={tie_break!r} is not one of {TIE_BREAKS}")
    votes = vote_counts(labels_multiannotator, num_classes=num_classes)
    n, k = votes.shape
    if tie_break == "pred_probs":
        if pred_probs is None or np.shape(pred_probs) != (n, k):
            raise ValueError(f"tie_break='pred_probs' needs pred_probs of shape {(n, k)}")
    rng = np.random.default_rng(seed)
    top = votes.max(axis=1, keepdims=True)
    is_top = (votes == top) & (top > 0)
    tied = is_top.sum(axis=1) > 1
    labels = np.where(top[:, 0] > 0, votes.argmax(axis=1), -1)
    for i in np.flatnonzero(tied):
        candidates = np.flatnonzero(is_top[i])
        if tie_break == "none":
            labels[i] = -1
        elif tie_break == "lowest":
            labels[i] = candidates[0]
        elif tie_break == "random":
            labels[i] = rng.choice(candidates)
        else:
            labels[i] = candidates[np.argmax(np.asarray(pred_probs)[i, candidates])]
    total = votes.sum(axis=1)
    winner_votes = np.where(labels >= 0, votes[np.arange(n), np.maximum(labels, 0)], 0.0)
    agreement = np.divide(winner_votes, total, out=np.zeros(n), where=total > 0)
    return MajorityVote(labels=labels, votes=votes, agreement=agreement, tied=tied)


# ---------------------------------------------------------------- Dawid-Skene


@dataclass(frozen=True)
class DawidSkene:
    """posteriors (N, K) P(true class | answers); priors (K,) class marginals; confusions (M, K, K)
    with confusions[m, j, l] = P(rater m answers l | true class j); log_likelihood of the answers."""

    posteriors: np.ndarray
    priors: np.ndarray
    confusions: np.ndarray
    n_iter: int
    converged: bool
    log_likelihood: float

    @property
    def labels(self) -> np.ndarray:
        return self.posteriors.argmax(axis=1)

    def rater_accuracy(self) -> np.ndarray:
        """(M,) probability that each rater answers the true class, under the fitted priors."""
        return np.einsum("j,mjj->m", self.priors, self.confusions)


def dawid_skene(
    labels: np.ndarray | pd.DataFrame,
    *,
    num_classes: int | None = None,
    tol: float = DS_TOLERANCE,
    max_iter: int = DS_MAX_ITER,
    smoothing: float = DS_SMOOTHING,
) -> DawidSkene:
    """Dawid & Skene (1979) maximum-likelihood EM over per-rater confusion matrices.

    labels: (N, M) class indices with NaN for missing, or (N, M, K) answer counts.
    Initialised from the vote fractions (the paper's eq. 3.1, a soft majority vote); iterates
    M-step (priors, confusions) then E-step (posteriors) until the change is below ``tol``.
    """
    if tol <= 0 or max_iter < 1 or smoothing < 0:
        raise ValueError("tol must be > 0, max_iter >= 1 and smoothing >= 0")
    array = labels.to_numpy() if isinstance(labels, pd.DataFrame) else np.asarray(labels, dtype=float)
    if array.ndim == 3:
        if np.any(array < 0) or np.isnan(array).any():
            raise ValueError("answer counts must be non-negative numbers")
        if num_classes is not None and array.shape[2] != num_classes:
            raise ValueError(f"counts have {array.shape[2]} classes but num_classes={num_classes}")
        counts = array.astype(float)
    else:
        counts = annotation_counts(array, num_classes=num_classes)
    return _dawid_skene(counts, tol=tol, max_iter=max_iter, smoothing=smoothing)


def _dawid_skene(counts: np.ndarray, *, tol: float, max_iter: int, smoothing: float) -> DawidSkene:
    n, _m, k = counts.shape
    totals = counts.sum(axis=(1, 2))
    if not np.any(totals):
        raise ValueError("no answers to aggregate")
    votes = counts.sum(axis=1)
    posteriors = np.where(totals[:, None] > 0, votes / np.maximum(totals, 1)[:, None], 1.0 / k)
    priors = confusions = None
    converged = False
    n_iter = 0
    for n_iter in range(1, max_iter + 1):  # noqa: B007 (n_iter is reported)
        new_priors, new_confusions = _m_step(counts, posteriors, smoothing)
        posteriors, _ = _e_step(counts, new_priors, new_confusions)
        if priors is not None:
            change = np.abs(new_priors - priors).sum() + np.abs(new_confusions - confusions).sum()
            if change < tol:
                priors, confusions, converged = new_priors, new_confusions, True
                break
        priors, confusions = new_priors, new_confusions
    posteriors, log_likelihood = _e_step(counts, priors, confusions)
    return DawidSkene(posteriors=posteriors, priors=priors, confusions=confusions, n_iter=n_iter,
                      converged=converged, log_likelihood=float(log_likelihood))


def _m_step(counts: np.ndarray, posteriors: np.ndarray, smoothing: float) -> tuple[np.ndarray, np.ndarray]:
    priors = posteriors.mean(axis=0)
    # expected[m, j, l] = sum_i T[i, j] * counts[i, m, l]
    expected = np.einsum("ij,iml->mjl", posteriors, counts) + smoothing
    row = expected.sum(axis=2, keepdims=True)
    k = counts.shape[2]
    confusions = np.divide(expected, row, out=np.full_like(expected, 1.0 / k), where=row > 0)
    return priors, confusions


def _e_step(counts: np.ndarray, priors: np.ndarray, confusions: np.ndarray) -> tuple[np.ndarray, float]:
    log_conf = np.log(np.maximum(confusions, _LOG_FLOOR))
    log_joint = np.log(np.maximum(priors, _LOG_FLOOR))[None, :] + np.einsum("iml,mjl->ij", counts, log_conf)
    top = log_joint.max(axis=1, keepdims=True)
    joint = np.exp(log_joint - top)
    norm = joint.sum(axis=1, keepdims=True)
    log_likelihood = float((np.log(norm) + top).sum())
    return joint / norm, log_likelihood


# ---------------------------------------------------------------- CROWDLAB


@dataclass(frozen=True)
class Crowdlab:
    """labels (N,) consensus class; quality (N,) consensus quality score in [0, 1];
    posteriors (N, K) CROWDLAB's weighted average of model probabilities and rater answers;
    agreement (N,) fraction of raters agreeing with the consensus; annotator_stats (M rows:
    annotator_quality, agreement_with_consensus, worst_class, num_examples_labeled);
    model_weight, annotator_weights (M,)."""

    labels: np.ndarray
    quality: np.ndarray
    posteriors: np.ndarray
    agreement: np.ndarray
    annotator_stats: pd.DataFrame
    model_weight: float
    annotator_weights: np.ndarray


def crowdlab(labels_multiannotator: np.ndarray | pd.DataFrame, pred_probs: np.ndarray) -> Crowdlab:
    """CROWDLAB consensus via ``cleanlab.multiannotator.get_label_quality_multiannotator``.

    labels_multiannotator: (N, M), every item labelled by at least one rater and every rater
    labelling at least one item; pred_probs: (N, K) out-of-sample model probabilities.
    """
    from cleanlab.multiannotator import get_label_quality_multiannotator

    array = as_label_matrix(labels_multiannotator)
    pred_probs = np.asarray(pred_probs, dtype=float)
    if pred_probs.ndim != 2 or pred_probs.shape[0] != array.shape[0]:
        raise ValueError(f"pred_probs must have shape ({array.shape[0]}, K), got {pred_probs.shape}")
    _infer_num_classes(array, pred_probs.shape[1])
    columns = (
        list(labels_multiannotator.columns) if isinstance(labels_multiannotator, pd.DataFrame)
        else list(range(array.shape[1]))
    )
    frame = pd.DataFrame(array, columns=columns)
    result = get_label_quality_multiannotator(frame, pred_probs, return_weights=True, verbose=False)
    quality = result["label_quality"]
    stats = result["annotator_stats"].reindex(columns)  # cleanlab sorts by quality; keep rater order
    labels = quality["consensus_label"].to_numpy().astype(int)
    agreement = quality["annotator_agreement"].to_numpy()
    model_weight = float(result["model_weight"])
    weights = np.asarray(result["annotator_weight"], dtype=float)
    posteriors = _crowdlab_posteriors(array, pred_probs, agreement, model_weight, weights)
    return Crowdlab(labels=labels, quality=quality["consensus_quality_score"].to_numpy(),
                    posteriors=posteriors, agreement=agreement, annotator_stats=stats,
                    model_weight=model_weight, annotator_weights=weights)


def _crowdlab_posteriors(
    array: np.ndarray, pred_probs: np.ndarray, agreement: np.ndarray, model_weight: float, weights: np.ndarray
) -> np.ndarray:
    """CROWDLAB's weighted average (Goh, Tkachenko & Mueller 2022, eq. 3), rebuilt from its weights
    because cleanlab keeps it private: each answer votes with its rater's weight, spreading the
    estimated chance of a non-consensus answer evenly over the other classes."""
    k = pred_probs.shape[1]
    n_answers = (~np.isnan(array)).sum(axis=1)
    multi = n_answers != 1
    consensus_likelihood = float(np.mean(agreement[multi])) if multi.any() else float(np.mean(agreement))
    other_likelihood = (1 - consensus_likelihood) / (k - 1)
    post = pred_probs * model_weight
    total = np.full(array.shape[0], model_weight)
    for m in range(array.shape[1]):
        rows = np.flatnonzero(~np.isnan(array[:, m]))
        onehot = np.full((rows.size, k), other_likelihood)
        onehot[np.arange(rows.size), array[rows, m].astype(int)] = consensus_likelihood
        post[rows] += weights[m] * onehot
        total[rows] += weights[m]
    return post / total[:, None]


# ---------------------------------------------------------------- rater quality


def rater_quality(
    labels_multiannotator: np.ndarray | pd.DataFrame,
    *,
    num_classes: int | None = None,
    rater_ids: list | None = None,
    ds: DawidSkene | None = None,
    crowd: Crowdlab | None = None,
) -> pd.DataFrame:
    """One row per rater: n_labels, agreement_with_majority (share of the rater's answers equal to
    the majority of the *other* raters on that item), ds_accuracy (P(answer = true class) under a
    Dawid-Skene fit), crowdlab_quality (CROWDLAB annotator quality), when those fits are given."""
    array = as_label_matrix(labels_multiannotator)
    k = _infer_num_classes(array, num_classes)
    counts = annotation_counts(array, num_classes=k)
    votes = counts.sum(axis=1)
    ids = rater_ids if rater_ids is not None else (
        list(labels_multiannotator.columns) if isinstance(labels_multiannotator, pd.DataFrame)
        else list(range(array.shape[1]))
    )
    rows = []
    for m in range(array.shape[1]):
        answered = np.flatnonzero(~np.isnan(array[:, m]))
        others = votes[answered] - counts[answered, m]
        has_others = others.sum(axis=1) > 0
        own = array[answered, m].astype(int)
        agree = others[np.arange(answered.size), own] == others.max(axis=1)
        agreement = float(agree[has_others].mean()) if has_others.any() else float("nan")
        row = {"rater": ids[m], "n_labels": int(answered.size), "agreement_with_majority": agreement}
        if ds is not None:
            row["ds_accuracy"] = float(ds.rater_accuracy()[m])
        if crowd is not None:
            row["crowdlab_quality"] = float(crowd.annotator_stats["annotator_quality"].iloc[m])
        rows.append(row)
    return pd.DataFrame(rows)
