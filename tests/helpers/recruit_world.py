"""A link study on the platform test world."""

from __future__ import annotations

from tests.helpers.platform_world import World, study_config
from trustlab.db.engine import unit_of_work
from trustlab.db.schema import Study, StudyItem

COMPLETION = "https://app.example.org/complete?cc={code}"
SCREENOUT = "https://app.example.org/complete?cc={screenout_code}"


def link_config(
    name: str = "crowd", *, max_participants: int | None = 5, per_rater: int = 3, **extra
) -> dict:
    config = study_config(name, conditions=["none", "gradcam"], n=4, per_rater=per_rater, raters_per_item=50)
    config["recruitment"] = {
        "mode": "link",
        "platform": "prolific",
        "max_participants": max_participants,
        "completion_url": COMPLETION,
        "screenout_url": SCREENOUT,
    }
    config["consent"] = {"text": "You agree to rate pictures."}
    config["instructions"] = {"text": "Say whether the model is right."}
    config.update(extra)
    return config


def add_link_study(world: World, config: dict, *, gold: int = 0, status: str = "open") -> int:
    """The study on the first 4 alpha items, plus ``gold`` gold items from the beta items (their gold
    answer: the model's verification, the true label)."""
    regular = world.alpha_items[:4]
    gold_ids = world.beta_items[:gold]
    if gold:
        config["gold"] = {"n": gold, "max_failures": config.get("gold", {}).get("max_failures", 1)}
    with unit_of_work(world.settings) as s:
        study = Study(
            name=config["name"],
            dataset_id=world.dataset_id,
            model_version_id=world.model_version_id,
            config=config,
            status=status,
        )
        s.add(study)
        s.flush()
        rows = [
            StudyItem(study_id=study.id, item_id=i, model_correct=world.predicted[i] == world.item_labels[i])
            for i in regular
        ]
        rows += [
            StudyItem(
                study_id=study.id,
                item_id=i,
                is_gold=True,
                model_correct=world.predicted[i] == world.item_labels[i],
                gold_answers={
                    "model_correct": world.predicted[i] == world.item_labels[i],
                    "true_label": world.item_labels[i],
                },
            )
            for i in gold_ids
        ]
        s.add_all(rows)
        world.studies[config["name"]] = study.id
        return study.id
