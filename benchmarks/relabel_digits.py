"""The real-data case of bench_relabel.py: scikit-learn's handwritten digits with planted flips.

``load_digits`` ships with scikit-learn (1,797 real 8x8 scans, 10 classes; nothing downloads). The
images are upscaled and written as PNGs into a ``train/<class>/`` ImageFolder tree under the noisy
labels, then go through trustlab as a user would: ingest, train (which carves its val part),
predict --cross-val, relabel --dataset. The baseline is the "simple alternative": an RBF SVM on
the raw pixels, 5-fold ``cross_val_predict(method="predict_proba")`` and
``cleanlab.filter.find_label_issues``. The raters case adds simulated raters to the same model's
out-of-sample probabilities and proposes with ``--method auto``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from trustlab.studies.relabel.planted import plant_label_noise, simulate_rater_labels

DIGITS_MAX = 16  # load_digits pixel values are 0..16
PNG_SIZE = 32


@dataclass
class Row:
    case: str
    method: str
    precision: float
    recall: float
    flagged: int
    seconds: float


def score(flagged_idx: np.ndarray, flipped: np.ndarray) -> tuple[float, float]:
    """Detection precision and recall: a flagged item counts when its label was flipped."""
    flagged_idx = np.asarray(flagged_idx, dtype=int)
    hits = int(flipped[flagged_idx].sum())
    return hits / max(flagged_idx.size, 1), hits / max(int(flipped.sum()), 1)


def write_digits_tree(root: Path, *, noise: float, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """PNG tree root/train/<noisy label>/<index>.png; returns (true labels, noisy labels, flipped)."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    noisy, flipped = plant_label_noise(digits.target, num_classes=10, rate=noise, seed=seed)
    for n, (image, label) in enumerate(zip(digits.images, noisy, strict=True)):
        folder = root / "train" / str(label)
        folder.mkdir(parents=True, exist_ok=True)
        pixels = (image * 255 / DIGITS_MAX).astype(np.uint8)
        Image.fromarray(pixels).resize((PNG_SIZE, PNG_SIZE), Image.BICUBIC).convert("RGB").save(
            folder / f"{n:04d}.png")
    return digits.target, noisy, flipped


def svm_baseline(noisy: np.ndarray, flipped: np.ndarray, *, seed: int) -> Row:
    from cleanlab.filter import find_label_issues
    from sklearn.datasets import load_digits
    from sklearn.model_selection import cross_val_predict
    from sklearn.svm import SVC

    started = time.perf_counter()
    x = load_digits().data / DIGITS_MAX
    probs = cross_val_predict(SVC(probability=True, random_state=seed), x, noisy, cv=5,
                              method="predict_proba")
    flagged = find_label_issues(noisy, probs)
    elapsed = time.perf_counter() - started
    return Row("digits", "sklearn SVC + cleanlab", *score(np.flatnonzero(flagged), flipped),
               int(flagged.sum()), elapsed)


def run_digits(home: Path, *, noise: float, seed: int, epochs: int, img_size: int, folds: int,
               raters_per_item: int, rater_accuracy: float) -> list[Row]:
    """Rows for the no-rater case (ours and the baseline) and the raters case (ours, auto)."""
    from trustlab.config import load_settings
    from trustlab.data.ingest import ingest
    from trustlab.db.engine import read_session
    from trustlab.db.queries.datasets import get_dataset
    from trustlab.db.queries.items import list_items
    from trustlab.db.queries.models import get_model_version
    from trustlab.models.crossval import crossval_predict
    from trustlab.models.datasets import AugmentConfig
    from trustlab.models.out_of_sample import out_of_sample_predictions
    from trustlab.models.train import TrainConfig, train_model
    from trustlab.studies.relabel.pipeline import run_relabel
    from trustlab.studies.relabel.proposals import propose_auto

    settings = load_settings(home=home, db_url="")
    truth, noisy_by_index, flipped = write_digits_tree(home / "tree", noise=noise, seed=seed)
    started = time.perf_counter()
    ingest(settings, home / "tree", dataset="digits")
    # Digits are not mirror images of each other: no horizontal flips (the only non-default choice).
    train_model(settings, TrainConfig.of(dataset="digits", arch="simple_cnn", name="digits", epochs=epochs,
                img_size=img_size, seed=seed, augment=AugmentConfig(hflip=0.0)), progress=False)
    trained = time.perf_counter()
    crossval_predict(settings, model="digits", k=folds, progress=False)
    result = run_relabel(settings, model="digits", out_dir=home / "relabel", dataset="digits")
    ours_seconds = time.perf_counter() - started
    with read_session(settings) as session:
        dataset_id = get_dataset(session, name="digits").id
        items = list_items(session, dataset_id=dataset_id)
        version = get_model_version(session, name="digits")
        predictions = out_of_sample_predictions(session, model_version_id=version.id)
        classes = list(version.class_names)
    index = {item.id: int(Path(item.source_path).stem) for item in items}
    row_of = {item_id: n for n, item_id in enumerate(index)}
    noisy = np.array([classes.index(item.current_label) for item in items])
    item_flipped = np.array([flipped[index[item.id]] for item in items])
    item_truth = np.array([classes.index(str(truth[index[item.id]])) for item in items])
    flagged = np.array([row_of[i] for i in result.proposals["item_id"]], dtype=int)
    rows = [Row("digits", f"trustlab (train {trained - started:.0f} s)", *score(flagged, item_flipped),
                flagged.size, ours_seconds)]
    rows.append(svm_baseline(noisy_by_index, flipped, seed=seed))
    probs = np.array([predictions[item.id].probabilities for item in items])
    answers = simulate_rater_labels(item_truth, num_classes=len(classes), n_raters=8,
                                    raters_per_item=raters_per_item, accuracy=[rater_accuracy] * 8, seed=seed)
    started = time.perf_counter()
    frame = propose_auto(noisy, labels_multiannotator=answers, pred_probs=probs, num_classes=len(classes))
    rows.append(Row(f"digits + {raters_per_item} raters at {rater_accuracy:.0%}", "trustlab auto",
                    *score(frame["index"].to_numpy(dtype=int), item_flipped), len(frame),
                    time.perf_counter() - started))
    np.savez(home / "digits_probs.npz", probs=probs, noisy=noisy, truth=item_truth, flipped=item_flipped,
             answers=answers)
    return rows
