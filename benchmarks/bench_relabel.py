"""Precision and recall of relabel proposals per method on planted label noise.

Simulation (trustlab/studies/relabel/planted.py): 800 items, 4 classes (none, phone, email, url),
12.5% of phone/url items ambiguous (as the demo generator draws them), 8 raters with accuracy
0.7..0.9, 5 raters per item, a model 90% accurate with out-of-sample-like probabilities.
For each noise rate, several seeds; majority vote is the baseline (ratios are against it).

Real data (--case digits, benchmarks/relabel_digits.py): scikit-learn's 1,797 handwritten digits
with 6% planted flips through ingest, train, predict --cross-val and relabel --dataset, against an
RBF SVM + 5-fold cross_val_predict + cleanlab.filter.find_label_issues in the same table; then the
same model's probabilities with 5 simulated raters per item at 75% accuracy and --method auto.

    /work/main/.venv/bin/python benchmarks/bench_relabel.py [--case simulated|digits|all] [--seeds 5]
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's trustlab
sys.path.insert(0, str(Path(__file__).resolve().parent))  # relabel_digits

from trustlab.studies.relabel.planted import (  # noqa: E402
    ambiguous_items,
    plant_label_noise,
    simulate_pred_probs,
    simulate_rater_labels,
)
from trustlab.studies.relabel.proposals import METHODS, propose_auto, propose_relabels  # noqa: E402

CLASSES = ("none", "phone", "email", "url")
PAIR = (1, 3)
NOISE_RATES = (0.02, 0.05, 0.1, 0.2)
BASELINE = "majority"


def _score(frame, flipped: np.ndarray, truth: np.ndarray) -> tuple[float, float]:
    idx = frame["index"].to_numpy(dtype=int)
    hits = np.sum(flipped[idx] & (frame["proposed_label"].to_numpy(dtype=int) == truth[idx]))
    return hits / max(idx.size, 1), hits / max(flipped.sum(), 1)


def digits_table(args: argparse.Namespace) -> None:
    import tempfile

    import torch
    from relabel_digits import run_digits

    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory(prefix="bench_relabel_") as scratch:
        home = Path(args.home) if args.home else Path(scratch)
        rows = run_digits(home, noise=args.noise, seed=0, epochs=args.epochs, img_size=args.img_size,
                          folds=args.folds, raters_per_item=5, rater_accuracy=0.75)
    print(f"\ndigits (1,797 real images, {args.noise:.0%} flipped; simple_cnn {args.img_size} px, "
          f"{args.epochs} epochs, --cross-val {args.folds})")
    print(f"{'case':>24} {'method':>30} {'precision':>10} {'recall':>7} {'flagged':>8} {'seconds':>8}")
    for row in rows:
        print(f"{row.case:>24} {row.method:>30} {row.precision:>10.2f} {row.recall:>7.2f} {row.flagged:>8} "
              f"{row.seconds:>8.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", choices=("simulated", "digits", "all"), default="all")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--n", type=int, default=800)
    parser.add_argument("--noise", type=float, default=0.06, help="digits: share of flipped labels")
    parser.add_argument("--epochs", type=int, default=10, help="digits: training epochs")
    parser.add_argument("--img-size", type=int, default=16, help="digits: training resolution")
    parser.add_argument("--folds", type=int, default=5, help="digits: --cross-val K")
    parser.add_argument("--threads", type=int, default=2, help="digits: torch CPU threads")
    parser.add_argument("--home", help="digits: keep the TRUSTLAB_HOME here (a new folder) instead of a "
                        "temporary one")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")  # cleanlab's notes about class balance
    if args.case in ("simulated", "all"):
        simulated_table(args)
    if args.case in ("digits", "all"):
        digits_table(args)


def simulated_table(args: argparse.Namespace) -> None:
    k = len(CLASSES)
    methods = [*METHODS, "auto"]
    print(f"{'noise':>6} {'method':>12} {'precision':>10} {'recall':>7} {'F1':>6} {'F1/majority':>12} "
          f"{'P>=.8&R>=.8':>12} {'seconds':>8}")
    for rate in NOISE_RATES:
        results: dict[str, list[tuple[float, float, float]]] = {m: [] for m in methods}
        for seed in range(args.seeds):
            rng = np.random.default_rng(seed)
            truth = rng.integers(0, k, args.n)
            noisy, flipped = plant_label_noise(truth, num_classes=k, rate=rate, seed=seed)
            amb = ambiguous_items(truth, confusable=[PAIR], seed=seed)
            labels = simulate_rater_labels(truth, num_classes=k, confusable=[PAIR], ambiguous=amb, seed=seed)
            probs = simulate_pred_probs(truth, num_classes=k, confusable=[PAIR], ambiguous=amb, seed=seed)
            for method in methods:
                start = time.perf_counter()
                if method == "auto":
                    frame = propose_auto(noisy, labels_multiannotator=labels, pred_probs=probs, num_classes=k)
                else:
                    frame = propose_relabels(noisy, method=method, labels_multiannotator=labels,
                                             pred_probs=probs, num_classes=k)
                elapsed = time.perf_counter() - start
                results[method].append((*_score(frame, flipped, truth), elapsed))
        f1 = {}
        for method in methods:
            p, r, _ = np.mean(results[method], axis=0)
            f1[method] = 2 * p * r / max(p + r, 1e-12)
        for method in methods:
            arr = np.array(results[method])
            p, r, secs = arr.mean(axis=0)
            passed = np.mean((arr[:, 0] >= 0.8) & (arr[:, 1] >= 0.8))
            print(f"{rate:>6.0%} {method:>12} {p:>10.2f} {r:>7.2f} {f1[method]:>6.2f} "
                  f"{f1[method] / max(f1[BASELINE], 1e-12):>12.2f} {passed:>12.0%} {secs:>8.3f}")


if __name__ == "__main__":
    main()
