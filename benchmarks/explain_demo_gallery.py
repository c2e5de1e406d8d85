"""bench_explain --demo helpers: which demo images carry the watermark, and a gallery PNG of the
Grad-CAMs of misclassified test images."""

from __future__ import annotations

from pathlib import Path


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
