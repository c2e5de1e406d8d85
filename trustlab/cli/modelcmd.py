"""`trustlab train | evaluate | compare | predict`: thin wrappers over trustlab.models."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from trustlab.cli.app import app, console, fail
from trustlab.cli.options import options_from
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


@dataclass(frozen=True, kw_only=True)
class TrainFlags:
    """The flags of `trustlab train`; their defaults are TrainConfig's and FitConfig's."""

    dataset: Annotated[str, typer.Option(help="Dataset name (see `trustlab datasets`).")]
    arch: Annotated[str, typer.Option(
        help="simple_cnn, resnet18, resnet34, resnet50, vgg16, torchvision:NAME, timm:NAME or "
        "python:package.module:factory (docs/models.md: Bring your own model).")] = "simple_cnn"
    name: Annotated[str, typer.Option(help="Name of the new model version.")]
    weights: Annotated[str, typer.Option(
        help="Local weights file (state dict, timm checkpoint or .safetensors), 'torch-cache' (built-in "
        "archs), or none.")] = "none"
    freeze_backbone: Annotated[bool, typer.Option("--freeze-backbone", help="Train only the new head.")] = (
        TrainConfig.freeze)
    epochs: Annotated[int, typer.Option(min=1)] = FitConfig.epochs
    batch_size: Annotated[int, typer.Option(min=2)] = FitConfig.batch_size
    lr: Annotated[float, typer.Option(help="AdamW learning rate.")] = FitConfig.lr
    img_size: Annotated[int, typer.Option(
        min=16, help="Images are resized to img_size x img_size pixels.")] = TrainConfig.img_size
    labels: Annotated[str, typer.Option(
        help="original (as ingested) or current (curated).")] = TrainConfig.labels
    seed: Annotated[int, typer.Option()] = FitConfig.seed
    patience: Annotated[int, typer.Option(
        min=1, help="Epochs without a lower val loss before stopping.")] = FitConfig.patience
    normalisation: Annotated[str, typer.Option(
        help="imagenet, dataset (train-split stats) or none.")] = TrainConfig.normalisation
    val_fraction: Annotated[float, typer.Option(
        "--val-fraction", help="Without a val split: the stratified, seeded share of each class's train "
        "items held out for validation.")] = TrainConfig.val_fraction
    augment: Annotated[str, typer.Option(
        help="Augmentation, e.g. 'hflip=0,rotation_deg=5,crop_scale=0.9' (keys: hflip, rotation_deg, "
        "crop_scale, brightness, contrast, saturation).")] = ""
    no_augment: Annotated[bool, typer.Option("--no-augment", help="Turn augmentation off.")] = False
    device: Annotated[str, typer.Option(help="auto (CUDA, then CPU), cpu or cuda.")] = "auto"

    def config(self) -> TrainConfig:
        """The TrainConfig these flags ask for (ModelError for a malformed --augment)."""
        augment = AugmentConfig(enabled=False) if self.no_augment else AugmentConfig.parse(self.augment)
        return TrainConfig(
            dataset=self.dataset, arch=self.arch, name=self.name, weights=self.weights,
            freeze=self.freeze_backbone, img_size=self.img_size, labels=self.labels,
            normalisation=self.normalisation, val_fraction=self.val_fraction, device=self.device,
            fit=FitConfig(epochs=self.epochs, batch_size=self.batch_size, lr=self.lr, seed=self.seed,
                          patience=self.patience, augment=augment))


@app.command("train")
@options_from(TrainFlags)
def train(flags: TrainFlags, as_json: bool = JSON_OPTION) -> None:
    """Train a classifier on a dataset's train split (early stopping on val) and save it.

    A dataset without a val split (train/ and test/ folders only) gets one carved from train for this
    model (--val-fraction); the dataset's splits stay as ingested."""
    from trustlab.models.train import train_model

    try:
        config = flags.config()
    except ModelError as exc:
        raise fail(str(exc)) from None
    version = _run(train_model, config=config)
    name, arch, dataset = config.name, config.arch, config.dataset
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
