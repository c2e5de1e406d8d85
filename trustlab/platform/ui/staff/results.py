"""The researcher tab's results: the study's analysis (primary result, participant flow, report) and
its three downloads, each ready before it is clicked so that one click saves the file.

Outcome blinding (``studies.monitoring.outcome_blinding``) decides what shows: nothing that compares
conditions while a study's outcomes are blinded; a closed study's analysis at once (no look to
record); a running, unblinded study's analysis only when the researcher asks for it, since each one
is a recorded look, and its judgements export recorded as a look when the file is taken.
"""

from __future__ import annotations

import html
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr

from trustlab.platform.accounts.auth import Principal
from trustlab.platform.errors import PlatformError
from trustlab.platform.recruitment.join import participants_csv
from trustlab.platform.services import staff
from trustlab.platform.services.rater import Services
from trustlab.platform.ui.exports import EXPORT_MAX_AGE_S, export_root, remove_export, write_export
from trustlab.studies.analysis.report.sections import primary_markdown

FLOW_COLUMNS = [
    "condition", "invited", "started", "completed", "timed out", "excluded", "analysed", "judgements",
    "can't tell",
]
# A prepared download is written again once this old, so a page left open never offers a file that
# the sweep of old exports has removed.
REFRESH_AFTER_S = EXPORT_MAX_AGE_S / 2
KINDS = ("judgements", "participants", "report")
SUFFIX = {"judgements": "-judgements.csv", "participants": "-participants.csv", "report": "-report.html"}
LOOK_REASON = "analysis in the researcher tab"
EXPORT_REASON = "judgements CSV from the researcher tab"


@dataclass
class Results:
    """What the results area shows; ``values()`` in the order of ``ResultsView.outputs``."""

    exported: dict[str, Any]
    downloads: dict[str, bool]
    analysis: str = ""
    note: str = ""
    can_look: bool = False
    flow: list[list[Any]] | None = None
    report: str = ""


def blinded_text(study: str, status: str) -> str:
    return (
        f"🔒 **Outcomes per condition are blinded** while the study is {status}. Here you can follow "
        "progress, attrition and rater quality, and export the participants list. The analysis, the "
        "report and the judgements export open in this tab once the study is closed "
        f"(`trustlab study close {study}` on the server) or unblinded (`trustlab study unblind {study}`, "
        "which records who, when and why)."
    )


def running_text(study: str) -> str:
    return (
        f"**{study} is still running and unblinded.** Its analysis is ready when you ask: each look at "
        "a running study's outcomes is recorded with your name and counted in the report, and so is "
        "each download of its judgements."
    )


def flow_rows(summary: dict[str, Any]) -> list[list[Any]]:
    """summary["flow"] as rows of FLOW_COLUMNS (``–`` where a count is unknown)."""
    rows = []
    for condition, e in (summary.get("flow") or {}).items():
        counts = [e.get(k) for k in ("invited", "started", "completed", "timed_out")]
        rows.append([condition, *("–" if v is None else v for v in counts), e["excluded"]["n"], e["analysed"],
                     e["judgements"], e["cant_tell"]])
    return rows


def report_frame(report_html: str) -> str:
    """The report inside the tab: a sandboxed frame (no scripts, no access to this page)."""
    if not report_html:
        return ""
    return (
        '<iframe class="tl-report" title="Study report" sandbox="allow-popups" '
        f'srcdoc="{html.escape(report_html, quote=True)}"></iframe>'
    )


def _write(services: Services, study: str, kind: str, text: str, exported: dict[str, Any]) -> None:
    root = export_root(services.settings.home)
    path = write_export(root, name=study, suffix=SUFFIX[kind], text=text, previous=exported.get(kind))
    exported[kind] = str(path)


def _drop(services: Services, kind: str, exported: dict[str, Any]) -> None:
    remove_export(export_root(services.settings.home), exported.pop(kind, None))


