"""Files the staff tabs hand to a browser (the researcher tab's CSVs and study report).

An export holds personal data (participant ids, comments), so exports never pile up in temp
folders: each is written into its own directory (a random 128-bit name, mode 0700) under one root in
TRUSTLAB_HOME, served from there directly (the root is a Gradio static path, so Gradio keeps no copy
in its own cache), and deleted when the same page exports again, or once older than
``EXPORT_MAX_AGE_S`` by any later export or a server start. File names are reduced to letters,
digits, ``-``, ``_`` and ``.``.
"""

from __future__ import annotations

import logging
import re
import secrets
import shutil
import time
from pathlib import Path

import gradio as gr

logger = logging.getLogger(__name__)

EXPORT_DIR = "ui-exports"
# Long enough to click the download button and save the file; a page that exports again sooner
# removes its previous file at once.
EXPORT_MAX_AGE_S = 15 * 60
MAX_NAME_CHARS = 100
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def export_root(home: Path) -> Path:
    return Path(home) / EXPORT_DIR


def serve_exports_from(home: Path) -> Path:
    """Make the export root a static path (served without a copy in Gradio's cache) and delete the
    expired exports a previous run left; returns the root."""
    root = export_root(home).resolve()
    root.mkdir(parents=True, exist_ok=True)
    root.chmod(0o700)
    sweep_exports(root, now=time.time())
    gr.set_static_paths([root])
    return root


def safe_filename(name: str, *, suffix: str) -> str:
    """``name`` with every run of other characters replaced by ``_``, no leading dots, then ``suffix``."""
    stem = _UNSAFE.sub("_", name).strip("._")[:MAX_NAME_CHARS] or "export"
    return stem + suffix


def write_export(
    root: Path, *, name: str, suffix: str, text: str, previous: str | None = None, now: float | None = None
) -> Path:
    """Write ``text`` to a fresh directory under ``root`` and return the file's path.

    ``previous``: the path this page got from its last export (deleted first); every export directory
    older than EXPORT_MAX_AGE_S is deleted too. ``now``: seconds since the epoch (tests).
    """
    root = Path(root).resolve()
    root.mkdir(parents=True, exist_ok=True)
    remove_export(root, previous)
    sweep_exports(root, now=time.time() if now is None else now)
    folder = root / secrets.token_hex(16)
    folder.mkdir(mode=0o700)
    path = folder / safe_filename(name, suffix=suffix)
    path.touch(mode=0o600)
    path.write_text(text, encoding="utf-8")
    return path


def remove_export(root: Path, path: str | None) -> None:
    """Delete the directory of an earlier export (only when it lies directly under ``root``)."""
    if not path:
        return
    folder = Path(path).resolve().parent
    if folder.parent == Path(root).resolve():
        shutil.rmtree(folder, ignore_errors=True)


def sweep_exports(root: Path, *, now: float, max_age_s: float = EXPORT_MAX_AGE_S) -> int:
    """Delete export directories under ``root`` older than ``max_age_s``; returns how many."""
    removed = 0
    for folder in Path(root).iterdir():
        try:
            old = folder.is_dir() and now - folder.stat().st_mtime > max_age_s
        except OSError:  # removed by another worker meanwhile
            continue
        if old:
            shutil.rmtree(folder, ignore_errors=True)
            removed += 1
    if removed:
        logger.info("removed %d expired UI export(s) under %s", removed, root)
    return removed
