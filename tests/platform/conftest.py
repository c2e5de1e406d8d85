"""Fixtures of the platform tests; the builders live in platform_world.py (importable by name)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

sys.path.insert(0, str(Path(__file__).parent))

from platform_world import World, build_world  # noqa: E402

from trustlab.platform.app import create_app  # noqa: E402
from trustlab.platform.worker import ExplanationWorker  # noqa: E402


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
