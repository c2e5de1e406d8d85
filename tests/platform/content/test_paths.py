"""safe_join keeps every stored path inside its folder."""

from __future__ import annotations

import pytest

from trustlab.platform.content.paths import UnsafePath, existing_file, safe_join


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "../secret.txt",
        "a/../../secret.txt",
        "/etc/passwd",
        "..",
        "a/..",
        "%2e%2e/secret.txt",
        "%252e%252e%252fsecret.txt",
        "a%2f..%2f..%2fsecret.txt",
        "..\\secret.txt",
        "C:\\Windows\\win.ini",
        "\\\\host\\share",
        "a\x00.png",
        "a//b.png",
    ],
)
def test_safe_join_rejects_traversal(tmp_path, bad):
    base = tmp_path / "images"
    base.mkdir()
    (tmp_path / "secret.txt").write_text("x")
    with pytest.raises(UnsafePath):
        safe_join(base, bad)


def test_safe_join_rejects_symlink_escape(tmp_path):
    base = tmp_path / "images"
    base.mkdir()
    (tmp_path / "secret.txt").write_text("x")
    (base / "link.png").symlink_to(tmp_path / "secret.txt")
    with pytest.raises(UnsafePath):
        safe_join(base, "link.png")


def test_safe_join_accepts_plain_relative_paths(tmp_path):
    base = tmp_path / "images"
    (base / "ab").mkdir(parents=True)
    (base / "ab" / "x.png").write_bytes(b"png")
    assert existing_file(base, "ab/x.png") == (base / "ab" / "x.png").resolve()
    assert safe_join(base, "./ab/x.png") == (base / "ab" / "x.png").resolve()
