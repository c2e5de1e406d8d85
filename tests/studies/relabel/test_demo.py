"""Relabelling on the demo generator's own output (`trustlab demo-data --noise 0.05`): the flipped
labels recorded in truth.csv are recovered by the proposals with precision and recall >= 0.8, and the
generator's ambiguous pair (phone vs url) tops the ambiguity list. Raters and model probabilities are
simulated from the generator's truth (noisy, better than chance); everything else is the real path:
demo-data -> ingest -> judgements and predictions in the database -> `run_relabel`."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from trustlab.data.demo import generate_demo
from trustlab.data.ingest import ingest
from trustlab.db.engine import unit_of_work
from trustlab.db.queries.datasets import get_dataset
from trustlab.db.queries.items import list_items
from trustlab.db.queries.labels import class_names
from trustlab.db.schema import Assignment, Judgement, ModelVersion, Prediction, Study, User
from trustlab.studies.relabel.pipeline import run_relabel
from trustlab.studies.relabel.planted import simulate_pred_probs, simulate_rater_labels

N_IMAGES = 800  # 40 flipped labels at 5%
NOISE = 0.05
RATERS = 8
RATERS_PER_ITEM = 5
SEED = 0

pytestmark = pytest.mark.slow


def _world(settings, tmp_path: Path) -> dict:
    out = tmp_path / "demo"
    generate_demo(out, n=N_IMAGES, seed=SEED, noise=NOISE)
    ingest(settings, out, dataset="demo", manifest=out / "manifest.csv")
    with open(out / "truth.csv", newline="") as handle:
        truth_rows = {str((out / row["path"]).resolve()): row for row in csv.DictReader(handle)}
    with unit_of_work(settings) as s:
        dataset_id = get_dataset(s, name="demo").id
        classes = class_names(s, dataset_id=dataset_id)
        items = list_items(s, dataset_id=dataset_id)
        rows = [truth_rows[str(Path(item.source_path).resolve())] for item in items]
        truth = np.array([classes.index(r["true_class"]) for r in rows])
        flipped = np.array([r["noisy"] == "True" for r in rows])
        ambiguous = np.array([r["ambiguous"] == "True" for r in rows])
        assert [i.current_label for i in items] == [r["given_class"] for r in rows]
        pair = [(classes.index("phone"), classes.index("url"))]
        answers = simulate_rater_labels(truth, num_classes=len(classes), n_raters=RATERS,
                                        raters_per_item=RATERS_PER_ITEM, confusable=pair,
                                        ambiguous=ambiguous, seed=SEED)
        probs = simulate_pred_probs(truth, num_classes=len(classes), confusable=pair, ambiguous=ambiguous,
                                    seed=SEED)
        model = ModelVersion(name="m", dataset_id=dataset_id, arch="simple_cnn", checkpoint_path="x",
                             checkpoint_sha256="0" * 64, class_names=classes, img_size=64)
        s.add(model)
        s.flush()
        for n, item in enumerate(items):
            kind = "crossval" if item.split in ("train", "val") else "holdout"
            p = probs[n]
            s.add(Prediction(model_version_id=model.id, item_id=item.id, kind=kind, probabilities=p.tolist(),
                             predicted_label=classes[int(p.argmax())], confidence=float(p.max())))
        study = Study(name="s", dataset_id=dataset_id, model_version_id=model.id, config={}, status="open")
        s.add(study)
        s.flush()
        raters = [User(username=f"r{m}", simulated=True, study_id=study.id) for m in range(RATERS)]
        s.add_all(raters)
        s.flush()
        for n, item in enumerate(items):
            for m in np.flatnonzero(~np.isnan(answers[n])):
                a = Assignment(study_id=study.id, rater_id=raters[m].id, item_id=item.id, condition="none",
                               position=n, status="done")
                s.add(a)
                s.flush()
                s.add(Judgement(assignment_id=a.id, answers={"true_label": classes[int(answers[n, m])]},
                                idempotency_key=f"{n}-{m}"))
        s.commit()
    return {"items": [i.id for i in items], "truth": truth, "flipped": flipped, "classes": classes}


def test_proposals_recover_the_demo_generators_flipped_labels(sqlite_settings, tmp_path):
    world = _world(sqlite_settings, tmp_path)
    assert world["flipped"].sum() == round(N_IMAGES * NOISE)
    result = run_relabel(sqlite_settings, model="m", study="s", out_dir=tmp_path / "relabel")
    position = {item_id: n for n, item_id in enumerate(world["items"])}
    hits = sum(
        bool(world["flipped"][position[row.item_id]]
             and world["classes"][world["truth"][position[row.item_id]]] == row.proposed_label)
        for row in result.proposals.itertuples()
    )
    precision, recall = hits / max(len(result.proposals), 1), hits / world["flipped"].sum()
    print(f"demo generator, {NOISE:.0%} noise: {len(result.proposals)} proposals, "
          f"precision {precision:.2f}, recall {recall:.2f}")
    assert precision >= 0.8 and recall >= 0.8
    top = result.ambiguity.iloc[0]
    assert {top.class_a, top.class_b} == {"phone", "url"}
