"""The demo's stages: (name, is_done(settings, plan) -> reason | None, run(...) -> detail).

Kept apart from trustlab/demo.py so that the runner stays small; every stage calls one library
function, the same one its CLI verb calls. ``count_rows`` is the only database access here and it
goes through a session; no SQL text is written outside trustlab/db.
"""

from __future__ import annotations

import json

from sqlalchemy import func, select

from trustlab.config import Settings
from trustlab.db.schema import Dataset, Item, ModelVersion, Prediction
from trustlab.demo import DATASET, MODEL, DemoPlan, DemoResult, count_rows, data_dir


def _dataset_items(settings: Settings) -> int:
    return count_rows(settings, select(func.count(Item.id)).join(Dataset).where(Dataset.name == DATASET))


def _model_id(settings: Settings) -> int | None:
    from trustlab.db.engine import session_for

    with session_for(settings) as session:
        return session.scalar(select(ModelVersion.id).where(ModelVersion.name == MODEL))


# -- data ---------------------------------------------------------------------------------------

def data_done(settings: Settings, plan: DemoPlan) -> str | None:
    meta = data_dir(settings) / "demo.json"
    if meta.exists() and json.loads(meta.read_text()).get("n") == plan.n_images:
        return f"{plan.n_images} images in {data_dir(settings)}"
    return None


def data_run(settings: Settings, plan: DemoPlan, result: DemoResult, progress: bool) -> str:
    from trustlab.data.demo import generate_demo

    summary = generate_demo(data_dir(settings), n=plan.n_images, seed=plan.seed, bias="watermark",
                            noise=0.05, progress=progress)
    return (f"{summary.n} images, {summary.noisy} noisy labels, {summary.ambiguous} ambiguous, "
            f"watermark biased towards {summary.biased_class!r}")


def ingest_done(settings: Settings, plan: DemoPlan) -> str | None:
    n = _dataset_items(settings)
    return f"dataset {DATASET!r} has {n} items" if n >= plan.n_images else None


def ingest_run(settings: Settings, plan: DemoPlan, result: DemoResult, progress: bool) -> str:
    from trustlab.data.ingest import ingest

    source = data_dir(settings)
    report = ingest(settings, source, dataset=DATASET, manifest=source / "manifest.csv", seed=plan.seed,
                    progress=progress)
    if report.ingested == 0 and _dataset_items(settings) == 0:
        raise RuntimeError(f"nothing was ingested from {source}")
    return f"{report.ingested} ingested, {len(report.skipped)} skipped, {len(report.duplicates)} duplicates"


# -- model --------------------------------------------------------------------------------------

def train_done(settings: Settings, plan: DemoPlan) -> str | None:
    return f"model {MODEL!r} exists" if _model_id(settings) is not None else None


def train_run(settings: Settings, plan: DemoPlan, result: DemoResult, progress: bool) -> str:
    from trustlab.models.train import train_model

    version = train_model(settings, dataset=DATASET, arch="simple_cnn", name=MODEL, epochs=plan.epochs,
                          img_size=plan.img_size, seed=plan.seed, progress=progress)
    best = max((v for v in version.history.get("val_acc", []) if v is not None), default=float("nan"))
    return f"simple_cnn trained, best val accuracy {best:.3f}"


def evaluate_done(settings: Settings, plan: DemoPlan) -> str | None:
    from trustlab.db.engine import session_for

    with session_for(settings) as session:
        version = session.scalars(select(ModelVersion).where(ModelVersion.name == MODEL)).first()
        if version is not None and "test" in (version.metrics or {}):
            return f"test accuracy {version.metrics['test'].get('accuracy', float('nan')):.3f}"
    return None


def evaluate_run(settings: Settings, plan: DemoPlan, result: DemoResult, progress: bool) -> str:
    from trustlab.models.evaluate import evaluate_model

    evaluation = evaluate_model(settings, model=MODEL, split="test", progress=progress)
    return f"test accuracy {evaluation.metrics['accuracy']:.3f}"


def predict_done(settings: Settings, plan: DemoPlan) -> str | None:
    model_id = _model_id(settings)
    if model_id is None:
        return None
    holdout = count_rows(settings, select(func.count(Prediction.id)).where(
        Prediction.model_version_id == model_id, Prediction.kind == "holdout"))
    crossval = count_rows(settings, select(func.count(Prediction.id)).where(
        Prediction.model_version_id == model_id, Prediction.kind == "crossval"))
    return f"{holdout} holdout and {crossval} cross-validated predictions" if holdout and crossval else None


def predict_run(settings: Settings, plan: DemoPlan, result: DemoResult, progress: bool) -> str:
    from trustlab.models.crossval import crossval_predict
    from trustlab.models.predict import predict_model

    holdout = predict_model(settings, model=MODEL, split="all", progress=progress)
    crossval = crossval_predict(settings, model=MODEL, k=plan.crossval_folds, epochs=plan.crossval_epochs,
                                progress=progress)
    return (f"{holdout.added} holdout predictions added ({holdout.skipped} there already), "
            f"{crossval.added} cross-validated")


STAGES = [
    ("generate demo data", data_done, data_run),
    ("ingest", ingest_done, ingest_run),
    ("train simple_cnn", train_done, train_run),
    ("evaluate", evaluate_done, evaluate_run),
    ("predict (+ cross-validation)", predict_done, predict_run),
]
