"""Assembles the Gradio UI (Rate, Researcher, Curator tabs) and mounts it on the FastAPI app at /.

Gradio 6 takes theme/css/js/head in ``gr.mount_gradio_app``; the keyboard shortcuts are a
document-level script passed through ``head`` (Gradio has no hotkey API).
"""

from __future__ import annotations

from pathlib import Path

import gradio as gr
from fastapi import FastAPI

from trustlab.platform.api.limits import UPLOAD_LIMIT_BYTES
from trustlab.platform.services.rater import Services
from trustlab.platform.ui.exports import serve_exports_from
from trustlab.platform.ui.queue import configure_queue
from trustlab.platform.ui.rater.access import (
    CLEAN_URL_JS,
    build_rater_access,
    rater_storage,
    sign_in,
)
from trustlab.platform.ui.rater.page import build_rater_tab
from trustlab.platform.ui.staff.curator import build_curator_tab
from trustlab.platform.ui.staff.researcher import build_researcher_tab
from trustlab.platform.ui.staff.signin import do_logout

STATIC = Path(__file__).parents[1] / "static"


def build_ui(services: Services) -> gr.Blocks:
    """The three tabs. Raters keep their token in localStorage (a reload resumes); staff tokens live
    only in this page's server-side state (a reload signs staff out)."""
    serve_exports_from(services.settings.home)
    with gr.Blocks(title="trustlab: rate explanations") as demo:
        rater_stored = rater_storage()
        staff_state = gr.State({})
        gr.HTML(
            '<div class="tl-header"><span class="tl-logo">trustlab</span>'
            '<span class="tl-tagline">Does the explanation help you judge the model?</span></div>'
        )
        with gr.Tabs(elem_id="tl-tabs"):
            with gr.Tab("Rate", id="rate", elem_id="tl-tab-rate"):
                view = build_rater_tab(services, rater_stored)
                access = build_rater_access(services, view)
            with gr.Tab("Researcher", id="research", elem_id="tl-tab-research"):
                researcher = build_researcher_tab(services, staff_state)
            with gr.Tab("Curator", id="curate", elem_id="tl-tab-curate"):
                curator = build_curator_tab(services, staff_state)

        def on_load(stored: dict, request: gr.Request) -> list:
            return sign_in(services, view, stored, request)

        demo.load(
            on_load,
            inputs=[rater_stored],
            outputs=[rater_stored, *view.outputs, *access.outputs],
        ).then(None, js=CLEAN_URL_JS)

        # One sign-out for both staff tabs (they share the token): revoke it, empty both tabs.
        clear_researcher, researcher_outputs = researcher["signed_out"]
        clear_curator, curator_outputs = curator["signed_out"]

        def staff_sign_out(st):
            do_logout(services, st)
            return [{}, *clear_researcher(), *clear_curator()]

        for button in (researcher["signout"], curator["signout"]):
            button.click(staff_sign_out, [staff_state], [staff_state, *researcher_outputs, *curator_outputs])
    rater_components = [view.submit, view.poll, access.keep, access.switch, access.signout]
    configure_queue(demo, services.settings, rater_components=rater_components)
    return demo


def mount_ui(app: FastAPI, services: Services) -> FastAPI:
    demo = build_ui(services)
    css = (STATIC / "style.css").read_text(encoding="utf-8")
    scripts = ("keyboard.js", "redirect.js", "study_link.js")
    head = "".join(f"<script>{(STATIC / name).read_text(encoding='utf-8')}</script>" for name in scripts)
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
