"""Staff sign-in shared by the Researcher and Curator tabs (token per tab session + localStorage)."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import gradio as gr

from trustlab.platform import auth
from trustlab.platform.auth import Principal
from trustlab.platform.errors import NotAuthenticated, PlatformError
from trustlab.platform.services import Services

log = logging.getLogger(__name__)


@dataclass
class StaffLogin:
    username: gr.Textbox
    password: gr.Textbox
    button: gr.Button
    status: gr.Markdown


def build_login(prefix: str) -> StaffLogin:
    with gr.Row(equal_height=True):
        username = gr.Textbox(label="User name", elem_id=f"{prefix}-user", scale=2)
        password = gr.Textbox(label="Password", type="password", elem_id=f"{prefix}-password", scale=2)
        button = gr.Button("Sign in", elem_id=f"{prefix}-signin", scale=1)
    status = gr.Markdown("Not signed in.", elem_id=f"{prefix}-status")
    return StaffLogin(username, password, button, status)


def do_login(services: Services, username: str, password: str) -> tuple[dict, str]:
    """(staff state, status text) after a sign-in attempt."""
    try:
        result = auth.login(services.settings, username=username or "", password=password or "")
    except PlatformError as exc:
        return {}, f"**Sign-in failed:** {exc.message}"
    if result.role == "rater":
        return {}, "**Sign-in failed:** this account is a rater; raters use their invite link."
    return {
        "token": result.token,
        "role": result.role,
        "handle": username,
    }, f"Signed in as **{username}** ({result.role})."


def principal_of(services: Services, staff_state: dict | None) -> Principal | None:
    token = (staff_state or {}).get("token")
    if not token:
        return None
    try:
        principal = auth.authenticate(services.settings, token)
    except NotAuthenticated:
        log.debug("a staff token in the page is no longer valid", exc_info=True)
        return None
    return principal if principal.is_staff else None
