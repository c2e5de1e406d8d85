"""`trustlab train`: fit a classifier on a dataset's train split and record a ModelVersion."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

import torch
from torch import nn

from trustlab.config import Settings
from trustlab.data.splits import DEFAULT_VAL_FRACTION, TooFewForValidation, carve_validation
from trustlab.db.engine import unit_of_work
from trustlab.db.queries.datasets import get_dataset
from trustlab.db.queries.items import list_items
from trustlab.db.queries.labels import class_names as dataset_class_names
from trustlab.db.queries.models import find_model_version
from trustlab.db.schema import Item, ModelVersion
from trustlab.job_progress import note
from trustlab.models.arch import TORCH_CACHE, build_model, check_arch, count_params, freeze_backbone
from trustlab.models.checkpoint import pick_device, register_model
from trustlab.models.datasets import AugmentConfig, ItemImages, item_label
from trustlab.models.errors import DataError, DuplicateModelError
from trustlab.models.fit import FitConfig, fit
from trustlab.models.images import IMAGENET_MEAN, IMAGENET_STD, UINT8_MAX
from trustlab.models.plots import plot_curves

NORMALISATIONS = ("imagenet", "dataset", "none")
CURVES_FILENAME = "curves.png"
# The demo's contact text (the class evidence) stays legible at 96 px and not at 64 px: 4-class demo
# test accuracy 0.94 vs 0.79 (benchmarks/bench_train.py --demo).
DEFAULT_IMG_SIZE = 96


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


def train_model(
    settings: Settings,
    *,
    dataset: str,
    arch: str,
    name: str,
    weights: str | Path | None = None,
    freeze: bool = False,
    epochs: int = 10,
    batch_size: int = 8,
    lr: float = 2e-3,
    img_size: int = DEFAULT_IMG_SIZE,
    labels: str = "original",
    seed: int = 0,
    patience: int = 3,
    augment: AugmentConfig | None = None,
    normalisation: str = "imagenet",
    val_fraction: float = DEFAULT_VAL_FRACTION,
    device: str | None = None,
    progress: bool = True,
) -> ModelVersion:
    """Train ``arch`` on the train split of ``dataset`` (early stopping on val) and save it as ``name``.

    labels: "original" (Item.original_label) or "current" (curated Item.current_label).
    val_fraction: when the dataset has no val items, this stratified, seeded share of the train items
    (per class) is held out for validation instead; training_config records "val_source" ("split" or
    "carved"), "val_fraction" and the carved "val_item_ids"; the dataset's splits are not changed.
    Classes are the dataset's labels in order. Saves models_dir/<name>/model.pt and curves.png;
    the returned ModelVersion carries history (per-epoch loss/accuracy, train_seconds) and the config.
    Raises DuplicateModelError, NotFound (dataset), ArchError, DataError (empty split, one class).
    """
    check_arch(arch)
    item_label(Item(original_label="", current_label=""), labels)  # validates labels early
    with unit_of_work(settings) as session:
        if find_model_version(session, name=name) is not None:
            raise DuplicateModelError(f"a model called {name!r} exists already: choose another --name")
        ds = get_dataset(session, name=dataset)
        classes = dataset_class_names(session, dataset_id=ds.id)
        splits = {split: list_items(session, dataset_id=ds.id, split=split) for split in ("train", "val")}
    carved = not splits["val"] and bool(splits["train"])
    if carved:
        splits["train"], splits["val"] = carve_val_items(splits["train"], fraction=val_fraction, seed=seed,
                                                         labels=labels, dataset=dataset)
        if progress:
            note(f"dataset {dataset!r} has no val split: holding out {len(splits['val'])} of its "
                 f"train items ({val_fraction:g} per class, seed {seed}) for validation")
    check_trainable(splits, classes, dataset=dataset, labels=labels)
    augment = augment or AugmentConfig()
    weights_notes: list[str] = []
    model = make_model(arch, len(classes), weights=weights, freeze=freeze, seed=seed, img_size=img_size,
                       notes=weights_notes)
    if progress:
        for message in weights_notes:
            note(message)
    train_set = ItemImages(settings, splits["train"], classes, img_size=img_size, labels=labels)
    val_set = ItemImages(settings, splits["val"], classes, img_size=img_size, labels=labels)
    mean, std = normalisation_for(normalisation, train_set.images)
    config = FitConfig(epochs=epochs, batch_size=batch_size, lr=lr, patience=patience, seed=seed,
                       augment=augment)
    target = pick_device(device)
    result = fit(model, (train_set.images, train_set.targets), (val_set.images, val_set.targets),
                 config=config, mean=mean, std=std, device=target, progress=progress, desc=name)
    history = {**result.history, "train_seconds": round(result.seconds, 3), "device": str(target),
               "n_train": len(train_set), "n_val": len(val_set), "num_params": count_params(model)}
    training_config = {
        **{k: v for k, v in asdict(config).items() if k != "augment"},
        "augment": augment.as_dict(), "weights": _weights_ref(weights),
        "freeze_backbone": freeze, "img_size": img_size, "labels": labels, "dataset": dataset,
        "normalisation": normalisation, "mean": list(mean), "std": list(std),
        "val_source": "carved" if carved else "split",
    }
    if weights_notes:
        training_config["weights_notes"] = weights_notes
    if carved:
        training_config |= {"val_fraction": val_fraction,
                            "val_item_ids": sorted(item.id for item in splits["val"])}
    version = register_model(
        settings, name=name, dataset_id=ds.id, module=model.cpu(), arch=arch, class_names=classes,
        img_size=img_size, mean=mean, std=std, labels_source=labels, training_config=training_config,
        history=history,
    )
    plot_curves(history, settings.models_dir / name / CURVES_FILENAME, title=f"{name} ({arch})")
    return version
