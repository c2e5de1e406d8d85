"""Fixtures of the platform tests; the builders live in platform_world.py (importable by name)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from platform_world import World, build_world  # noqa: E402


@pytest.fixture
def world(settings) -> World:
    return build_world(settings)
