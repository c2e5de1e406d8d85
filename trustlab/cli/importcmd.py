"""`trustlab predictions import` and `trustlab explanations import`: predictions and heatmaps made
elsewhere (trustlab.models.external, trustlab.explain.imported)."""

from __future__ import annotations

from pathlib import Path

import typer

from trustlab.cli.app import app, fail
from trustlab.cli.output import emit, info
from trustlab.config import load_settings
from trustlab.db.queries.errors import NotFound
from trustlab.models.errors import ModelError

predictions_app = typer.Typer(help="Predictions made elsewhere.", no_args_is_help=True)
explanations_app = typer.Typer(help="Explanations (heatmaps) made elsewhere.", no_args_is_help=True)
app.add_typer(predictions_app, name="predictions")
app.add_typer(explanations_app, name="explanations")

JSON_HELP = "Print the result as one JSON object."


def _report(result, *, as_json: bool, summary: str) -> None:
    """The result on stdout (one JSON object with --json), each note on stderr (hidden by --quiet)."""
    emit(result, as_json=as_json, text=summary)
    for note in result.notes:
        info(f"note: {note}")


@predictions_app.command("import")
def predictions_import(
    file: Path = typer.Argument(..., help="CSV: an item column (id or ingested path), then one probability "
                                "column per class or a `label` column."),
    model: str = typer.Option(..., "--model", help="Model name (created as an external model if new)."),
    dataset: str = typer.Option(..., "--dataset", help="Dataset the items belong to."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Import a model's predictions from a CSV (all rows or none; errors name the lines)."""
    from trustlab.models.external import import_predictions

    try:
        result = import_predictions(load_settings(), file, model=model, dataset=dataset)
    except (ModelError, NotFound) as exc:
        raise fail(str(exc)) from None
    made = "created external model" if result.created else "model"
    _report(result, as_json=as_json, summary=f"{made} {result.model!r}: imported {result.imported} "
            f"predictions ({result.unchanged} stored already)")


@explanations_app.command("import")
def explanations_import(
    folder: Path = typer.Argument(..., help="Folder of heatmaps: one .npy [H, W] or grayscale PNG per item, "
                                  "named by item id or ingested path; optional method.json."),
    model: str = typer.Option(..., "--model", help="The model whose predictions the heatmaps explain."),
    method: str = typer.Option(..., "--method", help="Name of the imported method (a study condition)."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Import heatmaps computed elsewhere as an explanation method (all files or none; errors name
    the files); scored for faithfulness when trustlab can run the model."""
    from trustlab.explain.imported import import_explanations

    try:
        result = import_explanations(load_settings(), folder, model=model, method=method)
    except (ModelError, NotFound) as exc:
        raise fail(str(exc)) from None
    scored = "with faithfulness scores" if result.faithfulness else "without faithfulness scores"
    _report(result, as_json=as_json, summary=f"method {result.method!r} ({result.title}): imported "
            f"{result.imported} heatmaps of model {result.model!r} {scored} "
            f"({result.unchanged} stored already)")
