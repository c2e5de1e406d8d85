"""HTML for the rating screen, built from the API's ``next`` payload (pure functions, no gradio).

Images are embedded as data URIs read through the same access-checked service calls as the API,
so the page never holds a file URL (and a blinded study never a method name).
"""

from __future__ import annotations

import base64
import html
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PIL import Image

# Small images are scaled up with crisp pixels; larger ones smoothly.
PIXELATED_BELOW_PX = 128
IMAGE_DISPLAY_PX = 288

READING_HINTS = {
    "heatmap": "Warm colours (red, yellow) mark the parts of the image the model relied on most; "
    "cool colours (blue) the parts it ignored. The bar on the right is the scale.",
    "regions": "Green regions pushed the model towards its prediction; red regions pushed against it.",
    "examples": "Training images that the model finds most similar to this one, with their class and "
    "similarity (1.00 = identical to the model).",
}
# A blinded explanation has no kind (it would hint at the method); an unlabelled one no classes.
BLIND_HINT = "The picture shows what the model based its prediction on; its legend says how to read it."
UNLABELLED_EXAMPLES_HINT = (
    "Training images that the model finds most similar to this one, with their similarity "
    "(1.00 = identical to the model)."
)

INSTRUCTIONS = (
    "Look at the image{prediction_part}. Then answer the questions on the right and press "
    "<b>Submit</b> (or <kbd>Enter</kbd>). There are no trick questions: if you really cannot decide, "
    "tick <b>I can't tell</b>. Keys: <kbd>y</kbd>/<kbd>n</kbd> yes/no, <kbd>1</kbd>-<kbd>9</kbd> pick an "
    "option, <kbd>Enter</kbd> submit, <kbd>?</kbd> all keys."
)

HELP_HTML = """
<div class="tl-help"><b>Keyboard</b>
<ul>
<li><kbd>y</kbd> / <kbd>n</kbd>: yes / no to "Is the model's prediction correct?"</li>
<li><kbd>1</kbd>-<kbd>9</kbd>: choose that option in the highlighted question (then it moves on)</li>
<li><kbd>&darr;</kbd> / <kbd>&uarr;</kbd>: move to the next / previous question</li>
<li><kbd>c</kbd>: "I can't tell" on or off &nbsp; <kbd>t</kbd>: type a comment (<kbd>Esc</kbd> leaves it)</li>
<li><kbd>Enter</kbd>: submit and go to the next image &nbsp; <kbd>?</kbd>: show or hide this help</li>
</ul></div>
"""


def data_uri(path: Path) -> tuple[str, int]:
    """(data URI of a PNG, its width in pixels)."""
    with Image.open(path) as image:
        width = image.width
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode(), width


def _img(path: Path | None, alt: str, *, css_class: str, max_px: int | None = None) -> str:
    if path is None:
        return f'<div class="tl-missing">{html.escape(alt)} is not available.</div>'
    uri, width = data_uri(path)
    pixelated = " tl-pixelated" if width < PIXELATED_BELOW_PX else ""
    style = f' style="width:{max_px}px"' if max_px and width < max_px else ""
    return f'<img class="{css_class}{pixelated}" src="{uri}" alt="{html.escape(alt)}"{style}>'


def _hint(kind: str | None, neighbours: list[dict[str, Any]]) -> str:
    if kind is None:
        return BLIND_HINT
    if kind == "examples" and neighbours and all(n.get("label") is None for n in neighbours):
        return UNLABELLED_EXAMPLES_HINT
    return READING_HINTS.get(kind, "")


def stage_html(
    payload: dict[str, Any],
    *,
    item_path: Path,
    explanation_path: Callable[[int], Path | None],
) -> str:
    """The left side of the rating screen: instructions, image, prediction, explanations."""
    prediction = payload.get("prediction")
    pred_part = ", the model's prediction" if prediction else ""
    if payload.get("explanations"):
        pred_part += " and the explanation of it"
    parts = [f'<div class="tl-stage" data-assignment="{int(payload["assignment_id"])}">']
    parts.append(f'<p class="tl-instructions">{INSTRUCTIONS.format(prediction_part=pred_part)}</p>')
    parts.append('<div class="tl-row"><figure class="tl-figure">')
    parts.append(_img(item_path, "The image", css_class="tl-main", max_px=IMAGE_DISPLAY_PX))
    parts.append("<figcaption>The image</figcaption></figure>")
    if prediction:
        pct = round(100 * float(prediction["confidence"]))
        parts.append(
            '<div class="tl-prediction"><div class="tl-pred-title">The model says</div>'
            f'<div class="tl-pred-label">{html.escape(str(prediction["label"]))}</div>'
            f'<div class="tl-conf"><div class="tl-conf-bar" style="width:{pct}%"></div></div>'
            f'<div class="tl-conf-text">confidence {pct}%</div></div>'
        )
    parts.append("</div>")
    explanations = payload.get("explanations") or []
    for index, expl in enumerate(explanations):
        path = explanation_path(index) if expl.get("image_url") else None
        parts.append('<section class="tl-expl">')
        parts.append(f"<h3>{html.escape(expl.get('title') or 'Explanation')}</h3>")
        neighbours = expl.get("neighbours") or []
        parts.append(f'<p class="tl-hint">{html.escape(_hint(expl.get("kind"), neighbours))}</p>')
        if expl.get("status") == "pending":
            parts.append('<div class="tl-missing tl-pending">This explanation is being prepared…</div>')
        else:
            parts.append(_img(path, "This explanation", css_class="tl-expl-img"))
        if neighbours:
            cells = "".join(
                "<li>"
                + (f"<b>{html.escape(str(n['label']))}</b> " if n.get("label") is not None else "")
                + f"similarity {float(n['similarity']):.2f}</li>"
                for n in neighbours
            )
            parts.append(f'<ol class="tl-neighbours">{cells}</ol>')
        parts.append("</section>")
    parts.append("</div>")
    return "".join(parts)


def progress_html(done: int, total: int) -> str:
    pct = 0 if total == 0 else round(100 * done / total)
    return (
        f'<div class="tl-progress" role="progressbar" aria-valuenow="{done}" aria-valuemax="{total}">'
        f'<div class="tl-progress-bar"><div style="width:{pct}%"></div></div>'
        f'<span class="tl-progress-text">{done} / {total}</span></div>'
    )


def done_html(code: str, done: int, total: int) -> str:
    return (
        '<div class="tl-done"><h2>Thank you, you are done!</h2>'
        f"<p>You rated {done} of {total} images.</p>"
        "<p>Your completion code:</p>"
        f'<p class="tl-code" id="tl-completion-code">{html.escape(code)}</p>'
        "<p>Copy it into the study page that sent you here. You can close this tab.</p></div>"
    )


def notice_html(title: str, text: str) -> str:
    return f'<div class="tl-notice"><h2>{html.escape(title)}</h2><p>{html.escape(text)}</p></div>'
