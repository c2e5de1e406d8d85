"""`max_participants` under concurrent joins, on SQLite and PostgreSQL: many new
participant ids at once admit exactly the free places and never one more; one pid sent from several
devices at once becomes one rater."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import func, select

from tests.helpers.recruit_world import add_link_study, link_config
from trustlab.db.engine import read_session
from trustlab.db.schema import Participant, User
from trustlab.platform.errors import PlatformError
from trustlab.platform.recruitment import join as joining
from trustlab.platform.services.rater import Services

JOINERS = 12
PLACES = 5


def _race(world, pids: list[str]) -> list:
    services = Services(world.settings)
    barrier = threading.Barrier(len(pids))

    def one(pid: str):
        barrier.wait()
        try:
            return joining.join_study(services, study="crowd", pid=pid, consent=True)
        except PlatformError as exc:
            return exc

    with ThreadPoolExecutor(len(pids)) as pool:
        return list(pool.map(one, pids))


def test_concurrent_joins_never_over_admit(world):
    add_link_study(world, link_config(max_participants=PLACES))
    results = _race(world, [f"worker-{k}" for k in range(JOINERS)])
    admitted = [r for r in results if isinstance(r, joining.JoinResult)]
    refused = [r for r in results if not isinstance(r, joining.JoinResult)]
    assert len(admitted) == PLACES and all(r.created for r in admitted)
    assert len(refused) == JOINERS - PLACES
    assert all(isinstance(r, joining.StudyFull) and r.status == 409 for r in refused), refused
    with read_session(world.settings) as s:
        assert s.scalar(select(func.count()).select_from(Participant)) == PLACES
        assert (
            s.scalar(select(func.count()).select_from(User).where(User.external_pid.like("worker-%")))
            == PLACES
        )


def test_one_pid_from_many_devices_at_once_is_one_rater(world):
    add_link_study(world, link_config(max_participants=PLACES))
    results = _race(world, ["same-person"] * 6)
    assert all(isinstance(r, joining.JoinResult) for r in results), results
    assert len({r.rater_id for r in results}) == 1
    assert sum(r.created for r in results) == 1
    assert len({r.token for r in results}) == 6  # each device its own token
