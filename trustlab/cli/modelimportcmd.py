"""`trustlab model import`: register a TorchScript or torch.export file as a model version."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from trustlab.cli.app import app, console, fail
from trustlab.config import load_settings
from trustlab.db.queries.errors import NotFound
from trustlab.models.errors import ModelError

# The `model` command group; later model verbs attach here too.
model_app = typer.Typer(help="Model versions made elsewhere: import.", no_args_is_help=True)
app.add_typer(model_app, name="model")


def _numbers(text: str | None, option: str) -> list[float] | None:
    if text is None:
        return None
    try:
        return [float(part) for part in text.split(",")]
    except ValueError:
        raise fail(f"--{option} {text!r} must be three comma-separated numbers, e.g. 0.485,0.456,0.406",
                   2) from None


@model_app.command("import")
def import_cmd(
    name: str = typer.Option(..., help="Name of the new model version."),
    dataset: str = typer.Option(..., help="Dataset whose images the model classifies."),
    file: Path = typer.Option(..., help="A torch.export (.pt2) or TorchScript (.ts/.pt) file; the kind is "
                              "read from the content."),
    classes: str = typer.Option(None, help="The model's output classes in order, comma-separated "
                                "(default: the dataset's; must equal them)."),
    img_size: int = typer.Option(None, help="Square input size in pixels (default: a torch.export file's "
                                 "example input; needed for TorchScript)."),
    mean: str = typer.Option(None, help="Per-channel mean of [0, 1] pixels, e.g. 0.485,0.456,0.406 "
                             "(default ImageNet's)."),
    std: str = typer.Option(None, help="Per-channel std, e.g. 0.229,0.224,0.225 (default ImageNet's)."),
    as_json: bool = typer.Option(False, "--json", help="Print the new model version as one JSON object."),
) -> None:
    """Register a model trained elsewhere; `evaluate`, `predict`, `explain` and studies then use it.

    The file is copied under the models folder with its sha256 (checked at every load), after one
    forward pass on an image of the dataset shows that it outputs one logit per class."""
    from trustlab.models.model_import import import_model

    try:
        version = import_model(
            load_settings(), name=name, dataset=dataset, file=file,
            classes=classes.split(",") if classes is not None else None, img_size=img_size,
            mean=_numbers(mean, "mean"), std=_numbers(std, "std"),
        )
    except (ModelError, NotFound) as exc:
        raise fail(str(exc)) from None
    summary = {"name": version.name, "dataset": dataset, "arch": version.arch,
               "classes": list(version.class_names), "img_size": version.img_size,
               "checkpoint_path": version.checkpoint_path, "sha256": version.checkpoint_sha256,
               "model_version_id": version.id}
    if as_json:
        typer.echo(json.dumps(summary))
    else:
        console.print(f"imported [bold]{name}[/] ({version.arch}, {len(version.class_names)} classes, "
                      f"{version.img_size} px) for dataset {dataset}: "
                      f"sha256 {version.checkpoint_sha256[:12]}…")
