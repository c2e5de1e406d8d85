"""How balanced the realised study design is, with raters arriving through the real assignment code.

For each seed: a throw-away SQLite home, a pool of 160 test items with a 30% model-error rate, a study
created with ``trustlab.studies.design.create.create_study`` (the README's numbers by default: 5 conditions,
60 items, 30% model errors, 5 raters per item, 40 items per rater, 4 gold items), opened, and raters
arriving one after another through ``trustlab.studies.design.assign.next_assignment`` until the study is
full. Printed per config (min-max over seeds):

* items with every condition (of items.n) and items that got every condition equally often;
* the share of model errors per condition (lowest and highest condition);
* the overall spread of model-error assignments across conditions (max - min, in items);
* per rater: the spread of items per condition and of model errors per condition (max - min);
* positions: the spread of a condition's count at one position of the regular list across raters,
  and the spread of ordered condition pairs at adjacent positions (carry-over).

    /work/main/.venv/bin/python benchmarks/bench_design.py [--seeds 10] [--items-per-rater 40 30]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's trustlab

from trustlab.config import Settings, load_settings  # noqa: E402
from trustlab.db.engine import dispose_engines, unit_of_work  # noqa: E402
from trustlab.db.queries.assignments import rater_assignments
from trustlab.db.queries.datasets import get_or_create_dataset
from trustlab.db.queries.items import add_items
from trustlab.db.queries.labels import ensure_labels
from trustlab.db.queries.studies import study_items
from trustlab.db.schema import Item, ModelVersion, Prediction, User  # noqa: E402
from trustlab.studies.design.assign import next_assignment  # noqa: E402
from trustlab.studies.design.create import create_study, open_study  # noqa: E402

CLASSES = ("phone", "email", "url", "none")
POOL = 160
POOL_ERROR_RATE = 0.3
README = {
    "conditions": ["none", "gradcam", "lime", "twin", "gradcam+twin"],
    "items": {"split": "test", "n": 60, "model_errors": 0.3},
    "raters_per_item": 5,
    "items_per_rater": 40,
    "gold": {"n": 4, "max_failures": 1},
}


def build_pool(settings: Settings, seed: int) -> None:
    """Dataset rows (no image files: assignment never reads them) and a model's held-out predictions."""
    rng = np.random.default_rng([seed, 99])
    settings.ensure_dirs()
    with unit_of_work(settings) as s:
        dataset = get_or_create_dataset(s, name="bench")
        ensure_labels(s, dataset_id=dataset.id, names=CLASSES)
        rows = [
            Item(
                dataset_id=dataset.id,
                path=f"x/{k}.png",
                source_path=f"x/{k}.png",
                sha256=f"{k:064x}",
                width=8,
                height=8,
                split="test",
                original_label=CLASSES[k % len(CLASSES)],
                current_label=CLASSES[k % len(CLASSES)],
            )
            for k in range(POOL)
        ]
        add_items(s, items=rows)
        model = ModelVersion(
            name="cnn",
            dataset_id=dataset.id,
            arch="simple_cnn",
            checkpoint_path="none",
            checkpoint_sha256="0" * 64,
            class_names=list(CLASSES),
            img_size=8,
        )
        s.add(model)
        s.flush()
        for k, item in enumerate(rows):
            wrong = rng.random() < POOL_ERROR_RATE
            label = CLASSES[(k + 1) % len(CLASSES)] if wrong else item.current_label
            probs = [0.1] * len(CLASSES)
            probs[CLASSES.index(label)] = 0.7
            s.add(
                Prediction(
                    model_version_id=model.id,
                    item_id=item.id,
                    kind="holdout",
                    probabilities=probs,
                    predicted_label=label,
                    confidence=float(rng.uniform(0.5, 1.0)),
                )
            )
        s.commit()


