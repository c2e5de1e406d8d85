"""The pictures a twin explanation (twins, counterfactual twins) shows on the rater page.

The stored twins strip puts the item and five neighbours side by side with their captions drawn into
the picture; squeezed next to the item on a laptop its captions are a few pixels high. The rater page
shows the first ``NEIGHBOURS_SHOWN`` neighbours as pictures of their own, with the similarity and
(where ``disclosure`` allows) the class as text under each. What each neighbour may say is
``disclosure.rater_neighbours``' rule, the same as the API's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trustlab.config import Settings
from trustlab.db.queries.items import items_by_ids
from trustlab.platform.content import disclosure
from trustlab.platform.content.paths import existing_file

# Fewer, larger neighbours: three fit beside the item on a 1366 x 768 laptop at a readable size.
NEIGHBOURS_SHOWN = 3


@dataclass(frozen=True)
class NeighbourPicture:
    """One neighbour as the rater sees it: its image file, its similarity to the item (cosine, 1.0 =
    identical to the model) and its class (None where the study hides the prediction)."""

    path: Path
    similarity: float
    label: str | None


def neighbour_pictures(
    settings: Settings, session: Any, row: Any, *, show_prediction: bool, limit: int = NEIGHBOURS_SHOWN
) -> list[NeighbourPicture]:
    """The first ``limit`` neighbours of the Explanation ``row`` (empty when it has none: not a twin
    explanation, or a class without training items); ``session``: an open read session."""
    stored: Sequence[dict[str, Any]] = (row.neighbours or [])[:limit] if row is not None else []
    if not stored:
        return []
    items = items_by_ids(session, item_ids=[int(n["item_id"]) for n in stored])
    shown = disclosure.rater_neighbours(stored, show_prediction=show_prediction)
    return [
        NeighbourPicture(
            path=existing_file(settings.images_dir, items[int(n["item_id"])].path),
            similarity=float(s["similarity"]),
            label=s.get("label"),
        )
        for n, s in zip(stored, shown, strict=True)
    ]
