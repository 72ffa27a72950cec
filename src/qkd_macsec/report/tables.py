"""Tables that stay readable at any width: a grid when it fits, one block per row when not.

Rich shrinks a table that is wider than the console by cutting headers to ``k…`` and wrapping
cells into several lines. An operator reading ``status`` in an 80-column terminal, or piped
through ``less`` from cron, gets nothing from that. :class:`FitTable` measures its columns at
render time: when every header and every cell fits whole on one line it prints a normal grid;
otherwise it prints each row as a block of ``header  value`` lines, where a long value may wrap
but is never cut. Free-text columns (notes, errors) may wrap inside the grid when the other
columns fit. Long identifiers are shortened by the caller (:func:`short_id`), never by Rich.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

__all__ = ["Column", "FitTable", "short_id"]

#: Characters of an identifier kept by :func:`short_id` (like a short git hash: stable, unique
#: enough to find the full value in ``--json`` or ``--wide`` output).
SHORT_ID_CHARS = 8
#: The least width a wrapping column gets in the grid before the table turns vertical.
MIN_WRAP_WIDTH = 20
#: A grid column costs its content plus one space of padding on each side and one rule.
_COLUMN_OVERHEAD = 3


def short_id(value: str | None, *, wide: bool = False) -> str:
    """A key ID or CKN shortened to a stable prefix (the whole value with ``wide``)."""
    if value is None:
        return "-"
    if wide or len(value) <= SHORT_ID_CHARS + 2:
        return value
    return value[:SHORT_ID_CHARS]


@dataclass(frozen=True)
class Column:
    """A column: a short header (always printed whole) and whether its cells may wrap."""

    header: str
    wrap: bool = False
    justify: str = "left"
    optional: bool = False  # left out when every cell in it is blank


class FitTable:
    """A titled table that chooses its layout from the width it is given (see module doc).

    Cells are plain strings (never parsed as markup: device errors hold brackets) or styled
    :class:`~rich.text.Text`, and may hold several lines.
    """

    def __init__(self, title: str, columns: Sequence[Column]) -> None:
        if not columns:
            raise ValueError("a table needs at least one column")
        self.title = title
        self.columns = tuple(columns)
        self.rows: list[tuple[Text, ...]] = []

    def add_row(self, *cells: str | Text) -> None:
        if len(cells) != len(self.columns):
            raise ValueError(f"row has {len(cells)} cells, table has {len(self.columns)} columns")
        self.rows.append(tuple(Text(c) if isinstance(c, str) else c.copy() for c in cells))

    # -- measuring --------------------------------------------------------------------
    def _shown(self) -> tuple[list[Column], list[tuple[Text, ...]]]:
        """The columns to print (optional ones only when some cell has text) and the rows."""
        keep = [
            index
            for index, column in enumerate(self.columns)
            if not column.optional or any(row[index].plain.strip() for row in self.rows)
        ]
        columns = [self.columns[i] for i in keep]
        return columns, [tuple(row[i] for i in keep) for row in self.rows]

    @staticmethod
    def _widths(columns: Sequence[Column], rows: Sequence[tuple[Text, ...]]) -> list[int]:
        """Each column's width when nothing wraps: its header or its longest cell line."""
        widths = [len(column.header) for column in columns]
        for row in rows:
            for index, cell in enumerate(row):
                longest = max((line.cell_len for line in cell.split("\n")), default=0)
                widths[index] = max(widths[index], longest)
        return widths

    @staticmethod
    def grid_width(widths: Iterable[int]) -> int:
        return sum(width + _COLUMN_OVERHEAD for width in widths) + 1

    def layout(self, width: int) -> str:
        """``grid`` or ``vertical``: what :meth:`render` prints at this console width."""
        columns, rows = self._shown()
        return "grid" if self._grid_widths(columns, rows, width) is not None else "vertical"

    def _grid_widths(
        self, columns: Sequence[Column], rows: Sequence[tuple[Text, ...]], width: int
    ) -> list[int] | None:
        widths = self._widths(columns, rows)
        if self.grid_width(widths) <= width:
            return widths
        wrapping = [i for i, column in enumerate(columns) if column.wrap]
        if not wrapping:
            return None
        fixed = [w for i, w in enumerate(widths) if i not in wrapping]
        room = width - self.grid_width(fixed) - _COLUMN_OVERHEAD * len(wrapping)
        share = room // len(wrapping)
        if share < MIN_WRAP_WIDTH:
            return None
        for index in wrapping:
            # A wrapping column may not be narrower than its header or its longest word.
            longest_word = max(
                (len(word) for row in rows for word in row[index].plain.split()), default=0
            )
            if max(len(columns[index].header), longest_word) > share:
                return None
            widths[index] = min(widths[index], share)
        return widths

    # -- rendering --------------------------------------------------------------------
    def render(self, width: int) -> RenderableType:
        columns, rows = self._shown()
        widths = self._grid_widths(columns, rows, width)
        if widths is not None:
            return self._grid(columns, rows, widths)
        return self._vertical(columns, rows)

    def _grid(
        self, columns: Sequence[Column], rows: Sequence[tuple[Text, ...]], widths: Sequence[int]
    ) -> Table:
        table = Table(title=self.title, title_justify="left")
        for column, width in zip(columns, widths, strict=True):
            table.add_column(
                column.header,
                justify=column.justify,  # type: ignore[arg-type]
                no_wrap=not column.wrap,
                overflow="fold",
                min_width=width if not column.wrap else len(column.header),
                max_width=width,
            )
        for row in rows:
            table.add_row(*row)
        return table

    def _vertical(self, columns: Sequence[Column], rows: Sequence[tuple[Text, ...]]) -> Group:
        """One block per row: the first cell as its heading, then ``header  value`` lines."""
        label_width = max((len(column.header) for column in columns[1:]), default=0)
        blocks: list[RenderableType] = [Text(self.title, style="italic")]
        for row in rows:
            heading = Text.assemble((columns[0].header + " ", "dim"), row[0].copy())
            heading.stylize("bold", len(columns[0].header) + 1)
            block = Table.grid(padding=(0, 2))
            block.add_column(no_wrap=True, min_width=label_width, style="dim")
            block.add_column(overflow="fold")
            for column, cell in zip(columns[1:], row[1:], strict=True):
                block.add_row(column.header, cell)
            blocks += [heading, Padding(block, (0, 0, 0, 2), expand=False)]
        return Group(*blocks)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield self.render(options.max_width)
