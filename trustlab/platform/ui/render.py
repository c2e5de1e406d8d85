"""HTML for the rating screen, built from the API's ``next`` payload (pure functions, no gradio).

Images are embedded as data URIs read through the same access-checked service calls as the API,
so the page never holds a file URL (and a study with condition hiding never a method name).
"""

from __future__ import annotations

import base64
import functools
import html
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PIL import Image

from trustlab.explain.render import DEFAULT_CMAP
from trustlab.explanation_methods import METHODS

if TYPE_CHECKING:
    from trustlab.platform.content.neighbours import NeighbourPicture

# Small images are scaled up with crisp pixels; larger ones smoothly. The image is shown at the
# explanations' display size (explain.render.DISPLAY_SIDE) so the two can be compared side by side.
PIXELATED_BELOW_PX = 128
# Encoded pictures kept in memory (a few tens of kB each: a few MB at most).
DATA_URI_CACHE_ENTRIES = 256
IMAGE_DISPLAY_PX = 256

# How to read a heatmap, per colour map (explain.render.COLORMAPS; the study's `display.colormap`).
SCALE_HINT = "The bar on the right runs from less important (bottom) to more important (top)."
HEATMAP_HINTS = {
    "viridis": "Bright yellow marks the parts of the image the model relied on most; dark purple the "
    f"parts it ignored. {SCALE_HINT}",
    "cividis": "Bright yellow marks the parts of the image the model relied on most; dark blue the parts "
    f"it ignored. {SCALE_HINT}",
    "jet": "Warm colours (red, yellow) mark the parts of the image the model relied on most; cool "
    f"colours (blue) the parts it ignored. {SCALE_HINT}",
}
READING_HINTS = {
    "regions": "Blue regions pushed the model towards its prediction; orange regions pushed against it.",
    "examples": "Training images that the model finds most similar to this one, with their class and "
    "similarity (1.00 = identical to the model).",
}
# Alt texts say what the picture shows (for screen readers), in the same words as the hints.
ALT_TEXTS = {
    "heatmap": "The image with a heatmap over it: {hint}",
    "regions": "The image divided into regions. {hint}",
    "examples": "A row of pictures: this image first, then the training images most similar to it: {list}.",
}
# Under condition hiding an explanation has no kind (it would hint at the method); an unlabelled one
# no classes.
HIDDEN_CONDITION_HINT = (
    "The picture shows what the model based its prediction on; its legend says how to read it."
)
HIDDEN_CONDITION_ALT = (
    "A picture explaining the model's prediction for this image; its legend says how to read it."
)
# Under condition hiding, an explanation shown as several pictures (twins): the captions, not a legend,
# say how to read it.
HIDDEN_CONDITION_GALLERY_HINT = (
    "The pictures show what the model based its prediction on; the caption under each says how to read it."
)
UNLABELLED_EXAMPLES_HINT = (
    "Training images that the model finds most similar to this one, with their similarity "
    "(1.00 = identical to the model)."
)
MAIN_ALT = "The image to judge."

INSTRUCTIONS = (
    "Look at the image{prediction_part}, then answer the questions and press <b>Submit</b> "
    "(<kbd>Enter</kbd>). Cannot decide? Tick <b>I can't tell</b>."
)

HELP_HTML = """
<div class="tl-help"><b>Keyboard</b> (single-key shortcuts can be switched off below)
<ul>
<li><kbd>y</kbd> / <kbd>n</kbd>: yes / no to "Is the model's prediction correct?"</li>
<li><kbd>0</kbd>-<kbd>9</kbd>: choose the option with that number in the highlighted question (two digits
for 10 and up, e.g. <kbd>1</kbd><kbd>2</kbd>); then it moves on</li>
<li><kbd>j</kbd> / <kbd>k</kbd>, or <kbd>&darr;</kbd> / <kbd>&uarr;</kbd> while a question has focus: next /
previous question (otherwise the arrows scroll the page)</li>
<li><kbd>c</kbd>: "I can't tell" on or off &nbsp; <kbd>t</kbd>: type a comment (<kbd>Esc</kbd> leaves it)</li>
<li><kbd>Enter</kbd>: submit and go to the next image &nbsp; <kbd>?</kbd>: show or hide this help</li>
</ul></div>
"""


def data_uri(path: Path) -> tuple[str, int]:
    """(data URI of a PNG, its width in pixels); kept for the file's size and modification time, so
    that the raters of one item (and a reload) do not read and encode it again."""
    stat = path.stat()
    return _data_uri(str(path), stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=DATA_URI_CACHE_ENTRIES)
