"""Assembles the Gradio UI (Rate, Researcher, Curator tabs) and mounts it on the FastAPI app at /.

Gradio 6 takes theme/css/js/head in ``gr.mount_gradio_app``; the keyboard shortcuts are a
document-level script passed through ``head`` (Gradio has no hotkey API).
"""

from __future__ import annotations

import secrets
from pathlib import Path

import gradio as gr
from fastapi import FastAPI

from trustlab.platform.limits import UPLOAD_LIMIT_BYTES
from trustlab.platform.services import Services
from trustlab.platform.ui_curator import build_curator_tab, dataset_choices
from trustlab.platform.ui_rater import build_rater_tab, sign_in
from trustlab.platform.ui_researcher import build_researcher_tab, restore
from trustlab.platform.ui_staff import principal_of

STATIC = Path(__file__).parent / "static"
SECRET_FILE = "ui_secret"
# Many raters at once: handlers are short (one session each), so let them run side by side.
UI_CONCURRENCY = 32


def browser_secret(home: Path) -> str:
    """The key that encrypts localStorage values; kept under TRUSTLAB_HOME so a restart keeps
    raters signed in."""
    path = home / SECRET_FILE
    if not path.exists():
        path.write_text(secrets.token_urlsafe(32))
        path.chmod(0o600)
    return path.read_text().strip()


def build_ui(services: Services) -> gr.Blocks:
    secret = browser_secret(services.settings.home)
    with gr.Blocks(title="trustlab: rate explanations") as demo:
        rater_stored = gr.BrowserState({}, storage_key="trustlab-rater", secret=secret)
        staff_stored = gr.BrowserState({}, storage_key="trustlab-staff", secret=secret)
        staff_state = gr.State({})
        gr.HTML(
            '<div class="tl-header"><span class="tl-logo">trustlab</span>'
            '<span class="tl-tagline">Does the explanation help you judge the model?</span></div>'
        )
        with gr.Tabs(elem_id="tl-tabs"):
            with gr.Tab("Rate", id="rate", elem_id="tl-tab-rate"):
                view = build_rater_tab(services, rater_stored)
            with gr.Tab("Researcher", id="research", elem_id="tl-tab-research"):
                researcher = build_researcher_tab(services, staff_state, staff_stored)
            with gr.Tab("Curator", id="curate", elem_id="tl-tab-curate"):
                curator = build_curator_tab(services, staff_state, staff_stored)

        def on_load(stored, staff_saved, request: gr.Request):
            stored_out, rater_updates = sign_in(services, view, stored, request)
            staff_st = staff_saved if principal_of(services, staff_saved) is not None else {}
            _, status, studies, timer = restore(services, staff_st)
            return [
                stored_out,
                *rater_updates,
                staff_st,
                status,
                studies,
                timer,
                status,
                dataset_choices(services, staff_st),
            ]

        demo.load(
            on_load,
            inputs=[rater_stored, staff_stored],
            outputs=[
                rater_stored,
                *view.outputs,
                staff_state,
                researcher["status"],
                researcher["study"],
                researcher["timer"],
                curator["status"],
                curator["dataset"],
            ],
        )
    demo.queue(default_concurrency_limit=UI_CONCURRENCY)
    return demo


def mount_ui(app: FastAPI, services: Services) -> FastAPI:
    demo = build_ui(services)
    css = (STATIC / "style.css").read_text(encoding="utf-8")
    head = f"<script>{(STATIC / 'keyboard.js').read_text(encoding='utf-8')}</script>"
    # show_error=False: an unexpected exception's text (SQL, paths) stays in the server log; the
    # handlers show their own messages for what a user can fix. max_file_size: /gradio_api/upload
    # needs no sign-in, so without a limit a loop of large POSTs fills the disk.
    return gr.mount_gradio_app(
        app,
        demo,
        path="/",
        css=css,
        head=head,
        footer_links=[],
        show_error=False,
        max_file_size=UPLOAD_LIMIT_BYTES,
        run_history=False,
    )
