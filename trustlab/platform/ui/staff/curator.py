"""The curator tab: the relabel queue, one proposal at a time; accept (a), reject (r), another label
(digits pick it, o applies), undo (u). Decisions go through trustlab.studies.relabel.curation."""

from __future__ import annotations

import html
import logging
from typing import Any

import gradio as gr

from trustlab.platform.errors import PlatformError
from trustlab.platform.services import staff
from trustlab.platform.services.rater import Services
from trustlab.platform.ui.render import data_uri
from trustlab.platform.ui.staff.signin import build_login, principal_of
from trustlab.wording import counted

log = logging.getLogger(__name__)

QUEUE_LIMIT = 50
OVERLAY = "tl-cur-overlay"
EMPTY_QUEUE = "<b>The queue is empty.</b> Nothing to review."
SIGNED_OUT_CARD = "Sign in as a curator and choose a dataset."


CHOOSE_FIRST = "Choose a label first (press its digit or click it), then apply it (o)."


def build_curator_tab(services: Services, staff_state: gr.State) -> dict:
    login = build_login(services, "tl-cur")
    with gr.Row():
        dataset = gr.Dropdown(choices=[], label="Dataset", elem_id="tl-cur-dataset", scale=3)
        reload_btn = gr.Button("Reload queue", scale=1)
    current = gr.State({})
    # The card on the left, the decisions beside it: both in view on a 1366 x 768 screen.
    with gr.Row(elem_id="tl-cur-panel", equal_height=False):
        with gr.Column(scale=3, min_width=320):
            card = gr.HTML(SIGNED_OUT_CARD, elem_id="tl-cur-card")
        with gr.Column(scale=1, min_width=260, elem_id="tl-cur-actions"):
            accept = gr.Button("Accept proposed label (a)", variant="primary", elem_id="tl-cur-accept")
            reject = gr.Button("Reject: keep current label (r)", elem_id="tl-cur-reject")
            other = gr.Radio(
                choices=[], label="Or choose another label (digits), then apply (o)", elem_id="tl-cur-other"
            )
            apply_other = gr.Button("Apply chosen label (o)", elem_id="tl-cur-apply")
            undo = gr.Button("Undo my last decision (u)", elem_id="tl-cur-undo")
            result = gr.Markdown(elem_id="tl-cur-result")
    outputs = [current, card, other, result]
    login.on_sign_in(lambda st: [dataset_choices(services, st)], staff_state, [dataset])

    for event in (dataset.change, reload_btn.click):
        event(lambda st, n: show_card(services, st, n), [staff_state, dataset], outputs)
    def on(action: str):
        return lambda st, n, c: decide_card(services, st, n, c, action)

    inputs = [staff_state, dataset, current]
    for button, action in ((accept, "accept"), (reject, "reject"), (undo, "undo")):
        button.click(on(action), inputs, outputs)
    apply_other.click(
        lambda st, n, c, lab: decide_card(services, st, n, c, "other", lab), [*inputs, other], outputs
    )

    def signed_out() -> list:
        no_choices = gr.update(choices=[], value=None)
        return [*login.signed_out(), no_choices, {}, SIGNED_OUT_CARD, gr.update(choices=[], value=None), ""]

    return {
        "status": login.status,
        "dataset": dataset,
        "signout": login.signout,
        "signed_out": (signed_out, [*login.signed_out_outputs, dataset, *outputs]),
    }


def show_card(services: Services, st, name, note="", last_item_id=None, first=None) -> tuple:
    """The queue's card: proposal ``first`` when it is open (the one an undo reopened), else the
    best one. The item decided last is remembered so that `u` undoes it after the card moved on."""
    keep = {"last_item_id": last_item_id} if last_item_id is not None else {}
    principal = principal_of(services, st)
    if principal is None or not name:
        return keep, SIGNED_OUT_CARD, gr.update(choices=[]), note
    try:
        queue = staff.curator_queue(services, principal, dataset=name, limit=QUEUE_LIMIT)
        n_open = staff.curator_open_count(services, principal, dataset=name)
    except PlatformError as exc:
        return keep, html.escape(exc.message), gr.update(choices=[]), note
    if not queue:
        empty = f'<div class="tl-cur-card tl-cur-empty"><p>{EMPTY_QUEUE}</p></div>'
        return keep, empty, gr.update(choices=[]), note
    proposal = next((p for p in queue if p["proposal_id"] == first), queue[0])
    choices = [(f"{i + 1}  {c}", c) for i, c in enumerate(proposal["classes"])]
    return (
        {"proposal_id": proposal["proposal_id"], "item_id": proposal["item_id"], **keep},
        card_html(services, principal, proposal, n_open),
        gr.update(choices=choices, value=None),
        note,
    )

