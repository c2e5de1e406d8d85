"""`trustlab serve`, `trustlab user add`, `trustlab study invite`: thin wrappers over trustlab.platform."""

from __future__ import annotations

import os
from enum import StrEnum
from pathlib import Path

import typer

from trustlab.cli.app import app, console, err_console, fail, study_app, user_app
from trustlab.cli.output import JSON_OPTION, USAGE_ERROR, configure_logging, emit
from trustlab.config import load_settings
from trustlab.platform.errors import PlatformError

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 7860


class LogLevel(StrEnum):
    critical = "critical"
    error = "error"
    warning = "warning"
    info = "info"
    debug = "debug"


@app.command("serve")
def serve(
    host: str = typer.Option(DEFAULT_HOST, help="Interface to listen on (0.0.0.0 for every interface)."),
    port: int = typer.Option(DEFAULT_PORT, help="TCP port."),
    log_level: LogLevel = typer.Option(
        LogLevel.warning, "--log-level", case_sensitive=False,
        help="Log trustlab's and uvicorn's messages at this level and above (debug shows every request).",
    ),
) -> None:
    """Serve the rater app (Gradio UI at /) and the JSON API (its docs' address is printed at start)."""
    import uvicorn

    from trustlab.platform.app import create_app
    from trustlab.platform.routes import docs_url

    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    configure_logging(log_level.value)
    settings = load_settings()
    base = f"http://{host}:{port}"
    console.print(f"trustlab on [bold]{base}/[/]  (API docs: {docs_url(base)})")
    uvicorn.run(create_app(settings), host=host, port=port, log_level=log_level.value)


def _read_password(password: str | None, password_file: Path | None, prompt: bool) -> str | None:
    """The password from exactly one source, or None (generate one)."""
    if (password is not None) + (password_file is not None) + prompt > 1:
        raise fail("give the password one way: --password-prompt, --password-file or --password", USAGE_ERROR)
    if password_file is not None:
        try:
            lines = password_file.read_text().splitlines()
        except OSError as exc:
            raise fail(f"cannot read --password-file {password_file}: {exc.strerror}") from None
        if not lines or not lines[0]:
            raise fail(f"--password-file {password_file} is empty: put the password on its first line")
        return lines[0]
    if prompt:
        return typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    if password is not None:
        err_console.print(
            "[yellow]warning:[/] --password lands in your shell history and the process list; "
            "prefer --password-prompt or --password-file"
        )
    return password


@user_app.command("add")
def user_add(
    name: str = typer.Argument(..., help="User name to sign in with."),
    role: str = typer.Option("researcher", help="researcher | curator | admin | rater"),
    password_prompt: bool = typer.Option(
        False, "--password-prompt", help="Type the password at a hidden prompt (asked twice)."
    ),
    password_file: Path | None = typer.Option(
        None, "--password-file", help="Read the password from the first line of this file."
    ),
    password: str | None = typer.Option(
        None, help="The password itself (lands in shell history: prefer the two options above)."
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """Create an account. Without a password option one is generated and printed once; a chosen
    password needs at least 10 characters."""
    from trustlab.platform.accounts.auth import create_user

    chosen = _read_password(password, password_file, password_prompt)
    try:
        _, secret = create_user(load_settings(), username=name, role=role, password=chosen)
    except PlatformError as exc:
        raise fail(exc.message) from None
    result = {"user": name, "role": role, "password": secret if chosen is None else None}

    def text() -> None:
        console.print(f"user [bold]{name}[/] ({role}) created")
        if chosen is None:
            console.print(f"password: [bold]{secret}[/]  (shown once; it is stored hashed)")

    emit(result, as_json=as_json, text=text)


@study_app.command("invite")
def study_invite(
    study: str = typer.Argument(..., help="Study name."),
    n: int = typer.Option(1, "--n", help="How many single-rater invite links."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON [{url, token}] instead of links."),
    expires_days: float | None = typer.Option(
        None, help="Links stop working after this many days (default: TRUSTLAB_INVITE_DAYS, else 14)."
    ),
    expires_hours: float | None = typer.Option(None, help="Links stop working after this many hours."),
    simulated: bool = typer.Option(
        False, "--simulated", help="Mark the raters these links make as simulated (load tests)."
    ),
    base_url: str = typer.Option(f"http://{DEFAULT_HOST}:{DEFAULT_PORT}", help="Where raters reach the app."),
) -> None:
    """Print invite links http://HOST/?invite=TOKEN (append &pid=ID to record a participant id)."""
    from trustlab.platform.accounts.invites import create_invites

    try:
        links = create_invites(
            load_settings(),
            study=study,
            n=n,
            expires_hours=expires_hours,
            expires_days=expires_days,
            simulated=simulated,
            base_url=base_url,
        )
    except PlatformError as exc:
        raise fail(exc.message) from None
    emit([{"url": link.url, "token": link.token} for link in links], as_json=as_json,
         text=lambda: typer.echo("\n".join(link.url for link in links)))  # unwrapped, to copy