def run_study(settings: Settings, config: dict) -> dict:
    """Create and open the study, let raters arrive until it is full; returns the realised numbers."""
    # The README's 40 per rater cannot balance: create it anyway, to measure how close it comes.
    study = create_study(settings, config, allow_unbalanced=True)
    open_study(settings, study.name)
    conditions = config["conditions"]
    rows = []
    while True:
        with unit_of_work(settings) as s:
            rater = User(username=f"r{len(rows)}", role="rater", study_id=study.id)
            s.add(rater)
            s.commit()
            if next_assignment(s, study_id=study.id, rater_id=rater.id) is None:
                break
            mine = rater_assignments(s, study_id=study.id, rater_id=rater.id)
            rows.append([(a.item_id, a.condition) for a in mine if not a.is_gold])
    with unit_of_work(settings) as s:
        correct = {
            si.item_id: si.model_correct for si in study_items(s, study_id=study.id) if not si.is_gold
        }
    by_item = Counter((i, c) for mine in rows for i, c in mine)
    every = sum(all(by_item[(i, c)] > 0 for c in conditions) for i in correct)
    equal = sum(len({by_item[(i, c)] for c in conditions}) == 1 for i in correct)
    assigned = Counter(c for mine in rows for _, c in mine)
    errors = Counter(c for mine in rows for i, c in mine if not correct[i])
    share = [errors[c] / assigned[c] for c in conditions]
    rater_items, rater_errors = [], []
    for mine in rows:
        per = Counter(c for _, c in mine)
        err = Counter(c for i, c in mine if not correct[i])
        rater_items.append(max(per[c] for c in conditions) - min(per[c] for c in conditions))
        rater_errors.append(max(err[c] for c in conditions) - min(err[c] for c in conditions))
    full = [mine for mine in rows if len(mine) == config["items_per_rater"]]
    at_position = [Counter(mine[p][1] for mine in full) for p in range(config["items_per_rater"])]
    position_spread = max(
        max(cnt[c] for c in conditions) - min(cnt[c] for c in conditions) for cnt in at_position
    )
    pairs = Counter(
        (a[1], b[1]) for mine in full for a, b in zip(mine, mine[1:], strict=False) if a[1] != b[1]
    )
    pair_counts = [pairs[(a, b)] for a in conditions for b in conditions if a != b]
    return {
        "raters": len(rows),
        "every": every,
        "equal": equal,
        "share_min": min(share),
        "share_max": max(share),
        "error_spread": max(errors[c] for c in conditions) - min(errors[c] for c in conditions),
        "rater_items": max(rater_items),
        "rater_errors": max(rater_errors),
        "position_spread": position_spread,
        "carry_spread": max(pair_counts) - min(pair_counts),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--items-per-rater", type=int, nargs="+", default=[40, 30])
    args = parser.parse_args()
    header = (
        f"{'config':<26}{'raters':>7}{'every cond':>12}{'equal':>8}{'err share':>14}{'err spread':>11}"
        f"{'rater items':>12}{'rater errs':>11}{'pos spread':>11}{'carry spread':>13}"
    )
    print(header)
    print("-" * len(header))
    for per_rater in args.items_per_rater:
        results = []
        started = time.perf_counter()
        for seed in range(args.seeds):
            with tempfile.TemporaryDirectory() as home:
                settings = load_settings(home=Path(home), db_url="")
                build_pool(settings, seed)
                config = {
                    "name": "bench",
                    "dataset": "bench",
                    "model": "cnn",
                    "design": "within",
                    "tasks": ["verify", "trust"],
                    "seed": seed,
                    **README,
                    "items_per_rater": per_rater,
                }
                results.append(run_study(settings, config))
                dispose_engines()

        def span(key: str, results: list[dict] = results) -> str:
            lo, hi = min(r[key] for r in results), max(r[key] for r in results)
            return str(lo) if lo == hi else f"{lo}-{hi}"

        name = f"60 items, 5x{per_rater}/rater"
        share = f"{min(r['share_min'] for r in results):.2f}-{max(r['share_max'] for r in results):.2f}"
        print(
            f"{name:<26}{span('raters'):>7}{span('every') + '/60':>12}{span('equal'):>8}{share:>14}"
            f"{span('error_spread'):>11}{span('rater_items'):>12}{span('rater_errors'):>11}"
            f"{span('position_spread'):>11}{span('carry_spread'):>13}"
        )
        print(f"  ({args.seeds} seeds in {time.perf_counter() - started:.1f} s)")


if __name__ == "__main__":
    main()