def prepare_csvs(services: Services, principal: Principal, study: str, blinded: bool,
                 exported: dict[str, Any]) -> str:
    """Write the judgements CSV (not while blinded: the tab's blinding line says so) and the
    participants CSV for the buttons; returns why the participants button is off, if it is."""
    if blinded:
        _drop(services, "judgements", exported)
    else:
        _write(services, study, "judgements",
               staff.judgements_csv_to_hand_over(services, principal, study=study), exported)
    try:
        _write(services, study, "participants", participants_csv(services, principal, study=study),
               exported)
    except PlatformError:  # an invite-mode study has no participants list
        _drop(services, "participants", exported)
        return ("No participants list: this study recruits by invite, not by a public link; its raters are "
                "in the table below.")
    return ""


def analyse(services: Services, principal: Principal, study: str, exported: dict[str, Any]) -> Results:
    """Run the analysis (a recorded look when the study is still running) and prepare the report."""
    out = staff.study_analysis(services, principal, study=study, reason=LOOK_REASON)
    _write(services, study, "report", out["report_html"], exported)
    analysis, flow = primary_markdown(out["summary"]), flow_rows(out["summary"])
    exported["analysed"] = {"analysis": analysis, "flow": flow}
    return Results(exported, {}, analysis=analysis, flow=flow, report=report_frame(out["report_html"]))


def _analysed_before(
    services: Services, study: str, exported: dict[str, Any], stamp: tuple
) -> Results | None:
    """A closed study's analysis as this page last made it, when nothing changed since (the same
    ``stamp``): choosing the study again or Refresh writes its report out afresh (as every export is)
    but does not run the whole analysis again."""
    cached = exported.get("analysed")
    if not cached or tuple(exported.get("stamp") or ()) != stamp or "report" not in exported:
        return None
    try:
        report_html = Path(exported["report"]).read_text(encoding="utf-8")
    except OSError:  # swept: analyse again
        return None
    _write(services, study, "report", report_html, exported)
    return Results(exported, {}, analysis=cached["analysis"], flow=cached["flow"],
                   report=report_frame(report_html))


def _study_stamp(services: Services, principal: Principal, study: str, stamp: tuple | None) -> tuple:
    """(study, status, judgements, blinded): the live tables' ``stamp`` when it is this study's, else
    read now."""
    if stamp and stamp[0] == study:
        return tuple(stamp)
    state = staff.study_progress(services, principal, study=study)
    return (study, state["status"], state["judgements"], state["blinded"])


def results(services: Services, principal: Principal | None, study: str | None, exported: dict | None, *,
            look: bool = False, stamp: tuple | None = None) -> Results:
    """Everything the results area shows for ``study``; ``look``: the researcher asked for the analysis
    of a running, unblinded study (recorded). Closed studies are analysed without asking. ``stamp``:
    the live tables' (study, status, judgements, blinded), which saves reading the study's progress
    again."""
    exported = dict(exported or {})
    if principal is None or not study:
        return Results(exported, {}, analysis="Sign in and choose a study.")
    try:
        stamp = _study_stamp(services, principal, study, stamp)
        _, status, _, blinded = stamp
        closed = status == "closed"
        note = prepare_csvs(services, principal, study, blinded, exported)
        if blinded:  # the summary's blinding line says what opens when
            _drop(services, "report", exported)
            exported.pop("analysed", None)
            found = Results(exported, {})
        elif closed and not look and (again := _analysed_before(services, study, exported, stamp)):
            found = again
        elif closed or look:
            found = analyse(services, principal, study, exported)
        else:
            _drop(services, "report", exported)
            exported.pop("analysed", None)
            found = Results(exported, {}, analysis=running_text(study), can_look=True)
    except PlatformError as exc:
        ready = {k: k in exported for k in KINDS}
        return Results(exported, ready, analysis=f"**Not available:** {exc.message}")
    found.downloads = {k: k in exported for k in KINDS}
    found.note = note
    found.exported["stamp"] = stamp
    return found


