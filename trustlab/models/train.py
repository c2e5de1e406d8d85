"""`trustlab train`: fit a classifier on a dataset's train split and record a ModelVersion."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from trustlab.config import Settings
from trustlab.data.splits import TooFewForValidation, carve_validation
from trustlab.db.engine import unit_of_work
from trustlab.db.queries.datasets import get_dataset
from trustlab.db.queries.items import list_items
from trustlab.db.queries.labels import class_names as dataset_class_names
from trustlab.db.queries.models import find_model_version
from trustlab.db.schema import Item, ModelVersion
from trustlab.job_progress import note
from trustlab.models.arch import TORCH_CACHE, build_model, check_arch, count_params, freeze_backbone
from trustlab.models.checkpoint import ModelSpec, pick_device, register_model
from trustlab.models.config import TrainConfig
from trustlab.models.datasets import ItemImages, item_label
from trustlab.models.errors import DataError, DuplicateModelError
from trustlab.models.fit import fit
from trustlab.models.images import IMAGENET_MEAN, IMAGENET_STD, UINT8_MAX
from trustlab.models.plots import plot_curves

NORMALISATIONS = ("imagenet", "dataset", "none")
CURVES_FILENAME = "curves.png"


def check_trainable(items_by_split: dict[str, Sequence[Item]], classes: Sequence[str], *, dataset: str,
                    labels: str) -> None:
    """Raise DataError for too few classes or an empty train/val split (carve val first if needed)."""
    if len(classes) < 2:
        raise DataError(f"dataset {dataset!r} has {len(classes)} class(es) ({', '.join(classes) or 'none'}): "
                        "a classifier needs at least 2; ingest images of another class")
    for split, items in items_by_split.items():
        if not items:
            raise DataError(f"dataset {dataset!r} has no items in split {split!r}: ingest with a "
                            f"{split} split (train and val are both needed)")
    present = sorted({item_label(item, labels) for item in items_by_split["train"]})
    if len(present) < 2:
        raise DataError(f"the train split of dataset {dataset!r} has only one class ({present[0]}) "
                        f"under --labels {labels}: a classifier needs at least 2 classes")


def carve_val_items(
    train_items: Sequence[Item], *, fraction: float, seed: int, labels: str, dataset: str
) -> tuple[list[Item], list[Item]]:
    """(train, val): a stratified, seeded ``fraction`` of ``train_items`` per class becomes val.

    Items are keyed by sha256, so the same images give the same parts in any database.
    Raises DataError naming the class (and its count) too small for a validation part.
    """
    by_class: dict[str, list[str]] = {}
    for item in train_items:
        by_class.setdefault(item_label(item, labels), []).append(item.sha256)
    try:
        carved = carve_validation(by_class, fraction, seed=seed)
    except TooFewForValidation as exc:
        raise DataError(f"dataset {dataset!r} has no val split, and {exc}") from None
    except ValueError as exc:
        raise DataError(str(exc)) from None
    return ([item for item in train_items if item.sha256 not in carved],
            [item for item in train_items if item.sha256 in carved])


def channel_stats(images: torch.Tensor) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean and std (0..1 scale) of uint8 images [N, 3, S, S]."""
    x = images.float() / UINT8_MAX
    mean = x.mean(dim=(0, 2, 3))
    std = x.std(dim=(0, 2, 3)).clamp(min=1e-3)
    return tuple(float(v) for v in mean), tuple(float(v) for v in std)


def normalisation_for(kind: str, train_images: torch.Tensor):
    if kind == "imagenet":
        return IMAGENET_MEAN, IMAGENET_STD
    if kind == "dataset":
        return channel_stats(train_images)
    if kind == "none":
        return (0.0, 0.0, 0.0), (1.0, 1.0, 1.0)
    raise DataError(f"normalisation must be one of {', '.join(NORMALISATIONS)}, got {kind!r}")


def _weights_ref(weights: str | Path | None) -> str | None:
    """How the weights are recorded: None, "torch-cache", or an absolute file path."""
    if weights is None or str(weights).lower() in ("", "none"):
        return None
    return str(weights) if str(weights) == TORCH_CACHE else str(Path(weights).expanduser().resolve())


def make_model(
    arch: str, num_classes: int, *, weights: str | Path | None, freeze: bool, seed: int,
    img_size: int | None = None, notes: list[str] | None = None,
) -> nn.Module:
    """A seeded fresh model (optionally with backbone weights, optionally frozen but for the head).

    img_size: the images' side (ViT-like models are built for it); notes: gets what loading the
    weights dropped (e.g. a classifier head of another class count)."""
    torch.manual_seed(seed)
    model = build_model(arch, num_classes, weights=weights, img_size=img_size, notes=notes)
    if freeze:
        freeze_backbone(model, arch)
    return model


