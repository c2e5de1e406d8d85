"""Property tests of the REST API against its own OpenAPI spec (schemathesis): for every operation,
data that fits the spec and data that does not, sent as a rater and as a researcher, never gets a 5xx,
only documented status codes, and bodies and content types that match the spec.

Bounded and deterministic: EXAMPLES per operation in all (split over the two roles and over valid and
invalid data), derandomized, no example database. SQLite only: what it checks does not depend on
the backend (the API tests run on both).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.helpers.platform_world import build_world
from trustlab.config import load_settings
from trustlab.db.engine import dispose_engines
from trustlab.platform.accounts import auth
from trustlab.platform.accounts.invites import accept_invite
from trustlab.platform.app import create_app
from trustlab.platform.routes import API_PREFIX

# Examples per operation, over both roles and both generation modes.
EXAMPLES = 50
PER_RUN = {GenerationMode.POSITIVE: 15, GenerationMode.NEGATIVE: 10}  # per role: 2 x 25 = EXAMPLES
CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance, content_type_conformance]
RESEARCHER_PASSWORD = "fuzz-researcher-pw"


@pytest.fixture(scope="module")
def fuzz_world(tmp_path_factory) -> Iterator[dict]:
    settings_ = load_settings(home=tmp_path_factory.mktemp("fuzz") / "home", db_url="")
    world = build_world(settings_)
    app = create_app(settings_, ui=False)
    auth.create_user(settings_, username="fuzz-res", role="researcher", password=RESEARCHER_PASSWORD)
    invite = world.invite("alpha")[0]

    def new_token(role: str) -> str:
        """A fresh token per operation: fuzzing POST /logout revokes the token it is sent with."""
        if role == "rater":  # the same rater again, a new token
            return accept_invite(settings_, invite=invite).token
        return auth.login(settings_, username="fuzz-res", password=RESEARCHER_PASSWORD).token

    yield {"app": app, "new_token": new_token, "tokens": {"rater": new_token("rater"),
                                                         "researcher": new_token("researcher")}}
    dispose_engines()


def _fuzz(operation, *, mode: GenerationMode, token: str, app) -> None:
    @settings(
        max_examples=PER_RUN[mode],
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case) -> None:
        case.call_and_validate(headers={"Authorization": f"Bearer {token}"}, checks=CHECKS, app=app)

    run()


@pytest.mark.parametrize("role", ["rater", "researcher"])
def test_api_conforms_to_its_openapi_spec(fuzz_world, role):
    assert sum(PER_RUN.values()) * 2 <= EXAMPLES
    schema = schemathesis.openapi.from_asgi(f"{API_PREFIX}/openapi.json", fuzz_world["app"])
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 10
    failures = []
    for operation in operations:
        for mode in PER_RUN:
            try:
                _fuzz(operation, mode=mode, token=fuzz_world["new_token"](role), app=fuzz_world["app"])
            except Unsatisfiable:  # nothing to get wrong in a request without parameters (health)
                assert mode is GenerationMode.NEGATIVE, operation.label
            except (Exception, BaseExceptionGroup) as exc:  # every operation's failures, reported together
                failures.append(f"{operation.label} ({mode.value}, {role}): {exc}")
    assert not failures, "\n\n".join(failures)


def test_ids_beyond_the_database_integer_are_422_not_500(fuzz_world):
    """What the fuzzing found first: a path or body id past 2**31 - 1 (or below 1) made the database
    driver raise (a 500 on SQLite, "integer out of range" on PostgreSQL)."""
    headers = {"Authorization": f"Bearer {fuzz_world['tokens']['researcher']}"}
    with TestClient(fuzz_world["app"]) as client:
        for huge in (2**31, 10**30, -(10**30), 0):
            for path in (f"/items/{huge}/image", f"/explanations/{huge}/image",
                         f"/assignments/{huge}/explanations/0/image"):
                assert client.get(API_PREFIX + path, headers=headers).status_code == 422, path
            body = {"assignment_id": huge, "answers": {}, "idempotency_key": "k"}
            assert client.post(f"{API_PREFIX}/judgements", json=body, headers=headers).status_code == 422
        assert client.get(f"{API_PREFIX}/items/{2**31 - 1}/image", headers=headers).status_code == 404
