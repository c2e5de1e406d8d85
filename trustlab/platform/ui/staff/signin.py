"""Staff sign-in and sign-out shared by the Researcher and Curator tabs.

A staff token lives only in the server-side ``gr.State`` of one page: it never reaches the browser
(Gradio's BrowserState "encryption" key is sent to every visitor, so localStorage would protect
nothing). Reloading the page therefore signs staff out, and the tabs say so under the sign-in row.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import gradio as gr

from trustlab.platform.accounts import auth
from trustlab.platform.accounts.auth import Principal
from trustlab.platform.errors import NotAuthenticated, PlatformError, TooManyRequests
from trustlab.platform.services.rater import Services

RELOAD_NOTE = "Staff sign-ins last for this page only: reloading the page signs you out."
NOT_SIGNED_IN = "Not signed in."
SIGNED_OUT = "Signed out: your session token was revoked on the server."
log = logging.getLogger(__name__)


@dataclass
class StaffLogin:
    services: Services
    form: gr.Row  # user name, password, Sign in: hidden while signed in, so the work fits the screen
    username: gr.Textbox
    password: gr.Textbox
    button: gr.Button
    status: gr.Markdown
    signout: gr.Button

    def on_sign_in(self, fn, staff_state: gr.State, outputs: list) -> None:
        """Sign in on the button and on Enter in the password field: ``fn(st)`` (st: the new staff
        state, {} when refused) returns the values of ``outputs`` (the tab's own components)."""

        def sign_in(username, password, request: gr.Request):
            st, text = do_login(self.services, username, password, request)
            return [st, text, gr.update(value=""), gr.update(visible=not st), *fn(st)]

        for event in (self.button.click, self.password.submit):
            event(sign_in, [self.username, self.password], [staff_state, self.status, self.password,
                                                            self.form, *outputs])

    def signed_out(self) -> list:
        """Values for ``signed_out_outputs``: the form back, the status line saying so."""
        return [gr.update(visible=True), SIGNED_OUT]

    @property
    def signed_out_outputs(self) -> list:
        return [self.form, self.status]


def build_login(services: Services, prefix: str) -> StaffLogin:
    with gr.Row(equal_height=True) as form:
        username = gr.Textbox(label="User name", elem_id=f"{prefix}-user", scale=2)
        password = gr.Textbox(label="Password", type="password", elem_id=f"{prefix}-password", scale=2)
        button = gr.Button("Sign in", elem_id=f"{prefix}-signin", scale=1)
    with gr.Row(equal_height=True, elem_classes=["tl-staff-status"]):
        status = gr.Markdown(NOT_SIGNED_IN, elem_id=f"{prefix}-status")
        signout = gr.Button("Sign out", elem_id=f"{prefix}-signout", size="sm", scale=0, min_width=100)
    gr.Markdown(RELOAD_NOTE, elem_classes=["tl-hint"])
    return StaffLogin(services, form, username, password, button, status, signout)


def client_address(request: gr.Request | None) -> str | None:
    """The visitor's address (the real one behind a proxy that sends X-Forwarded-For to uvicorn)."""
    client = getattr(request, "client", None) if request is not None else None
    return getattr(client, "host", None)


def do_login(
    services: Services, username: str, password: str, request: gr.Request | None = None
) -> tuple[dict, str]:
    """(staff state, status text) after a sign-in attempt, throttled per name and per address
    like the API's /login (the status says how long to wait when locked out)."""
    try:
        result = auth.login(
            services.settings,
            username=username or "",
            password=password or "",
            address=client_address(request),
            throttle=services.login_throttle,
        )
    except TooManyRequests as exc:
        return {}, f"**Sign-in refused:** {exc.message}."
    except PlatformError as exc:
        return {}, f"**Sign-in failed:** {exc.message}"
    if result.role == "rater":
        return {}, "**Sign-in failed:** this account is a rater; raters use their invite link."
    return {
        "token": result.token,
        "role": result.role,
        "username": username,
    }, f"Signed in as **{username}** ({result.role})."


def principal_of(services: Services, staff_state: dict | None) -> Principal | None:
    token = (staff_state or {}).get("token")
    if not token:
        return None
    try:
        principal = auth.authenticate(services.settings, token)
    except NotAuthenticated:
        log.debug("a staff token in the page has expired or was revoked", exc_info=True)
        return None
    return principal if principal.is_staff else None


def do_logout(services: Services, staff_state: dict | None) -> None:
    """Revoke the page's staff token on the server (the caller then empties the state)."""
    auth.logout(services.settings, (staff_state or {}).get("token"))
