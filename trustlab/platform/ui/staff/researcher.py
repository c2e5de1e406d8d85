"""The researcher tab: progress, attrition and rater quality live; accuracy per condition, the analysis
(primary result, participant flow, report) and the judgements export only once outcome blinding ends
(the study is closed or `study unblind` was run, see ``ui.staff.results``); agreement pooled over
conditions."""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from trustlab.platform.errors import PlatformError
from trustlab.platform.recruitment.join import participant_failures
from trustlab.platform.services import staff
from trustlab.platform.services.rater import Services
from trustlab.platform.ui.staff.results import (
    ResultsView,
    blinded_text,
    record_download,
    refresh_csvs,
    stale,
)
from trustlab.platform.ui.staff.results import results as research_results
from trustlab.platform.ui.staff.signin import StaffLogin, build_login, principal_of
from trustlab.wording import counted

REFRESH_S = 10.0
RATER_COLUMNS = [
    "rater", "participant id", "done", "assigned", "timed out", "done per condition",
    "gold failed", "can't tell", "median time",
]
PARTICIPANT_COLUMNS = ["participant id", "rater", "status", "done", "attention failed", "gold failed"]
CONDITION_COLUMNS = [
    "condition", "assigned", "done", "timed out", "verification accuracy", "true-label accuracy",
]
BLINDED_CELL = "blinded"
PARTICIPANTS_LABEL = "Participants (link studies)"


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.0f}%"


def _seconds(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f} s"


def blinding_line(data: dict) -> str:
    """The tab's line about the outcome numbers: blinded (what shows meanwhile, and how the study gets
    unblinded), or who unblinded it when."""
    blinding = data["blinding"]
    if blinding["blinded"]:
        return blinded_text(data["study"], data["status"])
    first = blinding["unblinded"]
    if first is None:
        return "Outcomes per condition: unblinded (the study is closed)."
    why = f": {first['reason']}" if first["reason"] else ""
    looks = len(blinding["looks"])
    more = f"; {counted(looks - 1, 'later look')} recorded" if looks > 1 else ""
    return (
        f"Outcomes per condition unblinded by {first['actor']} ({first['source']}, {first['at']})"
        f"{why}{more}."
    )


@dataclass
class _LiveView:
    """The tab's study picker and its live tables (refreshed every REFRESH_S while signed in)."""

    study: gr.Dropdown
    refresh: gr.Button
    stamp: gr.State  # (study, status, judgements, blinded) as the live tables last saw it
    summary: gr.Markdown
    raters: gr.Dataframe
    conditions: gr.Dataframe
    participants: gr.Dataframe
    timer: gr.Timer

    @property
    def outputs(self) -> list:
        """The order ``live_tables`` returns."""
        return [self.summary, self.raters, self.conditions, self.participants, self.stamp]


def build_researcher_tab(services: Services, staff_state: gr.State) -> dict:
    """The tab's components, then its events: the live tables, and below them the results that
    outcome blinding withholds until the study is unblinded. Returns what the page's one staff
    sign-out needs (``build.py``)."""
    login = build_login(services, "tl-res")
    results = ResultsView()
    live = _build_live_view(results)
    login.on_sign_in(
        lambda st: [_study_choices(services, st), gr.Timer(active=bool(st))], staff_state,
        [live.study, live.timer],
    )
    _wire_live_and_results(services, staff_state, live, results)
    results.judgements.click(
        lambda st, name: record_download(services, principal_of(services, st), name),
        [staff_state, live.study],
        None,
    )
    return _sign_out_handles(services, login, live, results)


def _build_live_view(results: ResultsView) -> _LiveView:
    """The study picker with Refresh and the downloads, the results area, then the live tables."""
    with gr.Row():
        study = gr.Dropdown(choices=[], label="Study", elem_id="tl-res-study", scale=3)
        refresh = gr.Button("Refresh", scale=1, elem_id="tl-res-refresh")
        for button in (results.judgements, results.participants, results.report_file):
            button.render()
    stamp = gr.State(None)
    summary = gr.Markdown(elem_id="tl-res-summary")
    results.build_area()
    raters = gr.Dataframe(headers=RATER_COLUMNS, interactive=False, label="Raters")
    conditions = gr.Dataframe(headers=CONDITION_COLUMNS, interactive=False, label="Conditions")
    # A link study's participants: each one's attention-check and gold-item failures, live.
    participants = gr.Dataframe(
        headers=PARTICIPANT_COLUMNS, interactive=False, label=PARTICIPANTS_LABEL,
        elem_id="tl-res-participants",
    )
    # Ticks only once a researcher is signed in (raters' pages never poll).
    timer = gr.Timer(REFRESH_S, active=False)
    return _LiveView(study, refresh, stamp, summary, raters, conditions, participants, timer)


