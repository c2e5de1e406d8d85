"""The deterministic synthetic demo dataset (``trustlab demo-data``): vehicle adverts with or without
contact details, ground-truth evidence masks, ambiguous phone/URL items, optional label noise and an
optional spurious watermark.

Layout of OUT::

    train|val|test/<given class>/<name>.png   ImageFolder tree (given, possibly noisy, labels)
    masks/<name>.png                           'L' evidence mask (white = contact text; empty for none)
    truth.csv                                  per image: split, true/given class, flags, text, box
    manifest.csv                               path,label,split,mask for `trustlab ingest --manifest`
    demo.json                                  the summary (n, seed, classes, watermark box, ...)

Same arguments and Pillow version give the same bytes: every random choice comes from seeded
generators and PNGs carry no timestamps.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import PIL

from trustlab.csv_safety import escape_row
from trustlab.data.demo_draw import (
    IMAGE_SIZE,
    MASK_PAD,
    WATERMARK_BOX,
    AdvertSpec,
    contact_mask,
    padded_box,
    plan_advert,
    render_advert,
)
from trustlab.data.images import png_bytes
from trustlab.data.splits import DEFAULT_SPLIT, stratified_splits
from trustlab.job_progress import progress as progress_bar

CONTENT_KINDS = ("phone", "email", "url", "none")
BINARY_CLASSES = ("contact", "none")
BIASED_CLASS = {False: "email", True: "contact"}  # keyed by binary
# Share of phone and url images drawn ambiguous (dotted phone numbers, digit-group URLs).
AMBIGUOUS_RATE = 0.125
# Watermark rates: in train and val, most images of the biased class and few of the others carry
# it, so a model that learned the shortcut looks accurate on paper (validation); in test every class
# carries it at the same rate, so the shortcut misleads there and the explanations show why.
WATERMARK_TRAIN_BIASED = 0.9
WATERMARK_TRAIN_OTHER = 0.05
WATERMARK_HELD_OUT = 0.3
BIASED_SPLITS = ("train", "val")
BIAS_CHOICES = ("watermark",)
MAX_NOISE = 0.5
MANAGED = ("train", "val", "test", "masks", "truth.csv", "manifest.csv", "demo.json")


class DemoError(ValueError):
    """Bad demo-data arguments or an output folder that is not safe to write."""


@dataclass
class DemoSummary:
    """What was generated. counts: {split: {given class: images}}; watermark_rates: {split: {true
    class: share with the logo}}; watermark_box: (x0, y0, x1, y1) px, x1/y1 exclusive."""

    out: str
    n: int
    seed: int
    classes: list[str]
    image_size: int
    binary: bool
    bias: str | None
    biased_class: str | None
    watermark_box: tuple[int, int, int, int] | None
    noise: float
    noisy: int
    ambiguous: int
    mask_pad: int
    split_fractions: dict[str, float]
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    watermark_rates: dict[str, dict[str, float]] = field(default_factory=dict)
    pillow: str = PIL.__version__

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class _Row:
    name: str
    kind: str
    split: str = ""
    true_class: str = ""
    given_class: str = ""
    ambiguous: bool = False
    watermark: bool = False
    noisy: bool = False


def _check_args(n: int, bias: str | None, noise: float) -> None:
    if n < 2 * len(CONTENT_KINDS):
        raise DemoError(f"--n {n} is too small: use at least {2 * len(CONTENT_KINDS)} images")
    if bias is not None and bias not in BIAS_CHOICES:
        raise DemoError(f"--bias {bias!r} is unknown: use one of {', '.join(BIAS_CHOICES)} or leave it out")
    if not 0.0 <= noise <= MAX_NOISE:
        raise DemoError(f"--noise {noise} must be between 0 and {MAX_NOISE} (a fraction of labels)")


def _prepare_out(out: Path) -> None:
    """Create OUT, or clear a previous demo-data output in it; refuse any other non-empty folder."""
    if out.exists() and not out.is_dir():
        raise DemoError(f"{out} is a file: pass a folder for the demo dataset")
    if out.is_dir() and any(out.iterdir()):
        if not (out / "demo.json").is_file():
            raise DemoError(f"{out} is not empty and holds no demo.json: pass an empty or new folder")
        for name in MANAGED:
            target = out / name
            if target.is_dir():
                shutil.rmtree(target)
            elif target.exists():
                target.unlink()
    out.mkdir(parents=True, exist_ok=True)


def _plan_rows(n: int, seed: int, *, bias: str | None, noise: float, binary: bool) -> list[_Row]:
    rng = np.random.default_rng([seed, 1])
    kinds = [CONTENT_KINDS[i % len(CONTENT_KINDS)] for i in range(n)]
    kinds = [kinds[i] for i in rng.permutation(n)]
    rows = [_Row(name=f"d{i:05d}", kind=kind) for i, kind in enumerate(kinds)]
    by_name = {row.name: row for row in rows}
    keys_by_kind: dict[str, list[str]] = {}
    for row in rows:
        keys_by_kind.setdefault(row.kind, []).append(row.name)
    for name, split in stratified_splits(keys_by_kind, DEFAULT_SPLIT, seed=seed).items():
        by_name[name].split = split
    for kind in ("phone", "url"):
        names = keys_by_kind.get(kind, [])
        for i in rng.choice(len(names), size=round(AMBIGUOUS_RATE * len(names)), replace=False):
            by_name[names[i]].ambiguous = True
    for row in rows:
        row.true_class = ("contact" if row.kind != "none" else "none") if binary else row.kind
        row.given_class = row.true_class
    if bias == "watermark":
        _plan_watermarks(rows, rng, BIASED_CLASS[binary])
    classes = BINARY_CLASSES if binary else CONTENT_KINDS
    for i in sorted(rng.choice(n, size=round(noise * n), replace=False)):
        row = rows[i]
        others = [c for c in classes if c != row.true_class]
        row.given_class = others[int(rng.integers(len(others)))]
        row.noisy = True
    return rows


def _plan_watermarks(rows: list[_Row], rng: np.random.Generator, biased: str) -> None:
    """Stamp exactly round(rate * group size) images of each (split, true class) group."""
    groups: dict[tuple[str, str], list[_Row]] = {}
    for row in rows:
        groups.setdefault((row.split, row.true_class), []).append(row)
    for (split, true_class), members in sorted(groups.items()):
        if split in BIASED_SPLITS:
            rate = WATERMARK_TRAIN_BIASED if true_class == biased else WATERMARK_TRAIN_OTHER
        else:
            rate = WATERMARK_HELD_OUT
        for i in rng.choice(len(members), size=round(rate * len(members)), replace=False):
            members[i].watermark = True


def advert_spec(seed: int, index: int, kind: str, *, ambiguous: bool = False,
                watermark: bool = False) -> AdvertSpec:
    """The drawing plan of image ``index`` (d{index:05d}) of a demo generated with ``seed``; the
    generator renders exactly this, so tests can re-render an image with and without its text."""
    return plan_advert(np.random.default_rng([seed, index, 2]), kind, ambiguous=ambiguous,
                       watermark=watermark)


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def generate_demo(
    out: str | os.PathLike,
    *,
    n: int = 1200,
    seed: int = 0,
    bias: str | None = None,
    noise: float = 0.0,
    binary: bool = False,
    progress: bool = False,
) -> DemoSummary:
    """Write the demo dataset to ``out`` and return its summary (also written as demo.json).

    Content kinds phone/email/url/none are balanced; splits are 0.7/0.15/0.15 stratified by kind.
    binary: classes contact/none with the same images (with bias, the logo follows ``contact``).
    Raises DemoError for bad arguments or a non-empty folder that is not a previous demo output.
    """
    # Sorted, as `trustlab ingest` orders a new dataset's classes.
    classes = tuple(sorted(BINARY_CLASSES if binary else CONTENT_KINDS))
    _check_args(n, bias, noise)
    out = Path(out)
    _prepare_out(out)
    rows = _plan_rows(n, seed, bias=bias, noise=noise, binary=binary)
    truth_rows, manifest_rows = [], []
    for index, row in enumerate(progress_bar(rows, desc="demo-data", unit="img", enabled=progress)):
        # Each image has its own generator, so options (bias, noise, binary) change only what
        # they are about: the logo, the folder name.
        spec = advert_spec(seed, index, row.kind, ambiguous=row.ambiguous, watermark=row.watermark)
        image_rel = f"{row.split}/{row.given_class}/{row.name}.png"
        mask_rel = f"masks/{row.name}.png"
        _write(out / image_rel, png_bytes(render_advert(spec)))
        _write(out / mask_rel, png_bytes(contact_mask(spec)))
        box = " ".join(str(v) for v in padded_box(spec.contact.box)) if spec.contact else ""
        truth_rows.append([image_rel, row.split, row.true_class, row.given_class, mask_rel,
                           row.watermark, row.ambiguous, row.noisy, row.kind,
                           spec.contact.text if spec.contact else "", box])
        manifest_rows.append([image_rel, row.given_class, row.split, mask_rel])
    _write_csv(out / "truth.csv", ["path", "split", "true_class", "given_class", "mask", "watermark",
                                   "ambiguous", "noisy", "content", "text", "text_box"], truth_rows)
    _write_csv(out / "manifest.csv", ["path", "label", "split", "mask"], manifest_rows)
    summary = _summarise(out, rows, n=n, seed=seed, bias=bias, noise=noise, binary=binary,
                         classes=classes)
    # Without the output folder: the same arguments give the same bytes wherever they are written.
    stored = {k: v for k, v in summary.to_dict().items() if k != "out"}
    (out / "demo.json").write_text(json.dumps(stored, indent=2) + "\n")
    return summary


def _write_csv(path: Path, header: list[str], rows: list[list]) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(escape_row(row) for row in rows)
    path.write_text(buffer.getvalue(), encoding="utf-8")


def _summarise(out: Path, rows: list[_Row], *, n: int, seed: int, bias: str | None, noise: float,
               binary: bool, classes: tuple[str, ...]) -> DemoSummary:
    counts: dict[str, dict[str, int]] = {}
    marked: dict[str, dict[str, list[bool]]] = {}
    for row in rows:
        by_class = counts.setdefault(row.split, dict.fromkeys(classes, 0))
        by_class[row.given_class] += 1
        marked.setdefault(row.split, {}).setdefault(row.true_class, []).append(row.watermark)
    rates = {split: {c: round(float(np.mean(flags)), 4) for c, flags in sorted(by_class.items())}
             for split, by_class in marked.items()} if bias else {}
    return DemoSummary(
        out=str(out), n=n, seed=seed, classes=list(classes), image_size=IMAGE_SIZE, binary=binary,
        bias=bias, biased_class=BIASED_CLASS[binary] if bias else None,
        watermark_box=WATERMARK_BOX if bias else None, noise=noise, noisy=sum(r.noisy for r in rows),
        ambiguous=sum(r.ambiguous for r in rows), mask_pad=MASK_PAD, split_fractions=dict(DEFAULT_SPLIT),
        counts={split: counts[split] for split in DEFAULT_SPLIT if split in counts}, watermark_rates=rates)

