"""The researcher tab: progress, attrition and rater quality live; accuracy per condition, the analysis
(primary result, participant flow, report) and the judgements export only once the study is unblinded
(closed or `study unblind`, see ``ui_research_results``); agreement pooled over conditions."""

from __future__ import annotations

import gradio as gr

from trustlab.platform.errors import PlatformError
from trustlab.platform.recruitment import join as recruit
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
from trustlab.platform.ui.staff.signin import build_login, principal_of
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


def build_researcher_tab(services: Services, staff_state: gr.State) -> dict:
    login = build_login(services, "tl-res")
    results = ResultsView()
    with gr.Row():
        study = gr.Dropdown(choices=[], label="Study", elem_id="tl-res-study", scale=3)
        refresh = gr.Button("Refresh", scale=1, elem_id="tl-res-refresh")
        for button in (results.judgements, results.participants, results.report_file):
            button.render()
    stamp = gr.State(None)  # (study, status, judgements, blinded) as the live tables last saw it
    summary = gr.Markdown(elem_id="tl-res-summary")
    results.build_area()
    raters = gr.Dataframe(headers=RATER_COLUMNS, interactive=False, label="Raters")
    conditions = gr.Dataframe(headers=CONDITION_COLUMNS, interactive=False, label="Conditions")
    # Link-mode (crowdsourced) studies: each participant's attention and gold failures, live.
    participants = gr.Dataframe(
        headers=PARTICIPANT_COLUMNS, interactive=False, label="Participants (link-mode studies)",
        elem_id="tl-res-participants",
    )
    # Ticks only once a researcher is signed in (raters' pages never poll).
    timer = gr.Timer(REFRESH_S, active=False)
    login.on_sign_in(
        lambda st: [_study_choices(services, st), gr.Timer(active=bool(st))], staff_state, [study, timer]
    )

    def live(st, name):
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

    live_outputs = [summary, raters, conditions, participants, stamp]
    for event in (refresh.click, study.change):
        event(live, [staff_state, study], live_outputs, show_progress="hidden").then(
            show_results, [staff_state, study, results.exported, stamp], results.outputs,
            show_progress="minimal",
        )
    timer.tick(live, [staff_state, study], live_outputs, show_progress="hidden").then(
        on_tick, [staff_state, study, results.exported, stamp], results.outputs, show_progress="hidden"
    )
    results.look.click(
        lambda st, name, exported, now: show_results(st, name, exported, now, look=True),
        [staff_state, study, results.exported, stamp], results.outputs,
    )
    results.judgements.click(
        lambda st, name: record_download(services, principal_of(services, st), name),
        [staff_state, study],
        None,
    )

    def signed_out() -> list:
        cleared = results.values(research_results(services, None, None, None))
        return [*login.signed_out(), gr.update(choices=[], value=None), gr.Timer(active=False), "", None,
                None, None, None, *cleared]

    return {
        "status": login.status,
        "study": study,
        "timer": timer,
        "signout": login.signout,
        "signed_out": (
            signed_out, [*login.signed_out_outputs, study, timer, *live_outputs, *results.outputs]
        ),
    }


def live_tables(services: Services, principal, name: str | None) -> list:
    """[summary, raters, conditions, participants, stamp] of the study, live."""
    if principal is None or not name:
        return ["Sign in and choose a study.", None, None, None, None]
    try:
        data = staff.study_progress(services, principal, study=name)
        participant_rows = recruit.participant_failures(services, principal, study=name)
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

