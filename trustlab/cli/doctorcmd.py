"""`trustlab doctor`: one screen of what to know before a study (trustlab.doctor)."""

from __future__ import annotations

from rich.markup import escape

from trustlab.cli.app import app, console
from trustlab.cli.output import INPUT_ERROR, JSON_OPTION, emit
from trustlab.cli.tables import print_table
from trustlab.config import load_settings
from trustlab.doctor import FAIL, WARN, healthy, run_checks

STYLES = {FAIL: "[bold red]fail[/]", WARN: "[yellow]warn[/]"}


@app.command("doctor")
def doctor(as_json: bool = JSON_OPTION) -> None:
    """Check packages, CUDA, the database, TRUSTLAB_HOME, Chromium and the offline settings; exit 1
    when something needed is missing (each finding says how to fix it)."""
    import typer

    findings = run_checks(load_settings())
    ok = healthy(findings)

    def text() -> None:
        print_table("trustlab doctor", ("check", "status", "found (and the fix)"),
                    [(f.check, STYLES.get(f.status, "[green]ok[/]"),
                      escape(f.detail) + (f"\n[bold]fix:[/] {escape(f.fix)}" if f.fix else ""))
                     for f in findings])
        console.print("ready" if ok else "[bold red]not ready:[/] fix the failed checks above")

    emit({"ok": ok, "checks": findings}, as_json=as_json, text=text)
    if not ok:
        raise typer.Exit(INPUT_ERROR)
