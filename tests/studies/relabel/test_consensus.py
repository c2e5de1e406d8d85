"""Consensus: Dawid-Skene against Dawid & Skene (1979)'s anaesthesia data, majority vote, CROWDLAB."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from trustlab.studies.relabel.consensus import (
    annotation_counts,
    crowdlab,
    dawid_skene,
    majority_vote,
    rater_quality,
)

# Dawid & Skene (1979), Table 1: 45 patients rated 1..4 by 5 anaesthetists; observer 1 rated
# every patient three times (the three digits). Columns: patient, observer 1, observers 2..5.
ANAESTHESIA = """
1 111 1 1 1 1
2 333 4 3 3 4
3 112 2 1 2 2
4 222 3 1 2 1
5 222 3 2 2 2
6 222 3 3 2 2
7 122 2 1 1 1
8 333 3 4 3 3
9 222 2 2 2 3
10 232 2 2 2 3
11 444 4 4 4 4
12 222 3 3 4 3
13 111 1 1 1 1
14 222 3 2 1 2
15 121 1 1 1 1
16 111 2 1 1 1
17 111 1 1 1 1
18 111 1 1 1 1
19 222 2 2 2 1
20 222 1 3 2 2
21 222 2 2 2 2
22 222 2 2 2 1
23 222 3 2 2 2
24 221 2 2 2 2
25 111 1 1 1 1
26 111 1 1 1 1
27 232 2 2 2 2
28 111 1 1 1 1
29 111 1 1 1 1
30 112 1 1 2 1
31 111 1 1 1 1
32 333 3 2 3 3
33 111 1 1 1 1
34 222 2 2 2 2
35 222 3 2 3 2
36 433 4 3 4 3
37 221 2 2 3 2
38 232 3 2 3 3
39 333 3 4 3 2
40 111 1 1 1 1
41 111 1 1 1 1
42 121 2 1 1 1
43 232 2 2 2 2
44 121 1 1 1 1
45 222 2 2 2 2
"""

# Reference: crowd-kit 1.4.2 `DawidSkene(n_iter=2000, tol=-1).fit(...)` on the same 315 answers
# (run to convergence; its default tol=1e-5 stops after 4 iterations at 0.3997/0.4224/0.1112/0.0667).
# The paper reports the rounded estimates 0.40, 0.42, 0.11, 0.07.
CROWDKIT_PRIORS = np.array([0.399555, 0.421983, 0.111795, 0.066667])
PAPER_PRIORS = np.array([0.40, 0.42, 0.11, 0.07])
CROWDKIT_LABELS = [0, 3, 1, 1, 1, 1, 0, 2, 1, 1, 3, 2, 0, 1, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 0, 0, 1, 0, 0, 0,
                   0, 2, 0, 1, 1, 3, 1, 2, 2, 0, 0, 0, 1, 0, 1]
# crowd-kit errors_ for observer 1, as confusions[true, answered]
CROWDKIT_OBSERVER1 = np.array([
    [0.8895, 0.1105, 0.0, 0.0],
    [0.0706, 0.8764, 0.0530, 0.0],
    [0.0, 0.3388, 0.6612, 0.0],
    [0.0, 0.0, 0.5556, 0.4444],
])


def anaesthesia_counts() -> np.ndarray:
    counts = np.zeros((45, 5, 4))
    for line in ANAESTHESIA.strip().splitlines():
        patient, first, *others = line.split()
        for answer in first:
            counts[int(patient) - 1, 0, int(answer) - 1] += 1
        for observer, answer in enumerate(others, start=1):
            counts[int(patient) - 1, observer, int(answer) - 1] += 1
    assert counts.sum() == 315
    return counts


def test_dawid_skene_matches_the_anaesthesia_example():
    result = dawid_skene(anaesthesia_counts(), smoothing=0.0)
    assert result.converged
    np.testing.assert_allclose(result.priors, CROWDKIT_PRIORS, atol=1e-3)
    np.testing.assert_allclose(result.priors, PAPER_PRIORS, atol=5e-3)
    assert result.labels.tolist() == CROWDKIT_LABELS
    np.testing.assert_allclose(result.confusions[0], CROWDKIT_OBSERVER1, atol=1e-3)
    np.testing.assert_allclose(result.posteriors.sum(axis=1), 1.0)
    np.testing.assert_allclose(result.confusions.sum(axis=2), 1.0)


def test_dawid_skene_converges_to_the_same_point_from_its_own_tolerance():
    loose = dawid_skene(anaesthesia_counts(), smoothing=0.0, tol=1e-3)
    tight = dawid_skene(anaesthesia_counts(), smoothing=0.0, tol=1e-9)
    assert tight.n_iter > loose.n_iter
    assert tight.log_likelihood >= loose.log_likelihood - 1e-9
    np.testing.assert_allclose(loose.priors, tight.priors, atol=1e-3)


def test_dawid_skene_downweights_a_bad_rater():
    rng = np.random.default_rng(0)
    truth = rng.integers(0, 3, 300)
    good = [np.where(rng.random(300) < 0.9, truth, rng.integers(0, 3, 300)) for _ in range(2)]
    bad = [rng.integers(0, 3, 300) for _ in range(3)]  # pure guessers outvote the good ones
    labels = np.column_stack([*good, *bad]).astype(float)
    ds = dawid_skene(labels)
    mv = majority_vote(labels, tie_break="random")
    assert (ds.labels == truth).mean() > (mv.labels == truth).mean() + 0.1
    acc = ds.rater_accuracy()
    assert acc[:2].min() > acc[2:].max()


def test_dawid_skene_validates_inputs():
    with pytest.raises(ValueError, match="not class indices"):
        dawid_skene(np.array([[0.5, 1.0]]))
    with pytest.raises(ValueError, match="out of range"):
        dawid_skene(np.array([[0.0, 3.0]]), num_classes=2)
    with pytest.raises(ValueError, match="no answers"):
        dawid_skene(np.full((3, 2), np.nan), num_classes=2)
    with pytest.raises(ValueError, match="tol"):
        dawid_skene(np.array([[0.0, 1.0]]), tol=0)


def test_majority_vote_ties():
    labels = np.array([[0, 0, 1], [0, 1, np.nan], [np.nan, np.nan, np.nan], [2, 1, np.nan]], dtype=float)
    before = labels.copy()
    mv = majority_vote(labels, num_classes=3)
    assert mv.labels.tolist() == [0, -1, -1, -1]
    assert mv.tied.tolist() == [False, True, False, True]
    np.testing.assert_allclose(mv.agreement, [2 / 3, 0, 0, 0])
    assert majority_vote(labels, num_classes=3, tie_break="lowest").labels.tolist() == [0, 0, -1, 1]
    probs = np.array([[1, 0, 0], [0.2, 0.8, 0], [1 / 3] * 3, [0, 0.1, 0.9]])
    assert majority_vote(labels, num_classes=3, tie_break="pred_probs", pred_probs=probs).labels.tolist() == [
        0, 1, -1, 2]
    randomly = majority_vote(labels, num_classes=3, tie_break="random", seed=1).labels
    assert randomly[1] in (0, 1) and randomly[3] in (1, 2)
    np.testing.assert_array_equal(labels, before)  # the caller's array is untouched
    with pytest.raises(ValueError, match="tie_break"):
        majority_vote(labels, tie_break="coin")
    with pytest.raises(ValueError, match="pred_probs of shape"):
        majority_vote(labels, num_classes=3, tie_break="pred_probs")


def test_annotation_counts_accepts_cleanlab_dataframes():
    frame = pd.DataFrame({"r1": [0, np.nan], "r2": [1, 1]})
    counts = annotation_counts(frame, num_classes=2)
    assert counts.shape == (2, 2, 2)
    assert counts[0, 0].tolist() == [1, 0] and counts[1, 0].tolist() == [0, 0]


def test_crowdlab_combines_raters_and_model():
    rng = np.random.default_rng(3)
    n, k = 200, 3
    truth = rng.integers(0, k, n)
    raters = [np.where(rng.random(n) < acc, truth, rng.integers(0, k, n)).astype(float)
              for acc in (0.9, 0.7, 0.6)]
    labels = np.column_stack(raters)
    labels[rng.random((n, 3)) < 0.3] = np.nan
    labels[np.isnan(labels).all(axis=1), 0] = truth[np.isnan(labels).all(axis=1)]
    pred_probs = np.full((n, k), 0.1)
    pred_probs[np.arange(n), truth] = 0.8
    crowd = crowdlab(labels, pred_probs)
    assert (crowd.labels == truth).mean() > 0.95
    np.testing.assert_allclose(crowd.posteriors.sum(axis=1), 1.0)
    assert (crowd.posteriors.argmax(axis=1) == crowd.labels).mean() > 0.95
    quality = rater_quality(labels, num_classes=k, rater_ids=["a", "b", "c"], ds=dawid_skene(labels),
                            crowd=crowd)
    assert quality["rater"].tolist() == ["a", "b", "c"]
    assert quality["crowdlab_quality"].idxmax() == 0
    assert quality["ds_accuracy"].idxmax() == 0
    assert quality["agreement_with_majority"].iloc[0] > quality["agreement_with_majority"].iloc[2]
    with pytest.raises(ValueError, match="pred_probs must have shape"):
        crowdlab(labels, pred_probs[:10])
