"""The table helper never cuts a cell; doctor's checks on their own (no CLI)."""

from __future__ import annotations

import io

from rich.console import Console

from trustlab.cli.output import jsonable
from trustlab.cli.tables import print_table
from trustlab.config import load_settings
from trustlab.doctor import FAIL, OK, WARN, check_home, check_offline, check_packages

LONG = "a-very-long-model-name-that-does-not-fit-anywhere-near-forty-columns"


def _render(width: int, columns, rows, **kwargs) -> str:
    out = Console(width=width, record=True, file=io.StringIO())
    print_table("t", columns, rows, out=out, **kwargs)
    return out.export_text()


def test_a_table_that_does_not_fit_turns_sideways_then_into_blocks():
    columns = ("model", *(f"metric_{i}" for i in range(9)))
    rows = [("m1", *[i / 7 for i in range(9)]), ("m2", *[1.0] * 9)]
    sideways = _render(40, columns, rows)
    assert "metric_8" in sideways and "1.143" in sideways and "…" not in sideways
    assert max(map(len, sideways.splitlines())) <= 40
    blocks = _render(40, columns, [(LONG, *[0.5] * 9)] * 3)
    assert "…" not in blocks and LONG in "".join(blocks.split())  # folded, never cut


def test_extra_columns_only_with_wide():
    narrow = _render(80, ("name", "path"), [("x", "/some/where.png")], extra=("path",))
    wide = _render(40, ("name", "path"), [("x", "/" + "p" * 60)], extra=("path",), wide=True)
    assert "where.png" not in narrow and "/" + "p" * 60 in wide


def test_jsonable_turns_nan_paths_and_frames_into_json():
    import numpy as np
    import pandas as pd

    frame = pd.DataFrame({"a": [np.int64(1)]})
    value = {"x": float("nan"), "p": load_settings(home="/tmp/h").home, "f": frame}
    assert jsonable(value) == {"x": None, "p": "/tmp/h", "f": [{"a": 1}]}


def test_doctor_checks(tmp_path, monkeypatch):
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("# pinned\nrich==0.0.1\nno-such-package-xyz==1.0\n")
    missing = check_packages(requirements)
    assert missing.status == FAIL and "no-such-package-xyz" in missing.detail and "pip install" in missing.fix
    requirements.write_text("rich==0.0.1\n")
    assert check_packages(requirements).status == WARN
    assert check_home(load_settings(home=tmp_path / "new" / "home", db_url="")).status == OK
    full = check_home(load_settings(home=tmp_path, db_url=""), min_free_gib=1e9)
    assert full.status == WARN and "free" in full.fix
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    offline = check_offline()
    assert offline.status == WARN and "HF_HUB_OFFLINE=0" in offline.detail and "export" in offline.fix
