"""The REST API's paths, in one place: the routes declare them and every client builds them from here.

Torch-, gradio- and fastapi-free, so that a client (the rater simulator, the demo's summary) can
import it without loading the app.
"""

from __future__ import annotations

API_PREFIX = "/api/v1"
DOCS_PATH = f"{API_PREFIX}/docs"
HEALTH_PATH = f"{API_PREFIX}/health"
ACCEPT_INVITE_PATH = f"{API_PREFIX}/invites/accept"
JUDGEMENTS_PATH = f"{API_PREFIX}/judgements"


def next_item_path(study: str) -> str:
    """``GET`` here gives a rater their next item of ``study`` (204 when they are finished)."""
    return f"{API_PREFIX}/studies/{study}/next"


def docs_url(base_url: str) -> str:
    """The interactive API docs of the server at ``base_url`` (``http://host:port``)."""
    return base_url.rstrip("/") + DOCS_PATH


def item_image_path(item_id: int) -> str:
    """``GET`` here gives an item's image (staff, or a rater assigned the item)."""
    return f"{API_PREFIX}/items/{item_id}/image"


def explanation_image_path(assignment_id: int, index: int) -> str:
    """``GET`` here gives the ``index``-th explanation picture of an assignment."""
    return f"{API_PREFIX}/assignments/{assignment_id}/explanations/{index}/image"


def join_path(study: str) -> str:
    """``POST`` here (pid, params, consent) admits a participant of a link study."""
    return f"{API_PREFIX}/studies/{study}/join"


def practice_image_path(study: str, index: int) -> str:
    """``GET`` here gives the ``index``-th practice item's image of a link study."""
    return f"{API_PREFIX}/studies/{study}/practice/{index}/image"
