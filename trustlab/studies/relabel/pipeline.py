"""`trustlab relabel`: rater answers + out-of-sample probabilities -> stored proposals, CSV tables.

Reads the scope's items, the raters' ``true_label`` answers and the model's out-of-sample
predictions, runs the consensus methods, stores new proposals for the curator queue (never one a
curator already decided, never a duplicate of an open one) and writes DIR/proposals.csv,
DIR/ambiguity.csv and DIR/rater_quality.csv.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from trustlab.config import Settings
from trustlab.csv_safety import write_csv
from trustlab.db.engine import DbSession, unit_of_work
from trustlab.db.queries.assignments import assigned_item_ids
from trustlab.db.queries.datasets import get_dataset
from trustlab.db.queries.explanations import twin_neighbours
from trustlab.db.queries.items import list_items
from trustlab.db.queries.labels import class_names
from trustlab.db.queries.models import get_model_version
from trustlab.db.queries.proposals import decided_item_labels, upsert_proposals
from trustlab.db.queries.studies import get_study
from trustlab.job_progress import progress
from trustlab.models.out_of_sample import carved_val_ids, out_of_sample_predictions
from trustlab.studies.judgements import label_answers
from trustlab.studies.relabel.ambiguity import ambiguous_pairs
from trustlab.studies.relabel.consensus import crowdlab, dawid_skene, rater_quality
from trustlab.studies.relabel.proposals import (
    DEFAULT_MIN_MARGIN,
    METHODS,
    propose_auto,
    propose_relabels,
)

PROPOSAL_CSV_COLUMNS = [
    "rank", "proposal_id", "item_id", "path", "split", "current_label", "proposed_label", "score",
    "method", "votes", "n_votes", "confidence", "model_prob_proposed", "model_prob_current", "twins",
]
TWINS_IN_EVIDENCE = 5


class RelabelError(ValueError):
    """Bad relabel inputs (unknown scope, a model of another dataset, nothing to work on)."""


@dataclass
class RelabelResult:
    """proposals: the PROPOSAL_CSV_COLUMNS table (this run's proposals, best first);
    ambiguity: ambiguous_pairs' table; rater_quality: one row per rater (may be empty);
    counts: {"items", "rated_items", "answers", "raters", "with_probs", "added", "refreshed",
    "skipped_decided"}; paths: {"proposals", "ambiguity", "rater_quality"}."""

    proposals: pd.DataFrame
    ambiguity: pd.DataFrame
    rater_quality: pd.DataFrame
    counts: dict[str, int] = field(default_factory=dict)
    paths: dict[str, Path] = field(default_factory=dict)


@dataclass
class _Inputs:
    dataset_id: int
    classes: list[str]
    items: list[Any]
    labels: np.ndarray  # (N, M) rater answers, NaN where missing
    rater_ids: list[int]
    probs: np.ndarray  # (N, K) in dataset class order, NaN rows where no prediction
    has_probs: np.ndarray
    model_name: str
    study_name: str | None


def _load(session, *, model: str, study: str | None, dataset: str | None) -> _Inputs:
    if (study is None) == (dataset is None):
        raise RelabelError("pass exactly one of --study STUDY or --dataset NAME")
    version = get_model_version(session, name=model)
    if study is not None:
        study_row = get_study(session, name=study)
        dataset_id = study_row.dataset_id
        wanted = set(assigned_item_ids(session, study_id=study_row.id))
        answers = label_answers(session, study_id=study_row.id)
        items = [i for i in list_items(session, dataset_id=dataset_id) if i.id in wanted]
    else:
        dataset_id = get_dataset(session, name=dataset).id
        answers = label_answers(session, dataset_id=dataset_id)
        items = list_items(session, dataset_id=dataset_id)
    if version.dataset_id != dataset_id:
        raise RelabelError(f"model {model!r} was trained on another dataset; pass a model of this dataset")
    if not items:
        raise RelabelError("no items in scope: the study has no assignments or the dataset is empty")
    classes = class_names(session, dataset_id=dataset_id)
    position = {item.id: n for n, item in enumerate(items)}
    class_index = {name: k for k, name in enumerate(classes)}
    usable = [(i, r, label) for i, r, label in answers if i in position and label in class_index]
    rater_ids = sorted({rater for _, rater, _ in usable})
    rater_col = {rater: m for m, rater in enumerate(rater_ids)}
    labels = np.full((len(items), len(rater_ids)), np.nan)
    for item_id, rater, label in usable:  # ordered oldest first: a later answer wins
        labels[position[item_id], rater_col[rater]] = class_index[label]
    probs = np.full((len(items), len(classes)), np.nan)
    predictions = out_of_sample_predictions(session, model_version_id=version.id, item_ids=position.keys(),
                                            held_out_ids=carved_val_ids(version.training_config))
    model_classes = list(version.class_names)
    for item_id, prediction in predictions.items():
        row = np.zeros(len(classes))
        for name, p in zip(model_classes, prediction.probabilities, strict=False):
            if name in class_index:  # a class added later (a merge) gets no probability
                row[class_index[name]] = float(p)
        if row.sum() > 0:
            probs[position[item_id]] = row / row.sum()
    return _Inputs(dataset_id=dataset_id, classes=classes, items=items, labels=labels, rater_ids=rater_ids,
                   probs=probs, has_probs=~np.isnan(probs).any(axis=1), model_name=model, study_name=study)


def _propose(inputs: _Inputs, given: np.ndarray, method: str, min_margin: float) -> pd.DataFrame:
    rated = (~np.isnan(inputs.labels)).any(axis=1)
    k = len(inputs.classes)
    if method == "auto":
        return propose_auto(given, labels_multiannotator=inputs.labels if inputs.rater_ids else None,
                            pred_probs=np.nan_to_num(inputs.probs), has_probs=inputs.has_probs,
                            num_classes=k, min_margin=min_margin)
    needs_probs = method in ("crowdlab", "cleanlab")
    needs_raters = method != "cleanlab"
    rows = np.ones(len(given), dtype=bool)
    if needs_probs:
        rows &= inputs.has_probs
    if needs_raters:
        rows &= rated
    idx = np.flatnonzero(rows)
    if idx.size == 0:
        needs = (("rater answers", needs_raters), ("model predictions", needs_probs))
        what = " and ".join(w for w, need in needs if need)
        raise RelabelError(f"method {method!r} needs {what} and no item in scope has them")
    labels = inputs.labels[idx][:, (~np.isnan(inputs.labels[idx])).any(axis=0)] if needs_raters else None
    frame = propose_relabels(given[idx], method=method, labels_multiannotator=labels,
                             pred_probs=inputs.probs[idx] if needs_probs else None, num_classes=k,
                             min_margin=min_margin)
    frame["index"] = idx[frame["index"].to_numpy(dtype=int)]
    return frame


def _evidence(inputs: _Inputs, n: int, row: pd.Series, twins: list[dict[str, Any]]) -> dict[str, Any]:
    votes: dict[str, int] = {}
    raters: dict[str, str] = {}
    for m, value in enumerate(inputs.labels[n]):
        if not np.isnan(value):
            name = inputs.classes[int(value)]
            votes[name] = votes.get(name, 0) + 1
            raters[str(inputs.rater_ids[m])] = name
    evidence: dict[str, Any] = {
        "votes": dict(sorted(votes.items(), key=lambda kv: -kv[1])), "raters": raters,
        "method": row["method"], "confidence": float(row["confidence"]),
        "given_prob": float(row["given_prob"]),
        "model": inputs.model_name, "study": inputs.study_name, "twins": twins[:TWINS_IN_EVIDENCE],
    }
    if inputs.has_probs[n]:
        evidence["probabilities"] = {c: round(float(p), 6) for c, p in zip(inputs.classes, inputs.probs[n],
                                                                          strict=True)}
    return evidence


def run_relabel(
    settings: Settings,
    *,
    model: str,
    out_dir: str | Path,
    study: str | None = None,
    dataset: str | None = None,
    method: str = "auto",
    min_margin: float = DEFAULT_MIN_MARGIN,
) -> RelabelResult:
    """Compute, store and write relabel proposals and the ambiguity table for one study or dataset.

    method: "auto" (CROWDLAB / Dawid-Skene / cleanlab per item, see proposals.propose_auto) or one
    of METHODS applied to the items that have the evidence it needs.
    """
    if method != "auto" and method not in METHODS:
        raise RelabelError(f"--method {method!r} is not one of auto, {', '.join(METHODS)}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with unit_of_work(settings) as session:
        inputs = _load(session, model=model, study=study, dataset=dataset)
        class_index = {name: k for k, name in enumerate(inputs.classes)}
        given = np.array([class_index[item.current_label] for item in inputs.items])
        if not inputs.rater_ids and not inputs.has_probs.any():
            raise RelabelError(f"no rater answers and no out-of-sample predictions of model {model!r} "
                               f"in scope: run `trustlab predict --model {model} --cross-val` first")
        frame = _propose(inputs, given, method, min_margin)
        rows, csv_rows, skipped = _proposal_rows(session, inputs, frame)
        counts = upsert_proposals(session, dataset_id=inputs.dataset_id, rows=rows)
        counts["skipped_decided"] += skipped
    for rank, (csv_row, row) in enumerate(zip(csv_rows, rows, strict=True), start=1):
        csv_row["rank"] = rank
        csv_row["proposal_id"] = row["proposal_id"]
    proposals = pd.DataFrame(csv_rows, columns=PROPOSAL_CSV_COLUMNS)
    ambiguity = _ambiguity(inputs, given)
    quality = _rater_quality(inputs)
    paths = _write(out, proposals, ambiguity, quality)
    counts.update({
        "items": len(inputs.items), "rated_items": int((~np.isnan(inputs.labels)).any(axis=1).sum()),
        "answers": int((~np.isnan(inputs.labels)).sum()), "raters": len(inputs.rater_ids),
        "with_probs": int(inputs.has_probs.sum()),
    })
    return RelabelResult(proposals=proposals, ambiguity=ambiguity, rater_quality=quality, counts=counts,
                         paths=paths)


def _proposal_rows(
    session: DbSession, inputs: _Inputs, frame: pd.DataFrame
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], int]:
    """(rows to store, rows for proposals.csv, how many were skipped): each proposal with its
    evidence, except those a curator has already decided for that item and label."""
    decided = decided_item_labels(session, dataset_id=inputs.dataset_id)
    twins = twin_neighbours(session, item_ids=[inputs.items[int(n)].id for n in frame["index"]])
    rows, csv_rows, skipped = [], [], 0
    rows_bar = progress(frame.iterrows(), total=len(frame), desc="proposals", enabled=len(frame) >= 200)
    for _, row in rows_bar:
        n = int(row["index"])
        item = inputs.items[n]
        proposed = inputs.classes[int(row["proposed_label"])]
        if (item.id, proposed) in decided:
            skipped += 1
            continue
        evidence = _evidence(inputs, n, row, twins.get(item.id, []))
        rows.append({"item_id": item.id, "current_label": item.current_label, "proposed_label": proposed,
                     "score": float(row["score"]), "method": str(row["method"]), "evidence": evidence})
        csv_rows.append(_csv_row(item, proposed, row, evidence))
    return rows, csv_rows, skipped


def _csv_row(item: Any, proposed: str, row: pd.Series, evidence: dict[str, Any]) -> dict[str, Any]:
    """One proposal as proposals.csv shows it (its rank and id are added once stored)."""
    probs = evidence.get("probabilities", {})
    return {
        "item_id": item.id, "path": item.path, "split": item.split,
        "current_label": item.current_label, "proposed_label": proposed,
        "score": round(float(row["score"]), 6), "method": row["method"],
        "votes": ";".join(f"{k}:{v}" for k, v in evidence["votes"].items()),
        "n_votes": sum(evidence["votes"].values()),
        "confidence": round(float(row["confidence"]), 6), "model_prob_proposed": probs.get(proposed),
        "model_prob_current": probs.get(item.current_label),
        "twins": ";".join(str(t.get("item_id")) for t in evidence["twins"]),
    }


def _write(
    out: Path, proposals: pd.DataFrame, ambiguity: pd.DataFrame, quality: pd.DataFrame
) -> dict[str, Path]:
    """Write proposals.csv, ambiguity.csv and rater_quality.csv in ``out``; return their paths."""
    paths = {"proposals": out / "proposals.csv", "ambiguity": out / "ambiguity.csv",
             "rater_quality": out / "rater_quality.csv"}
    write_csv(proposals, paths["proposals"], index=False)
    write_csv(ambiguity.assign(examples=ambiguity["examples"].map(lambda ids: ";".join(map(str, ids)))),
              paths["ambiguity"], index=False)
    write_csv(quality, paths["rater_quality"], index=False)
    return paths


def _ambiguity(inputs: _Inputs, given: np.ndarray) -> pd.DataFrame:
    has_raters = bool(inputs.rater_ids)
    has_model = bool(inputs.has_probs.any())
    return ambiguous_pairs(
        num_classes=len(inputs.classes), labels_multiannotator=inputs.labels if has_raters else None,
        given_labels=given if has_model else None, pred_probs=inputs.probs if has_model else None,
        class_names=inputs.classes, item_ids=[item.id for item in inputs.items],
    )


def _rater_quality(inputs: _Inputs) -> pd.DataFrame:
    rated = (~np.isnan(inputs.labels)).any(axis=1)
    if not inputs.rater_ids:
        return pd.DataFrame(columns=["rater", "n_labels", "agreement_with_majority"])
    labels = inputs.labels[rated]
    k = len(inputs.classes)
    ds = dawid_skene(labels, num_classes=k)
    crowd = None
    with_probs = inputs.has_probs[rated]
    if len(inputs.rater_ids) >= 2 and with_probs.all():
        crowd = crowdlab(labels, inputs.probs[rated])
    return rater_quality(labels, num_classes=k, rater_ids=inputs.rater_ids, ds=ds, crowd=crowd)
