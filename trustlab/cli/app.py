"""The `trustlab` Typer application and its command groups; verb modules attach to these."""

from __future__ import annotations

import typer
from rich.console import Console

app = typer.Typer(
    name="trustlab",
    help="Find out whether explanations of an image classifier actually help people.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Database maintenance.", no_args_is_help=True)
study_app = typer.Typer(help="Design, open, close and export user studies.", no_args_is_help=True)
user_app = typer.Typer(help="Accounts: add, disable, enable.", no_args_is_help=True)
token_app = typer.Typer(help="Sign-in tokens: revoke, purge expired ones.", no_args_is_help=True)
labels_app = typer.Typer(help="Merge classes and export curated labels.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(study_app, name="study")
app.add_typer(user_app, name="user")
app.add_typer(token_app, name="token")
app.add_typer(labels_app, name="labels")

console = Console()
err_console = Console(stderr=True)


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print a clear error naming the problem and return the Exit to raise."""
    err_console.print(f"[bold red]error:[/] {message}")
    return typer.Exit(code)