def decide_card(services: Services, st, name, cur, action, label=None) -> tuple:
    """Apply ``action`` (accept, reject, other with ``label``, undo) to the card ``cur``; the next card."""
    principal = principal_of(services, st)
    if principal is None or not cur:
        return show_card(services, st, name, "Nothing selected.")
    last = cur.get("last_item_id")
    if action == "other" and not label:
        return cur, gr.skip(), gr.skip(), CHOOSE_FIRST
    try:
        if action == "undo":
            if last is None:
                return show_card(services, st, name, "Nothing to undo yet.")
            out = staff.curator_undo(services, principal, item_id=last)
            return show_card(services, st, name, undone_note(out), last, first=out["proposal_id"])
        if "proposal_id" not in cur:
            return show_card(services, st, name, "The queue is empty.", last)
        out = staff.curator_decide(
            services, principal, proposal_id=cur["proposal_id"], action=action, label=label
        )
    except PlatformError as exc:
        return show_card(services, st, name, f"**Not done:** {exc.message}", last)
    return show_card(services, st, name, decided_note(cur["item_id"], action, out), cur["item_id"])


def decided_note(item_id: int, action: str, out: dict) -> str:
    if out.get("new_label"):
        return f"Item {item_id}: label changed to **{out['new_label']}** ({action}). Undo with u."
    return f"Item {item_id}: label kept ({action}). Undo with u."


def undone_note(out: dict) -> str:
    if out["undone"] == "reject":
        return f"Undone: your reject of item {out['item_id']}; its proposal is open again (below)."
    return f"Undone: item {out['item_id']} is back to **{out['new_label']}**."


def dataset_choices(services: Services, st: dict | None) -> Any:
    if principal_of(services, st) is None:
        return gr.update(choices=[])
    names = staff.dataset_names(services)
    return gr.update(choices=names, value=names[0] if names else None)


def card_html(services: Services, principal, proposal: dict, n_open: int) -> str:
    """One proposal: the image, current -> proposed label, votes, model probabilities, twins, overlays."""

    def img(path_fn, css_class: str = "tl-cur-img") -> str:
        try:
            uri, _ = data_uri(path_fn())
        except (PlatformError, OSError):
            log.warning("an image of proposal %s is not available", proposal.get("proposal_id"),
                        exc_info=True)
            return "<em>(image not available)</em>"
        return f'<img class="{css_class} tl-pixelated" src="{uri}">'

    votes = (
        ", ".join(f"{html.escape(str(k))}: {v}" for k, v in (proposal.get("votes") or {}).items())
        or "no rater votes yet"
    )
    probs = ", ".join(
        f"{html.escape(str(k))}: {float(v):.2f}"
        for k, v in sorted((proposal.get("probabilities") or {}).items(), key=lambda kv: -kv[1])
    )
    twins = ", ".join(
        f"{html.escape(str(t.get('label')))} ({float(t.get('similarity', 0)):.2f})"
        for t in proposal.get("twins") or []
    )
    overlays = "".join(
        f"<figure>{img(lambda e=e: services.staff_artifact(principal, relative=e['overlay_path']), OVERLAY)}"
        f"<figcaption>{html.escape(str(e.get('method')))}</figcaption></figure>"
        for e in proposal.get("explanations") or []
        if e.get("overlay_path")
    )
    item_img = img(lambda: services.item_image(principal, item_id=proposal["item_id"]))
    score = f"{float(proposal['score']):.3f} ({html.escape(proposal['method'])})"
    # Labels and evidence text first, then the item and its explanations in one row, so the whole card
    # fits beside the decision buttons on a 1366 x 768 screen.
    return (
        f'<div class="tl-cur-card" data-proposal="{int(proposal["proposal_id"])}">'
        f'<p class="tl-cur-count">{open_count_text(n_open)}; this one scores {score}.</p>'
        f'<p class="tl-cur-labels">Current label: <b>{html.escape(proposal["current_label"])}</b> → '
        f"proposed: <b>{html.escape(proposal['proposed_label'])}</b></p>"
        f'<p class="tl-cur-evidence">Rater votes: {votes}<br>Model probabilities: {probs or "not stored"}'
        f"<br>Similar training images: {twins or 'not stored'}</p>"
        f'<div class="tl-row tl-cur-images"><figure>{item_img}'
        f"<figcaption>item {int(proposal['item_id'])} ({html.escape(proposal['split'])})"
        f"</figcaption></figure>{overlays}</div></div>"
    )


def open_count_text(n_open: int) -> str:
    return f"{counted(n_open, 'open proposal')} left"
