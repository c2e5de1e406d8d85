"""A link study on the platform test world, and a participant walking it over the REST API."""

from __future__ import annotations

from tests.helpers.platform_world import World, study_config

COMPLETION = "https://app.example.org/complete?cc={code}"
SCREENOUT = "https://app.example.org/complete?cc={screenout_code}"
PARAMS = {"PROLIFIC_PID": "pp-1", "STUDY_ID": "st-9", "SESSION_ID": "se-3"}
ATTENTION = [{"prompt": "To show you read this, choose 'No'.", "answer": {"model_correct": False}}]


def bearer(token: str) -> dict:
    """The Authorization header for ``token``."""
    return {"Authorization": f"Bearer {token}"}


def join(client, params=PARAMS, consent=True, study="crowd"):
    """Join link study ``study`` with the recruitment ``params`` and ``consent``; returns the response."""
    return client.post(f"/api/v1/studies/{study}/join", json={"params": params, "consent": consent})


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
    return world.add_study(config, regular, status, gold_ids=gold_ids)


def rate_everything(client, token: str, *, gold_right: dict | None = None, attention_answer=False) -> dict:
    """Walk the steps to the end; returns the final step."""
    headers = bearer(token)
    for k in range(40):
        step = client.get("/api/v1/step", headers=headers).json()
        if step["kind"] == "practice":
            r = client.post(
                f"/api/v1/practice/{step['index']}/answer",
                headers=headers,
                json={"answers": {"model_correct": True, "true_label": "square", "trust": 3}},
            )
            assert r.status_code == 200, r.text
        elif step["kind"] == "attention":
            r = client.post(
                f"/api/v1/attention/{step['index']}/answer",
                headers=headers,
                json={"answers": {"model_correct": attention_answer}},
            )
            assert r.status_code == 200, r.text
        elif step["kind"] == "item":
            r = client.get("/api/v1/studies/crowd/next", headers=headers)
            assert r.status_code == 200, r.text
            item = r.json()
            answers = {"model_correct": True, "true_label": "square", "trust": 4}
            if gold_right is not None and item["item_id"] in gold_right:
                answers.update(gold_right[item["item_id"]])
            r = client.post(
                "/api/v1/judgements",
                headers=headers,
                json={
                    "assignment_id": item["assignment_id"],
                    "answers": answers,
                    "idempotency_key": f"k-{k}",
                },
            )
            assert r.status_code == 201, r.text
        else:
            return step
    raise AssertionError("the flow did not end")
