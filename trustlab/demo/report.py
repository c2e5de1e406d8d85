"""What `trustlab demo` prints at the end (per-stage times, where to click, how to log in) and the
server it starts (with the background job that explains the rest of the test split)."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from trustlab.config import Settings
from trustlab.demo.plan import DemoPlan, DemoResult
from trustlab.platform.routes import docs_url


def print_summary(settings: Settings, result: DemoResult, *, host: str, port: int,
                  console: Console | None = None) -> None:
    # soft_wrap: links and passwords must stay on one line to be copied from a narrow terminal.
    console = console or Console(soft_wrap=True)
    console.print(stage_table(result))
    base = f"http://{host}:{port}"
    if result.invite_url:
        link = result.invite_url.replace("http://127.0.0.1:7860", base)
        console.print(f"rater invite link:   [bold]{link}[/]")
    if result.researcher:
        user, password = result.researcher
        console.print(f"researcher login:    {base}/  user [bold]{user}[/] password [bold]{password}[/]")
    if result.curator:
        user, password = result.curator
        console.print(f"curator login:       user [bold]{user}[/] password [bold]{password}[/]")
    if result.report:
        console.print(f"study report:        [bold]{result.report}[/]")
    console.print(f"API docs:            {docs_url(base)}")
    console.print(f"everything lives in: {settings.home}")


def stage_table(result: DemoResult) -> Table:
    """Stage, status and seconds of each stage, the total, and what is left to the background job
    (the stages' results were printed as they finished)."""
    table = Table(title="trustlab demo: stage times")
    table.add_column("stage")
    table.add_column("status")
    table.add_column("seconds", justify="right")
    for stage in result.stages:
        table.add_row(stage.name, stage.status, f"{stage.seconds:.1f}")
    if result.remaining_explanations:
        rest = f"explain the rest of the test split ({result.remaining_explanations})"
        table.add_row(rest, "background", "")
    table.add_section()
    table.add_row("total", "", f"{result.seconds:.1f}")
    return table


def serve_forever(settings: Settings, *, host: str, port: int, plan: DemoPlan | None = None,
                  remaining: int = 0) -> None:
    """Serve the app until Ctrl-C; with ``plan`` and ``remaining`` > 0, explain the rest of the test
    split in a background process meanwhile (stopped with the server, resumed by the next run)."""
    import uvicorn

    from trustlab.demo.background import log_path, start_background, stop_background
    from trustlab.platform.app import create_app

    console = Console(soft_wrap=True)
    app = create_app(settings)
    background = None
    if plan is not None and remaining:
        background = start_background(settings, plan)
        console.print(f"explaining the other {remaining} (test item, method) pairs in the background "
                      f"(log: {log_path(settings)})", markup=False)
    console.print(f"serving on [bold]http://{host}:{port}/[/] (Ctrl-C stops)")
    try:
        uvicorn.run(app, host=host, port=port, log_level="warning")
    finally:
        stop_background(background)
