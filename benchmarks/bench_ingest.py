"""Ingest throughput on the demo dataset, against a bare Pillow loop measured in the same run.

    python benchmarks/bench_ingest.py [--n 1200]

Baseline: read each file, decode it, convert to RGB and encode a PNG (no checks, no masks, no
database): the least any ingest has to do. Ratios above 1 are the cost of trustlab's extra work
(mask normalisation, sha256, dedupe index, split assignment, batched inserts).
"""

from __future__ import annotations

import argparse
import io
import sys
import tempfile
import time
from pathlib import Path

# Run this checkout's trustlab, not whichever one the venv has installed.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from PIL import Image  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from trustlab.config import load_settings  # noqa: E402
from trustlab.data.demo import generate_demo  # noqa: E402
from trustlab.data.images import PNG_COMPRESS_LEVEL  # noqa: E402
from trustlab.data.ingest import ingest  # noqa: E402
from trustlab.db.engine import dispose_engines  # noqa: E402


def _baseline(paths: list[Path]) -> float:
    started = time.perf_counter()
    for path in paths:
        image = Image.open(io.BytesIO(path.read_bytes()))
        image.load()
        image.convert("RGB").save(io.BytesIO(), format="PNG", compress_level=PNG_COMPRESS_LEVEL)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "demo"
        started = time.perf_counter()
        generate_demo(out, n=args.n, seed=0)
        generate_s = time.perf_counter() - started
        paths = sorted(out.glob("*/*/*.png"))
        baseline_s = _baseline(paths)
        settings = load_settings(home=Path(tmp) / "home", db_url="")
        first = ingest(settings, out, dataset="demo", manifest=out / "manifest.csv")
        rerun = ingest(settings, out, dataset="demo", manifest=out / "manifest.csv")
        dispose_engines()
    assert first.ingested == args.n and rerun.ingested == 0
    table = Table(title=f"ingest of {args.n} demo images (128 px PNG + mask), SQLite")
    for column in ("stage", "seconds", "images/s", "vs baseline"):
        table.add_column(column, justify="right" if column != "stage" else "left")
    rows = [("baseline: read+decode+RGB+PNG", baseline_s), ("trustlab ingest (new)", first.seconds),
            ("trustlab ingest (re-run, all duplicates)", rerun.seconds), ("demo-data generation", generate_s)]
    for stage, seconds in rows:
        table.add_row(stage, f"{seconds:.2f}", f"{args.n / seconds:.0f}", f"{seconds / baseline_s:.2f}x")
    Console().print(table)


if __name__ == "__main__":
    main()
