"""`trustlab user disable|enable`, `trustlab token revoke|purge`: ending access (trustlab.platform.access)."""

from __future__ import annotations

import typer

from trustlab.cli.app import console, fail, token_app, user_app
from trustlab.config import load_settings
from trustlab.platform.errors import PlatformError


@user_app.command("disable")
def user_disable(
    name: str = typer.Argument(..., help="User name (or an invited rater's rater-… handle)."),
) -> None:
    """Disable an account: its tokens stop working at once and it cannot sign in again."""
    from trustlab.platform.access import disable_user

    try:
        revoked = disable_user(load_settings(), handle=name)
    except PlatformError as exc:
        raise fail(exc.message) from None
    console.print(f"user [bold]{name}[/] disabled ({revoked} tokens revoked)")


@user_app.command("enable")
def user_enable(name: str = typer.Argument(..., help="User name.")) -> None:
    """Let a disabled account sign in again (its old tokens stay revoked)."""
    from trustlab.platform.access import enable_user

    try:
        enable_user(load_settings(), handle=name)
    except PlatformError as exc:
        raise fail(exc.message) from None
    console.print(f"user [bold]{name}[/] enabled")


@token_app.command("revoke")
def token_revoke(
    user: str | None = typer.Option(None, "--user", help="Revoke every token of this account."),
    study: str | None = typer.Option(None, "--study", help="Revoke the tokens of every rater of this study."),
) -> None:
    """Sign out an account (--user) or a study's raters (--study) everywhere. Raters of an open study
    can sign in again with their invite link: close the study or disable them to keep them out."""
    from trustlab.platform.access import revoke_tokens

    try:
        revoked = revoke_tokens(load_settings(), user=user, study=study)
    except PlatformError as exc:
        raise fail(exc.message) from None
    console.print(f"{revoked} tokens revoked")


@token_app.command("purge")
def token_purge() -> None:
    """Delete expired tokens now (every sign-in and invite acceptance also does it)."""
    from trustlab.platform.access import purge_tokens

    console.print(f"{purge_tokens(load_settings())} expired tokens deleted")
