"""`trustlab user disable|enable`, `trustlab token revoke|purge`: ending access (platform.accounts.access)."""

from __future__ import annotations

import typer

from trustlab.cli.app import fail, token_app, user_app
from trustlab.cli.output import JSON_OPTION, emit
from trustlab.config import load_settings
from trustlab.platform.errors import PlatformError


@user_app.command("disable")
def user_disable(
    name: str = typer.Argument(..., help="User name (or an invited rater's rater-… handle)."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Disable an account: its tokens stop working at once and it cannot sign in again."""
    from trustlab.platform.accounts.access import disable_user

    try:
        revoked = disable_user(load_settings(), username=name)
    except PlatformError as exc:
        raise fail(exc.message) from None
    emit({"user": name, "disabled": True, "tokens_revoked": revoked}, as_json=as_json,
         text=f"user [bold]{name}[/] disabled ({revoked} tokens revoked)")


@user_app.command("enable")
def user_enable(name: str = typer.Argument(..., help="User name."), as_json: bool = JSON_OPTION) -> None:
    """Let a disabled account sign in again (its old tokens stay revoked)."""
    from trustlab.platform.accounts.access import enable_user

    try:
        enable_user(load_settings(), username=name)
    except PlatformError as exc:
        raise fail(exc.message) from None
    emit({"user": name, "disabled": False}, as_json=as_json, text=f"user [bold]{name}[/] enabled")


@token_app.command("revoke")
def token_revoke(
    user: str | None = typer.Option(None, "--user", help="Revoke every token of this account."),
    study: str | None = typer.Option(None, "--study", help="Revoke the tokens of every rater of this study."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Sign out an account (--user) or a study's raters (--study) everywhere. Raters of an open study
    can sign in again with their invite link: close the study or disable them to keep them out."""
    from trustlab.platform.accounts.access import revoke_tokens

    try:
        revoked = revoke_tokens(load_settings(), user=user, study=study)
    except PlatformError as exc:
        raise fail(exc.message) from None
    emit({"user": user, "study": study, "tokens_revoked": revoked}, as_json=as_json,
         text=f"{revoked} tokens revoked")


@token_app.command("purge")
def token_purge(as_json: bool = JSON_OPTION) -> None:
    """Delete expired tokens now (every sign-in and invite acceptance also does it)."""
    from trustlab.platform.accounts.access import purge_tokens

    deleted = purge_tokens(load_settings())
    emit({"tokens_deleted": deleted}, as_json=as_json, text=f"{deleted} expired tokens deleted")