def _data_uri(path: str, _mtime_ns: int, _size: int) -> tuple[str, int]:
    with Image.open(path) as image:
        width = image.width
    return "data:image/png;base64," + base64.b64encode(Path(path).read_bytes()).decode(), width


def _img(path: Path | None, alt: str, *, css_class: str, max_px: int | None = None, missing: str = "") -> str:
    if path is None:
        return f'<div class="tl-missing">{html.escape(missing or alt)} is not available.</div>'
    uri, width = data_uri(path)
    pixelated = " tl-pixelated" if width < PIXELATED_BELOW_PX else ""
    style = f' style="width:{max_px}px"' if max_px and width < max_px else ""
    return f'<img class="{css_class}{pixelated}" src="{uri}" alt="{html.escape(alt)}"{style}>'


def _hint(kind: str | None, neighbours: list[dict[str, Any]], colormap: str) -> str:
    if kind is None:
        return HIDDEN_CONDITION_HINT
    if kind == "heatmap":
        return HEATMAP_HINTS.get(colormap, HEATMAP_HINTS[DEFAULT_CMAP])
    if kind == "examples" and neighbours and all(n.get("label") is None for n in neighbours):
        return UNLABELLED_EXAMPLES_HINT
    return READING_HINTS.get(kind, "")


def explanation_alt(kind: str | None, neighbours: list[dict[str, Any]], colormap: str = DEFAULT_CMAP) -> str:
    """What the explanation picture shows, for screen readers; method-neutral under condition hiding
    (no kind)."""
    if kind is None:
        return HIDDEN_CONDITION_ALT
    if kind == "examples":
        shown = [
            (f"{n['label']}, " if n.get("label") is not None else "")
            + f"similarity {float(n['similarity']):.2f}"
            for n in neighbours
        ]
        return ALT_TEXTS["examples"].format(list="; ".join(shown) or "none")
    template = ALT_TEXTS.get(kind, "{hint}")
    return template.format(hint=_hint(kind, neighbours, colormap))


def _prediction_html(prediction: dict[str, Any]) -> str:
    pct = round(100 * float(prediction["confidence"]))
    return (
        '<div class="tl-prediction"><span class="tl-pred-title">The model says</span> '
        f'<span class="tl-pred-label">{html.escape(str(prediction["label"]))}</span>'
        '<span class="tl-conf" aria-hidden="true">'
        f'<span class="tl-conf-bar" style="width:{pct}%"></span></span>'
        f'<span class="tl-conf-text">confidence {pct}%</span></div>'
    )


def stage_html(
    payload: dict[str, Any],
    *,
    item_path: Path,
    explanation_path: Callable[[int], Path | None],
    colormap: str = DEFAULT_CMAP,
    instructions: str = INSTRUCTIONS,
    stage_id: str | None = None,
    banner: str = "",
    neighbour_pictures: Callable[[int], Sequence[NeighbourPicture]] | None = None,
) -> str:
    """The left side of the rating screen: a one-line instruction, the prediction, then the image and
    its explanations side by side (all within a laptop screen's height: see style.css).

    ``colormap`` is the study's heatmap colour map (for the reading hint and the alt text);
    ``instructions`` a format string with ``{prediction_part}`` (the study's texts may replace it);
    ``stage_id`` marks the screen (default: the assignment id); ``banner``: HTML above it (practice);
    ``neighbour_pictures(i)``: the i-th explanation's neighbours (``platform.neighbours``), shown as
    pictures of their own instead of its strip when there are any (twins).
    """
    prediction = payload.get("prediction")
    pred_part = ", the model's prediction" if prediction else ""
    if payload.get("explanations"):
        pred_part += " and the explanation of it"
    marker = html.escape(stage_id) if stage_id else str(int(payload["assignment_id"]))
    parts = [f'<div class="tl-stage" data-assignment="{marker}">', banner]
    parts.append(f'<p class="tl-instructions">{instructions.format(prediction_part=pred_part)}</p>')
    if prediction:
        parts.append(_prediction_html(prediction))
    parts.append('<div class="tl-row"><figure class="tl-figure">')
    parts.append(_img(item_path, MAIN_ALT, css_class="tl-main", max_px=IMAGE_DISPLAY_PX, missing="The image"))
    parts.append("<figcaption>The image</figcaption></figure>")
    explanations = payload.get("explanations") or []
    for index, expl in enumerate(explanations):
        path = explanation_path(index) if expl.get("image_url") else None
        shown = neighbour_pictures(index) if neighbour_pictures is not None else []
        parts.append(_explanation_html(expl, path, shown, colormap))
    parts.append("</div></div>")
    return "".join(parts)


