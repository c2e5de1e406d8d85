"""Explanations made elsewhere: `trustlab explanations import DIR --model NAME --method NAME`.

DIR holds one heatmap per item: a ``.npy`` float array [H, W] or a grayscale PNG (larger = more
evidence), named by the item's id (``12.npy``) or by the path it was ingested from (``a.png.npy``,
``a.npy``, or ``cars/a.npy`` in a subfolder ``cars``; see ``models.external.ItemKeys``), and optionally
``method.json``: ``{"title": ..., "description": ..., "params": {...}}`` (what raters are told, and
how the maps were made). Each map explains the model's stored prediction of its item, so the model
must exist (`trustlab predictions import` for a model trustlab cannot run); a trained model predicts
items it has no prediction for.

The maps are stored like computed ones (an Explanation row per item under ``method = NAME``, the map
as float32 .npy at the item's image size, a heatmap overlay), so an imported method is a valid study
condition and is rendered like a built-in heatmap. When the model can be run, each map also gets its
faithfulness scores (``faithfulness.faithfulness_scores`` on the map resized to the model's input).

All or nothing: every file is checked first and every problem reported by file name; nothing is
stored unless every file is good. A map of another size than its item's image is resized to it
(bilinear), with a note. Re-importing the same map is skipped; a different map for an item that has
one under this method is an error.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from trustlab.config import Settings
from trustlab.db.engine import unit_of_work
from trustlab.db.queries.errors import NotFound
from trustlab.db.queries.explanations import add_explanation, find_explanations
from trustlab.db.queries.imported_methods import add_imported_method, find_imported_method
from trustlab.db.queries.items import list_items
from trustlab.db.queries.models import get_model_version
from trustlab.db.queries.predictions import add_predictions_if_missing, predictions_for_items
from trustlab.db.schema import Explanation, ImportedMethod, Item, ModelVersion, Prediction
from trustlab.explain.base import params_key
from trustlab.explain.faithfulness import faithfulness_scores
from trustlab.explain.precompute import MASK_THRESHOLD
from trustlab.explain.record import read_item_pixels, resize_map
from trustlab.explain.render import heatmap_overlay
from trustlab.explain.store import save_array, save_png
from trustlab.explanation_methods import METHODS
from trustlab.models.checkpoint import LoadedModel, load_model
from trustlab.models.errors import ModelError
from trustlab.models.external import ImportProblem, ItemKeys, is_external, problems_message
from trustlab.models.infer import iter_probabilities
from trustlab.models.predict import prediction_rows

METHOD_FILE = "method.json"
METHOD_KEYS = ("title", "description", "params")
HEATMAP_SUFFIXES = (".npy", ".png")
# A method name is what a study condition names: no "+" (it joins methods), as long as Explanation.method.
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,49}$")
GRAYSCALE_MODES = ("L", "LA", "I", "I;16", "F")
FAITHFULNESS_BATCH = 16
DEFAULT_DESCRIPTION = "Warm colours mark the parts of the image that mattered most for the prediction."


@dataclass
class ExplanationsImport:
    """What `trustlab explanations import` did: ``imported`` maps stored now, ``unchanged`` ones stored
    already; ``faithfulness``: whether they were scored (the model can be run); ``notes``: resized
    maps, ignored files, why there are no scores."""

    method: str
    title: str
    model: str
    imported: int
    unchanged: int
    faithfulness: bool
    notes: list[str] = field(default_factory=list)


def check_method_name(name: str) -> None:
    """ImportProblem unless ``name`` can name an imported method (not a built-in one, no '+')."""
    if name == "none" or name in METHODS:
        raise ImportProblem(f"--method {name!r} is a built-in method's name: choose another name for the "
                            f"imported method (e.g. {name}_external)")
    if not NAME_PATTERN.match(name):
        raise ImportProblem(f"--method {name!r}: use 1-50 letters, digits, '_', '-' or '.', starting with a "
                            "letter or digit (no '+', which joins methods in a study condition)")


def read_method_file(folder: Path, name: str) -> dict[str, Any] | None:
    """method.json's title, description and params (defaults filled in), or None without the file."""
    path = folder / METHOD_FILE
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ImportProblem(f"{path} is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ImportProblem(f"{path}: expected an object with {', '.join(METHOD_KEYS)}")
    unknown = sorted(set(data) - set(METHOD_KEYS))
    problems = [f"{path}: unknown key {key!r} (known: {', '.join(METHOD_KEYS)})" for key in unknown]
    for key in ("title", "description"):
        if key in data and not (isinstance(data[key], str) and data[key].strip()):
            problems.append(f"{path}: {key!r} must be a non-empty string")
    if "params" in data and not isinstance(data["params"], dict):
        problems.append(f"{path}: 'params' must be an object of parameter names and values")
    if problems:
        raise ImportProblem(problems_message(str(path), problems))
    return {"title": str(data.get("title") or f"{name}: where the model looked").strip()[:200],
            "description": str(data.get("description") or DEFAULT_DESCRIPTION).strip(),
            "params": dict(data.get("params") or {})}


def read_heatmap(path: Path) -> tuple[np.ndarray | None, str]:
    """(float32 map [H, W], "") or (None, what is wrong with the file)."""
    try:
        if path.suffix.lower() == ".npy":
            array = np.load(path, allow_pickle=False)
        else:
            with Image.open(path) as image:
                if image.mode not in GRAYSCALE_MODES:
                    return None, (f"is a {image.mode} image: save the heatmap as a grayscale PNG "
                                  "(or a .npy array), not a colour picture")
                array = np.asarray(image.convert("F") if image.mode != "LA" else image.getchannel(0))
    except (OSError, ValueError) as exc:
        return None, f"cannot be read: {exc}"
    if array.ndim != 2 or min(array.shape) < 1:
        return None, f"has shape {list(array.shape)}: a heatmap is [H, W]"
    if not np.issubdtype(array.dtype, np.number) or np.issubdtype(array.dtype, np.complexfloating):
        return None, f"holds {array.dtype} values: a heatmap holds real numbers"
    array = array.astype(np.float32)
    bad = int((~np.isfinite(array)).sum())
    if bad:
        return None, f"has {bad} NaN or infinite values: a heatmap must be finite everywhere"
    return array, ""


def _meta_of(row: ImportedMethod) -> dict[str, Any]:
    return {"title": row.title, "description": row.description, "params": dict(row.params or {})}


def _heatmap_files(folder: Path) -> tuple[list[Path], list[str]]:
    files, ignored = [], []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        if path.suffix.lower() in HEATMAP_SUFFIXES:
            files.append(path)
        elif path != folder / METHOD_FILE:
            ignored.append(str(path.relative_to(folder)))
    return files, ignored


def _key(folder: Path, path: Path) -> str:
    """The item name a file stands for: its path under DIR without the heatmap suffix."""
    return path.relative_to(folder).as_posix()[: -len(path.suffix)]


def _evidence(settings: Settings, item: Item, size: int) -> np.ndarray | None:
    """bool [size, size] evidence mask at model-input resolution (as precompute reads it), or None."""
    if not item.mask_path:
        return None
    with Image.open(settings.images_dir / item.mask_path) as mask:
        return np.asarray(mask.convert("L").resize((size, size), Image.Resampling.NEAREST)) > MASK_THRESHOLD


def _loadable(settings: Settings, version: ModelVersion, notes: list[str]) -> LoadedModel | None:
    if is_external(version):
        notes.append(f"no faithfulness scores: model {version.name!r} is external (imported predictions) "
                     "and cannot be run")
        return None
    try:
        return load_model(settings, version.name)
    except ModelError as exc:
        notes.append(f"no faithfulness scores: {exc}")
        return None


def _predict_missing(settings: Settings, loaded: LoadedModel, items: list[Item]) -> None:
    for chunk, probs in iter_probabilities(loaded, items, progress=False):
        rows = prediction_rows(loaded.model_version_id, [i.id for i in chunk], probs, loaded.class_names,
                               kind="holdout")
        with unit_of_work(settings) as session:
            add_predictions_if_missing(session, predictions=rows)


def import_explanations(
    settings: Settings, folder: str | Path, *, model: str, method: str
) -> ExplanationsImport:
    """Import the heatmaps in ``folder`` as explanations of ``model``'s predictions by ``method``.

    Returns what was stored; raises ImportProblem listing every bad file (nothing stored), or naming
    an unknown model, a built-in method name, or a method.json that differs from the stored one.
    """
    folder = Path(folder)
    check_method_name(method)
    if not folder.is_dir():
        raise ImportProblem(f"{folder} is not a folder: give the folder that holds one heatmap per item")
    notes: list[str] = []
    with unit_of_work(settings) as session:
        try:
            version = get_model_version(session, name=model)
        except NotFound as exc:
            raise ImportProblem(f"{exc}; a model trustlab cannot run gets one from `trustlab predictions "
                                "import` first") from None
        keys = ItemKeys(list_items(session, dataset_id=version.dataset_id))
        stored_meta = find_imported_method(session, name=method)
    meta = _method_meta(folder, method, stored_meta)
    files, ignored = _heatmap_files(folder)
    if ignored:
        notes.append(f"ignored {len(ignored)} files that are not .npy or .png: {', '.join(ignored[:5])}")
    if not files:
        raise ImportProblem(f"{folder} holds no .npy or .png heatmaps: write one per item, named by its "
                            "id or its file name")
    maps, problems = _read_all(folder, files, keys, notes)
    loaded = _loadable(settings, version, notes)
    with unit_of_work(settings) as session:
        predictions = predictions_for_items(session, model_version_id=version.id, item_ids=list(maps))
    missing = [item_id for item_id in maps if item_id not in predictions]
    if missing and loaded is None:
        problems += [f"{maps[i][0]}: model {model!r} has no prediction of item {i}: import its prediction "
                     "first (`trustlab predictions import`)" for i in missing]
    if problems:
        raise ImportProblem(problems_message(str(folder), problems))
    if missing:
        _predict_missing(settings, loaded, [keys.by_id[i] for i in missing])
        with unit_of_work(settings) as session:
            predictions = predictions_for_items(session, model_version_id=version.id, item_ids=list(maps))
    rows = _rows(settings, loaded, method, meta, [(keys.by_id[i], *maps[i]) for i in maps], predictions)
    changed = [
        f"{name}: item {item_id} already has another {method!r} heatmap (imported before): import under "
        "another --method name"
        for item_id, (name, row, old_path) in rows.items()
        if old_path is not None and old_path != row.raw_path
    ]
    if changed:
        raise ImportProblem(problems_message(str(folder), changed))
    new = [row for _name, row, old_path in rows.values() if old_path is None]
    with unit_of_work(settings) as session:
        if stored_meta is None:
            add_imported_method(session, method=ImportedMethod(name=method, **meta))
        for row in new:
            add_explanation(session, explanation=row)
    return ExplanationsImport(method=method, title=meta["title"], model=model, imported=len(new),
                              unchanged=len(rows) - len(new), faithfulness=loaded is not None, notes=notes)


def _method_meta(folder: Path, method: str, stored: ImportedMethod | None) -> dict[str, Any]:
    """The method's title, description and params: the folder's method.json, else those stored at an
    earlier import, else a default; ImportProblem when the file differs from what is stored."""
    meta = read_method_file(folder, method)
    old = _meta_of(stored) if stored is not None else None
    if old is not None and meta is not None and old != meta:
        raise ImportProblem(f"{folder / METHOD_FILE}: method {method!r} was imported before with another "
                            f"title, description or params ({old}): import under another --method name")
    return meta or old or {"title": f"{method}: where the model looked", "description": DEFAULT_DESCRIPTION,
                           "params": {}}


def _read_all(
    folder: Path, files: list[Path], keys: ItemKeys, notes: list[str]
) -> tuple[dict[int, tuple[str, Path]], list[str]]:
    """{item_id: (file name, path)} of the good files, and the problems, by file name. Each file is
    read to check it, not kept (a folder of maps may not fit in memory)."""
    maps: dict[int, tuple[str, Path]] = {}
    problems: list[str] = []
    resized = []
    for path in files:
        name = path.relative_to(folder).as_posix()
        item, why = keys.find(_key(folder, path))
        if item is None:
            problems.append(f"{name}: {why}")
            continue
        if item.id in maps:
            problems.append(f"{name}: item {item.id} has another heatmap, {maps[item.id][0]}: keep one")
            continue
        maps[item.id] = (name, path)
        heatmap, why = read_heatmap(path)
        if heatmap is None:
            problems.append(f"{name} {why}")
        elif heatmap.shape != (item.height, item.width):
            resized.append(f"{name} ({heatmap.shape[0]}x{heatmap.shape[1]} -> {item.height}x{item.width})")
    if resized:
        notes.append(f"resized {len(resized)} heatmaps of another size than their item's image "
                     f"(H x W): {', '.join(resized[:5])}{' ...' if len(resized) > 5 else ''}")
    return maps, problems


def _sized(path: Path, item: Item) -> np.ndarray:
    """The (checked) map of ``path`` at the item's image size [height, width]."""
    heatmap, _ = read_heatmap(path)
    if heatmap.shape != (item.height, item.width):
        heatmap = resize_map(heatmap, item.width, item.height)
    return heatmap


def _rows(
    settings: Settings,
    loaded: LoadedModel | None,
    method: str,
    meta: dict[str, Any],
    todo: list[tuple[Item, str, Path]],
    predictions: dict[int, Prediction],
) -> dict[int, tuple[str, Explanation, str | None]]:
    """{item_id: (file name, unsaved Explanation, raw_path stored already or None)}: artifacts written,
    faithfulness scored (when ``loaded``) for the maps not stored yet, a batch of maps in memory at once."""
    key = params_key(method, meta["params"])
    with unit_of_work(settings) as session:
        before = find_explanations(session, prediction_ids=[predictions[item.id].id for item, _, _ in todo],
                                   method=method, params_key=key)
    index = {name: i for i, name in enumerate(loaded.class_names)} if loaded else {}
    out: dict[int, tuple[str, Explanation, str | None]] = {}
    for start in range(0, len(todo), FAITHFULNESS_BATCH):
        chunk = todo[start : start + FAITHFULNESS_BATCH]
        maps = [_sized(path, item) for item, _, path in chunk]
        fresh = [k for k, (item, _, _) in enumerate(chunk) if predictions[item.id].id not in before]
        scores: dict[int, dict[str, Any]] = {}
        if loaded is not None and fresh:
            size, items = loaded.img_size, [chunk[k][0] for k in fresh]
            small = np.stack([resize_map(maps[k], size, size) for k in fresh])
            targets = [index[predictions[item.id].predicted_label] for item in items]
            evidence = [_evidence(settings, item, size) for item in items]
            x = loaded.load_items(items)
            scores = dict(zip(fresh, faithfulness_scores(loaded.module, x, small, targets, evidence=evidence),
                              strict=True))
        for k, (item, name, _path) in enumerate(chunk):
            prediction = predictions[item.id]
            old = before.get(prediction.id)
            row = Explanation(
                prediction_id=prediction.id, method=method, params_key=key, params=meta["params"],
                raw_path=save_array(settings, maps[k], dtype="float32"),
                extra={"target": prediction.predicted_label, "imported_from": name},
                faithfulness=scores.get(k, {}),
            )
            if old is None:
                overlay = heatmap_overlay(read_item_pixels(settings, item), maps[k])
                row.overlay_path = save_png(settings, overlay)
            out[item.id] = (name, row, old.raw_path if old is not None else None)
    return out
