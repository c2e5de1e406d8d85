"""The demo's stages: (name, is_done(settings, plan) -> reason | None, run(...) -> detail).

Every stage calls one library function, the same one its CLI verb calls; the ``*_done`` checks read
the database only through query functions of trustlab/db (no SQL here).
"""

from __future__ import annotations

import json

from trustlab.config import Settings
from trustlab.db.engine import unit_of_work
from trustlab.db.queries.assignments import study_progress_rows
from trustlab.db.queries.datasets import find_dataset, split_counts
from trustlab.db.queries.models import find_model_version
from trustlab.db.queries.predictions import predicted_item_ids
from trustlab.db.queries.proposals import count_relabel_proposals
from trustlab.db.queries.studies import get_study, study_exists
from trustlab.db.queries.users import user_by_username
from trustlab.demo.explaining import explain_study_done, explain_study_run
from trustlab.demo.plan import (
    CONDITIONS,
    CURATOR,
    DATASET,
    MODEL,
    RESEARCHER,
    STUDY,
    DemoPlan,
    DemoResult,
    data_dir,
    load_credentials,
    report_dir,
    save_credentials,
    study_config,
)


def _items_per_split(settings: Settings) -> dict[str, int]:
    """{split: number of items} of the demo dataset ({} before it is ingested)."""
    with unit_of_work(settings) as session:
        dataset = find_dataset(session, name=DATASET)
        if dataset is None:
            return {}
        counts = split_counts(session, dataset_id=dataset.id)
    return {split: sum(by_label.values()) for split, by_label in counts.items()}


def _dataset_items(settings: Settings) -> int:
    return sum(_items_per_split(settings).values())


def _model_id(settings: Settings) -> int | None:
    with unit_of_work(settings) as session:
        version = find_model_version(session, name=MODEL)
        return None if version is None else version.id


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
    from trustlab.models.train import TrainConfig, train_model

    # train's defaults (colour-only augmentation: text is the evidence; batch 8, lr 2e-3), as
    # `benchmarks/bench_train.py --demo` measured them.
    config = TrainConfig.of(dataset=DATASET, arch="simple_cnn", name=MODEL, epochs=plan.epochs,
                            img_size=plan.img_size, seed=plan.seed, patience=6)
    version = train_model(settings, config, progress=progress)
    best = max((v for v in version.history.get("val_acc", []) if v is not None), default=float("nan"))
    return f"simple_cnn trained, best val accuracy {best:.3f}"


def evaluate_done(settings: Settings, plan: DemoPlan) -> str | None:
    with unit_of_work(settings) as session:
        version = find_model_version(session, name=MODEL)
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
    # One prediction per (model, item, kind), so items predicted = predictions stored.
    with unit_of_work(settings) as session:
        holdout = len(predicted_item_ids(session, model_version_id=model_id, kind="holdout"))
        crossval = len(predicted_item_ids(session, model_version_id=model_id, kind="crossval"))
    return f"{holdout} holdout and {crossval} cross-validated predictions" if holdout and crossval else None


def predict_run(settings: Settings, plan: DemoPlan, result: DemoResult, progress: bool) -> str:
    from trustlab.models.crossval import crossval_predict
    from trustlab.models.predict import predict_model

    holdout = predict_model(settings, model=MODEL, split="all", progress=progress)
    crossval = crossval_predict(settings, model=MODEL, k=plan.crossval_folds, epochs=plan.crossval_epochs,
                                progress=progress)
    return (f"{holdout.added} holdout predictions added ({holdout.skipped} there already), "
            f"{crossval.added} cross-validated")


# -- study, raters, analysis ----------------------------------------------------------------------

def _study_id(settings: Settings) -> int | None:
    with unit_of_work(settings) as session:
        return get_study(session, name=STUDY).id if study_exists(session, name=STUDY) else None


def study_done(settings: Settings, plan: DemoPlan) -> str | None:
    return f"study {STUDY!r} exists" if _study_id(settings) is not None else None


def study_run(settings: Settings, plan: DemoPlan, result: DemoResult, progress: bool) -> str:
    from trustlab.studies.design.create import create_study, open_study

    # The fast plan's study is too small to balance; the full plan's numbers balance.
    create_study(settings, study_config(plan), allow_unbalanced=True)
    open_study(settings, STUDY)
    return f"study {STUDY!r} created and opened (conditions {', '.join(CONDITIONS)})"


def users_done(settings: Settings, plan: DemoPlan) -> str | None:
    creds = load_credentials(settings)
    with unit_of_work(settings) as session:
        n = sum(user_by_username(session, username=handle) is not None for handle in (RESEARCHER, CURATOR))
    if n == 2 and RESEARCHER in creds and CURATOR in creds:
        return "researcher and curator accounts exist"
    return None


