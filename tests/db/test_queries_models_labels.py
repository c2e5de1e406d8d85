"""Model look-ups name the known models; every label change writes a revision."""

from __future__ import annotations

import pytest

from tests.helpers.query_world import make_query_world
from trustlab.db.engine import read_session, unit_of_work
from trustlab.db.queries.errors import NotFound
from trustlab.db.queries.items import get_item
from trustlab.db.queries.labels import change_label, class_names, item_revisions, merge_item_labels
from trustlab.db.queries.models import get_model_version, model_versions_with_dataset


def test_get_model_version_not_found_lists_the_known_names(settings):
    make_query_world(settings)
    with read_session(settings) as s:
        assert get_model_version(s, name="m1").name == "m1"
        with pytest.raises(NotFound, match=r"'nope' does not exist \(known: m1\).*trustlab train"):
            get_model_version(s, name="nope")
        assert [(v.name, d) for v, d in model_versions_with_dataset(s)] == [("m1", "pets")]


def test_every_label_change_writes_a_revision_even_to_the_same_label(settings):
    world = make_query_world(settings)
    item_id = world.item_ids[0]
    with unit_of_work(settings) as s:
        item = get_item(s, item_id=item_id)
        original = item.current_label
        change_label(s, item=item, new_label="dog", source="curator", actor="ann")
        change_label(s, item=item, new_label="dog", source="curator", actor="bob")
    with read_session(settings) as s:
        item = get_item(s, item_id=item_id)
        assert item.current_label == "dog" and item.original_label == original
        revisions = item_revisions(s, item_id=item_id)
        assert [(r.old_label, r.new_label, r.actor) for r in revisions] == [
            (original, "dog", "ann"), ("dog", "dog", "bob")]


def test_a_label_change_and_its_revision_roll_back_together(settings):
    world = make_query_world(settings)
    item_id = world.item_ids[0]
    with pytest.raises(RuntimeError), unit_of_work(settings) as s:
        change_label(s, item=get_item(s, item_id=item_id), new_label="dog", source="curator", actor="ann")
        raise RuntimeError("curator's request failed after the change")
    with read_session(settings) as s:
        assert get_item(s, item_id=item_id).current_label == "cat"
        assert item_revisions(s, item_id=item_id) == []


def test_merge_writes_one_revision_per_changed_item_and_adds_the_class(settings):
    world = make_query_world(settings, n_items=4)
    with unit_of_work(settings) as s:
        revisions = merge_item_labels(s, dataset_id=world.dataset_id, sources=["cat", "dog"], into="pet",
                                      actor="ann")
    assert len(revisions) == 4
    with read_session(settings) as s:
        assert class_names(s, dataset_id=world.dataset_id) == ["cat", "dog", "pet"]
        assert all(len(item_revisions(s, item_id=i)) == 1 for i in world.item_ids)


def test_list_models_reads_every_model_with_its_dataset(settings):
    from trustlab.models.catalog import list_models

    make_query_world(settings)
    [summary] = list_models(settings)
    assert (summary.name, summary.dataset, summary.n_classes, summary.test_acc) == ("m1", "pets", 2, None)
