"""`trustlab ingest` and `trustlab demo-data`: thin wrappers over trustlab.data."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer

from trustlab.cli.app import app, console, fail
from trustlab.cli.options import options_from
from trustlab.cli.output import JSON_OPTION, WIDE_OPTION, emit, info
from trustlab.cli.tables import print_table
from trustlab.config import load_settings
from trustlab.data.demo import DemoError, generate_demo
from trustlab.data.ingest import IngestError, IngestReport, ingest
from trustlab.data.splits import DEFAULT_SPLIT_TEXT

# Bad files listed on the terminal; the --report JSON always lists all of them.
MAX_LISTED = 30


def _print_summary(report: IngestReport) -> None:
    rows = [("[green]ingested[/]", report.ingested)]
    if report.with_mask:
        rows.append(("  with a mask", report.with_mask))
    rows.append(("duplicates (already there)", len(report.duplicates)))
    if report.label_conflicts:
        rows.append(("  [yellow]with a different label[/]", report.label_conflicts))
    rows += [(f"[red]skipped: {reason}[/]", count) for reason, count in report.skipped_by_reason.items()]
    print_table(f"ingest into {report.dataset!r} ({report.seconds:.1f} s)", ("outcome", "files"), rows)


def _print_skipped(report: IngestReport, wide: bool) -> None:
    rows = [(s.path, s.reason, s.detail) for s in report.skipped[:MAX_LISTED]]
    if len(report.skipped) > MAX_LISTED:
        rows.append((f"... and {len(report.skipped) - MAX_LISTED} more", "", "see --report FILE.json"))
    print_table("skipped files", ("path", "reason", "detail"), rows, wide=wide)


def _print_counts(title: str, classes: list[str], counts: dict[str, dict[str, int]], wide: bool) -> None:
    print_table(title, ("split", *classes),
                [(split, *(by_class.get(label, 0) for label in classes)) for split, by_class in counts],
                wide=wide)


@dataclass(frozen=True, kw_only=True)
class IngestFlags:
    """The argument and flags of `trustlab ingest`."""

    path: Annotated[Path, typer.Argument(help="ImageFolder tree (PATH/<class>/*, optionally under "
                                         "train/ val/ test/) or a CSV manifest.")]
    dataset: Annotated[str, typer.Option("--dataset", help="Dataset name (created when new).")]
    manifest: Annotated[Path | None, typer.Option(
        "--manifest", help="CSV with path,label[,split][,mask]; paths relative to the CSV.")] = None
    split: Annotated[str, typer.Option("--split", help="Fractions for items without a split.")] = (
        DEFAULT_SPLIT_TEXT)
    seed: Annotated[int, typer.Option("--seed", help="Seed of the stratified split assignment.")] = 0
    val_fraction: Annotated[float | None, typer.Option(
        "--val-fraction", help="When the source has no val split (train/ and test/ only): move this "
        "stratified share of each class's train items to val.")] = None
    report_path: Annotated[Path | None, typer.Option(
        "--report", help="Also write the report as JSON.")] = None


@app.command("ingest")
@options_from(IngestFlags)
def ingest_command(flags: IngestFlags, as_json: bool = JSON_OPTION, wide: bool = WIDE_OPTION) -> None:
    """Ingest images: decode, normalise to RGB PNG, dedupe by sha256, report bad files.

    Exits 0 when at least one image was ingested or all of them were already there (a re-run)."""
    try:
        report = ingest(load_settings(), flags.path, dataset=flags.dataset, manifest=flags.manifest,
                        split=flags.split, seed=flags.seed, val_fraction=flags.val_fraction, progress=True)
    except IngestError as exc:
        raise fail(str(exc)) from exc
    report_path = flags.report_path

    def text() -> None:
        _print_summary(report)
        if report.new_by_split:
            _print_counts("new items by split and class", report.classes,
                          sorted(report.new_by_split.items()), wide)
        if report.skipped:
            _print_skipped(report, wide)

    emit(report.to_dict(), as_json=as_json, text=text)
    for note in report.notes:
        info(f"[yellow]note:[/] {note}", markup=True)
    if report_path is not None:
        report_path.parent.mkdir(parents=True, exist_ok=True)
        report_path.write_text(json.dumps(report.to_dict(), indent=2) + "\n")
        info(f"report written to {report_path}")
    if not report.ok:
        raise fail(report.failure_message())


@app.command("demo-data")
def demo_data_command(
    out: Path = typer.Argument(..., help="Output folder (empty, or a previous demo-data output)."),
    n: int = typer.Option(1200, "--n", help="Number of images."),
    seed: int = typer.Option(0, "--seed", help="Same seed, same bytes."),
    bias: str | None = typer.Option(None, "--bias", help="'watermark': a logo correlated with one "
                                    "class in train only."),
    noise: float = typer.Option(0.0, "--noise", help="Fraction of given labels flipped to another class."),
    binary: bool = typer.Option(False, "--binary", help="Two classes: contact and none."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Generate the synthetic vehicle-advert dataset (ImageFolder tree, masks, truth.csv, manifest.csv)."""
    try:
        summary = generate_demo(out, n=n, seed=seed, bias=bias, noise=noise, binary=binary, progress=True)
    except DemoError as exc:
        raise fail(str(exc)) from exc

    def text() -> None:
        _print_counts(f"demo dataset in {out}", summary.classes, list(summary.counts.items()), False)
        watermark = f"{summary.biased_class or 'none'} {summary.watermark_box or ''}"
        console.print(f"ambiguous: {summary.ambiguous}  noisy: {summary.noisy}  watermark: {watermark}",
                      markup=False)
        info(f"ingest with: trustlab ingest {out} --manifest {out / 'manifest.csv'} --dataset demo")

    emit(summary, as_json=as_json, text=text)


@app.command("datasets")
def datasets_list(as_json: bool = JSON_OPTION, wide: bool = WIDE_OPTION) -> None:
    """List the ingested datasets: classes and items per split."""
    from trustlab.data.catalog import list_datasets

    datasets = list_datasets(load_settings())

    def text() -> None:
        if not datasets:
            info("no datasets yet: ingest one with `trustlab ingest` (or `trustlab demo-data`)")
        splits = sorted({s for d in datasets for s in d.splits})
        print_table("datasets", ("name", "items", *splits, "classes"),
                    [(d.name, d.items, *(sum(d.splits.get(s, {}).values()) for s in splits),
                      ", ".join(d.classes)) for d in datasets], wide=wide)

    emit(datasets, as_json=as_json, text=text)
