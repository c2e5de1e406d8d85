"""The one way verbs print tables: no number or name is ever cut, whatever the terminal's width.

A table that fits the terminal is printed as it is. One that does not is turned on its side (one line
per column, one column per row: `compare A B` at 80 columns) and, when even that is too wide, printed
as one block of ``column  value`` lines per row. Long names wrap instead of ending in ``…``. ``extra``
columns are shown only with ``--wide``, which also prints every column in one table as wide as it needs
(for a wide terminal or ``less -S``). CSV files written by the verbs stay the complete record.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Sequence
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table

from trustlab.cli.output import console as stdout_console

DECIMALS = 3
# A text column with a cell longer than this that has spaces is prose (it wraps).
PROSE_MIN_CHARS = 24


def fmt(value: Any) -> str:
    """A cell as text: floats with DECIMALS decimals, None and NaN as '-'."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float) or type(value).__name__.startswith("float"):
        value = float(value)
        return "-" if math.isnan(value) else f"{value:.{DECIMALS}f}"
    return str(value)


def _numeric(cells: Iterable[str]) -> bool:
    def number(text: str) -> bool:
        try:
            float(text)
        except ValueError:
            return text == "-"
        return True
    cells = list(cells)
    return bool(cells) and all(number(c) for c in cells)


def _prose(cells: Iterable[str]) -> bool:
    """A column of sentences (details, suggestions, fixes) may wrap between words; names and numbers
    never wrap."""
    return any(len(c) > PROSE_MIN_CHARS and " " in c.strip() for c in cells)


def _table(title: str | None, columns: Sequence[str], rows: Sequence[Sequence[str]]) -> Table:
    table = Table(title=title, box=box.SQUARE)
    for index, column in enumerate(columns):
        cells = [row[index] for row in rows]
        table.add_column(column, justify="right" if _numeric(cells) else "left",
                         overflow="fold", no_wrap=not _prose(cells))
    for row in rows:
        table.add_row(*row)
    return table


def _natural_width(out: Console, table: Table) -> int:
    return out.measure(table, options=out.options.update_width(10_000)).maximum


def _least_width(out: Console, table: Table) -> int:
    """The narrowest the table can be without cutting a cell (prose wrapped at its longest word)."""
    return out.measure(table, options=out.options.update_width(10_000)).minimum


def _sideways(title: str | None, columns: Sequence[str], rows: Sequence[Sequence[str]]) -> Table:
    """One line per column; the first column's values head the columns (e.g. one per model)."""
    heads = [row[0] for row in rows]
    body = [[column, *(row[i] for row in rows)] for i, column in enumerate(columns) if i > 0]
    return _table(title, [columns[0], *heads], body)


def _blocks(out: Console, title: str | None, columns: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    if title:
        out.print(title, markup=False, highlight=False)
    for row in rows:
        block = Table(box=box.SIMPLE_HEAD, show_header=False, padding=(0, 1))
        block.add_column(overflow="fold")
        block.add_column(overflow="fold")
        for column, value in zip(columns, row, strict=True):
            block.add_row(column, value)
        out.print(block)


def print_table(
    title: str | None,
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    wide: bool = False,
    extra: Collection[str] = (),
    out: Console | None = None,
) -> None:
    """Print a table that never cuts a cell.

    columns: headers; rows: one sequence of cells per row (formatted with :func:`fmt` unless text);
    extra: columns shown only when ``wide``; out: the console (default: stdout's).
    """
    out = out or stdout_console
    keep = [i for i, column in enumerate(columns) if wide or column not in extra]
    shown = [columns[i] for i in keep]
    cells = [[v if isinstance(v, str) else fmt(v) for v in row] for row in rows]
    cells = [[row[i] for i in keep] for row in cells]
    table = _table(title, shown, cells)
    width = _natural_width(out, table)
    if wide:
        # Rich clamps print(width=...) to the console's width: widen the console for this one table.
        saved = out._width  # None: rich detects the width again
        out.width = max(width, out.width)
        try:
            out.print(table, crop=False)
        finally:
            out._width = saved
        return
    if width <= out.width or _least_width(out, table) <= out.width:
        out.print(table)
        return
    if cells and len(shown) > 1:
        sideways = _sideways(title, shown, cells)
        if _least_width(out, sideways) <= out.width:
            out.print(sideways)
            return
    _blocks(out, title, shown, cells)


def print_frame(frame: Any, title: str | None, *, wide: bool = False, extra: Collection[str] = (),
                out: Console | None = None) -> None:
    """:func:`print_table` of a pandas DataFrame (its columns, its rows)."""
    print_table(title, [str(c) for c in frame.columns], frame.itertuples(index=False), wide=wide,
                extra=extra, out=out)
