"""`trustlab study link|participants|returned`: a link study's public link and codes,
its participants table for approving and paying, and participants who returned the study.

Thin wrappers over ``trustlab.studies.recruitment.participants``."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from trustlab.cli.app import console, fail, study_app
from trustlab.config import load_settings
from trustlab.db.queries.errors import NotFound
from trustlab.wording import counted

FORMATS = ("trustlab", "mturk")


def _errors():
    from trustlab.studies.recruitment.participants import ParticipantsError

    return (ParticipantsError, NotFound)


@study_app.command("link")
def link(
    name: str = typer.Argument(..., help="Study name (recruitment.mode: link)."),
    base_url: str = typer.Option("http://127.0.0.1:7860", "--base-url", help="The server's public address."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Print the study link to paste into Prolific / MTurk and the completion and screen-out codes."""
    from trustlab.studies.recruitment.participants import study_link

    try:
        info = study_link(load_settings(), name, base_url=base_url)
    except _errors() as exc:
        raise fail(str(exc)) from None
    if as_json:
        print(json.dumps(info))
        return
    console.print(f"study link ({info['platform']}): {info['url']}", markup=False, soft_wrap=True)
    console.print(f"completion code: {info['completion_code']}   screen-out code: {info['screenout_code']}",
                  markup=False)


@study_app.command("participants")
def participants(
    name: str = typer.Argument(..., help="Study name (recruitment.mode: link)."),
    out: Path | None = typer.Option(None, "--out", help="Write the table to this CSV file."),
    fmt: str = typer.Option(
        "trustlab", "--format", help="trustlab (every column) or mturk (MTurk's approval upload)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the rows as one JSON list."),
) -> None:
    """The study's participants (pid, platform parameters, status, times, minutes, attention and gold
    failures, completion code): the file a researcher uses to approve and pay."""
    from trustlab.studies.recruitment.participants import mturk_frame, participants_csv, participants_frame

    if fmt not in FORMATS:
        raise fail(f"--format {fmt!r} is unknown; use one of {', '.join(FORMATS)}", code=2)
    try:
        frame = participants_frame(load_settings(), name)
    except _errors() as exc:
        raise fail(str(exc)) from None
    table = mturk_frame(frame) if fmt == "mturk" else frame
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(participants_csv(table), encoding="utf-8")
    if as_json:
        print(table.astype(object).where(table.notna(), None).to_json(orient="records"))
        return
    counts = frame["status"].value_counts().to_dict() if len(frame) else {}
    summary = ", ".join(f"{n} {status}" for status, n in sorted(counts.items())) or "no participants yet"
    console.print(f"{name}: {summary}" + (f"; wrote {out}" if out is not None else ""), markup=False)


@study_app.command("returned")
def returned(
    name: str = typer.Argument(..., help="Study name."),
    pids: list[str] = typer.Argument(..., help="Participant ids that returned the study on the platform."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Mark participants who returned the study on Prolific / MTurk: their unfinished items are
    released and their place is free again."""
    from trustlab.studies.recruitment.participants import mark_returned

    try:
        changed = mark_returned(load_settings(), name, pids=pids)
    except _errors() as exc:
        raise fail(str(exc)) from None
    if as_json:
        print(json.dumps({"study": name, "returned": changed}))
        return
    console.print(f"{counted(changed, 'participant')} of {name} marked returned", markup=False)
