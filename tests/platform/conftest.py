"""Fixtures of the platform tests; the builders live in tests/helpers/platform_world.py."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.helpers.platform_world import World, build_world
from trustlab.platform.app import create_app
from trustlab.platform.content.worker import ExplanationWorker


@pytest.fixture
def world(settings) -> World:
    return build_world(settings)


def failing_explainer(settings, *, model, item_ids, methods):
    raise RuntimeError("no model checkpoint in this test")


@pytest.fixture
def client(world):
    """The REST API (no UI) on the test world; its worker cannot compute explanations."""
    app = create_app(
        world.settings, ui=False, worker=ExplanationWorker(world.settings, explain_fn=failing_explainer)
    )
    with TestClient(app) as c:
        yield c
