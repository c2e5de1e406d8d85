"""Predictions made elsewhere: `trustlab predictions import FILE.csv --model NAME --dataset D`.

A model trustlab cannot run (its predictions come from a table) is a ModelVersion with arch
``external``: no checkpoint (``checkpoint_path`` is empty, ``checkpoint_sha256`` is the sha256 of the
first CSV imported), and anything that would load it says so (:func:`refuse_external`).

The CSV: a header, then one row per item. The first column names the item (its id, or the path it was
ingested from: the full path, or its last folders and file name, with or without the suffix); then
either one probability column per class of the dataset (any order), or a ``label`` column (the
predicted class: stored as probability 1), or both (the label must then be the most probable class).

All or nothing: every row is checked first and every problem reported by row number (the header is
line 1), and nothing is stored unless every row is good. Re-importing a row that is stored already
with the same probabilities is skipped; a different one is an error.
"""

from __future__ import annotations

import csv
import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import numpy as np

from trustlab.config import Settings
from trustlab.db.engine import unit_of_work
from trustlab.db.queries.datasets import get_dataset
from trustlab.db.queries.items import list_items
from trustlab.db.queries.labels import class_names as dataset_class_names
from trustlab.db.queries.models import add_model_version, find_model_version
from trustlab.db.queries.predictions import add_predictions, predictions_for_items
from trustlab.db.schema import Item, ModelVersion, Prediction
from trustlab.models.errors import ModelError

#: ModelVersion.arch of a model known only by its imported predictions.
EXTERNAL_ARCH = "external"
#: Probabilities of a row may sum to 1 within this.
SUM_TOLERANCE = 1e-3
#: The CSV column naming the predicted class.
LABEL_COLUMN = "label"
#: Problems listed in one error message (the count of the rest follows).
MAX_LISTED = 20


class ExternalModelError(ModelError):
    """The model is external (known only by imported predictions): it cannot be run."""


class ImportProblem(ModelError):
    """An import found bad rows or files; the message lists each (row number or file name) and what
    is wrong. Nothing was stored."""


def is_external(version: ModelVersion) -> bool:
    return version.arch == EXTERNAL_ARCH


def refuse_external(version: ModelVersion) -> None:
    """Raise ExternalModelError when ``version`` cannot be run (called by ``load_model``)."""
    if is_external(version):
        raise ExternalModelError(
            f"model {version.name!r} is external (imported predictions): it cannot be run; it has only "
            "the predictions and explanations imported for it (`trustlab predictions import`, "
            "`trustlab explanations import`)"
        )


def problems_message(what: str, problems: Sequence[str]) -> str:
    """One error message: ``what``, then each problem on its own line (at most MAX_LISTED)."""
    lines = list(problems[:MAX_LISTED])
    if len(problems) > MAX_LISTED:
        lines.append(f"... and {len(problems) - MAX_LISTED} more")
    return f"{what}: nothing was imported; fix these and run it again:\n  " + "\n  ".join(lines)


class ItemKeys:
    """Finds a dataset's item by the name a user gives it: its id (digits), its stored path, the path
    it was ingested from, or the last parts of that path (``cars/a.jpg``, ``a.jpg``), with or without
    the file suffix (``a``). A name that fits several items is ambiguous, and so is a number that is
    one item's id and another's file name (``12`` for id 12 and ``12.jpg``)."""

    def __init__(self, items: Sequence[Item]) -> None:
        self.by_id = {item.id: item for item in items}
        self._by_name: dict[str, set[int]] = {}
        for item in items:
            for name in self._names(item):
                self._by_name.setdefault(name, set()).add(item.id)

    @staticmethod
    def _names(item: Item) -> set[str]:
        names = {item.path}
        parts = PurePosixPath(item.source_path.replace("\\", "/")).parts
        for start in range(len(parts)):
            tail = PurePosixPath(*parts[start:])
            names.update({str(tail), str(tail.with_suffix("")) if tail.suffix else str(tail)})
        return names

    def find(self, key: str, *, ids: bool = True) -> tuple[Item | None, str]:
        """(item, "") or (None, why): no such item, or ambiguous (naming the candidates)."""
        key = key.strip().replace("\\", "/")
        found = sorted(self._by_name.get(key, ()))
        if ids and key.isdigit() and str(int(key)) == key:  # "0001" is a file name, never an id
            item = self.by_id.get(int(key))
            others = [i for i in found if item is None or i != item.id]
            if item is not None and others:
                return None, (f"{key!r} is item id {key} and also the file name of item {others[0]}: name "
                              "it by its ingested file name with the suffix or its folder (in a CSV: "
                              "head the column `path`)")
            if item is not None:
                return item, ""
            if not found:
                return None, f"no item with id {key} in the dataset, and none was ingested from {key!r}"
        if len(found) == 1:
            return self.by_id[found[0]], ""
        if not found:
            return None, f"no item of the dataset was ingested from {key!r}"
        return None, f"{key!r} fits {len(found)} items (ids {found[:5]}): give more of its path, or its id"


