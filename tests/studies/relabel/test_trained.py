"""The default out-of-sample path on a real trained model: planted flips in a shapes dataset ->
train -> predict --cross-val (defaults) -> relabel --dataset (no raters) finds most of them."""

from __future__ import annotations

import numpy as np
import pytest

from tests.helpers.builders import make_image_dataset
from trustlab.db.engine import unit_of_work
from trustlab.db.queries.items import list_items
from trustlab.models.crossval import crossval_predict
from trustlab.models.train import TrainConfig, train_model
from trustlab.studies.relabel.label_issues import rank_label_issues
from trustlab.studies.relabel.pipeline import run_relabel
from trustlab.studies.relabel.planted import plant_label_noise

pytestmark = pytest.mark.usefixtures("one_torch_thread")

CLASSES = ("square", "disc", "cross", "blue_square")  # shape_image: kind = index % 3, colour by parity
PER_CLASS = {"train": 24, "val": 6}
NOISE = 0.08  # 10 of 120 labels flipped
SIZE = 16




def test_default_crossval_and_relabel_find_planted_flips(sqlite_settings, tmp_path):
    s = sqlite_settings
    dataset_id = make_image_dataset(s, name="planted", classes=CLASSES, per_class=PER_CLASS, size=SIZE)
    with unit_of_work(s) as session:
        items = list_items(session, dataset_id=dataset_id)
        truth = np.array([CLASSES.index(i.current_label) for i in items])
        noisy, flipped = plant_label_noise(truth, num_classes=len(CLASSES), rate=NOISE, seed=1)
        for item, label in zip(items, noisy, strict=True):
            item.original_label = item.current_label = CLASSES[label]
        ids = [i.id for i in items]
        session.commit()
    train_model(s, TrainConfig.of(dataset="planted", arch="simple_cnn", name="m", epochs=4, img_size=SIZE,
                                  batch_size=16),
                progress=False)
    crossval_predict(s, model="m", progress=False)  # the defaults under test
    result = run_relabel(s, model="m", out_dir=tmp_path / "relabel", dataset="planted")
    position = {item_id: n for n, item_id in enumerate(ids)}
    found = np.array([position[i] for i in result.proposals["item_id"]], dtype=int)
    hits = int(flipped[found].sum())
    precision, recall = hits / max(found.size, 1), hits / flipped.sum()
    print(f"{flipped.sum()} planted flips: {found.size} proposals, precision {precision:.2f}, "
          f"recall {recall:.2f}")
    assert recall >= 0.7 and precision >= 0.7
    assert set(result.proposals["method"]) == {"cleanlab"}


def test_a_clear_margin_flags_items_cleanlabs_filter_leaves_out():
    # Under-confident probabilities: every item gives its label 0.7, so each class's threshold is 0.7.
    # Item 0 (given class 0) is clearly class 1 at 0.68 but under that threshold, so cleanlab's
    # confident joint does not count it; class 1 beats its given label by 0.66 >= LABEL_ISSUE_MIN_MARGIN.
    labels = np.repeat([0, 1, 2], 30)
    probs = np.where(np.eye(3)[labels] == 1, 0.7, 0.15)
    probs[0] = [0.02, 0.68, 0.30]
    probs[1] = [0.40, 0.45, 0.15]  # a small margin: not flagged
    without = rank_label_issues(labels, probs, min_margin=None)
    flagged = rank_label_issues(labels, probs)
    assert 0 not in set(without["index"]) and 0 in set(flagged["index"]) and 1 not in set(flagged["index"])
    assert flagged.set_index("index").loc[0, "suggested_label"] == 1
    assert list(flagged["self_confidence"]) == sorted(flagged["self_confidence"])
