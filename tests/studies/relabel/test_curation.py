"""Curation writes revisions with the label change, never touches original_label, and exports them."""

from __future__ import annotations

import pandas as pd
import pytest

from tests.helpers.builders import make_image_dataset
from trustlab.db.engine import unit_of_work
from trustlab.db.queries.items import get_item, list_items
from trustlab.db.queries.labels import class_names
from trustlab.db.queries.proposals import open_proposals, upsert_proposals
from trustlab.db.schema import LabelRevision, RelabelProposal
from trustlab.studies.relabel.curation import (
    EXPORT_COLUMNS,
    CurationConflict,
    CurationError,
    decide,
    export_labels,
    merge_labels,
    review_queue,
    undo,
    undo_decision,
    write_labels_csv,
)

CLASSES = ("square", "disc", "cross")


@pytest.fixture
def dataset(settings):
    dataset_id = make_image_dataset(settings, classes=CLASSES, per_class={"train": 3, "test": 1})
    with unit_of_work(settings) as s:
        items = list_items(s, dataset_id=dataset_id)
        rows = [
            {
                "item_id": items[0].id,
                "current_label": "square",
                "proposed_label": "disc",
                "score": 0.9,
                "method": "crowdlab",
                "evidence": {"votes": {"disc": 3}, "probabilities": {"disc": 0.8}},
            },
            {
                "item_id": items[1].id,
                "current_label": "square",
                "proposed_label": "cross",
                "score": 0.7,
                "method": "crowdlab",
                "evidence": {"votes": {"cross": 2, "square": 1}},
            },
            {
                "item_id": items[2].id,
                "current_label": "square",
                "proposed_label": "disc",
                "score": 0.8,
                "method": "cleanlab",
                "evidence": {"twins": [{"item_id": items[5].id, "similarity": 0.9}]},
            },
        ]
        upsert_proposals(s, dataset_id=dataset_id, rows=rows)
    return dataset_id, [i.id for i in items]


def _proposal_for(s, item_id):
    return next(p for p, i in open_proposals(s, dataset_id=i_ds(s, item_id)) if i.id == item_id)


def i_ds(s, item_id):
    return get_item(s, item_id=item_id).dataset_id


def test_queue_lists_open_proposals_by_score_with_evidence(settings, dataset):
    dataset_id, ids = dataset
    with unit_of_work(settings) as s:
        queue = review_queue(s, dataset_id=dataset_id, limit=10)
    assert [q["item_id"] for q in queue] == [ids[0], ids[2], ids[1]]
    first = queue[0]
    assert first["proposed_label"] == "disc" and first["current_label"] == "square"
    assert first["votes"] == {"disc": 3} and first["probabilities"] == {"disc": 0.8}
    assert first["classes"] == list(CLASSES)
    assert first["path"].endswith(".png")
    assert queue[1]["twins"][0]["item_id"] == ids[5]
    with unit_of_work(settings) as s:
        assert len(review_queue(s, dataset_id=dataset_id, limit=1)) == 1


def test_accept_reject_other_write_revisions_and_keep_original(settings, dataset):
    dataset_id, ids = dataset
    with unit_of_work(settings) as s:
        p0, p1, p2 = (_proposal_for(s, i) for i in ids[:3])
        rev = decide(s, proposal_id=p0.id, action="accept", actor="cura")
        assert rev is not None and (rev.old_label, rev.new_label) == ("square", "disc")
        assert rev.proposal_id == p0.id and rev.actor == "cura" and rev.source == "curator"
        assert rev.evidence["proposal"]["votes"] == {"disc": 3}
        assert decide(s, proposal_id=p1.id, action="reject", actor="cura") is None
        rev2 = decide(s, proposal_id=p2.id, action="other", label="cross", actor="bob")
        assert (rev2.old_label, rev2.new_label) == ("square", "cross")
    with unit_of_work(settings) as s:
        items = {i: get_item(s, item_id=i) for i in ids[:3]}
        assert [items[i].current_label for i in ids[:3]] == ["disc", "square", "cross"]
        assert all(items[i].original_label == "square" for i in ids[:3])
        statuses = {p.item_id: (p.status, p.decided_by) for p in s.query(RelabelProposal)}
        assert statuses[ids[0]] == ("accepted", "cura")
        assert statuses[ids[1]] == ("rejected", "cura")
        assert statuses[ids[2]] == ("other", "bob")
        assert s.query(LabelRevision).count() == 2
        assert review_queue(s, dataset_id=dataset_id) == []
        with pytest.raises(CurationError, match="already accepted"):
            decide(s, proposal_id=p0.id, action="reject", actor="cura")