def _explanation_html(
    expl: dict[str, Any], path: Path | None, neighbours: Sequence[NeighbourPicture], colormap: str
) -> str:
    """One explanation's section: its heading, how to read it, then its picture (or its neighbours)."""
    kind = expl.get("kind")
    listed = expl.get("neighbours") or []
    ready = expl.get("status") != "pending"
    gallery = bool(neighbours) and ready
    hint = _gallery_hint(expl, neighbours) if gallery else _hint(kind, listed, colormap)
    parts = [
        f'<section class="tl-expl{" tl-expl-gallery" if gallery else ""}">',
        f"<h3>{html.escape(expl.get('title') or 'Explanation')}</h3>",
        f'<p class="tl-hint">{html.escape(hint)}</p>',
    ]
    if not ready:
        parts.append('<div class="tl-missing tl-pending">This explanation is being prepared…</div>')
    elif gallery:
        parts.append(gallery_html(neighbours, condition_hidden=kind is None))
    else:
        alt = explanation_alt(kind, listed, colormap)
        parts.append(_img(path, alt, css_class="tl-expl-img", missing="This explanation"))
        if listed:
            cells = "".join(
                "<li>"
                + (f"<b>{html.escape(str(n['label']))}</b> " if n.get("label") is not None else "")
                + f"similarity {float(n['similarity']):.2f}</li>"
                for n in listed
            )
            parts.append(f'<ol class="tl-neighbours">{cells}</ol>')
    parts.append("</section>")
    return "".join(parts)


def _gallery_hint(expl: dict[str, Any], neighbours: Sequence[NeighbourPicture]) -> str:
    """How to read neighbours shown as pictures: the method's own description from the catalogue;
    method-neutral under condition hiding (no kind), class-neutral when the prediction is hidden (no
    labels)."""
    if expl.get("kind") is None:
        return HIDDEN_CONDITION_GALLERY_HINT
    if any(picture.label is None for picture in neighbours):
        return UNLABELLED_EXAMPLES_HINT
    spec = METHODS.get(str(expl.get("method")))
    return spec.description if spec is not None else READING_HINTS["examples"]


def neighbour_caption(picture: NeighbourPicture) -> str:
    """The text under a neighbour: its class (where shown) and its similarity."""
    label = f"<b>{html.escape(picture.label)}</b> " if picture.label is not None else ""
    return f"{label}<span>similarity {picture.similarity:.2f}</span>"


def gallery_html(neighbours: Sequence[NeighbourPicture], *, condition_hidden: bool) -> str:
    """The neighbours side by side, each a picture with its caption in page text (readable at any
    size, unlike the strip's drawn captions). ``condition_hidden``: alt texts name no method."""
    cells = []
    for k, picture in enumerate(neighbours, start=1):
        said = f"similarity {picture.similarity:.2f}"
        said = f"{picture.label}, {said}" if picture.label is not None else said
        what = "picture" if condition_hidden else "training image"
        alt = f"{what.capitalize()} {k} of {len(neighbours)}: {said}"
        cells.append(
            f'<li><figure class="tl-neighbour">{_img(picture.path, alt, css_class="tl-neighbour-img")}'
            f"<figcaption>{neighbour_caption(picture)}</figcaption></figure></li>"
        )
    return f'<ol class="tl-gallery">{"".join(cells)}</ol>'


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


def attention_html(title: str, prompt: str, *, stage_id: str) -> str:
    """An attention check's screen: its instruction, prominently (the questions are on the right)."""
    return (
        f'<div class="tl-stage tl-attention" data-assignment="{html.escape(stage_id)}">'
        f"<h2>{html.escape(title)}</h2><p>{html.escape(prompt)}</p></div>"
    )


def done_link_html(
    title: str, text: str, *, code: str = "", url: str | None, redirecting: str, link_text: str
) -> str:
    """The end of a link study: the text, the completion code (when there is one) and, with a
    ``url``, a marker that ``static/redirect.js`` follows after a moment, plus a link for when it does
    not."""
    parts = [f'<div class="tl-done"><h2>{html.escape(title)}</h2><p>{html.escape(text)}</p>']
    if code:
        parts.append(f'<p class="tl-code" id="tl-completion-code">{html.escape(code)}</p>')
    if url:
        href = html.escape(url, quote=True)
        parts.append(
            f'<p id="tl-redirect" data-href="{href}">{html.escape(redirecting)}</p>'
            f'<p><a href="{href}" id="tl-redirect-link">{html.escape(link_text)}</a></p>'
        )
    parts.append("</div>")
    return "".join(parts)