def stale(exported: dict | None, stamp: tuple | None) -> str | None:
    """On the page's timer, what to prepare again: "all" when the study's status or blinding changed
    (``stamp``: study, status, judgements, blinded; the last one prepared is in ``exported``), "csv"
    when judgements came in or a prepared file nears the age at which exports are swept, else None."""
    exported = exported or {}
    before = tuple(exported.get("stamp") or ())
    if not before or not stamp:
        return None
    now = tuple(stamp)
    if before[:2] != now[:2] or before[3] != now[3]:
        return "all"
    if before[2] != now[2] or any(_age_s(exported[k]) > REFRESH_AFTER_S for k in KINDS if k in exported):
        return "csv"
    return None


def refresh_csvs(services: Services, principal: Principal | None, exported: dict, stamp: tuple
                 ) -> Results | None:
    """The CSVs written again (the report file copied afresh), for the timer; None when signed out."""
    exported = {**exported, "stamp": tuple(stamp)}
    study, _, _, blinded = stamp
    if principal is None:
        return None
    try:
        prepare_csvs(services, principal, study, blinded, exported)
        if "report" in exported:
            _write(services, study, "report", Path(exported["report"]).read_text(encoding="utf-8"), exported)
    except (PlatformError, OSError):
        return None
    return Results(exported, {k: k in exported for k in KINDS})


def _age_s(path: str) -> float:
    try:
        return time.time() - Path(path).parent.stat().st_mtime
    except OSError:
        return float("inf")


def record_download(services: Services, principal: Principal | None, study: str | None) -> None:
    """The judgements button was clicked: record the look (nothing for a closed study)."""
    if principal is None or not study:
        return
    try:
        staff.record_judgements_look(services, principal, study=study, reason=EXPORT_REASON)
    except PlatformError:
        gr.Warning("The judgements export is withheld while the study's outcomes are blinded.")


class ResultsView:
    """The downloads row's buttons (built inside the caller's row) and the results area below."""

    def __init__(self) -> None:
        self.exported = gr.State({})  # this page's prepared files {kind: path} and their "stamp"
        self.judgements = gr.DownloadButton(
            "Judgements (CSV)", scale=1, interactive=False, render=False, elem_id="tl-res-export"
        )
        self.participants = gr.DownloadButton(
            "Participants (CSV)", scale=1, interactive=False, render=False,
            elem_id="tl-res-participants-export",
        )
        self.report_file = gr.DownloadButton(
            "Report (HTML)", scale=1, interactive=False, render=False, elem_id="tl-res-report-download"
        )

    def build_area(self) -> None:
        self.note = gr.Markdown(elem_id="tl-res-exports-note", elem_classes=["tl-hint"])
        self.analysis = gr.Markdown(elem_id="tl-res-analysis")
        self.look = gr.Button(
            "Analyse now (recorded as a look)", visible=False, elem_id="tl-res-look", size="md"
        )
        self.flow = gr.Dataframe(
            headers=FLOW_COLUMNS, interactive=False, visible=False, label="Participant flow (raters)",
            elem_id="tl-res-flow",
        )
        box = gr.Accordion("Report", open=False, visible=False, elem_id="tl-res-report-box")
        with box as self.report_box:
            self.report = gr.HTML(elem_id="tl-res-report")

    @property
    def outputs(self) -> list:
        return [self.exported, self.judgements, self.participants, self.report_file, self.note, self.analysis,
                self.look, self.flow, self.report_box, self.report]

    @property
    def download_outputs(self) -> list:
        return self.outputs[:4]

    @staticmethod
    def downloads(found: Results) -> list:
        buttons = [
            gr.update(value=found.exported.get(k) if found.downloads.get(k) else None,
                      interactive=bool(found.downloads.get(k)))
            for k in KINDS
        ]
        return [found.exported, *buttons]

    def values(self, found: Results) -> list:
        has_flow, has_report = found.flow is not None, bool(found.report)
        return [
            *self.downloads(found),
            found.note,
            found.analysis,
            gr.update(visible=found.can_look),
            gr.update(value=found.flow if has_flow else None, visible=has_flow),
            gr.update(visible=has_report),
            found.report,
        ]
