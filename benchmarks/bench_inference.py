"""The pigeonhole product bootstrap (the baseline) vs the two-way cluster-robust inference (CR2,
Satterthwaite t) on simulated within-subject studies: 30 raters x 40 items, each rater sees every item
once, two conditions alternating, P(verdict right) = 0.7 + N(0, 0.05) per rater + N(0, 0.15) per item,
30% model errors. Null studies give the true SD of each contrast, the mean SE, their ratio and 95%
coverage; studies with a planted effect on verification accuracy give each method's power.

    /work/main/.venv/bin/python benchmarks/bench_inference.py [--studies 60] [--replicates 1000]
        [--effect 0.05] [--seed 0]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's trustlab

from legacy_bootstrap import MEASURES, cluster_weights  # noqa: E402

from trustlab.studies.analysis.inference import contrast  # noqa: E402
from trustlab.studies.analysis.outcomes import validate_judgements  # noqa: E402
from trustlab.studies.analysis.synthetic import SyntheticStudy, simulate_judgements  # noqa: E402

# Measures both methods estimate (the bootstrap's d' is pooled over raters, the new one per rater).
COMPARED = ("verification_accuracy", "accept_rate_model_wrong", "error_detection_dprime")
NEW_ONLY = ("mean_trust", "criterion_c")
ALPHA = 0.05


def bootstrap_contrast(df, weights, measure: str) -> tuple[float, float, float, float, float]:
    """(diff, se, ci_low, ci_high, p) of gradcam - none from the pigeonhole bootstrap."""
    spec = MEASURES[measure]
    in_a = (df["condition"] == "gradcam").to_numpy()
    a, b = df[in_a], df[~in_a]
    point = spec.compute(a, np.ones((1, len(a))))[0] - spec.compute(b, np.ones((1, len(b))))[0]
    draws = spec.compute(a, weights[:, in_a]) - spec.compute(b, weights[:, ~in_a])
    draws = draws[np.isfinite(draws)]
    low, high = np.quantile(draws, [0.025, 0.975])
    tail = min((draws <= 0).sum(), (draws >= 0).sum())
    return point, draws.std(ddof=1), low, high, min(1.0, 2 * (tail + 1) / (len(draws) + 1))


def run(n_studies: int, replicates: int, effect: float, seed: int) -> None:
    rng = np.random.default_rng(seed)
    rows: dict[tuple[str, str], list[tuple[float, float, bool]]] = {}
    power: dict[str, list[bool]] = {"bootstrap": [], "two-way CR2": []}
    timing = {"bootstrap": 0.0, "two-way CR2": 0.0}
    for planted in (0.0, effect):
        spec = SyntheticStudy(n_raters=30, n_items=40, effect={"gradcam": planted})
        for _ in range(n_studies):
            df = validate_judgements(simulate_judgements(spec, rng))
            df["model_correct"] = df["model_correct"].astype(bool)
            start = time.perf_counter()
            weights = cluster_weights(df, replicates=replicates, seed=int(rng.integers(1 << 30)))
            for measure in COMPARED if planted == 0 else ("verification_accuracy",):
                diff, se, low, high, p = bootstrap_contrast(df, weights, measure)
                if planted == 0:
                    rows.setdefault((measure, "bootstrap"), []).append((diff, se, low <= 0 <= high))
                else:
                    power["bootstrap"].append(p < ALPHA and diff > 0)
            timing["bootstrap"] += time.perf_counter() - start
            start = time.perf_counter()
            for measure in COMPARED + NEW_ONLY if planted == 0 else ("verification_accuracy",):
                row = contrast(df, "gradcam", "none", measure)
                if planted == 0:
                    covered = row["ci_low"] <= 0 <= row["ci_high"]
                    rows.setdefault((measure, "two-way CR2"), []).append((row["diff"], row["se"], covered))
                else:
                    power["two-way CR2"].append(row["p"] < ALPHA and row["diff"] > 0)
            timing["two-way CR2"] += time.perf_counter() - start
    print(
        f"{n_studies} null studies, 30 raters x 40 items, within, gradcam vs none; bootstrap B = {replicates}"
    )
    print(f"{'measure':26s} {'method':12s} {'true SD':>8s} {'mean SE':>8s} {'ratio':>6s} {'coverage':>9s}")
    for (measure, method), values in rows.items():
        x = np.array(values, float)
        sd, se = x[:, 0].std(ddof=1), x[:, 1].mean()
        print(
            f"{measure:26s} {method:12s} {sd:8.4f} {se:8.4f} {se / sd:6.2f} "
            f"{int(x[:, 2].sum()):4d}/{len(x):<4d}"
        )
    for method, hits in power.items():
        print(f"power at +{effect:.2f} verification accuracy, p < {ALPHA}: {method:12s} {np.mean(hits):.2f}")
    for method, seconds in timing.items():
        print(f"time per study: {method:12s} {1000 * seconds / (2 * n_studies):8.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--studies", type=int, default=60)
    parser.add_argument("--replicates", type=int, default=1000)
    parser.add_argument("--effect", type=float, default=0.05)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    run(args.studies, args.replicates, args.effect, args.seed)


if __name__ == "__main__":
    main()
