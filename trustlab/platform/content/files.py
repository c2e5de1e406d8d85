"""Image files the app serves, each behind its access rule: an item's image (staff, or a rater assigned
the item), any explanation's overlay and stored artifacts (staff). Paths are resolved inside their
folder (``paths.existing_file``), never taken from the request as they are."""

from __future__ import annotations

from pathlib import Path

from trustlab.config import Settings
from trustlab.db.engine import read_session
from trustlab.db.queries.assignments import rater_has_item
from trustlab.db.queries.explanations import explanation_by_id
from trustlab.db.queries.items import get_item
from trustlab.platform.accounts.auth import Principal, require_role
from trustlab.platform.content.paths import existing_file
from trustlab.platform.errors import NotFoundError, lookups_as_404


def item_image(settings: Settings, principal: Principal, *, item_id: int) -> Path:
    """The item's image file, if the caller may see it (staff, or a rater assigned the item)."""
    with read_session(settings) as s:
        if not principal.is_staff and not rater_has_item(s, rater_id=principal.rater_id, item_id=item_id):
            raise NotFoundError(f"item {item_id} is not one of your items")
        with lookups_as_404(f"item {item_id} does not exist"):
            item = get_item(s, item_id=item_id)
        return existing_file(settings.images_dir, item.path)


def explanation_image(settings: Settings, principal: Principal, *, explanation_id: int) -> Path:
    """Any explanation's overlay, for staff (curators and researchers browse all of them)."""
    require_role(principal, "researcher", "curator")
    with read_session(settings) as s:
        row = explanation_by_id(s, explanation_id=explanation_id)
        if row is None or not row.overlay_path:
            raise NotFoundError(f"explanation {explanation_id} does not exist")
        return existing_file(settings.artifacts_dir, row.overlay_path)


def staff_artifact(settings: Settings, principal: Principal, *, relative: str) -> Path:
    """A file under the artifact store by its stored relative path (staff only, checked)."""
    require_role(principal, "researcher", "curator")
    return existing_file(settings.artifacts_dir, relative)
