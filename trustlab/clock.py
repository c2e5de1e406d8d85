"""The one clock: the current time as an aware UTC datetime (what every stored timestamp uses)."""

from __future__ import annotations

from datetime import UTC, datetime


def utc_now() -> datetime:
    """Now, in UTC, timezone-aware."""
    return datetime.now(UTC)
