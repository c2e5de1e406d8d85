"""The researcher tab: progress, attrition and rater quality live; accuracy per condition only once the
study is unblinded (closed or `study unblind`); agreement pooled over conditions; CSV export."""

from __future__ import annotations

import gradio as gr

from trustlab.platform import recruit, staff
from trustlab.platform.errors import PlatformError
from trustlab.platform.services import Services
from trustlab.platform.ui_exports import export_root, write_export
from trustlab.platform.ui_staff import SIGNED_OUT, build_login, do_login, principal_of

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
    """The tab's line about the outcome numbers: blinded (and how to unblind), or who unblinded when."""
    blinding = data["blinding"]
    if blinding["blinded"]:
        return (
            f"🔒 **Outcomes per condition are blinded** while the study is {data['status']}: close it "
            f"(`trustlab study close {data['study']}`) or unblind it (`trustlab study unblind "
            f"{data['study']} --reason TEXT`, logged with who and when) to see them."
        )
    first = blinding["unblinded"]
    if first is None:
        return "Outcomes per condition: unblinded (the study is closed)."
    why = f": {first['reason']}" if first["reason"] else ""
    looks = len(blinding["looks"])
    more = f"; {looks - 1} later look(s) recorded" if looks > 1 else ""
    return (
        f"Outcomes per condition unblinded by {first['actor']} ({first['source']}, {first['at']})"
        f"{why}{more}."
    )


def build_researcher_tab(services: Services, staff_state: gr.State) -> dict:
    login = build_login("tl-res")
    with gr.Row():
        study = gr.Dropdown(choices=[], label="Study", elem_id="tl-res-study", scale=3)
        refresh = gr.Button("Refresh", scale=1)
        download = gr.DownloadButton("Export judgements (CSV)", scale=1, elem_id="tl-res-export")
        download_participants = gr.DownloadButton(
            "Participants (CSV)", scale=1, elem_id="tl-res-participants-export"
        )
    exported = gr.State(None)  # this page's last export file (deleted by its next export)
    summary = gr.Markdown(elem_id="tl-res-summary")
    raters = gr.Dataframe(headers=RATER_COLUMNS, interactive=False, label="Raters")
    conditions = gr.Dataframe(headers=CONDITION_COLUMNS, interactive=False, label="Conditions")
    # Link-mode (crowdsourced) studies: each participant's attention and gold failures, live.
    participants = gr.Dataframe(
        headers=PARTICIPANT_COLUMNS, interactive=False, label="Participants (link-mode studies)",
        elem_id="tl-res-participants",
    )
    # Ticks only once a researcher is signed in (raters' pages never poll).
    timer = gr.Timer(REFRESH_S, active=False)

    def sign_in(username, password, request: gr.Request):
        st, text = do_login(services, username, password, request)
        return st, text, gr.update(value=""), _study_choices(services, st), gr.Timer(active=bool(st))

    def report(st, name):
        principal = principal_of(services, st)
        if principal is None or not name:
            return "Sign in and choose a study.", None, None, None
        try:
            data = staff.study_progress(services, principal, study=name)
            participant_rows = recruit.participant_failures(services, principal, study=name)
        except PlatformError as exc:
            return f"**{exc.message}**", None, None, None
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
        return text, rater_rows, cond_rows, participant_rows

    login.button.click(
        sign_in,
        [login.username, login.password],
        [staff_state, login.status, login.password, study, timer],
    )
    login.password.submit(
        sign_in,
        [login.username, login.password],
        [staff_state, login.status, login.password, study, timer],
    )
    for event in (refresh.click, study.change, timer.tick):
        event(
            report, [staff_state, study], [summary, raters, conditions, participants], show_progress="hidden"
        )
    download.click(
        lambda st, name, previous: export_judgements(services, st, name, previous),
        [staff_state, study, exported],
        [download, exported],
    )
    download_participants.click(
        lambda st, name, previous: export_participants(services, st, name, previous),
        [staff_state, study, exported],
        [download_participants, exported],
    )

    def signed_out() -> list:
        return [SIGNED_OUT, gr.update(choices=[], value=None), gr.Timer(active=False), "", None, None, None]

    return {
        "status": login.status,
        "study": study,
        "timer": timer,
        "signout": login.signout,
        "signed_out": (signed_out, [login.status, study, timer, summary, raters, conditions, participants]),
    }


def _export(services: Services, st: dict | None, name: str | None, previous: str | None, *, csv_of,
            suffix: str) -> tuple[str | None, str | None]:
    """``csv_of(services, principal, study=name)`` as a fresh file for a download button.

    Returns (file path or None, the path to remember as this page's last export). The page's previous
    export is deleted first, so one page holds at most one export file at a time.
    """
    principal = principal_of(services, st)
    if principal is None or not name:
        return None, previous
    try:
        text = csv_of(services, principal, study=name)
    except PlatformError as exc:
        gr.Warning(exc.message)
        return None, previous
    path = write_export(
        export_root(services.settings.home), name=name, suffix=suffix, text=text, previous=previous
    )
    return str(path), str(path)


def export_judgements(
    services: Services, st: dict | None, name: str | None, previous: str | None
) -> tuple[str | None, str | None]:
    """The judgements CSV of study ``name`` for the download button (see ``_export``)."""
    return _export(services, st, name, previous, csv_of=staff.judgements_csv, suffix="-judgements.csv")


def export_participants(
    services: Services, st: dict | None, name: str | None, previous: str | None
) -> tuple[str | None, str | None]:
    """The participants CSV of a link-mode study (for approving and paying) for the download button."""
    return _export(services, st, name, previous, csv_of=recruit.participants_csv, suffix="-participants.csv")


def _study_choices(services: Services, st: dict) -> dict:
    if principal_of(services, st) is None:
        return gr.update(choices=[])
    names = [s["name"] for s in services.list_studies()]
    return gr.update(choices=names, value=names[0] if names else None)

