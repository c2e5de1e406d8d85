"""Turning stored relative paths into files without ever leaving the allowed folder.

Request paths never reach the file system: routes take integer ids, look up the stored relative
path, and resolve it here. The stored path is checked too, because a dataset imported from
elsewhere could carry ``../`` or an absolute path.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from urllib.parse import unquote

from trustlab.platform.errors import NotFoundError

# Percent-decoding is repeated this many times to catch double-encoded traversal (%252e%252e).
MAX_UNQUOTE_ROUNDS = 3


class UnsafePath(NotFoundError):
    """A path that is absolute, climbs out with '..', or is encoded to hide either."""


def safe_join(base: Path, relative: str) -> Path:
    """The file ``base/relative`` if it is a plain relative path that stays inside ``base``.

    Rejects (raises UnsafePath): empty paths, absolute paths (``/x``, ``C:\\x``, ``\\\\host``),
    any ``..`` part, backslashes, NUL bytes, and percent-encoded forms of these; then resolves
    symlinks and checks that the result is still inside ``base``.
    """
    if not relative or not isinstance(relative, str):
        raise UnsafePath("empty path")
    decoded = relative
    for _ in range(MAX_UNQUOTE_ROUNDS):
        decoded_again = unquote(decoded)
        if decoded_again == decoded:
            break
        decoded = decoded_again
    if decoded != relative:
        raise UnsafePath("percent-encoded path")
    if "\x00" in relative or "\\" in relative or ":" in relative:
        raise UnsafePath("path with a NUL, backslash or drive letter")
    parts = PurePosixPath(relative)
    if parts.is_absolute() or any(part in ("..", "") for part in relative.split("/")):
        raise UnsafePath("absolute path or '..' part")
    root = base.resolve()
    target = (root / parts).resolve()
    if not target.is_relative_to(root):
        raise UnsafePath("path leaves its folder")
    return target


def existing_file(base: Path, relative: str) -> Path:
    """``safe_join`` plus a check that the file exists (NotFoundError otherwise)."""
    target = safe_join(base, relative)
    if not target.is_file():
        raise NotFoundError("file not found")
    return target
