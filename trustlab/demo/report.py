"""What `trustlab demo` prints at the end (where to click, how to log in) and the server it starts."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from trustlab.config import Settings
from trustlab.demo.plan import DemoResult
from trustlab.platform.routes import docs_url


def print_summary(settings: Settings, result: DemoResult, *, host: str, port: int,
                  console: Console | None = None) -> None:
    # soft_wrap: links and passwords must stay on one line to be copied from a narrow terminal.
    console = console or Console(soft_wrap=True)
    table = Table(title="trustlab demo")
    table.add_column("stage")
    table.add_column("status")
    table.add_column("seconds", justify="right")
    table.add_column("result")
    for stage in result.stages:
        table.add_row(stage.name, stage.status, f"{stage.seconds:.1f}", stage.detail)
    console.print(table)
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


def serve_forever(settings: Settings, *, host: str, port: int) -> None:
    import uvicorn

    from trustlab.platform.app import create_app

    Console().print(f"serving on [bold]http://{host}:{port}/[/] (Ctrl-C stops)")
    uvicorn.run(create_app(settings), host=host, port=port, log_level="warning")
