"""The invariant "a judgement acknowledged to a rater is on disk": Services.submit returns only
after its unit of work committed, so another process sees the row the moment the rater is told."""

from __future__ import annotations

from sqlalchemy import event, func, select

from trustlab.db.engine import get_engine, make_engine
from trustlab.db.schema import Judgement
from trustlab.platform.accounts import auth
from trustlab.platform.accounts.invites import accept_invite
from trustlab.platform.content.worker import ExplanationWorker
from trustlab.platform.services.rater import Services


def _no_explainer(settings, *, model, item_ids, methods):
    raise RuntimeError("no model checkpoint in this test")


def _judgements_seen_by_another_process(settings) -> int:
    engine = make_engine(settings.database_url)  # its own pool: sees only what is committed
    try:
        with engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(Judgement)).scalar_one())
    finally:
        engine.dispose()


def test_a_judgement_is_committed_before_submit_returns(world):
    services = Services(world.settings, worker=ExplanationWorker(world.settings, explain_fn=_no_explainer))
    accepted = accept_invite(world.settings, invite=world.invite("alpha")[0])
    principal = auth.authenticate(world.settings, accepted.token)
    item = services.next_item(principal, study="alpha")
    commits: list[str] = []
    engine = get_engine(world.settings)

    def on_commit(_conn) -> None:
        commits.append("commit")

    event.listen(engine, "commit", on_commit)
    try:
        judgement_id, created = services.submit(
            principal,
            assignment_id=item["assignment_id"],
            answers={"model_correct": True, "true_label": "square", "trust": 4},
            idempotency_key="ack-1",
        )
    finally:
        event.remove(engine, "commit", on_commit)
    assert created and judgement_id > 0
    assert commits  # the write unit committed inside submit, not later
    assert _judgements_seen_by_another_process(world.settings) == 1
