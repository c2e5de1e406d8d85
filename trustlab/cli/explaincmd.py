"""`trustlab explain | explain-bias | sanity-check`: thin wrappers over trustlab.explain."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, TypeVar

import numpy as np
import typer
from PIL import Image

from trustlab.cli.app import app, fail
from trustlab.cli.options import options_from
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
    "--target-layer",
    help="CAM methods: the layer to explain, a dotted module name (e.g. blocks.11.norm1); "
    "default: found for the model.",
)
METHODS_HELP = f"Comma-separated methods: {', '.join(METHOD_NAMES)}."
# Mean faithfulness scores per method in the summary table (NaN where a method has none).
FAITHFULNESS_COLUMNS = ("deletion_auc", "insertion_auc", "pointing_game")
# Images per explainer call (the library's default, without importing torch for --help).
DEFAULT_BATCH_SIZE = 16


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


@dataclass(frozen=True, kw_only=True)
class ExplainFlags:
    """The flags of `trustlab explain`."""

    model: Annotated[str, typer.Option(help="Model version name (see `trustlab models`).")]
    methods: Annotated[str, typer.Option(help=METHODS_HELP)] = "gradcam,lime,twin"
    split: Annotated[str, typer.Option(help="Split to explain (train, val, test) or 'all'.")] = "test"
    batch_size: Annotated[int, typer.Option(min=1, help="Images per explainer call.")] = DEFAULT_BATCH_SIZE
    shard: Annotated[str, typer.Option(
        help="I/N: explain only items with id % N == I (workers 0/N … N-1/N).")] = ""
    params: Annotated[str, typer.Option(
        help='Per-method parameters as JSON, e.g. \'{"lime": {"num_samples": 500}}\'.')] = ""
    device: Annotated[str, typer.Option(help="cpu, cuda, cuda:1 … or auto (CUDA when present).")] = "auto"
    no_faithfulness: Annotated[bool, typer.Option(
        "--no-faithfulness", help="Skip deletion/insertion/ROAD scores.")] = False
    target_layer: Annotated[str, TARGET_LAYER_OPTION] = ""


def _method_summary(rows: list) -> Any:
    """Per method: how many explanations, mean ms per image and mean faithfulness scores."""
    import pandas as pd

    frame = pd.DataFrame([
        {"method": r.method, "ms_per_image": r.compute_ms,
         **{score: r.faithfulness.get(score, np.nan) for score in FAITHFULNESS_COLUMNS}}
        for r in rows
    ])
    means = {column: (column, "mean") for column in ("ms_per_image", *FAITHFULNESS_COLUMNS)}
    return frame.groupby("method", sort=False).agg(explanations=("method", "size"), **means).reset_index()


@app.command("explain")
@options_from(ExplainFlags)
def explain(flags: ExplainFlags, as_json: bool = JSON_OPTION, wide: bool = WIDE_OPTION) -> None:
    """Precompute explanations (resumable: stored ones are skipped; predictions are made if missing)."""
    from trustlab.explain.precompute import ExplainOptions, explain_split, parse_shard

    try:
        parsed_shard = parse_shard(flags.shard)
    except ExplainError as exc:
        raise fail(str(exc)) from None
    rows = _run(
        explain_split,
        model=flags.model,
        methods=_methods(flags.methods),
        split=None if flags.split == "all" else flags.split,
        shard=parsed_shard,
        options=ExplainOptions(params=_params(flags.params), target_layer=flags.target_layer or None,
                               device=None if flags.device == "auto" else flags.device,
                               batch_size=flags.batch_size, faithfulness=not flags.no_faithfulness),
        progress=True,
    )
    summary = _method_summary(rows)
    title = f"explanations of {flags.model} ({flags.split}{', shard ' + flags.shard if flags.shard else ''})"
    emit({"model": flags.model, "split": flags.split, "shard": flags.shard or None, "methods": summary},
         as_json=as_json, text=lambda: print_frame(summary, title, wide=wide))


@dataclass(frozen=True, kw_only=True)
class BiasFlags:
    """The flags of `trustlab explain-bias`."""

    model: Annotated[str, typer.Option(help="Model version name.")]
    methods: Annotated[str, typer.Option(help="Methods whose stored maps are examined.")] = "gradcam"
    region: Annotated[str, typer.Option(
        help="x0,y0,x1,y1 in original-image pixels (x1, y1 exclusive).")] = ""
    bias: Annotated[str, typer.Option(
        help="'watermark': take the region from the demo's demo.json (--demo).")] = ""
    demo: Annotated[Path, typer.Option(
        help="Demo output folder or its demo.json (with --bias watermark).")] = None
    split: Annotated[str, typer.Option(help="Split whose explanations are examined, or 'all'.")] = "test"
    factor: Annotated[float, typer.Option(
        help="Flag classes whose share inside exceeds FACTOR x the area share.")] = 2.0
    out: Annotated[Path, typer.Option(help="Folder for bias.csv and per-class mean-map PNGs.")] = None


@app.command("explain-bias")
@options_from(BiasFlags)
def explain_bias(flags: BiasFlags, as_json: bool = JSON_OPTION, wide: bool = WIDE_OPTION) -> None:
    """Share of saliency inside an image region per method and predicted class; flags leaning classes."""
    from trustlab.explain.bias import bias_report, mean_maps, parse_region, watermark_region
    from trustlab.explain.render import heatmap_overlay

    model, factor, out = flags.model, flags.factor, flags.out
    try:
        if flags.region:
            box = parse_region(flags.region)
        elif flags.bias == "watermark" and flags.demo is not None:
            box = watermark_region(flags.demo)
        else:
            raise fail("give --region x0,y0,x1,y1, or --bias watermark with --demo DEMO_DIR")
    except ExplainError as exc:
        raise fail(str(exc)) from None
    names = _methods(flags.methods)
    chosen_split = None if flags.split == "all" else flags.split
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


@dataclass(frozen=True, kw_only=True)
class SanityFlags:
    """The flags of `trustlab sanity-check`."""

    model: Annotated[str, typer.Option(help="Model version name.")]
    methods: Annotated[str, typer.Option(help="Saliency methods to test.")] = "gradcam"
    split: Annotated[str, typer.Option(help="Split the test images come from.")] = "test"
    n_items: Annotated[int, typer.Option(min=1, help="How many images (the split's first by id).")] = 16
    mode: Annotated[str, typer.Option(
        help="cascading (output layer first, one more per step) or full.")] = "cascading"
    seed: Annotated[int, typer.Option(help="Seed of the random weights.")] = 0
    params: Annotated[str, typer.Option(help="Per-method parameters as JSON.")] = ""
    device: Annotated[str, typer.Option(help="cpu, cuda or auto.")] = "auto"
    target_layer: Annotated[str, TARGET_LAYER_OPTION] = ""


@app.command("sanity-check")
@options_from(SanityFlags)
def sanity_check_cmd(flags: SanityFlags, as_json: bool = JSON_OPTION, wide: bool = WIDE_OPTION) -> None:
    """Model-parameter randomisation test (Adebayo et al. 2018): rank correlation of maps before/after."""
    from trustlab.explain.precompute import ExplainOptions
    from trustlab.explain.sanity import sanity_check

    model, mode = flags.model, flags.mode
    frame = _run(
        sanity_check,
        model=model,
        methods=_methods(flags.methods),
        split=flags.split,
        n_items=flags.n_items,
        mode=mode,
        seed=flags.seed,
        options=ExplainOptions(params=_params(flags.params), target_layer=flags.target_layer or None,
                               device=None if flags.device == "auto" else flags.device),
    )
    title = f"parameter randomisation ({mode}): Spearman of trained vs randomised maps; low = sensitive"
    emit({"model": model, "mode": mode, "rows": frame}, as_json=as_json,
         text=lambda: print_frame(frame, title, wide=wide))
