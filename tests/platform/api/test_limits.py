"""A stranger cannot fill the disk or read the server's internals: request bodies over the limits get 413
(Gradio's upload, the REST API, bodies without a Content-Length), and an internal error's text (SQL)
stays in the server log instead of reaching the browser or an API client."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from tests.helpers.platform_world import build_world
from trustlab.db.engine import unit_of_work
from trustlab.platform.api.limits import API_BODY_LIMIT_BYTES, REQUEST_BODY_LIMIT_BYTES, UPLOAD_LIMIT_BYTES
from trustlab.platform.app import create_app
from trustlab.platform.content.worker import ExplanationWorker

MIB = 1024 * 1024
UPLOAD_PATH = "/gradio_api/upload"


def no_explainer(settings, *, model, item_ids, methods):
    raise RuntimeError("not in these tests")


@pytest.fixture
def world(sqlite_settings):  # the limits do not depend on the database backend
    return build_world(sqlite_settings)


@pytest.fixture
def ui_client(world):
    app = create_app(world.settings, worker=ExplanationWorker(world.settings, explain_fn=no_explainer))
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


def chunks(total: int, size: int = MIB):
    """A body streamed without a Content-Length (chunked): the limit must count bytes, not trust headers."""
    sent = 0
    while sent < total:
        yield b"x" * min(size, total - sent)
        sent += size


def test_upload_over_the_limit_gets_413_and_a_small_one_passes(ui_client):
    small = ui_client.post(UPLOAD_PATH, files={"files": ("a.png", b"\x89PNG" + b"x" * 1000)})
    assert small.status_code == 200, small.text
    # Just over Gradio's max_file_size, still under the request-body limit: Gradio itself refuses it.
    assert UPLOAD_LIMIT_BYTES + 1024 < REQUEST_BODY_LIMIT_BYTES
    over = ui_client.post(UPLOAD_PATH, files={"files": ("big.png", b"x" * (UPLOAD_LIMIT_BYTES + 1024))})
    assert over.status_code == 413, over.text
    # Far over, declared: refused by the body limit before Gradio parses anything.
    huge = ui_client.post(UPLOAD_PATH, files={"files": ("huge.png", b"x" * (REQUEST_BODY_LIMIT_BYTES + MIB))})
    assert huge.status_code == 413
    # Far over, streamed without a Content-Length.
    streamed = ui_client.post(
        UPLOAD_PATH,
        content=chunks(REQUEST_BODY_LIMIT_BYTES + 2 * MIB),
        headers={"content-type": "multipart/form-data; boundary=tl"},
    )
    assert streamed.status_code == 413
    assert "content-length" not in {k.lower() for k in streamed.request.headers}


def test_api_body_over_the_limit_gets_413_and_a_normal_judgement_is_stored(world):
    worker = ExplanationWorker(world.settings, explain_fn=no_explainer)
    app = create_app(world.settings, ui=False, worker=worker)
    with TestClient(app) as client:
        joined = client.post("/api/v1/invites/accept", json={"invite": world.invite("alpha")[0]}).json()
        h = {"Authorization": f"Bearer {joined['token']}"}
        payload = client.get("/api/v1/studies/alpha/next", headers=h).json()
        answers = {"model_correct": True, "true_label": "square", "trust": 4}
        body = {"assignment_id": payload["assignment_id"], "answers": answers, "idempotency_key": "k-1"}
        padded = {**body, "answers": {**answers, "comment": "x" * (API_BODY_LIMIT_BYTES + 1)}}
        assert client.post("/api/v1/judgements", json=padded, headers=h).status_code == 413
        # The REST limit is tighter than the upload limit, and holds for streamed bodies too.
        assert API_BODY_LIMIT_BYTES < REQUEST_BODY_LIMIT_BYTES
        streamed = client.post(
            "/api/v1/judgements",
            content=chunks(API_BODY_LIMIT_BYTES + MIB, size=64 * 1024),
            headers={**h, "content-type": "application/json"},
        )
        assert streamed.status_code == 413
        assert client.post("/api/v1/login", content=b"{" * (2 * API_BODY_LIMIT_BYTES),
                           headers={"content-type": "application/json"}).status_code == 413
        stored = client.post("/api/v1/judgements", json=body, headers=h)
        assert stored.status_code == 201, stored.text
        assert client.get("/api/v1/health").status_code == 200


def sse_events(body: str) -> list[str]:
    return [line[len("data: "):] for line in body.splitlines() if line.startswith("data: ")]


def test_internal_error_text_reaches_neither_browser_nor_api_client(world, ui_client):
    config = ui_client.get("/config").json()
    load = next(d["id"] for d in config["dependencies"] if any(t[1] == "load" for t in d["targets"]))
    # A real internal error: the token table is gone, so signing in raises SQLAlchemy's error, whose
    # text names the table and quotes the SQL.
    with unit_of_work(world.settings) as s:
        s.execute(text("ALTER TABLE auth_tokens RENAME TO auth_tokens_gone"))
    joined = ui_client.post(
        "/gradio_api/queue/join",
        json={"data": [{"token": "a-stored-token"}, {}], "event_data": None, "fn_index": load,
              "trigger_id": 0, "session_hash": "limits-test"},
    )
    assert joined.status_code == 200, joined.text
    stream = ui_client.get("/gradio_api/queue/data", params={"session_hash": "limits-test"})
    events = sse_events(stream.text)
    completed = [e for e in events if '"process_completed"' in e]
    assert completed and '"success":false' in completed[0].replace(" ", ""), events  # it did fail
    for leaked in ("auth_tokens", "SELECT", "sqlite", "OperationalError"):
        assert leaked not in stream.text, f"the browser was sent {leaked!r}"
    api = ui_client.get("/api/v1/me", headers={"Authorization": "Bearer a-stored-token"})
    assert api.status_code == 500
    for leaked in ("auth_tokens", "SELECT", "sqlite", "OperationalError"):
        assert leaked not in api.text
