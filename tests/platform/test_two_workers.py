"""Scale-out: two `trustlab serve` processes on one PostgreSQL database, simulated raters on both at
once. No judgement is lost or duplicated and assignments stay balanced."""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select

from tests.helpers.platform_world import build_world, study_config
from tests.helpers.serve_workers import free_port, start_worker
from trustlab.db.engine import unit_of_work
from trustlab.db.schema import Assignment, Judgement
from trustlab.platform.client.simulated import run_simulated_raters

pytestmark = pytest.mark.slow  # two server processes and simulated raters

RATERS_PER_WORKER = 4






def test_two_serve_workers_share_one_postgres(settings):
    if not settings.database_url.startswith("postgresql"):
        pytest.skip("scale-out runs on PostgreSQL (the multi-rater deployment)")
    world = build_world(settings)
    items = world.alpha_items
    config = study_config("scale", conditions=["none", "gradcam"], n=len(items), per_rater=len(items) // 2,
                          raters_per_item=RATERS_PER_WORKER)
    world.add_study(config, items)
    ports = [free_port(), free_port()]
    workers = [start_worker(settings, port) for port in ports]
    try:
        with ThreadPoolExecutor(max_workers=2) as pool:
            results = list(pool.map(
                lambda k: run_simulated_raters(settings, study="scale", n=RATERS_PER_WORKER, seed=k,
                                               url=f"http://127.0.0.1:{ports[k]}"),
                range(2)))
    finally:
        for proc in workers:
            proc.kill()
            proc.wait()

    acknowledged = sum(r.judgements for r in results)
    with unit_of_work(settings) as s:
        stored = s.scalar(select(func.count(Judgement.id)))
        first_answers = select(Judgement.assignment_id).where(Judgement.supersedes_id.is_(None))
        per_assignment = Counter(s.scalars(first_answers))
        assignments = s.execute(select(Assignment.item_id, Assignment.rater_id, Assignment.condition)
                                .where(Assignment.status == "done")).all()
    assert acknowledged > 0
    assert stored == acknowledged, "every acknowledged judgement is stored, none twice"
    assert max(per_assignment.values()) == 1
    raters_per_item = Counter(item for item, _, _ in assignments)
    assert max(raters_per_item.values()) <= RATERS_PER_WORKER
    assert sum(raters_per_item.values()) == acknowledged
    per_rater = Counter((rater, cond) for _, rater, cond in assignments)
    for rater in {rater for _, rater, _ in assignments}:
        assert abs(per_rater[(rater, "none")] - per_rater[(rater, "gradcam")]) <= 1, "Latin square per rater"
    per_item = Counter((item, cond) for item, _, cond in assignments)
    for item in raters_per_item:
        assert abs(per_item[(item, "none")] - per_item[(item, "gradcam")]) <= 1, "Latin square per item"