@dataclass
class PredictionsImport:
    """What `trustlab predictions import` did. ``imported``: rows stored now; ``unchanged``: rows
    stored already with the same probabilities; ``notes``: things worth knowing, not errors."""

    model: str
    model_version_id: int
    dataset: str
    created: bool
    imported: int
    unchanged: int
    classes: list[str]
    notes: list[str] = field(default_factory=list)


def _read_csv(path: Path) -> tuple[list[str], list[tuple[int, list[str]]]]:
    if not path.is_file():
        raise ImportProblem(f"{path} does not exist: give the path of a predictions CSV file")
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            rows = list(csv.reader(handle))
    except (UnicodeDecodeError, csv.Error) as exc:
        raise ImportProblem(f"{path} is not a readable UTF-8 CSV file: {exc}") from None
    numbered = [(n, row) for n, row in enumerate(rows, start=1) if any(cell.strip() for cell in row)]
    if not numbered or len(numbered) < 2:
        raise ImportProblem(f"{path} has no data rows: write a header, then one row per item")
    header = [cell.strip() for cell in numbered[0][1]]
    return header, numbered[1:]


def _columns(path: Path, header: list[str], classes: list[str]) -> tuple[dict[str, int], int | None]:
    """{class: column} and the label column (or None); ImportProblem naming the header's problems."""
    problems = []
    class_cols: dict[str, int] = {}
    label_col = None
    for col, name in enumerate(header[1:], start=1):
        if name == LABEL_COLUMN:
            label_col = col
        elif name in classes:
            if name in class_cols:
                problems.append(f"line 1 (header): class {name!r} has two columns")
            class_cols[name] = col
        else:
            problems.append(
                f"line 1 (header), column {col + 1}: unknown class {name!r} (the dataset's classes: "
                f"{', '.join(classes)}; or `label` for the predicted class)"
            )
    if class_cols and len(class_cols) < len(classes) and not problems:
        missing = [c for c in classes if c not in class_cols]
        problems.append(f"line 1 (header): no probability column for classes {', '.join(missing)}; "
                        "give one column per class (or only a `label` column)")
    if not class_cols and label_col is None and not problems:
        problems.append(f"line 1 (header): after the item column, give one probability column per class "
                        f"({', '.join(classes)}) or a `label` column")
    if problems:
        raise ImportProblem(problems_message(f"{path}", problems))
    return class_cols, label_col


def _row_probabilities(
    n: int, row: list[str], classes: list[str], class_cols: dict[str, int], label_col: int | None
) -> tuple[np.ndarray | None, list[str]]:
    """(probabilities [C] summing to 1, []) or (None, problems of line ``n``)."""
    problems = []
    label = None
    if label_col is not None:
        label = row[label_col].strip() if label_col < len(row) else ""
        if label not in classes:
            problems.append(f"line {n}: unknown class {label!r} in column `label` (the dataset's classes: "
                            f"{', '.join(classes)})")
    if not class_cols:
        if problems:
            return None, problems
        return np.eye(len(classes))[classes.index(label)], []
    probs = np.zeros(len(classes))
    for c, name in enumerate(classes):
        cell = row[class_cols[name]].strip() if class_cols[name] < len(row) else ""
        try:
            value = float(cell)
        except ValueError:
            problems.append(f"line {n}, column {name!r}: {cell!r} is not a number")
            continue
        if math.isnan(value) or math.isinf(value):
            problems.append(f"line {n}, column {name!r}: {cell} (NaN or infinite) is not a probability")
        elif not 0.0 <= value <= 1.0:
            problems.append(f"line {n}, column {name!r}: {value} is not a probability (0..1)")
        probs[c] = value
    if problems:
        return None, problems
    total = float(probs.sum())
    if abs(total - 1.0) > SUM_TOLERANCE:
        return None, [f"line {n}: probabilities sum to {total:.6g}, not 1 (± {SUM_TOLERANCE:g})"]
    probs = probs / total
    if label is not None and probs[classes.index(label)] < probs.max():
        return None, [f"line {n}: `label` is {label!r} but the most probable class is "
                      f"{classes[int(probs.argmax())]!r}"]
    return probs, []


