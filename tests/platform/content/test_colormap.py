"""A study's heatmap colour map: viridis by default (the stored
picture), ``jet`` drawn again from the stored saliency map, through the same route raters' pages use;
the config's colour maps are the renderer's."""

from __future__ import annotations

from typing import get_args

import numpy as np
import pytest
from fastapi.testclient import TestClient
from matplotlib import colormaps
from PIL import Image
from sqlalchemy import select

from tests.helpers.platform_world import study_config
from trustlab.db.engine import unit_of_work
from trustlab.db.schema import Explanation
from trustlab.explain.render import COLORMAPS, COLOUR_BAR_WIDTH, DISPLAY_SIDE, MARGIN
from trustlab.explain.store import save_array
from trustlab.platform.app import create_app
from trustlab.studies.config.study import DisplaySpec, StudyConfig


def test_config_colour_maps_are_the_renderers():
    assert get_args(DisplaySpec.model_fields["colormap"].annotation) == COLORMAPS
    assert StudyConfig.model_fields["display"].default.colormap == COLORMAPS[0]


def _bar_top(path_or_bytes) -> np.ndarray:
    with Image.open(path_or_bytes) as image:
        pixels = np.asarray(image.convert("RGB")).astype(int)
    return pixels[0, DISPLAY_SIDE + MARGIN + COLOUR_BAR_WIDTH // 2]


@pytest.mark.parametrize("colormap", ["viridis", "jet"])
def test_heatmaps_are_served_in_the_studys_colour_map(world, colormap):
    import io

    with unit_of_work(world.settings) as s:  # give each Grad-CAM a stored saliency map
        for row in s.scalars(select(Explanation).where(Explanation.method == "gradcam")):
            row.raw_path = save_array(world.settings, np.outer(np.linspace(0, 1, 8), np.ones(8)))
    world.add_study(
        study_config(
            f"cm-{colormap}", conditions=["gradcam"], n=6, per_rater=1, display={"colormap": colormap}
        ),
        world.alpha_items,
    )
    with TestClient(create_app(world.settings, ui=False)) as client:
        invite = world.invite(f"cm-{colormap}")[0]
        token = client.post("/api/v1/invites/accept", json={"invite": invite}).json()["token"]
        h = {"Authorization": f"Bearer {token}"}
        payload = client.get(f"/api/v1/studies/cm-{colormap}/next", headers=h).json()
        picture = client.get(payload["explanations"][0]["image_url"], headers=h)
        assert picture.status_code == 200
    if colormap == "viridis":  # the stored picture as it is (the test world's is random pixels)
        with unit_of_work(world.settings) as s:
            stored = {
                r.overlay_path for r in s.scalars(select(Explanation).where(Explanation.method == "gradcam"))
            }
        assert any((world.settings.artifacts_dir / p).read_bytes() == picture.content for p in stored)
    else:
        top = _bar_top(io.BytesIO(picture.content))
        expected = (np.array(colormaps["jet"](1.0)[:3]) * 255).astype(int)
        assert np.abs(top - expected).max() <= 2


def test_practice_heatmaps_are_drawn_in_the_studys_colour_map(world, client):
    from tests.helpers.recruit_world import add_link_study, link_config
    from trustlab.platform.accounts import auth
    from trustlab.platform.recruitment import steps as participant_steps
    from trustlab.platform.services.rater import Services

    with unit_of_work(world.settings) as s:
        for row in s.scalars(select(Explanation).where(Explanation.method == "gradcam")):
            row.raw_path = save_array(world.settings, np.outer(np.linspace(0, 1, 8), np.ones(8)))
    add_link_study(world, link_config(practice={"n": 1}, display={"colormap": "jet"}))
    body = {"params": {"PROLIFIC_PID": "p-jet"}, "consent": True}
    joined = client.post("/api/v1/studies/crowd/join", json=body)
    principal = auth.authenticate(world.settings, joined.json()["token"])
    practice = participant_steps.practice_item(Services(world.settings), principal, index=0)
    assert practice["explanations"], "the practice item shows its Grad-CAM"
    top = _bar_top(practice["explanations"][0]["image_path"])
    expected = (np.array(colormaps["jet"](1.0)[:3]) * 255).astype(int)
    assert np.abs(top - expected).max() <= 2