def test_decide_validates_its_inputs(settings, dataset):
    dataset_id, ids = dataset
    with unit_of_work(settings) as s:
        p0 = _proposal_for(s, ids[0])
        with pytest.raises(CurationError, match="action 'maybe'"):
            decide(s, proposal_id=p0.id, action="maybe", actor="cura")
        with pytest.raises(CurationError, match="not a class"):
            decide(s, proposal_id=p0.id, action="other", label="hexagon", actor="cura")
        for nothing in (None, ""):  # "other" with no label chosen: say so, not "label None is not a class"
            with pytest.raises(CurationError, match="no label chosen: choose a label first") as caught:
                decide(s, proposal_id=p0.id, action="other", label=nothing, actor="cura")
            assert "None" not in str(caught.value)
        with pytest.raises(CurationError, match="actor"):
            decide(s, proposal_id=p0.id, action="accept", actor="")
        with pytest.raises(LookupError, match="proposal 999999"):
            decide(s, proposal_id=999999, action="accept", actor="cura")
        assert get_item(s, item_id=ids[0]).current_label == "square"
        assert s.query(LabelRevision).count() == 0


def test_undo_is_a_new_revision_and_reopens_the_proposal(settings, dataset):
    dataset_id, ids = dataset
    with unit_of_work(settings) as s:
        p0 = _proposal_for(s, ids[0])
        decide(s, proposal_id=p0.id, action="accept", actor="cura")
        back = undo(s, item_id=ids[0], actor="cura")
        assert (back.old_label, back.new_label, back.source) == ("disc", "square", "undo")
        assert get_item(s, item_id=ids[0]).current_label == "square"
        assert s.get(RelabelProposal, p0.id).status == "open"
        assert s.query(LabelRevision).filter_by(item_id=ids[0]).count() == 2
        with pytest.raises(CurationError, match="no label change to undo"):
            undo(s, item_id=ids[0], actor="cura")
        # decided again, then merged, then undo twice walks back through both changes
        decide(s, proposal_id=p0.id, action="other", label="cross", actor="cura")
        merge_labels(s, dataset_id=dataset_id, sources=["cross"], into="disc", actor="cura")
        assert get_item(s, item_id=ids[0]).current_label == "disc"
        undo(s, item_id=ids[0], actor="cura")
        assert get_item(s, item_id=ids[0]).current_label == "cross"
        undo(s, item_id=ids[0], actor="cura")
        item = get_item(s, item_id=ids[0])
        assert (item.current_label, item.original_label) == ("square", "square")


def test_merge_adds_class_and_writes_one_revision_per_changed_item(settings, dataset):
    dataset_id, ids = dataset
    with unit_of_work(settings) as s:
        before = {i.id: i.current_label for i in list_items(s, dataset_id=dataset_id)}
        revisions = merge_labels(
            s, dataset_id=dataset_id, sources=["disc", "cross"], into="round_or_cross", actor="cura"
        )
        changed = [i for i, label in before.items() if label in ("disc", "cross")]
        assert sorted(r.item_id for r in revisions) == sorted(changed)
        assert all(r.source == "merge" and r.evidence["into"] == "round_or_cross" for r in revisions)
        assert class_names(s, dataset_id=dataset_id) == [*CLASSES, "round_or_cross"]
        after = {i.id: (i.current_label, i.original_label) for i in list_items(s, dataset_id=dataset_id)}
        for item_id, label in before.items():
            expected = "round_or_cross" if label in ("disc", "cross") else label
            assert after[item_id] == (expected, label)
        with pytest.raises(CurationError, match="'hexagon' not in the dataset"):
            merge_labels(s, dataset_id=dataset_id, sources=["hexagon"], into="x", actor="cura")


def test_export_reflects_revisions(settings, dataset, tmp_path):
    dataset_id, ids = dataset
    with unit_of_work(settings) as s:
        decide(s, proposal_id=_proposal_for(s, ids[0]).id, action="accept", actor="cura")
        decide(s, proposal_id=_proposal_for(s, ids[1]).id, action="reject", actor="cura")
        frame = export_labels(s, dataset_id=dataset_id)
    assert list(frame.columns) == EXPORT_COLUMNS
    assert len(frame) == len(CLASSES) * 4
    row0 = frame.set_index("item_id").loc[ids[0]]
    assert (row0.original_label, row0.current_label, row0.n_revisions, row0.last_change_by) == (
        "square",
        "disc",
        1,
        "cura",
    )
    assert pd.notna(row0.last_change_at)
    row1 = frame.set_index("item_id").loc[ids[1]]
    assert (row1.current_label, row1.n_revisions) == ("square", 0) and pd.isna(row1.last_change_by)
    path = write_labels_csv(frame, tmp_path / "out" / "labels.csv")
    again = pd.read_csv(path)
    assert again.loc[again.item_id == ids[0], "current_label"].item() == "disc"


