"""`trustlab explain | explain-bias | sanity-check`: thin wrappers over trustlab.explain."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import typer
from PIL import Image

from trustlab.cli.app import app, fail
from trustlab.cli.output import JSON_OPTION, WIDE_OPTION, emit, info
from trustlab.cli.tables import print_frame
from trustlab.config import load_settings
from trustlab.csv_safety import write_csv
from trustlab.db.queries.errors import NotFound
from trustlab.explain.base import ExplainError
from trustlab.explanation_methods import METHOD_NAMES
from trustlab.models.errors import ModelError

T = TypeVar("T")
TARGET_LAYER_OPTION = typer.Option(
    "", "--target-layer",
    help="CAM methods: the layer to explain, a dotted module name (e.g. blocks.11.norm1); "
    "default: found for the model.",
)
METHODS_HELP = f"Comma-separated methods: {', '.join(METHOD_NAMES)}."


def _run(func: Callable[..., T], **kwargs: Any) -> T:
    try:
        return func(load_settings(), **kwargs)
    except (ExplainError, ModelError, NotFound) as exc:
        raise fail(str(exc)) from None


def _methods(text: str) -> list[str]:
    methods = [m.strip() for m in text.split(",") if m.strip()]
    if not methods:
        raise fail("--methods is empty: name at least one method, e.g. --methods gradcam,lime,twin")
    return methods


def _params(text: str | None) -> dict[str, dict[str, Any]] | None:
    if not text:
        return None
    try:
        params = json.loads(text)
    except json.JSONDecodeError as exc:
        raise fail(
            f'--params is not valid JSON ({exc}); example: \'{{"lime": {{"num_samples": 500}}}}\''
        ) from None
    if not isinstance(params, dict) or not all(isinstance(v, dict) for v in params.values()):
        raise fail(
            '--params must map method names to objects, e.g. \'{"lime": {"num_samples": 500}}\''
        )
    return params


@app.command("explain")
def explain(
    model: str = typer.Option(..., help="Model version name (see `trustlab models`)."),
    methods: str = typer.Option("gradcam,lime,twin", help=METHODS_HELP),
    split: str = typer.Option("test", help="Split to explain (train, val, test) or 'all'."),
    batch_size: int = typer.Option(16, min=1, help="Images per explainer call."),
    shard: str = typer.Option("", help="I/N: explain only items with id % N == I (workers 0/N … N-1/N)."),
    params: str = typer.Option(
        "", help='Per-method parameters as JSON, e.g. \'{"lime": {"num_samples": 500}}\'.'
    ),
    device: str = typer.Option("auto", help="cpu, cuda, cuda:1 … or auto (CUDA when present)."),
    no_faithfulness: bool = typer.Option(
        False, "--no-faithfulness", help="Skip deletion/insertion/ROAD scores."
    ),
    target_layer: str = TARGET_LAYER_OPTION,
    as_json: bool = JSON_OPTION,
    wide: bool = WIDE_OPTION,
) -> None:
    """Precompute explanations (resumable: stored ones are skipped; predictions are made if missing)."""
    from trustlab.explain.precompute import explain_split, parse_shard

    try:
        parsed_shard = parse_shard(shard)
    except ExplainError as exc:
        raise fail(str(exc)) from None
    rows = _run(
        explain_split,
        model=model,
        methods=_methods(methods),
        split=None if split == "all" else split,
        shard=parsed_shard,
        params=_params(params),
        batch_size=batch_size,
        device=None if device == "auto" else device,
        faithfulness=not no_faithfulness,
        target_layer=target_layer or None,
        progress=True,
    )
    import pandas as pd

    frame = pd.DataFrame(
        [
            {
                "method": r.method,
                "ms_per_image": r.compute_ms,
                "deletion_auc": r.faithfulness.get("deletion_auc", np.nan),
                "insertion_auc": r.faithfulness.get("insertion_auc", np.nan),
                "pointing_game": r.faithfulness.get("pointing_game", np.nan),
            }
            for r in rows
        ]
    )
    summary = (
        frame.groupby("method", sort=False)
        .agg(
            explanations=("method", "size"),
            ms_per_image=("ms_per_image", "mean"),
            deletion_auc=("deletion_auc", "mean"),
            insertion_auc=("insertion_auc", "mean"),
            pointing_game=("pointing_game", "mean"),
        )
        .reset_index()
    )
    title = f"explanations of {model} ({split}{', shard ' + shard if shard else ''})"
    emit({"model": model, "split": split, "shard": shard or None, "methods": summary}, as_json=as_json,
         text=lambda: print_frame(summary, title, wide=wide))


@app.command("explain-bias")
def explain_bias(
    model: str = typer.Option(..., help="Model version name."),
    methods: str = typer.Option("gradcam", help="Methods whose stored maps are examined."),
    region: str = typer.Option("", help="x0,y0,x1,y1 in original-image pixels (x1, y1 exclusive)."),
    bias: str = typer.Option("", help="'watermark': take the region from the demo's demo.json (--demo)."),
    demo: Path = typer.Option(None, help="Demo output folder or its demo.json (with --bias watermark)."),
    split: str = typer.Option("test", help="Split whose explanations are examined, or 'all'."),
    factor: float = typer.Option(
        2.0, help="Flag classes whose share inside exceeds FACTOR x the area share."
    ),
    out: Path = typer.Option(None, help="Folder for bias.csv and per-class mean-map PNGs."),
    as_json: bool = JSON_OPTION,
    wide: bool = WIDE_OPTION,
) -> None:
    """Share of saliency inside an image region per method and predicted class; flags leaning classes."""
    from trustlab.explain.bias import bias_report, mean_maps, parse_region, watermark_region
    from trustlab.explain.render import heatmap_overlay

    try:
        if region:
            box = parse_region(region)
        elif bias == "watermark" and demo is not None:
            box = watermark_region(demo)
        else:
            raise fail("give --region x0,y0,x1,y1, or --bias watermark with --demo DEMO_DIR")
    except ExplainError as exc:
        raise fail(str(exc)) from None
    names = _methods(methods)
    chosen_split = None if split == "all" else split
    report = _run(bias_report, model=model, region=box, methods=names, split=chosen_split, factor=factor)
    flagged = report[report["flagged"]]

    def text() -> None:
        print_frame(report, f"saliency inside {tuple(int(v) for v in box)} (flag: > {factor:g} x area share)",
                    wide=wide)
        for row in flagged.itertuples():
            info(f"[bold yellow]{row.method}: class {row.predicted_class!r} puts {row.mean_share:.0%} "
                 f"of its saliency in {row.area_share:.0%} of the image[/]", markup=True)

    emit({"model": model, "region": [int(v) for v in box], "factor": factor, "rows": report,
          "out": out}, as_json=as_json, text=text)
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        write_csv(report, out / "bias.csv", index=False)
        for method in names:
            for label, mean in _run(mean_maps, model=model, method=method, split=chosen_split).items():
                grey = np.full((*mean.shape, 3), 128, dtype=np.uint8)
                image: Image.Image = heatmap_overlay(grey, mean, title=f"mean {method}: {label}")
                image.save(out / f"mean_{method}_{label}.png".replace("/", "_"))
        info(f"wrote {out / 'bias.csv'} and mean maps")


@app.command("sanity-check")
def sanity_check_cmd(
    model: str = typer.Option(..., help="Model version name."),
    methods: str = typer.Option("gradcam", help="Saliency methods to test."),
    split: str = typer.Option("test", help="Split the test images come from."),
    n_items: int = typer.Option(16, min=1, help="How many images (the split's first by id)."),
    mode: str = typer.Option("cascading", help="cascading (output layer first, one more per step) or full."),
    seed: int = typer.Option(0, help="Seed of the random weights."),
    params: str = typer.Option("", help="Per-method parameters as JSON."),
    device: str = typer.Option("auto", help="cpu, cuda or auto."),
    target_layer: str = TARGET_LAYER_OPTION,
    as_json: bool = JSON_OPTION,
    wide: bool = WIDE_OPTION,
) -> None:
    """Model-parameter randomisation test (Adebayo et al. 2018): rank correlation of maps before/after."""
    from trustlab.explain.sanity import sanity_check

    frame = _run(
        sanity_check,
        model=model,
        methods=_methods(methods),
        split=split,
        n_items=n_items,
        mode=mode,
        seed=seed,
        params=_params(params),
        device=None if device == "auto" else device,
        target_layer=target_layer or None,
    )
    title = f"parameter randomisation ({mode}): Spearman of trained vs randomised maps; low = sensitive"
    emit({"model": model, "mode": mode, "rows": frame}, as_json=as_json,
         text=lambda: print_frame(frame, title, wide=wide))
