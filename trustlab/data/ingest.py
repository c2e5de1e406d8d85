"""Ingest an ImageFolder tree or a CSV manifest into a dataset (``trustlab ingest``).

Each file is read, hashed (sha256 of its original bytes: the dedupe key, unique per dataset), fully
decoded, normalised to RGB and stored as ``images/<sha[:2]>/<sha>.png``; masks (manifest column)
become 'L' PNGs under ``images/masks/``. Bad files are reported and skipped. Re-running an ingest
adds only files whose sha256 the dataset does not have yet; existing items (labels, splits, paths)
are never touched: labels change only through LabelRevision rows.

Success: at least one image was ingested, or every usable image was already in the dataset (a
re-run of the same ingest succeeds). Nothing usable at all is a failure (see ``IngestReport.ok``).
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path

from PIL import Image

from trustlab.config import Settings
from trustlab.data.images import (
    ImageRejected,
    RawFile,
    content_path,
    decode,
    read_raw,
    store_png,
    to_mask,
    to_rgb,
)
from trustlab.data.sources import IngestError, SourceEntry, discover
from trustlab.data.splits import (
    DEFAULT_SPLIT_TEXT,
    MAX_VAL_FRACTION,
    SplitSpecError,
    TooFewForValidation,
    carve_validation,
    parse_split,
    stratified_splits,
)
from trustlab.db.engine import unit_of_work
from trustlab.db.queries.datasets import find_dataset, get_or_create_dataset
from trustlab.db.queries.items import add_items, items_by_sha, list_items
from trustlab.db.queries.labels import class_names, ensure_labels
from trustlab.db.schema import Item
from trustlab.job_progress import progress as progress_bar

REASON_BAD_MASK = "bad mask"
MASK_PREFIX = "masks/"
INSERT_BATCH = 1000

__all__ = ["IngestError", "IngestReport", "ingest"]


@dataclass(frozen=True)
class SkippedFile:
    path: str
    reason: str
    detail: str = ""


@dataclass(frozen=True)
class DuplicateFile:
    """A file whose bytes are already in the dataset (or earlier in this run)."""

    path: str
    duplicate_of: str
    label: str
    existing_label: str

    @property
    def label_conflict(self) -> bool:
        return self.label != self.existing_label


@dataclass
class IngestReport:
    """What an ingest did. ``new_by_split``: {split: {label: count}} of the items it added."""

    dataset: str
    source: str
    kind: str
    ingested: int = 0
    with_mask: int = 0
    duplicates: list[DuplicateFile] = field(default_factory=list)
    skipped: list[SkippedFile] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    classes: list[str] = field(default_factory=list)
    new_by_split: dict[str, dict[str, int]] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def skipped_by_reason(self) -> dict[str, int]:
        return dict(sorted(Counter(s.reason for s in self.skipped).items()))

    @property
    def label_conflicts(self) -> int:
        return sum(d.label_conflict for d in self.duplicates)

    @property
    def ok(self) -> bool:
        """True when something was ingested or everything usable was already there."""
        return self.ingested > 0 or len(self.duplicates) > 0

    def failure_message(self) -> str:
        reasons = ", ".join(f"{n} {r}" for r, n in self.skipped_by_reason.items()) or "no image files found"
        return (f"nothing ingested from {self.source} into dataset {self.dataset!r} ({reasons}); "
                "check the path: it needs <class>/ folders of images or a manifest with path,label")

    def to_dict(self) -> dict:
        return {
            "dataset": self.dataset, "source": self.source, "kind": self.kind, "ok": self.ok,
            "ingested": self.ingested, "with_mask": self.with_mask,
            "duplicates": len(self.duplicates), "label_conflicts": self.label_conflicts,
            "skipped": len(self.skipped), "skipped_by_reason": self.skipped_by_reason,
            "classes": self.classes, "new_by_split": self.new_by_split,
            "seconds": round(self.seconds, 3), "notes": self.notes,
            "skipped_files": [asdict(s) for s in self.skipped],
            "duplicate_files": [asdict(d) | {"label_conflict": d.label_conflict} for d in self.duplicates],
        }


@dataclass
class _Pending:
    entry: SourceEntry
    sha256: str
    path: str
    width: int
    height: int
    mask_path: str | None


def _normalise_mask(entry: SourceEntry, size: tuple[int, int], images_dir: Path) -> str:
    """Store the entry's mask; raise ImageRejected(REASON_BAD_MASK) naming the mask's problem."""
    assert entry.mask is not None
    try:
        raw = read_raw(entry.mask)
        mask = to_mask(decode(raw.data))
    except ImageRejected as exc:
        raise ImageRejected(REASON_BAD_MASK, f"mask {entry.mask}: {exc}") from exc
    if mask.size != size:
        raise ImageRejected(REASON_BAD_MASK, f"mask {entry.mask} is {mask.size[0]}x{mask.size[1]} px, "
                                             f"the image {size[0]}x{size[1]} px")
    relative = content_path(raw.sha256, prefix=MASK_PREFIX)
    store_png(mask, images_dir, relative)
    return relative


def _process(entry: SourceEntry, raw: RawFile, images_dir: Path) -> _Pending:
    image: Image.Image = to_rgb(decode(raw.data))
    mask_path = _normalise_mask(entry, image.size, images_dir) if entry.mask is not None else None
    relative = content_path(raw.sha256)
    store_png(image, images_dir, relative)
    return _Pending(entry=entry, sha256=raw.sha256, path=relative, width=image.width,
                    height=image.height, mask_path=mask_path)


def _has_val(settings: Settings, dataset_id: int) -> bool:
    with unit_of_work(settings) as session:
        return bool(list_items(session, dataset_id=dataset_id, split="val"))


def _carve_val(pending: list[_Pending], assigned: dict[str, str], fraction: float, *, seed: int,
               has_val: bool, report: IngestReport) -> None:
    """Move a stratified ``fraction`` of the new train items to val (in ``assigned``, by sha256),
    unless val items exist already; a note in ``report`` says what happened."""
    def split_of(p: _Pending) -> str:
        return p.entry.split or assigned[p.sha256]

    if has_val or any(split_of(p) == "val" for p in pending):
        report.notes.append(f"--val-fraction {fraction:g} not used: the dataset already has a val split")
        return
    by_class: dict[str, list[str]] = {}
    for p in pending:
        if split_of(p) == "train":
            by_class.setdefault(p.entry.label, []).append(p.sha256)
    if not by_class:
        return
    try:
        carved = carve_validation(by_class, fraction, seed=seed)
    except (TooFewForValidation, ValueError) as exc:
        raise IngestError(f"--val-fraction: {exc}") from exc
    for p in pending:
        if p.sha256 in carved:
            p.entry = dataclasses.replace(p.entry, split="val")
    report.notes.append(f"no val split in the source: moved {len(carved)} train items ({fraction:g} per "
                        f"class, seed {seed}) to val")


def ingest(
    settings: Settings,
    path: str | os.PathLike,
    *,
    dataset: str,
    manifest: str | os.PathLike | None = None,
    split: str | Mapping[str, float] = DEFAULT_SPLIT_TEXT,
    seed: int = 0,
    val_fraction: float | None = None,
    progress: bool = False,
) -> IngestReport:
    """Ingest images into ``dataset`` (created when new) and return the report.

    split: fractions for items without a split folder / manifest split, e.g.
        "train=0.7,val=0.15,test=0.15"; assigned stratified by class with ``seed``.
    val_fraction: when neither the dataset nor this ingest has val items, move this stratified share
        of each class's new train items to "val" (seeded with ``seed``; see splits.carve_validation).
    Raises IngestError when the path or manifest does not exist or cannot be read, or ``split``
    is malformed. Bad image files do not raise: they are in ``report.skipped``.
    """
    started = time.perf_counter()
    fractions = _check_arguments(dataset, split, val_fraction)
    source = discover(path, manifest=manifest)
    report = IngestReport(dataset=dataset, source=str(manifest or path), kind=source.kind,
                          notes=list(source.notes))
    report.skipped.extend(SkippedFile(*problem) for problem in source.problems)
    settings.ensure_dirs()
    with unit_of_work(settings) as session:
        existing = find_dataset(session, name=dataset)
        known = items_by_sha(session, dataset_id=existing.id) if existing is not None else {}
    entries = progress_bar(source.entries, desc=f"ingest {dataset}", unit="img", enabled=progress)
    pending_items = _decode_new(entries, known, settings.images_dir, report)
    need_split: dict[str, list[str]] = {}
    for item in pending_items:
        if item.entry.split is None:
            need_split.setdefault(item.entry.label, []).append(item.sha256)
    assigned = stratified_splits(need_split, fractions, seed=seed)
    if val_fraction is not None:
        has_val = existing is not None and _has_val(settings, existing.id)
        _carve_val(pending_items, assigned, val_fraction, seed=seed, has_val=has_val, report=report)
    _store_items(settings, dataset, pending_items, assigned, existing=existing, report=report)
    report.ingested = len(pending_items)
    report.with_mask = sum(p.mask_path is not None for p in pending_items)
    report.seconds = time.perf_counter() - started
    return report


def _check_arguments(dataset: str, split: str | Mapping[str, float],
                     val_fraction: float | None) -> dict[str, float]:
    """The split fractions; IngestError for a malformed split, no dataset name or a bad val share."""
    try:
        fractions = parse_split(split) if isinstance(split, str) else parse_split(
            ",".join(f"{k}={v}" for k, v in split.items()))
    except SplitSpecError as exc:
        raise IngestError(str(exc)) from exc
    if not dataset or not dataset.strip():
        raise IngestError("--dataset needs a name")
    if val_fraction is not None and not 0.0 < val_fraction <= MAX_VAL_FRACTION:
        raise IngestError(f"--val-fraction must be in (0, {MAX_VAL_FRACTION:g}], got {val_fraction:g}")
    return fractions


def _decode_new(entries: Iterable[SourceEntry], known: Mapping[str, tuple[str, str]], images_dir: Path,
                report: IngestReport) -> list[_Pending]:
    """Decode and store the images not in the dataset yet (one per content); duplicates and bad
    files go to ``report``."""
    seen: dict[str, _Pending] = {}
    failed: dict[str, ImageRejected] = {}
    for entry in entries:
        raw_sha: str | None = None
        try:
            raw = read_raw(entry.path)
            raw_sha = raw.sha256
            if raw_sha in known:
                old_source, old_label = known[raw_sha]
                report.duplicates.append(DuplicateFile(entry.shown, old_source, entry.label, old_label))
                continue
            if raw_sha in seen:
                first = seen[raw_sha].entry
                report.duplicates.append(DuplicateFile(entry.shown, first.shown, entry.label, first.label))
                continue
            if raw_sha in failed:
                raise failed[raw_sha]
            pending = _process(entry, raw, images_dir)
        except ImageRejected as exc:
            if raw_sha is not None and exc.reason != REASON_BAD_MASK:
                failed[raw_sha] = exc
            report.skipped.append(SkippedFile(entry.shown, exc.reason, exc.detail))
            continue
        seen[pending.sha256] = pending
    return list(seen.values())


def _store_items(settings: Settings, dataset: str, pending_items: list[_Pending], assigned: dict[str, str],
                 *, existing, report: IngestReport) -> None:
    """Insert the new items (the dataset and its labels created as needed); counts go to ``report``."""
    rows = []
    with unit_of_work(settings) as session:
        if pending_items:
            ds = get_or_create_dataset(session, name=dataset)
            report.classes = ensure_labels(
                session, dataset_id=ds.id, names=sorted({p.entry.label for p in pending_items}))
            for p in pending_items:
                split_name = p.entry.split or assigned[p.sha256]
                rows.append(Item(
                    dataset_id=ds.id, path=p.path, source_path=str(p.entry.path.resolve()),
                    sha256=p.sha256, width=p.width, height=p.height, split=split_name,
                    original_label=p.entry.label, current_label=p.entry.label, mask_path=p.mask_path))
                by_label = report.new_by_split.setdefault(split_name, {})
                by_label[p.entry.label] = by_label.get(p.entry.label, 0) + 1
        elif existing is not None:
            report.classes = class_names(session, dataset_id=existing.id)
    for start in range(0, len(rows), INSERT_BATCH):  # one unit per batch: durable progress
        with unit_of_work(settings) as session:
            add_items(session, items=rows[start:start + INSERT_BATCH])
