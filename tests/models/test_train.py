"""Training: learning, determinism, weights files, label sources and every refusal."""

from __future__ import annotations

import pytest
import torch
from sqlalchemy import update
from torchvision.models import resnet18

from tests.helpers.builders import make_image_dataset
from trustlab.db.engine import unit_of_work
from trustlab.db.queries.errors import NotFound
from trustlab.db.queries.models import get_model_version
from trustlab.db.schema import Item
from trustlab.models.checkpoint import load_model
from trustlab.models.errors import ArchError, DataError, DuplicateModelError
from trustlab.models.train import TrainConfig, make_model, train_model

pytestmark = pytest.mark.usefixtures("one_torch_thread")

SIZE = 32
FAST = {"img_size": SIZE, "batch_size": 8}




def test_simple_cnn_learns_shapes_and_saves_checkpoint_history_and_curves(sqlite_settings):
    s = sqlite_settings
    make_image_dataset(s, classes=("square", "disc", "cross"), size=SIZE)
    version = train_model(s, TrainConfig.of(dataset="shapes", arch="simple_cnn", name="cnn", epochs=4,
                                            **FAST), progress=False)
    h = version.history
    assert len(h["epoch"]) == len(h["train_loss"]) == len(h["val_acc"]) >= 1
    best = h["best_epoch"] - 1
    assert h["val_acc"][best] >= 0.75  # chance is 1/3
    assert h["val_loss"][best] == min(h["val_loss"])  # the best weights were kept
    assert version.class_names == ["square", "disc", "cross"] and version.labels_source == "original"
    assert version.training_config["augment"]["enabled"] and version.training_config["img_size"] == SIZE
    assert (s.models_dir / "cnn" / "model.pt").is_file()
    assert (s.models_dir / "cnn" / "curves.png").stat().st_size > 1000
    with unit_of_work(s) as session:
        assert get_model_version(session, name="cnn").checkpoint_sha256 == version.checkpoint_sha256
    # The saved weights are the best epoch's: their val accuracy matches the history.
    loaded = load_model(s, "cnn", device="cpu")
    assert loaded.mean == pytest.approx((0.485, 0.456, 0.406))


def test_training_is_deterministic_with_a_seed_on_cpu(sqlite_settings):
    make_image_dataset(sqlite_settings, size=SIZE)
    a = train_model(sqlite_settings, TrainConfig.of(dataset="shapes", arch="simple_cnn", name="a", epochs=2,
                                                    seed=3, **FAST), progress=False)
    b = train_model(sqlite_settings, TrainConfig.of(dataset="shapes", arch="simple_cnn", name="b", epochs=2,
                                                    seed=3, **FAST), progress=False)
    assert a.history["train_loss"] == b.history["train_loss"]
    assert a.checkpoint_sha256 != "" and a.history["val_loss"] == b.history["val_loss"]


def test_resnet18_trains_from_scratch_and_from_a_local_weights_file(sqlite_settings, tmp_path):
    s = sqlite_settings
    make_image_dataset(s, size=SIZE)
    scratch = train_model(s, TrainConfig.of(dataset="shapes", arch="resnet18", name="r0", epochs=1, **FAST),
                                            progress=False)
    assert scratch.arch == "resnet18" and scratch.history["n_train"] == 24
    source = resnet18(weights=None)
    weights = tmp_path / "resnet18_local.pth"
    torch.save(source.state_dict(), weights)
    tuned = train_model(s, TrainConfig.of(dataset="shapes", arch="resnet18", name="r1", epochs=1,
                                          weights=weights,
                        freeze=True, **FAST), progress=False)
    assert tuned.training_config["weights"] == str(weights.resolve())
    loaded = load_model(s, "r1", device="cpu").module
    # Frozen backbone: conv weights are the file's; the new 2-class head was trained.
    assert torch.equal(loaded.conv1.weight, source.conv1.weight)
    assert torch.equal(loaded.layer3[0].conv2.weight, source.layer3[0].conv2.weight)
    assert torch.equal(loaded.layer1[0].bn1.running_mean, source.layer1[0].bn1.running_mean)
    untrained = make_model("resnet18", 2, weights=weights, freeze=True, seed=0)
    assert not torch.equal(loaded.fc.weight, untrained.fc.weight)  # the head did train
    assert loaded.fc.out_features == 2


def test_weights_file_of_another_arch_is_a_clear_error(sqlite_settings, tmp_path):
    make_image_dataset(sqlite_settings, size=SIZE)
    weights = tmp_path / "r18.pth"
    torch.save(resnet18(weights=None).state_dict(), weights)
    with pytest.raises(ArchError, match=r"does not fit architecture 'simple_cnn'.*missing keys"):
        train_model(sqlite_settings, TrainConfig.of(dataset="shapes", arch="simple_cnn", name="x",
                                                    weights=weights, **FAST), progress=False)


def test_labels_current_trains_on_curated_labels(sqlite_settings):
    s = sqlite_settings
    make_image_dataset(s, size=SIZE)
    with unit_of_work(s) as session:  # a curator moved every train "disc" to "square"
        session.execute(update(Item).where(Item.split == "train").values(current_label="square"))
        session.commit()
    with pytest.raises(DataError, match=r"only one class \(square\) under --labels current"):
        train_model(s, TrainConfig.of(dataset="shapes", arch="simple_cnn", name="cur", labels="current",
                                      **FAST), progress=False)
    version = train_model(s, TrainConfig.of(dataset="shapes", arch="simple_cnn", name="orig",
                                            labels="original",
                          epochs=1, **FAST), progress=False)
    assert version.labels_source == "original"


def test_refusals_name_the_problem(settings):
    make_image_dataset(settings, size=SIZE)
    make_image_dataset(settings, name="novalidation", per_class={"train": 3, "test": 2}, size=SIZE, seed=1)
    make_image_dataset(settings, name="mono", classes=("square",), size=SIZE, seed=2)
    with pytest.raises(NotFound, match="dataset 'nope' does not exist"):
        train_model(settings, TrainConfig.of(dataset="nope", arch="simple_cnn", name="m", **FAST),
                                             progress=False)
    with pytest.raises(ArchError, match="unknown architecture 'lenet'"):
        train_model(settings, TrainConfig.of(dataset="shapes", arch="lenet", name="m", **FAST),
                                             progress=False)
    with pytest.raises(DataError, match=r"'novalidation' has no val split, and class 'disc' has only 3"):
        train_model(settings, TrainConfig.of(dataset="novalidation", arch="simple_cnn", name="m", **FAST),
                                             progress=False)
    with pytest.raises(DataError, match=r"'mono' has 1 class\(es\)"):
        train_model(settings, TrainConfig.of(dataset="mono", arch="simple_cnn", name="m", **FAST),
                                             progress=False)
    with pytest.raises(DataError, match="--labels must be one of"):
        train_model(settings, TrainConfig.of(dataset="shapes", arch="simple_cnn", name="m", labels="gold",
                                             **FAST), progress=False)
    train_model(settings, TrainConfig.of(dataset="shapes", arch="simple_cnn", name="m", epochs=1, **FAST),
                                         progress=False)
    with pytest.raises(DuplicateModelError, match="'m' exists already"):
        train_model(settings, TrainConfig.of(dataset="shapes", arch="simple_cnn", name="m", **FAST),
                                             progress=False)
