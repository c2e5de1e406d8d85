"""bench_explain --demo: train on the watermarked demo, explain its test split, print the pointing game
and the watermark bias report; which demo images carry the watermark, and a gallery PNG of the
Grad-CAMs of misclassified test images."""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

# On simple_cnn (GAP straight into the head) CAM equals Grad-CAM, so the demo compares HiResCAM.
DEMO_METHODS = ["gradcam", "hirescam"]


def watermarked(data_dir: Path) -> dict[str, bool]:
    """{image file name: carries the logo} from the demo's truth.csv."""
    import csv

    with open(data_dir / "truth.csv", newline="") as handle:
        return {Path(r["path"]).name: r["watermark"] == "True" for r in csv.DictReader(handle)}


def save_gallery(settings, wrong, marked: dict[str, bool], out: Path, columns: int = 4,
                  shown: int = 8) -> None:
    """A grid of Grad-CAM overlays of misclassified test images (those with the logo first), each
    captioned "true -> predicted"."""
    from PIL import Image, ImageDraw

    from trustlab.explain.store import artifact_path

    ordered = sorted(wrong, key=lambda r: not marked.get(Path(r[2].source_path).name, False))[:shown]
    tiles = []
    for explanation, prediction, item in ordered:
        with Image.open(artifact_path(settings, explanation.overlay_path)) as overlay:
            tile = overlay.convert("RGB").resize((192, 192))
        canvas = Image.new("RGB", (192, 212), "white")
        canvas.paste(tile, (0, 0))
        ImageDraw.Draw(canvas).text((4, 195), f"{item.current_label} -> {prediction.predicted_label}",
                                    fill="black")
        tiles.append(canvas)
    rows = -(-len(tiles) // columns)
    grid = Image.new("RGB", (columns * 196, rows * 216), "white")
    for i, tile in enumerate(tiles):
        grid.paste(tile, ((i % columns) * 196 + 2, (i // columns) * 216 + 2))
    out.parent.mkdir(parents=True, exist_ok=True)
    grid.save(out)


def demo_data(args: argparse.Namespace) -> Path:
    """The watermarked demo dataset under ``--demo``, generated once and reused."""
    from trustlab.data.demo import generate_demo

    binary = args.demo_classes == "binary"
    data_dir = Path(args.demo) / f"{args.demo_classes}-watermark"
    if not (data_dir / "manifest.csv").is_file():
        generate_demo(data_dir, n=args.demo_n, seed=0, binary=binary, bias="watermark")
    return data_dir


def train_and_evaluate(settings, args: argparse.Namespace):
    """``simple_cnn`` on the demo with train's defaults (image size, batch, lr, augmentation) unless
    ``--img-size`` is given; prints its val and test accuracy and returns the model version."""
    from trustlab.models.evaluate import evaluate_model
    from trustlab.models.train import TrainConfig, train_model

    started = time.perf_counter()
    sized = {"img_size": args.img_size} if args.img_size else {}
    config = TrainConfig.of(dataset="demo", arch="simple_cnn", name="demo_cnn", epochs=args.epochs, seed=0,
                            **sized)
    version = train_model(settings, config, progress=False)
    print(
        f"trained simple_cnn in {time.perf_counter() - started:.0f} s "
        f"(best epoch {version.history.get('best_epoch')})",
        flush=True,
    )
    for split in ("val", "test"):
        accuracy = evaluate_model(settings, model="demo_cnn", split=split, progress=False)
        print(f"{split} accuracy {accuracy.metrics['accuracy']:.3f}", flush=True)
    return version


def explained_test_rows(settings, version) -> list:
    """Explain the test split with every demo method; the Grad-CAM rows (explanation, prediction, item)."""
    from trustlab.db.engine import unit_of_work
    from trustlab.db.queries.explanations import list_explanations
    from trustlab.explain.precompute import ExplainOptions, explain_split

    started = time.perf_counter()
    explain_split(settings, model="demo_cnn", methods=DEMO_METHODS, split="test",
                  options=ExplainOptions(device="cpu"))
    print(f"explained the test split in {time.perf_counter() - started:.0f} s", flush=True)
    with unit_of_work(settings) as session:
        return list_explanations(session, model_version_id=version.id, method="gradcam", split="test")


def print_pointing_game(rows: list) -> None:
    """Test accuracy, and where Grad-CAM points on correctly classified contact images (an evidence
    mask, the text, and a class other than "none")."""
    contact = [
        e.faithfulness
        for e, p, item in rows
        if "pointing_game" in e.faithfulness and p.predicted_label == item.current_label != "none"
    ]
    hits = [f["pointing_game"] for f in contact]
    shares = [f.get("mass_inside") for f in contact]
    correct = sum(p.predicted_label == item.current_label for _, p, item in rows)
    print(f"\ntest accuracy {correct / len(rows):.3f} ({len(rows)} items)")
    print(
        f"Grad-CAM pointing game on correctly classified contact images: {np.mean(hits):.3f} "
        f"({len(hits)} images); mean saliency mass inside the text mask "
        f"{np.nanmean([s for s in shares if s is not None]):.3f}"
    )


def print_bias_report(settings, data_dir: Path) -> None:
    """The share of each method's saliency inside the watermark box, per class."""
    from trustlab.explain.bias import bias_report, watermark_region

    report = bias_report(
        settings,
        model="demo_cnn",
        region=watermark_region(data_dir),
        methods=DEMO_METHODS,
        split="test",
    )
    print("\nwatermark bias report (share of saliency inside the watermark box)")
    print(report.to_string(index=False, float_format=lambda v: f"{v:.3f}"))


def print_misclassified(settings, rows: list, data_dir: Path, gallery: str | None) -> None:
    """How many misclassified test images carry the watermark; their Grad-CAMs saved to ``gallery``."""
    wrong = [(e, p, item) for e, p, item in rows if p.predicted_label != item.current_label]
    marked = watermarked(data_dir)
    on_logo = sum(marked.get(Path(item.source_path).name, False) for _, _, item in wrong)
    print(f"\nmisclassified test images: {len(wrong)}, {on_logo} of them carry the watermark")
    if gallery:
        save_gallery(settings, wrong, marked, Path(gallery))
        print(f"Grad-CAM of misclassified test images: {gallery}")


def run_demo(args: argparse.Namespace) -> None:
    from trustlab.config import load_settings
    from trustlab.data.ingest import ingest
    from trustlab.db.engine import dispose_engines

    if args.threads:
        torch.set_num_threads(args.threads)
    data_dir = demo_data(args)
    with tempfile.TemporaryDirectory() as home:
        settings = load_settings(home=home, db_url="")
        ingest(settings, data_dir, dataset="demo", manifest=data_dir / "manifest.csv")
        version = train_and_evaluate(settings, args)
        rows = explained_test_rows(settings, version)
        print_pointing_game(rows)
        print_bias_report(settings, data_dir)
        print_misclassified(settings, rows, data_dir, args.gallery)
        dispose_engines()