def _wire_live_and_results(services: Services, staff_state: gr.State, live: _LiveView,
                           results: ResultsView) -> None:
    """Refresh, a new study and the timer redraw the live tables and then the results (the timer
    only what has gone stale); "Analyse now" shows the results as a recorded look."""

    def tables(st, name):
        return live_tables(services, principal_of(services, st), name)

    def show_results(st, name, exported, now, look=False):
        principal = principal_of(services, st)
        return results.values(research_results(services, principal, name, exported, look=look, stamp=now))

    def on_tick(st, name, exported, now):
        what = stale(exported, now)
        principal = principal_of(services, st)
        if what == "all":
            return results.values(research_results(services, principal, name, exported, stamp=now))
        found = refresh_csvs(services, principal, exported, now) if what == "csv" else None
        keep = [gr.skip()] * (len(results.outputs) - len(results.download_outputs))
        return [*results.downloads(found), *keep] if found else [gr.skip()] * len(results.outputs)

    shown = [staff_state, live.study, results.exported, live.stamp]
    for event in (live.refresh.click, live.study.change):
        event(tables, [staff_state, live.study], live.outputs, show_progress="hidden").then(
            show_results, shown, results.outputs, show_progress="minimal",
        )
    live.timer.tick(tables, [staff_state, live.study], live.outputs, show_progress="hidden").then(
        on_tick, shown, results.outputs, show_progress="hidden"
    )
    results.look.click(
        lambda st, name, exported, now: show_results(st, name, exported, now, look=True),
        shown, results.outputs,
    )


def _sign_out_handles(services: Services, login: StaffLogin, live: _LiveView, results: ResultsView) -> dict:
    """The tab's status, study, timer and sign-out button, and how to empty it on sign-out."""

    def signed_out() -> list:
        cleared = results.values(research_results(services, None, None, None))
        return [*login.signed_out(), gr.update(choices=[], value=None), gr.Timer(active=False), "", None,
                None, None, None, *cleared]

    outputs = [*login.signed_out_outputs, live.study, live.timer, *live.outputs, *results.outputs]
    return {
        "status": login.status,
        "study": live.study,
        "timer": live.timer,
        "signout": login.signout,
        "signed_out": (signed_out, outputs),
    }


def live_tables(services: Services, principal, name: str | None) -> list:
    """[summary, raters, conditions, participants, stamp] of the study, live."""
    if principal is None or not name:
        return ["Sign in and choose a study.", None, None, None, None]
    try:
        data = staff.study_progress(services, principal, study=name)
        participant_rows = participant_failures(services, principal, study=name)
    except PlatformError as exc:
        return [f"**{exc.message}**", None, None, None, None]
    rater_rows = [
        [
            r["rater"],
            r.get("external_pid") or "",
            r["done"],
            r["assigned"],
            r["released"],
            ", ".join(f"{c}: {n}" for c, n in sorted(r["by_condition"].items())),
            f"{r['gold_failures']}/{r['gold_seen']}",
            _pct(r["cant_tell_rate"]),
            _seconds(r["median_time_s"]),
        ]
        for r in data["raters"]
    ]
    blinded = data["blinded"]
    cond_rows = [
        [
            c,
            v["assigned"],
            v["done"],
            v["released"],
            BLINDED_CELL if blinded else _pct(v.get("verification_accuracy")),
            BLINDED_CELL if blinded else _pct(v.get("true_label_accuracy")),
        ]
        for c, v in data["conditions"].items()
    ]
    alpha = data["agreement"]["true_label_krippendorff_alpha"]
    text = (
        f"**{data['study']}** ({data['status']}): {data['judgements']} judgements from "
        f"{len(data['raters'])} raters. Agreement on the true label (Krippendorff's alpha): "
        f"{'not enough data yet' if alpha is None else f'{alpha:.2f}'} (all conditions pooled).\n\n"
        + blinding_line(data)
    )
    stamp = (data["study"], data["status"], data["judgements"], blinded)
    return [text, rater_rows, cond_rows, participant_rows, stamp]


def _study_choices(services: Services, st: dict) -> dict:
    if principal_of(services, st) is None:
        return gr.update(choices=[])
    names = [s["name"] for s in services.list_studies()]
    return gr.update(choices=names, value=names[0] if names else None)