def test_the_cli_verbs_library_calls_work_by_name_and_commit(settings, dataset):
    from trustlab.studies.relabel.curation import (
        dataset_review_queue,
        decide_by_id,
        export_dataset_labels,
        merge_dataset_labels,
        undo_item,
    )

    dataset_id, item_ids = dataset
    queue = dataset_review_queue(settings, dataset="shapes", limit=5)
    assert [q["score"] for q in queue] == [0.9, 0.8, 0.7]
    revision = decide_by_id(settings, proposal_id=queue[0]["proposal_id"], action="accept", actor="cura")
    assert (revision.old_label, revision.new_label) == ("square", "disc")
    assert export_dataset_labels(settings, dataset="shapes").set_index("item_id").loc[
        item_ids[0], "current_label"] == "disc"
    assert undo_item(settings, item_id=item_ids[0], actor="cura").label == "square"
    merged = merge_dataset_labels(settings, dataset="shapes", sources=["disc"], into="round", actor="cura")
    assert len(merged) == 4  # every disc item: 3 train + 1 test
    with unit_of_work(settings) as s:
        assert "round" in class_names(s, dataset_id=dataset_id)
        assert get_item(s, item_id=item_ids[0]).current_label == "square"


def test_undo_of_a_reject_reopens_it_as_a_new_proposal_and_keeps_the_rejection(settings, dataset):
    dataset_id, ids = dataset
    with unit_of_work(settings) as s:
        p1 = _proposal_for(s, ids[1])
        assert decide(s, proposal_id=p1.id, action="reject", actor="cura") is None
        decided_at = s.get(RelabelProposal, p1.id).decided_at
        with pytest.raises(CurationConflict, match="made by cura, not by bob"):
            undo_decision(s, item_id=ids[1], actor="bob")
        undone = undo_decision(s, item_id=ids[1], actor="cura")
        # The rejection stays as it was (who, when); an open copy says which rejection it reopens.
        rejected = s.get(RelabelProposal, p1.id)
        assert (rejected.status, rejected.decided_by, rejected.decided_at) == ("rejected", "cura", decided_at)
        copy = s.get(RelabelProposal, undone.proposal_id)
        assert copy.id != p1.id and copy.status == "open" and copy.decided_by is None
        assert (copy.item_id, copy.current_label, copy.proposed_label) == (ids[1], "square", "cross")
        assert copy.evidence["votes"] == {"cross": 2, "square": 1}
        assert copy.evidence["undo"]["reopens_proposal_id"] == p1.id and copy.evidence["undo"]["by"] == "cura"
        assert (undone.kind, undone.revision, undone.label) == ("reject", None, "square")
        assert ids[1] in [q["item_id"] for q in review_queue(s, dataset_id=dataset_id)]
        assert get_item(s, item_id=ids[1]).current_label == "square"
        assert s.query(LabelRevision).count() == 0  # a reject changed no label; its undo changes none
        with pytest.raises(CurationError, match="no decision to undo"):
            undo_decision(s, item_id=ids[1], actor="cura")
        # The reopened proposal can be decided like any other, and that decision undone in turn.
        decide(s, proposal_id=copy.id, action="accept", actor="cura")
        assert get_item(s, item_id=ids[1]).current_label == "cross"
        again = undo_decision(s, item_id=ids[1], actor="cura")
        assert (again.kind, again.label, again.proposal_id) == ("label change", "square", copy.id)
        assert s.get(RelabelProposal, copy.id).status == "open"


def test_undo_walks_back_through_an_items_decisions_newest_first(settings, dataset):
    """A reject and a label change of one item, undone in the reverse order they were made."""
    dataset_id, ids = dataset
    with unit_of_work(settings) as s:
        upsert_proposals(s, dataset_id=dataset_id, rows=[{
            "item_id": ids[0], "current_label": "square", "proposed_label": "cross", "score": 0.5,
            "method": "crowdlab", "evidence": {},
        }])
        to_disc, to_cross = (
            next(p for p, i in open_proposals(s, dataset_id=dataset_id) if i.id == ids[0] and
                 p.proposed_label == label) for label in ("disc", "cross")
        )
        decide(s, proposal_id=to_cross.id, action="reject", actor="cura")
        decide(s, proposal_id=to_disc.id, action="accept", actor="cura")
        first = undo_decision(s, item_id=ids[0], actor="cura")
        assert (first.kind, first.proposal_id, first.label) == ("label change", to_disc.id, "square")
        second = undo_decision(s, item_id=ids[0], actor="cura")
        assert second.kind == "reject"
        assert s.get(RelabelProposal, second.proposal_id).proposed_label == "cross"
        # undo() itself still reverts label changes only (the `labels undo` verb): none is left.
        with pytest.raises(CurationError, match="no label change to undo"):
            undo(s, item_id=ids[0], actor="cura")
