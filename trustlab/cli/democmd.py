"""`trustlab demo`: the whole loop on generated data, then the server."""

from __future__ import annotations

import typer

from trustlab.cli.app import app, console, fail
from trustlab.config import load_settings


@app.command("demo")
def demo(
    fast: bool = typer.Option(False, "--fast", help="A small version (fewer images, epochs, raters)."),
    serve: bool = typer.Option(True, "--serve/--no-serve", help="Start the server at the end."),
    host: str = typer.Option("127.0.0.1", help="Host to serve on."),
    port: int = typer.Option(7860, help="Port to serve on."),
) -> None:
    """Generate the demo dataset and run every stage of the loop that is not done yet, then serve."""
    from trustlab.demo import FAST, FULL, DemoStageError, run_demo
    from trustlab.demo.report import print_summary

    settings = load_settings()
    plan = FAST if fast else FULL
    try:
        # markup=False: the "[demo]" prefix is text, not a rich style tag.
        result = run_demo(settings, plan=plan, echo=lambda line: console.print(line, markup=False))
    except DemoStageError as exc:
        raise fail(str(exc)) from exc
    print_summary(settings, result, host=host, port=port)  # its own console: no wrapping of links
    if serve:
        from trustlab.demo.report import serve_forever

        serve_forever(settings, host=host, port=port, plan=plan, remaining=result.remaining_explanations)
    elif result.remaining_explanations:
        left = f"{result.remaining_explanations} explanations of the test split are left for the server's"
        console.print(f"{left} background job (`trustlab demo` without --no-serve)", markup=False)
