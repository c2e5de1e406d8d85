"""End to end on a planted dataset: 5% flipped labels, simulated raters' true_label judgements and
out-of-sample "crossval" predictions in the database -> proposals recover the flips, the planted
ambiguous pair (phone vs url) tops the ambiguity list, decisions are never proposed again."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from tests.helpers.builders import make_image_dataset
from trustlab.cli import _load_verbs
from trustlab.cli.app import app
from trustlab.db.engine import unit_of_work
from trustlab.db.queries.items import list_items
from trustlab.db.queries.studies import get_study
from trustlab.db.schema import (
    Assignment,
    Judgement,
    ModelVersion,
    Prediction,
    RelabelProposal,
    Study,
    User,
)
from trustlab.studies.judgements import label_answers as rater_label_answers
from trustlab.studies.relabel.curation import decide, export_labels, review_queue
from trustlab.studies.relabel.pipeline import RelabelError, run_relabel
from trustlab.studies.relabel.planted import (
    ambiguous_items,
    plant_label_noise,
    simulate_pred_probs,
    simulate_rater_labels,
)

CLASSES = ("none", "phone", "email", "url")
PAIR = (1, 3)  # phone vs url, as the demo generator makes them ambiguous
PER_CLASS = {"train": 140, "val": 30, "test": 30}  # 800 items, 40 flipped at 5%
NOISE = 0.05
RATERS = 8
RATERS_PER_ITEM = 5
SEED = 0


def _build_world(settings) -> dict:
    dataset_id = make_image_dataset(settings, name="planted", classes=CLASSES, per_class=PER_CLASS, size=16)
    with unit_of_work(settings) as s:
        items = list_items(s, dataset_id=dataset_id)
        truth = np.array([CLASSES.index(i.current_label) for i in items])
        noisy, flipped = plant_label_noise(truth, num_classes=len(CLASSES), rate=NOISE, seed=SEED)
        for item, label in zip(items, noisy, strict=True):  # the dataset arrives with the noise
            item.original_label = item.current_label = CLASSES[label]
        ambiguous = ambiguous_items(truth, confusable=[PAIR], seed=SEED)
        answers = simulate_rater_labels(truth, num_classes=len(CLASSES), n_raters=RATERS,
                                        raters_per_item=RATERS_PER_ITEM, confusable=[PAIR],
                                        ambiguous=ambiguous, seed=SEED)
        probs = simulate_pred_probs(truth, num_classes=len(CLASSES), confusable=[PAIR], ambiguous=ambiguous,
                                    seed=SEED)
        model = ModelVersion(name="m1", dataset_id=dataset_id, arch="simple_cnn", checkpoint_path="x",
                             checkpoint_sha256="0" * 64, class_names=list(CLASSES), img_size=16)
        s.add(model)
        s.flush()
        for n, item in enumerate(items):
            kind = "crossval" if item.split == "train" else "holdout"
            p = probs[n]
            s.add(Prediction(model_version_id=model.id, item_id=item.id, kind=kind, probabilities=p.tolist(),
                             predicted_label=CLASSES[int(p.argmax())], confidence=float(p.max())))
            if item.split == "train":
                # an in-sample prediction that memorised the noisy label: must be ignored
                memorised = np.full(len(CLASSES), 0.01)
                memorised[noisy[n]] = 0.97
                s.add(Prediction(model_version_id=model.id, item_id=item.id, kind="holdout",
                                 probabilities=memorised.tolist(), predicted_label=CLASSES[noisy[n]],
                                 confidence=0.97))
        study = Study(name="s1", dataset_id=dataset_id, model_version_id=model.id, config={}, status="open")
        s.add(study)
        s.flush()
        raters = [User(username=f"r{m}", simulated=True, study_id=study.id) for m in range(RATERS)]
        s.add_all(raters)
        s.flush()
        assignments = []
        for n, item in enumerate(items):
            for m in np.flatnonzero(~np.isnan(answers[n])):
                row = Assignment(study_id=study.id, rater_id=raters[m].id, item_id=item.id, condition="none",
                                 position=n, status="done")
                assignments.append((n, m, row))
        s.add_all([a for _, _, a in assignments])
        s.flush()
        superseded = []
        for key, (n, m, a) in enumerate(assignments):
            label = CLASSES[int(answers[n, m])]
            if n % 97 == 0:  # a changed answer: the first judgement is superseded by the second
                wrong = CLASSES[(int(answers[n, m]) + 1) % len(CLASSES)]
                first = Judgement(assignment_id=a.id, answers={"true_label": wrong},
                                  idempotency_key=f"k{key}a")
                superseded.append((first, a, label, key))
                s.add(first)
            else:
                s.add(Judgement(assignment_id=a.id, answers={"true_label": label, "trust": 4},
                                idempotency_key=f"k{key}"))
        s.flush()
        for first, a, label, key in superseded:
            s.add(Judgement(assignment_id=a.id, answers={"true_label": label}, idempotency_key=f"k{key}",
                            supersedes_id=first.id))
        s.commit()
        return {"dataset_id": dataset_id, "item_ids": np.array([i.id for i in items]), "truth": truth,
                "flipped": flipped, "answers": answers}


@pytest.fixture
def world(settings):
    return _build_world(settings)


def _precision_recall(frame: pd.DataFrame, world: dict) -> tuple[float, float]:
    position = {item_id: n for n, item_id in enumerate(world["item_ids"])}
    hits = 0
    for row in frame.itertuples():
        n = position[row.item_id]
        hits += bool(world["flipped"][n] and CLASSES[world["truth"][n]] == row.proposed_label)
    return hits / max(len(frame), 1), hits / world["flipped"].sum()


def test_rater_answers_use_the_latest_judgement(settings, world):
    with unit_of_work(settings) as s:
        study = get_study(s, name="s1")
        answers = rater_label_answers(s, study_id=study.id)
    assert len(answers) == int((~np.isnan(world["answers"])).sum())
    position = {item_id: n for n, item_id in enumerate(world["item_ids"])}
    got = {}
    for item_id, _rater, label in answers:
        got.setdefault(position[item_id], []).append(label)
    for n in (0, 97, 194):  # items with a superseded first answer
        expected = sorted(CLASSES[int(v)] for v in world["answers"][n] if not np.isnan(v))
        assert sorted(got[n]) == expected


def test_proposals_recover_flipped_labels_and_ambiguity(settings, world, tmp_path):
    result = run_relabel(settings, model="m1", study="s1", out_dir=tmp_path / "out")
    precision, recall = _precision_recall(result.proposals, world)
    print(f"planted noise {NOISE:.0%}: {len(result.proposals)} proposals, precision {precision:.2f}, "
          f"recall {recall:.2f}")
    assert precision >= 0.8 and recall >= 0.8
    # auto uses CROWDLAB where raters and the model both speak (plus its near-certain joint
    # Dawid-Skene proposals, proposals.JOINT_MIN_MARGIN)
    methods = result.proposals["method"].value_counts()
    assert set(methods.index) <= {"crowdlab", "crowdlab+ds"}
    assert methods["crowdlab"] > len(result.proposals) / 2
    top = result.ambiguity.iloc[0]
    assert {top.class_a, top.class_b} == {"phone", "url"}
    assert top.rater_rate > result.ambiguity.iloc[1:]["rater_rate"].max()
    assert top.suggestion.startswith(("redefine", "merge")) and len(top.examples) == 5
    written = pd.read_csv(result.paths["proposals"])
    assert list(written["item_id"]) == list(result.proposals["item_id"])
    assert {"item_id", "path", "current_label", "proposed_label", "score", "method", "votes"} <= set(written)
    assert (written["score"].diff().dropna() <= 1e-12).all()
    assert pd.read_csv(result.paths["ambiguity"]).iloc[0][["class_a", "class_b"]].tolist() in (
        ["phone", "url"], ["url", "phone"])
    quality = pd.read_csv(result.paths["rater_quality"])
    assert len(quality) == RATERS and quality["ds_accuracy"].between(0.5, 1).all()
    with unit_of_work(settings) as s:
        queue = review_queue(s, dataset_id=world["dataset_id"], limit=1000)
    assert len(queue) == len(result.proposals)
    first = queue[0]
    assert sum(first["votes"].values()) >= 1 and set(first["probabilities"]) == set(CLASSES)
    assert first["evidence"]["model"] == "m1" and first["evidence"]["study"] == "s1"


def test_rerun_does_not_repropose_decided_or_duplicate_open(settings, world, tmp_path):
    first = run_relabel(settings, model="m1", study="s1", out_dir=tmp_path / "a")
    assert first.counts["added"] == len(first.proposals) > 3
    with unit_of_work(settings) as s:
        queue = review_queue(s, dataset_id=world["dataset_id"], limit=3)
        accepted, rejected, other = queue
        decide(s, proposal_id=accepted["proposal_id"], action="accept", actor="cura")
        decide(s, proposal_id=rejected["proposal_id"], action="reject", actor="cura")
        choice = next(c for c in CLASSES if c not in (other["current_label"], other["proposed_label"]))
        decide(s, proposal_id=other["proposal_id"], action="other", label=choice, actor="cura")
    second = run_relabel(settings, model="m1", study="s1", out_dir=tmp_path / "b")
    again = set(zip(second.proposals["item_id"], second.proposals["proposed_label"], strict=True))
    for q in (accepted, rejected, other):
        assert (q["item_id"], q["proposed_label"]) not in again
    assert second.counts["added"] == 0 and second.counts["skipped_decided"] >= 2
    assert second.counts["refreshed"] == len(second.proposals)
    with unit_of_work(settings) as s:
        rows = s.query(RelabelProposal).filter_by(dataset_id=world["dataset_id"]).all()
        keys = [(p.item_id, p.proposed_label) for p in rows]
        assert len(keys) == len(set(keys)) == len(first.proposals)
        export = export_labels(s, dataset_id=world["dataset_id"]).set_index("item_id")
    assert export.loc[accepted["item_id"], "current_label"] == accepted["proposed_label"]
    assert export.loc[other["item_id"], "current_label"] == choice
    assert export.loc[rejected["item_id"], "n_revisions"] == 0
    assert (export["original_label"] != export["current_label"]).sum() == 2


def test_cleanlab_only_dataset_scope_and_errors(settings, world, tmp_path):
    result = run_relabel(settings, model="m1", dataset="planted", method="cleanlab", out_dir=tmp_path)
    assert len(result.proposals) and set(result.proposals["method"]) == {"cleanlab"}
    _, recall = _precision_recall(result.proposals, world)
    assert recall >= 0.5  # the model alone finds most flips, with more false alarms
    with pytest.raises(RelabelError, match="exactly one"):
        run_relabel(settings, model="m1", out_dir=tmp_path)
    with pytest.raises(LookupError, match="model 'nope'"):
        run_relabel(settings, model="nope", study="s1", out_dir=tmp_path)
    with pytest.raises(RelabelError, match="--method"):
        run_relabel(settings, model="m1", study="s1", method="vote", out_dir=tmp_path)


def test_cli_relabel_decide_undo_merge_export(settings, world, tmp_path, monkeypatch):
    monkeypatch.setenv("TRUSTLAB_HOME", str(settings.home))
    monkeypatch.setenv("TRUSTLAB_DB_URL", settings.db_url or "")
    _load_verbs()
    runner = CliRunner()
    out = runner.invoke(app, ["relabel", "--study", "s1", "--model", "m1", "--out", str(tmp_path / "r")])
    assert out.exit_code == 0, out.output
    assert "Ambiguous class pairs" in out.output and (tmp_path / "r" / "proposals.csv").is_file()
    proposals = pd.read_csv(tmp_path / "r" / "proposals.csv")
    pid, item_id = int(proposals.proposal_id[0]), int(proposals.item_id[0])
    out = runner.invoke(app, ["labels", "decide", str(pid), "accept", "--actor", "cura"])
    assert out.exit_code == 0 and "->" in out.output, out.output
    out = runner.invoke(app, ["labels", "decide", str(pid), "reject"])
    assert out.exit_code == 1 and "already accepted" in out.output
    out = runner.invoke(app, ["labels", "undo", str(item_id), "--actor", "cura"])
    assert out.exit_code == 0, out.output
    other = proposals[proposals.item_id != item_id].iloc[0]  # a reject is undone by the same verb
    out = runner.invoke(app, ["labels", "decide", str(int(other.proposal_id)), "reject", "--actor", "cura"])
    assert out.exit_code == 0, out.output
    out = runner.invoke(app, ["labels", "undo", str(int(other.item_id)), "--actor", "cura"])
    assert out.exit_code == 0 and "the reject is undone" in out.output, out.output
    out = runner.invoke(app, ["labels", "merge", "phone", "url", "--into", "contact", "--dataset", "planted"])
    assert out.exit_code == 0 and "relabelled" in out.output, out.output
    out = runner.invoke(app, ["labels", "merge", "fax", "--into", "contact", "--dataset", "planted"])
    assert out.exit_code == 1 and "'fax' not in the dataset" in out.output
    out = runner.invoke(app, ["labels", "queue", "--dataset", "planted", "--limit", "3"])
    assert out.exit_code == 0 and "Open proposals" in out.output
    out = runner.invoke(app, ["labels", "export", "--dataset", "planted", "--out", str(tmp_path / "l.csv")])
    assert out.exit_code == 0, out.output
    labels = pd.read_csv(tmp_path / "l.csv").set_index("item_id")
    assert set(labels.current_label) == {"none", "email", "contact"}
    row = labels.loc[item_id]  # accepted, undone, then merged if its label was phone or url
    assert row.n_revisions == 2 + (row.original_label in ("phone", "url"))
    assert row.last_change_by == ("cli" if row.original_label in ("phone", "url") else "cura")
    out = runner.invoke(app, ["labels", "export", "--dataset", "nope", "--out", str(tmp_path / "x.csv")])
    assert out.exit_code == 1 and "dataset 'nope' does not exist" in out.output
