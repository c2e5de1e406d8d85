"""`trustlab train | evaluate | compare | predict`: thin wrappers over trustlab.models."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import typer

from trustlab.cli.app import app, console, fail
from trustlab.cli.output import JSON_OPTION, WIDE_OPTION, emit, info
from trustlab.cli.tables import print_frame, print_table
from trustlab.config import load_settings
from trustlab.db.queries.errors import NotFound
from trustlab.models.config import AugmentConfig, FitConfig, TrainConfig
from trustlab.models.errors import ModelError

T = TypeVar("T")


def _run(func: Callable[..., T], **kwargs: Any) -> T:
    """Call a library function; known errors become a red message and exit code 1."""
    try:
        return func(load_settings(), **kwargs)
    except (ModelError, NotFound) as exc:
        raise fail(str(exc)) from None


@app.command("train")
def train(
    dataset: str = typer.Option(..., help="Dataset name (see `trustlab datasets`)."),
    arch: str = typer.Option(
        "simple_cnn",
        help="simple_cnn, resnet18, resnet34, resnet50, vgg16, torchvision:NAME, timm:NAME or "
        "python:package.module:factory (README: Bring your own model).",
    ),
    name: str = typer.Option(..., help="Name of the new model version."),
    weights: str = typer.Option(
        "none",
        help="Local weights file (state dict, timm checkpoint or .safetensors), 'torch-cache' (built-in "
        "archs), or none.",
    ),
    freeze_backbone: bool = typer.Option(False, "--freeze-backbone", help="Train only the new head."),
    epochs: int = typer.Option(FitConfig.epochs, min=1),
    batch_size: int = typer.Option(FitConfig.batch_size, min=2),
    lr: float = typer.Option(FitConfig.lr, help="AdamW learning rate."),
    img_size: int = typer.Option(TrainConfig.img_size, min=16,
                                 help="Images are resized to img_size x img_size pixels."),
    labels: str = typer.Option(TrainConfig.labels, help="original (as ingested) or current (curated)."),
    seed: int = typer.Option(FitConfig.seed),
    patience: int = typer.Option(FitConfig.patience, min=1,
                                 help="Epochs without a lower val loss before stopping."),
    normalisation: str = typer.Option(TrainConfig.normalisation,
                                      help="imagenet, dataset (train-split stats) or none."),
    val_fraction: float = typer.Option(TrainConfig.val_fraction, "--val-fraction",
                                       help="Without a val split: the stratified, seeded share of each "
                                       "class's train items held out for validation."),
    augment: str = typer.Option("", help="Augmentation, e.g. 'hflip=0,rotation_deg=5,crop_scale=0.9' (keys: "
                                "hflip, rotation_deg, crop_scale, brightness, contrast, saturation)."),
    no_augment: bool = typer.Option(False, "--no-augment", help="Turn augmentation off."),
    device: str = typer.Option("auto", help="auto (CUDA, then CPU), cpu or cuda."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Train a classifier on a dataset's train split (early stopping on val) and save it.

    A dataset without a val split (train/ and test/ folders only) gets one carved from train for this
    model (--val-fraction); the dataset's splits stay as ingested."""
    from trustlab.models.train import train_model

    try:
        augment_config = AugmentConfig(enabled=False) if no_augment else AugmentConfig.parse(augment)
    except ModelError as exc:
        raise fail(str(exc)) from None
    config = TrainConfig(
        dataset=dataset, arch=arch, name=name, weights=weights, freeze=freeze_backbone, img_size=img_size,
        labels=labels, normalisation=normalisation, val_fraction=val_fraction, device=device,
        fit=FitConfig(epochs=epochs, batch_size=batch_size, lr=lr, seed=seed, patience=patience,
                      augment=augment_config))
    version = _run(train_model, config=config)
    h = version.history
    best = h["best_epoch"] - 1
    result = {"model": name, "arch": arch, "dataset": dataset, "device": h["device"],
              "train_seconds": h["train_seconds"], "best_epoch": h["best_epoch"],
              "val_acc": h["val_acc"][best], "val_loss": h["val_loss"][best]}
    emit(result, as_json=as_json, text=(
        f"trained [bold]{name}[/] ({arch}) in {h['train_seconds']:.1f} s on {h['device']}: "
        f"best epoch {h['best_epoch']}, val accuracy {h['val_acc'][best]:.3f}, "
        f"val loss {h['val_loss'][best]:.3f}"))


