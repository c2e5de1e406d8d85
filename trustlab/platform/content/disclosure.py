"""What a rater may learn from an explanation: nothing of the predicted class when the study
hides the prediction, nothing of the method under condition hiding.

* hidden prediction (``show_prediction: false``): example-based explanations (twins) get a title that
  does not relate their images to the model's class, their neighbours lose their class labels, and their
  picture is re-rendered without the class printed under each neighbour (``unlabelled_twins``);
* condition hiding: no method name, no method title, no ``kind`` (the family a method belongs to).

The images a twin explanation shows are its content, so a careful rater may still recognise their
class; what is withheld is every statement of it.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from PIL import Image

from trustlab.config import Settings
from trustlab.db.queries.items import get_item
from trustlab.db.schema import Explanation
from trustlab.explain.render import twins_strip
from trustlab.explain.store import save_png

# Their title when the prediction is hidden: no word on how the images relate to the model's class.
HIDDEN_CLASS_TITLE = "Similar training images"


def rater_title(
    title: str, *, examples: bool, index: int, n_methods: int, hide_method: bool, show_prediction: bool
) -> str:
    """The heading of the ``index``-th of ``n_methods`` explanations; ``title`` is the method's own,
    ``examples`` whether the method shows training examples (twins)."""
    if hide_method:
        return f"Explanation {index + 1}" if n_methods > 1 else "The explanation"
    if not show_prediction and examples:
        return HIDDEN_CLASS_TITLE
    return title


def rater_neighbours(neighbours: Sequence[Mapping[str, Any]], *, show_prediction: bool) -> list[dict]:
    """Similarity (and, when the prediction is shown, class) of each neighbour; never its item id."""
    out = []
    for n in neighbours:
        entry: dict[str, Any] = {"similarity": round(float(n.get("similarity", 0.0)), 3)}
        if show_prediction:
            entry["label"] = n.get("label")
        out.append(entry)
    return out


def _pixels(path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"), dtype=np.uint8)


def unlabelled_twins(settings: Settings, *, item_path: str, neighbours: Sequence[tuple[str, float]]) -> str:
    """Render the twins strip without class labels; returns its artifact path (content addressed).

    item_path: the query item's image path under ``images_dir``; neighbours: (image path, similarity).
    """
    tiles = [(_pixels(settings.images_dir / path), "", float(sim)) for path, sim in neighbours]
    return save_png(settings, twins_strip(_pixels(settings.images_dir / item_path), tiles))


class UnlabelledTwins:
    """Twins pictures without class labels, rendered once per explanation (artifact paths by id)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._paths: dict[int, str] = {}
        self._lock = threading.Lock()

    def path(self, session, row: Explanation, *, item_id: int) -> str:
        """The artifact path of ``row``'s picture without labels (``item_id``: the explained item)."""
        with self._lock:
            cached = self._paths.get(row.id)
        if cached is not None:
            return cached
        path = unlabelled_twins(
            self.settings,
            item_path=get_item(session, item_id=item_id).path,
            neighbours=[
                (get_item(session, item_id=n["item_id"]).path, n["similarity"]) for n in row.neighbours
            ],
        )
        with self._lock:
            self._paths[row.id] = path
        return path
