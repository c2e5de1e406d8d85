"""The API's paths live in trustlab/platform/routes.py: clients build them from there, the app serves
every one of them, and no module outside trustlab/platform spells an API path itself."""

from __future__ import annotations

from pathlib import Path

import trustlab
from trustlab.platform.app import create_app
from trustlab.platform.routes import (
    ACCEPT_INVITE_PATH,
    DOCS_PATH,
    HEALTH_PATH,
    JUDGEMENTS_PATH,
    docs_url,
    next_item_path,
)


def test_every_client_path_is_served_by_the_app(sqlite_settings):
    app = create_app(sqlite_settings, ui=False)
    spec = app.openapi()["paths"]
    assert "post" in spec[ACCEPT_INVITE_PATH]
    assert "post" in spec[JUDGEMENTS_PATH]
    assert "get" in spec[next_item_path("{study}")]
    assert "get" in spec[HEALTH_PATH]
    assert app.docs_url == DOCS_PATH
    assert docs_url("http://host:1/") == "http://host:1" + DOCS_PATH


def test_no_api_path_outside_the_platform():
    package = Path(trustlab.__file__).parent
    offenders = [
        str(path.relative_to(package))
        for path in package.rglob("*.py")
        if "platform" not in path.relative_to(package).parts[:1] and "/api/" in path.read_text("utf-8")
    ]
    assert offenders == []