@app.command("evaluate")
def evaluate(
    model: str = typer.Option(..., help="Model name."),
    split: str = typer.Option("test", help="train, val or test."),
    labels: str = typer.Option("current", help="Score against current (curated) or original labels."),
    batch_size: int = typer.Option(64, min=1),
    device: str = typer.Option("auto"),
    as_json: bool = JSON_OPTION,
    wide: bool = WIDE_OPTION,
) -> None:
    """Accuracy, per-class precision/recall/F1, confusion matrix and misclassified items."""
    from trustlab.models.evaluate import evaluate_model

    result = _run(evaluate_model, model=model, split=split, labels=labels, batch_size=batch_size,
                  device=device)
    m = result.metrics

    def text() -> None:
        print_frame(result.per_class, f"{model} on {split}: accuracy {m['accuracy']:.3f}, "
                                      f"macro F1 {m['macro_f1']:.3f} (n={m['n']})", wide=wide)
        console.print(f"{m['n_misclassified']} misclassified; files in {result.out_dir}", markup=False)

    emit({"model": model, "split": split, "labels": labels, "metrics": m, "per_class": result.per_class,
          "out_dir": result.out_dir}, as_json=as_json, text=text)


@app.command("compare")
def compare(
    models: list[str] = typer.Argument(..., help="Model names (two: also list changed predictions)."),
    split: str = typer.Option("test"),
    labels: str = typer.Option("current", help="Score against current (curated) or original labels."),
    out: Path = typer.Option(None, help="CSV file for the table."),
    device: str = typer.Option("auto"),
    as_json: bool = JSON_OPTION,
    wide: bool = WIDE_OPTION,
) -> None:
    """Compare models side by side on the same split."""
    from trustlab.models.compare import compare_models

    result = _run(compare_models, models=models, split=split, labels=labels, out=out, device=device)
    counts = None if result.changed is None else result.changed["change"].value_counts().to_dict()

    def text() -> None:
        print_frame(result.table, f"models on {split} ({labels} labels)", wide=wide)
        console.print(f"table: {result.csv_path}", markup=False)
        if result.changed is not None:
            console.print(f"{len(result.changed)} items changed prediction ({counts}); "
                          f"list: {result.changed_path}", markup=False)

    emit({"split": split, "labels": labels, "models": result.table, "csv": result.csv_path,
          "changed": result.changed, "changed_counts": counts, "changed_csv": result.changed_path},
         as_json=as_json, text=text)


@app.command("predict")
def predict(
    model: str = typer.Option(..., help="Model name."),
    split: str = typer.Option("test", help="train, val, test or all."),
    cross_val: int = typer.Option(0, "--cross-val", help="K folds (e.g. 5): out-of-sample train/val "
                                  "probabilities, the input of `trustlab relabel`."),
    cv_epochs: int = typer.Option(None, help="Epochs per fold (default: the model's best epoch)."),
    batch_size: int = typer.Option(64, min=1),
    device: str = typer.Option("auto"),
    as_json: bool = JSON_OPTION,
) -> None:
    """Store predictions (resumable); --cross-val K adds K-fold out-of-sample probabilities."""
    from trustlab.models.crossval import crossval_predict
    from trustlab.models.predict import predict_model

    if cross_val:
        summary = _run(crossval_predict, model=model, k=cross_val, epochs=cv_epochs, device=device)
    else:
        summary = _run(predict_model, model=model, split=split, batch_size=batch_size, device=device)
    emit(summary, as_json=as_json, text=f"{summary.kind} predictions of {model}: {summary.added} added, "
                                         f"{summary.skipped} already there")


@app.command("models")
def models_list(as_json: bool = JSON_OPTION, wide: bool = WIDE_OPTION) -> None:
    """List the trained model versions with their stored test accuracy."""
    from trustlab.models.catalog import list_models

    models = list_models(load_settings())

    def text() -> None:
        if not models:
            info("no model versions yet: train one with `trustlab train`")
        print_table("model versions",
                    ("name", "arch", "dataset", "labels", "classes", "img", "best val acc", "test acc"),
                    [(m.name, m.arch, m.dataset, m.labels_source, m.n_classes, m.img_size, m.best_val_acc,
                      m.test_acc) for m in models], wide=wide, extra=("labels", "img"))

    emit(models, as_json=as_json, text=text)