@dataclass
class _TrainingData:
    """The dataset's id and classes and the items of the train and val parts."""

    dataset_id: int
    classes: list[str]
    splits: dict[str, list[Item]]
    carved: bool


def _training_data(settings: Settings, config: TrainConfig, *, progress: bool) -> _TrainingData:
    """The train and val items (val carved from train when the dataset has none), checked trainable."""
    with unit_of_work(settings) as session:
        if find_model_version(session, name=config.name) is not None:
            raise DuplicateModelError(f"a model called {config.name!r} exists already: choose another --name")
        ds = get_dataset(session, name=config.dataset)
        classes = dataset_class_names(session, dataset_id=ds.id)
        splits = {split: list_items(session, dataset_id=ds.id, split=split) for split in ("train", "val")}
    carved = not splits["val"] and bool(splits["train"])
    if carved:
        seed = config.fit.seed
        splits["train"], splits["val"] = carve_val_items(splits["train"], fraction=config.val_fraction,
                                                         seed=seed, labels=config.labels,
                                                         dataset=config.dataset)
        if progress:
            note(f"dataset {config.dataset!r} has no val split: holding out {len(splits['val'])} of its "
                 f"train items ({config.val_fraction:g} per class, seed {seed}) for validation")
    check_trainable(splits, classes, dataset=config.dataset, labels=config.labels)
    return _TrainingData(ds.id, list(classes), splits, carved)


def _training_config(config: TrainConfig, data: _TrainingData, *, mean, std,
                     weights_notes: list[str]) -> dict[str, Any]:
    """What the ModelVersion records about how it was trained (its ``training_config``)."""
    record = {
        **{k: v for k, v in asdict(config.fit).items() if k != "augment"},
        "augment": config.fit.augment.as_dict(), "weights": _weights_ref(config.weights),
        "freeze_backbone": config.freeze, "img_size": config.img_size, "labels": config.labels,
        "dataset": config.dataset, "normalisation": config.normalisation, "mean": list(mean),
        "std": list(std), "val_source": "carved" if data.carved else "split",
    }
    if weights_notes:
        record["weights_notes"] = weights_notes
    if data.carved:
        record |= {"val_fraction": config.val_fraction,
                   "val_item_ids": sorted(item.id for item in data.splits["val"])}
    return record


def train_model(settings: Settings, config: TrainConfig, *, progress: bool = True) -> ModelVersion:
    """Train ``config.arch`` on the train split of ``config.dataset`` (early stopping on val) and save it
    as ``config.name``.

    When the dataset has no val items, a stratified, seeded ``config.val_fraction`` of the train items
    (per class) is held out for validation instead; training_config records "val_source" ("split" or
    "carved"), "val_fraction" and the carved "val_item_ids"; the dataset's splits are not changed.
    Classes are the dataset's labels in order. Saves models_dir/<name>/model.pt and curves.png;
    the returned ModelVersion carries history (per-epoch loss/accuracy, train_seconds) and the config.
    Raises DuplicateModelError, NotFound (dataset), ArchError, DataError (empty split, one class).
    """
    check_arch(config.arch)
    item_label(Item(original_label="", current_label=""), config.labels)  # validates labels early
    data = _training_data(settings, config, progress=progress)
    weights_notes: list[str] = []
    model = make_model(config.arch, len(data.classes), weights=config.weights, freeze=config.freeze,
                       seed=config.fit.seed, img_size=config.img_size, notes=weights_notes)
    if progress:
        for message in weights_notes:
            note(message)
    train_set, val_set = (ItemImages(settings, data.splits[split], data.classes, img_size=config.img_size,
                                     labels=config.labels) for split in ("train", "val"))
    mean, std = normalisation_for(config.normalisation, train_set.images)
    target = pick_device(config.device)
    result = fit(model, (train_set.images, train_set.targets), (val_set.images, val_set.targets),
                 config=config.fit, mean=mean, std=std, device=target,
                 label=config.name if progress else None)
    history = {**result.history, "train_seconds": round(result.seconds, 3), "device": str(target),
               "n_train": len(train_set), "n_val": len(val_set), "num_params": count_params(model)}
    version = register_model(settings, name=config.name, dataset_id=data.dataset_id, module=model.cpu(),
                             spec=ModelSpec(arch=config.arch, class_names=data.classes,
                                            img_size=config.img_size, mean=mean, std=std,
                                            labels_source=config.labels),
                             training_config=_training_config(config, data, mean=mean, std=std,
                                                              weights_notes=weights_notes),
                             history=history)
    plot_curves(history, settings.models_dir / config.name / CURVES_FILENAME,
                title=f"{config.name} ({config.arch})")
    return version
