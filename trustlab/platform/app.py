"""One FastAPI application: the JSON API under /api/v1 (docs at /api/v1/docs) and the Gradio UI at /."""

from __future__ import annotations

import os

from fastapi import FastAPI

from trustlab.config import Settings
from trustlab.platform.api import rater as rater_api
from trustlab.platform.api import recruitment as recruitment_api
from trustlab.platform.api import staff as staff_api
from trustlab.platform.api.deps import platform_error_handler
from trustlab.platform.api.limits import API_BODY_LIMIT_BYTES, REQUEST_BODY_LIMIT_BYTES
from trustlab.platform.content.worker import ExplanationWorker
from trustlab.platform.errors import PlatformError
from trustlab.platform.routes import API_PREFIX
from trustlab.platform.services.rater import Services


def create_app(settings: Settings, *, ui: bool = True, worker: ExplanationWorker | None = None) -> FastAPI:
    """The whole app for these settings.

    ui: mount the Gradio rater/researcher/curator UI at ``/`` (tests of the API alone skip it:
        importing gradio takes seconds).
    worker: the on-demand explanation worker (a default one batching ``explain_items`` calls).
    """
    # Offline by design: no version check or telemetry lookups from gradio / huggingface_hub.
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    settings.ensure_dirs()
    services = Services(settings, worker=worker)
    app = FastAPI(
        title="trustlab",
        description="Raters judge explanations of an image classifier; researchers watch studies; "
        "curators fix labels.",
        version="1",
        docs_url=f"{API_PREFIX}/docs",
        redoc_url=None,
        openapi_url=f"{API_PREFIX}/openapi.json",
        # Bodies over the limit get 413 (Starlette counts streamed bytes too, not only Content-Length).
        max_body_size=REQUEST_BODY_LIMIT_BYTES,
    )
    app.state.services = services
    app.add_exception_handler(PlatformError, platform_error_handler)
    for api in (rater_api, staff_api, recruitment_api):
        app.include_router(api.router, max_body_size=API_BODY_LIMIT_BYTES)

    @app.get(f"{API_PREFIX}/health", tags=["meta"])
    def health() -> dict[str, str]:
        return {"status": "ok"}

    if ui:
        from trustlab.platform.ui.build import mount_ui

        app = mount_ui(app, services)
    return app
