"""options_from: a wide verb's flags are a dataclass's fields; the verb gets one instance."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import typer
from typer.testing import CliRunner

from trustlab.cli.options import options_from


@dataclass(frozen=True, kw_only=True)
class _Flags:
    name: Annotated[str, typer.Option(help="A name.")]
    count: Annotated[int, typer.Option(min=1, help="How many.")] = 3
    loud: Annotated[bool, typer.Option("--loud")] = False


def _app(seen: list) -> typer.Typer:
    app = typer.Typer()

    @app.command()
    @options_from(_Flags)
    def hello(flags: _Flags, extra: str = typer.Option("x")) -> None:
        """Say hello."""
        seen.append((flags, extra))

    return app


def test_the_command_gets_one_options_object_and_its_own_parameters():
    seen: list = []
    result = CliRunner().invoke(_app(seen), ["--name", "a", "--loud", "--extra", "y"])
    assert result.exit_code == 0, result.output
    assert seen == [(_Flags(name="a", count=3, loud=True), "y")]


def test_help_lists_the_fields_with_their_defaults_and_checks():
    result = CliRunner().invoke(_app([]), ["--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    for text in ("--name", "--count", "[default: 3]", "x>=1", "--loud", "--extra", "Say hello."):
        assert text in result.output
    assert CliRunner().invoke(_app([]), ["--name", "a", "--count", "0"]).exit_code == 2
