"""`trustlab ingest` and `trustlab demo-data`: thin wrappers over trustlab.data."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.table import Table

from trustlab.cli.app import app, console, fail
from trustlab.config import load_settings
from trustlab.data.demo import DemoError, generate_demo
from trustlab.data.ingest import IngestError, IngestReport, ingest
from trustlab.data.splits import DEFAULT_SPLIT_TEXT

# Bad files listed on the terminal; the --report JSON always lists all of them.
MAX_LISTED = 30


def _summary_table(report: IngestReport) -> Table:
    table = Table(title=f"ingest into {report.dataset!r} ({report.seconds:.1f} s)")
    table.add_column("outcome")
    table.add_column("files", justify="right")
    table.add_row("[green]ingested[/]", str(report.ingested))
    if report.with_mask:
        table.add_row("  with a mask", str(report.with_mask))
    table.add_row("duplicates (already there)", str(len(report.duplicates)))
    if report.label_conflicts:
        table.add_row("  [yellow]with a different label[/]", str(report.label_conflicts))
    for reason, count in report.skipped_by_reason.items():
        table.add_row(f"[red]skipped: {reason}[/]", str(count))
    return table


def _skipped_table(report: IngestReport) -> Table:
    table = Table(title="skipped files")
    table.add_column("path")
    table.add_column("reason")
    table.add_column("detail", overflow="fold")
    for skipped in report.skipped[:MAX_LISTED]:
        table.add_row(skipped.path, skipped.reason, skipped.detail)
    if len(report.skipped) > MAX_LISTED:
        table.add_row(f"... and {len(report.skipped) - MAX_LISTED} more", "", "see --report FILE.json")
    return table


def _split_table(report: IngestReport) -> Table:
    table = Table(title="new items by split and class")
    table.add_column("split")
    for label in report.classes:
        table.add_column(label, justify="right")
    for split, counts in sorted(report.new_by_split.items()):
        table.add_row(split, *(str(counts.get(label, 0)) for label in report.classes))
    return table


@app.command("ingest")
def ingest_command(
    path: Path = typer.Argument(..., help="ImageFolder tree (PATH/<class>/*, optionally under "
                                "train/ val/ test/) or a CSV manifest."),
    dataset: str = typer.Option(..., "--dataset", help="Dataset name (created when new)."),
    manifest: Path | None = typer.Option(None, "--manifest", help="CSV with path,label[,split][,mask]; "
                                         "paths relative to the CSV."),
    split: str = typer.Option(DEFAULT_SPLIT_TEXT, "--split", help="Fractions for items without a split."),
    seed: int = typer.Option(0, "--seed", help="Seed of the stratified split assignment."),
    val_fraction: float | None = typer.Option(None, "--val-fraction", help="When the source has no val "
                                              "split (train/ and test/ only): move this stratified share "
                                              "of each class's train items to val."),
    report_path: Path | None = typer.Option(None, "--report", help="Also write the report as JSON."),
) -> None:
    """Ingest images: decode, normalise to RGB PNG, dedupe by sha256, report bad files.

    Exits 0 when at least one image was ingested or all of them were already there (a re-run)."""
    try:
        report = ingest(load_settings(), path, dataset=dataset, manifest=manifest, split=split,
                        seed=seed, val_fraction=val_fraction, progress=True)
    except IngestError as exc:
        raise fail(str(exc)) from exc
    console.print(_summary_table(report))
    if report.new_by_split:
        console.print(_split_table(report))
    if report.skipped:
        console.print(_skipped_table(report))
    for note in report.notes:
        console.print(f"[yellow]note:[/] {note}")
    if report_path is not None:
        report_path.parent.mkdir(parents=True, exist_ok=True)
        report_path.write_text(json.dumps(report.to_dict(), indent=2) + "\n")
        console.print(f"report written to {report_path}")
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
) -> None:
    """Generate the synthetic vehicle-advert dataset (ImageFolder tree, masks, truth.csv, manifest.csv)."""
    try:
        summary = generate_demo(out, n=n, seed=seed, bias=bias, noise=noise, binary=binary, progress=True)
    except DemoError as exc:
        raise fail(str(exc)) from exc
    table = Table(title=f"demo dataset in {out}")
    table.add_column("split")
    for label in summary.classes:
        table.add_column(label, justify="right")
    for split_name, counts in summary.counts.items():
        table.add_row(split_name, *(str(counts.get(label, 0)) for label in summary.classes))
    console.print(table)
    console.print(f"ambiguous: {summary.ambiguous}  noisy labels: {summary.noisy}  "
                  f"watermark: {summary.biased_class or 'none'} {summary.watermark_box or ''}")
    console.print(f"ingest with: trustlab ingest {out} --manifest {out / 'manifest.csv'} --dataset demo")
