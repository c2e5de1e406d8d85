"""Find the files an ingest should read: an ImageFolder tree or a CSV manifest.

ImageFolder: ``PATH/<class>/**/<file>``, or ``PATH/<split>/<class>/**/<file>`` when PATH has
``train/``, ``val/`` (or ``valid/``, ``validation/``) or ``test/`` folders.
Manifest: a CSV with a header and columns ``path,label[,split][,mask]``; paths relative to the CSV.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass, field
from pathlib import Path

# Folder names (lower case) recognised as split folders, and the split each one means.
SPLIT_ALIASES = {"train": "train", "training": "train", "val": "val", "valid": "val",
                 "validation": "val", "test": "test", "testing": "test"}
MANIFEST_REQUIRED = ("path", "label")
MANIFEST_OPTIONAL = ("split", "mask")
MAX_LABEL_LENGTH = 200

REASON_NO_LABEL = "missing label"
REASON_NO_PATH = "missing path"


class IngestError(ValueError):
    """The ingest as a whole cannot run (missing path, unreadable manifest, bad options)."""


@dataclass(frozen=True)
class SourceEntry:
    """One file to ingest. ``shown`` is the path as reported (relative to the source root)."""

    path: Path
    shown: str
    label: str
    split: str | None = None
    mask: Path | None = None


@dataclass
class Source:
    """What discovery found: entries, rows that cannot be used (shown, reason, detail), notes."""

    kind: str
    root: Path
    entries: list[SourceEntry] = field(default_factory=list)
    problems: list[tuple[str, str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def normalise_split(value: str) -> str:
    value = value.strip().lower()
    return SPLIT_ALIASES.get(value, value)


def discover(path: str | os.PathLike, *, manifest: str | os.PathLike | None = None) -> Source:
    """List the files of an ImageFolder tree, or of a manifest (``manifest`` or PATH ending .csv)."""
    path = Path(path)
    if not path.exists():
        raise IngestError(f"{path} does not exist: pass an image folder or a manifest CSV")
    if manifest is None and path.is_file() and path.suffix.lower() == ".csv":
        manifest = path
    if manifest is not None:
        return _read_manifest(Path(manifest))
    if not path.is_dir():
        raise IngestError(f"{path} is a file: pass a folder of class folders, or a CSV manifest "
                          "(--manifest FILE.csv)")
    return _read_folder(path)


def _visible(path: Path) -> bool:
    return not path.name.startswith(".")


def _files_under(folder: Path) -> list[Path]:
    """Files below ``folder`` in sorted order, skipping hidden files and folders (.DS_Store, .git)."""
    found = []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        found.extend(Path(dirpath) / name for name in sorted(filenames) if not name.startswith("."))
    return found


def _class_folders(folder: Path, source: Source, split: str | None) -> None:
    for child in sorted(folder.iterdir()):
        if not _visible(child):
            continue
        if child.is_file():
            source.problems.append((str(child.relative_to(source.root)), REASON_NO_LABEL,
                                    "not inside a class folder"))
            continue
        label = child.name.strip()
        for file in _files_under(child):
            source.entries.append(SourceEntry(path=file, shown=str(file.relative_to(source.root)),
                                              label=label, split=split))


def _read_folder(root: Path) -> Source:
    source = Source(kind="folder", root=root)
    children = [c for c in sorted(root.iterdir()) if _visible(c)]
    split_dirs = [c for c in children if c.is_dir() and c.name.lower() in SPLIT_ALIASES]
    if not split_dirs:
        _class_folders(root, source, split=None)
        return source
    for child in children:
        if child in split_dirs:
            _class_folders(child, source, split=SPLIT_ALIASES[child.name.lower()])
        elif child.is_dir():
            source.notes.append(f"ignored folder {child.name}/ (not a split folder: "
                                f"{', '.join(sorted(set(SPLIT_ALIASES.values())))})")
        else:
            source.notes.append(f"ignored file {child.name} (outside the split folders)")
    return source


def _read_manifest(manifest: Path) -> Source:
    if not manifest.is_file():
        raise IngestError(f"manifest {manifest} does not exist or is not a file")
    source = Source(kind="manifest", root=manifest.parent)
    try:
        with manifest.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(handle)
            header = next(reader, None)
            if header is None:
                raise IngestError(f"manifest {manifest} is empty: it needs a header row "
                                  f"{','.join(MANIFEST_REQUIRED + MANIFEST_OPTIONAL)}")
            columns = [name.strip().lower() for name in header]
            missing = [name for name in MANIFEST_REQUIRED if name not in columns]
            if missing:
                raise IngestError(f"manifest {manifest} lacks column(s) {', '.join(missing)}: its header "
                                  f"is {','.join(header)}; expected path,label[,split][,mask]")
            index = {name: columns.index(name) for name in MANIFEST_REQUIRED + MANIFEST_OPTIONAL
                     if name in columns}
            for line_no, row in enumerate(reader, start=2):
                if not any(cell.strip() for cell in row):
                    continue
                _manifest_row(source, manifest, line_no, row, index)
    except UnicodeDecodeError as exc:
        raise IngestError(f"manifest {manifest} is not UTF-8 text ({exc}); save it as UTF-8 CSV") from exc
    except csv.Error as exc:
        raise IngestError(f"manifest {manifest} is not valid CSV: {exc}") from exc
    return source


def _manifest_row(source: Source, manifest: Path, line_no: int, row: list[str],
                  index: dict[str, int]) -> None:
    def cell(name: str) -> str:
        i = index.get(name)
        return row[i].strip() if i is not None and i < len(row) else ""

    raw_path, label = cell("path"), cell("label")
    where = f"{manifest.name}:{line_no}"
    if not raw_path:
        source.problems.append((where, REASON_NO_PATH, "empty path cell"))
        return
    if not label:
        source.problems.append((raw_path, REASON_NO_LABEL, f"empty label cell ({where})"))
        return
    if len(label) > MAX_LABEL_LENGTH:
        source.problems.append((raw_path, REASON_NO_LABEL, f"label longer than {MAX_LABEL_LENGTH} "
                                f"characters ({where})"))
        return
    split = normalise_split(cell("split")) or None
    mask = cell("mask")
    source.entries.append(SourceEntry(
        path=source.root / raw_path, shown=raw_path, label=label, split=split,
        mask=(source.root / mask) if mask else None))