def users_run(settings: Settings, plan: DemoPlan, result: DemoResult, progress: bool) -> str:
    from trustlab.platform.accounts.auth import create_user

    made = {}
    for handle, role in ((RESEARCHER, "researcher"), (CURATOR, "curator")):
        _, password = create_user(settings, username=handle, role=role)
        made[handle] = password
    save_credentials(settings, made)
    return f"accounts {RESEARCHER!r} and {CURATOR!r} (passwords in {settings.home}/demo-credentials.json)"


def simulate_done(settings: Settings, plan: DemoPlan) -> str | None:
    study_id = _study_id(settings)
    done = 0
    if study_id is not None:
        with unit_of_work(settings) as session:
            rows = study_progress_rows(session, study_id=study_id)
        done = len({row["rater_id"] for row in rows if row["status"] == "done"})
    return f"{done} raters have rated" if done >= plan.simulated_raters else None


def simulate_run(settings: Settings, plan: DemoPlan, result: DemoResult, progress: bool) -> str:
    from trustlab.platform.client.simulated import run_simulated_raters

    outcome = run_simulated_raters(settings, study=STUDY, n=plan.simulated_raters, seed=plan.seed)
    return (f"{outcome.raters} simulated raters ({outcome.careless} careless) gave "
            f"{outcome.judgements} judgements through the REST API")


def analyze_done(settings: Settings, plan: DemoPlan) -> str | None:
    report = report_dir(settings) / "report.html"
    if report.exists() and (report_dir(settings) / "summary.json").exists():
        return f"report at {report}"
    return None


def analyze_run(settings: Settings, plan: DemoPlan, result: DemoResult, progress: bool) -> str:
    from trustlab.studies.analysis import analyze_study
    from trustlab.studies.monitoring.outcome_blinding import analysis_look

    # The demo's study stays open for human raters, so its report is an interim look: recorded.
    reason = "the demo's report of its simulated raters"
    analysis_look(settings, STUDY, unblind=True, actor="trustlab demo", reason=reason)
    summary = analyze_study(settings, STUDY, report_dir(settings))
    return f"{summary['study']['n_judgements']} judgements analysed -> {report_dir(settings)}/report.html"


def relabel_done(settings: Settings, plan: DemoPlan) -> str | None:
    with unit_of_work(settings) as session:
        dataset = find_dataset(session, name=DATASET)
        n = 0 if dataset is None else count_relabel_proposals(session, dataset_id=dataset.id)
    return f"{n} relabel proposals stored" if (settings.home / "relabel" / "proposals.csv").exists() else None


def relabel_run(settings: Settings, plan: DemoPlan, result: DemoResult, progress: bool) -> str:
    from trustlab.studies.relabel.pipeline import run_relabel

    outcome = run_relabel(settings, model=MODEL, dataset=DATASET, out_dir=settings.home / "relabel")
    top = outcome.ambiguity.iloc[0] if len(outcome.ambiguity) else None
    pair = f"; most ambiguous pair {top['class_a']} / {top['class_b']}" if top is not None else ""
    return f"{len(outcome.proposals)} proposals -> {outcome.paths.get('proposals')}{pair}"


def invite_done(settings: Settings, plan: DemoPlan) -> str | None:
    return None  # a fresh single-rater link every run: a used link would only show the completion page


def invite_run(settings: Settings, plan: DemoPlan, result: DemoResult, progress: bool) -> str:
    from trustlab.platform.accounts.invites import create_invites

    link = create_invites(settings, study=STUDY, n=1)[0]
    result.invite_url = link.url
    creds = load_credentials(settings)
    if RESEARCHER in creds and CURATOR in creds:
        result.researcher, result.curator = (RESEARCHER, creds[RESEARCHER]), (CURATOR, creds[CURATOR])
    result.report = report_dir(settings) / "report.html"
    return "one rater invite link made"


STAGES = [
    ("generate demo data", data_done, data_run),
    ("ingest", ingest_done, ingest_run),
    ("train simple_cnn", train_done, train_run),
    ("evaluate", evaluate_done, evaluate_run),
    ("predict (+ cross-validation)", predict_done, predict_run),
    ("create study", study_done, study_run),
    ("explain the study's items", explain_study_done, explain_study_run),
    ("staff accounts", users_done, users_run),
    ("simulated raters", simulate_done, simulate_run),
    ("analyse study", analyze_done, analyze_run),
    ("relabel proposals", relabel_done, relabel_run),
    ("invite link", invite_done, invite_run),
]