def import_predictions(
    settings: Settings, path: str | Path, *, model: str, dataset: str
) -> PredictionsImport:
    """Import a model's predictions from ``path`` (see the module docstring for the CSV).

    Creates the external model version ``model`` on ``dataset`` when it does not exist; an existing
    model must be external and of that dataset. Stores kind="holdout" predictions, probabilities in
    the dataset's class order (each row rescaled to sum to exactly 1).

    Raises ImportProblem listing every bad row (nothing stored), ModelError for a model that is not
    external or of another dataset, NotFound for an unknown dataset.
    """
    path = Path(path)
    with unit_of_work(settings) as session:
        ds = get_dataset(session, name=dataset)
        version = find_model_version(session, name=model)
        items = list_items(session, dataset_id=ds.id)
        classes = dataset_class_names(session, dataset_id=ds.id)
    if version is not None:
        if not is_external(version):
            raise ModelError(f"model {model!r} is a {version.arch} model that trustlab runs: its predictions "
                             "come from `trustlab predict`; import under a new --model name")
        if version.dataset_id != ds.id:
            raise ModelError(f"model {model!r} belongs to another dataset than {dataset!r}: import under a "
                             "new --model name, or name its dataset")
        classes = list(version.class_names)
    header, rows = _read_csv(path)
    class_cols, label_col = _columns(path, header, classes)
    keys = ItemKeys(items)
    # A header `path` makes every key a path (file names may be digits too); otherwise digits are ids.
    by_path = header[0].lower() in ("path", "file", "source_path")
    problems: list[str] = []
    first_line: dict[int, int] = {}
    parsed: dict[int, np.ndarray] = {}
    for n, row in rows:
        item, why = keys.find(row[0], ids=not by_path)
        if item is None:
            problems.append(f"line {n}: {why}")
            continue
        if item.id in first_line:
            problems.append(f"line {n}: item {item.id} ({row[0]!r}) is also on line {first_line[item.id]}: "
                            "give each item one row")
            continue
        first_line[item.id] = n
        probs, row_problems = _row_probabilities(n, row, classes, class_cols, label_col)
        problems.extend(row_problems)
        if probs is not None:
            parsed[item.id] = probs
    if problems:
        raise ImportProblem(problems_message(f"{path}", problems))
    read = _ReadFile(path=path, classes=classes, probabilities=parsed, first_line=first_line,
                     label_only=not class_cols)
    return _store(settings, read, model=model, ds=ds, version=version)


@dataclass(frozen=True)
class _ReadFile:
    """A checked predictions file: each item's probabilities (in ``classes`` order) and its line."""

    path: Path
    classes: list[str]
    probabilities: dict[int, np.ndarray]
    first_line: dict[int, int]
    label_only: bool


def _store(settings, read: _ReadFile, *, model: str, ds, version) -> PredictionsImport:
    """Store the file's predictions under ``model`` (created when ``version`` is None)."""
    path, classes, parsed, first_line = read.path, read.classes, read.probabilities, read.first_line
    notes = []
    if read.label_only:
        notes.append("labels only: each prediction is stored with probability 1 (a study that shows the "
                     "confidence shows 100%); add one probability column per class for real confidences")
    with unit_of_work(settings) as session:
        created = version is None
        if created:
            version = add_model_version(session, model=ModelVersion(
                name=model, dataset_id=ds.id, arch=EXTERNAL_ARCH, checkpoint_path="",
                checkpoint_sha256=hashlib.sha256(path.read_bytes()).hexdigest(), class_names=classes,
                img_size=0, training_config={"kind": EXTERNAL_ARCH, "source": str(path.resolve())},
            ))
        stored = predictions_for_items(session, model_version_id=version.id, item_ids=list(parsed))
        changed = [
            f"line {first_line[i]}: item {i} already has another prediction of model {model!r} "
            f"({stored[i].predicted_label} {stored[i].confidence:.3f}): import under a new --model name"
            for i in stored
            if not np.allclose(stored[i].probabilities, parsed[i], atol=SUM_TOLERANCE)
        ]
        if changed:
            raise ImportProblem(problems_message(f"{path}", changed))
        new = [i for i in parsed if i not in stored]
        # The rows `trustlab predict` writes (models.predict.prediction_rows, which imports load_model).
        add_predictions(session, predictions=[
            Prediction(model_version_id=version.id, item_id=i, kind="holdout",
                       probabilities=[float(v) for v in parsed[i]],
                       predicted_label=classes[int(np.argmax(parsed[i]))], confidence=float(parsed[i].max()))
            for i in new
        ])
        return PredictionsImport(model=model, model_version_id=version.id, dataset=ds.name, created=created,
                                 imported=len(new), unchanged=len(parsed) - len(new), classes=classes,
                                 notes=notes)
