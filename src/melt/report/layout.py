"""Tables that stay readable at the terminal's width.

A `FittedTable` is a rich renderable that lays itself out when printed, at the width it is
given: columns marked `whole` (a status, a series name) are never cut or wrapped, the others
wrap at their words and fold long words instead of ending them in "…", and when even that
does not fit, the least important columns are left out, the dropped ones named in the
caption. Columns are shown in the order given, so callers put short, key columns first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from rich.cells import cell_len
from rich.console import Console, ConsoleOptions, RenderResult
from rich.table import Table

# A column that wraps at its words is never made narrower than its longest word, up to this
# many cells: a longer word (a path, a model file name) is folded rather than cut.
FOLD_MIN_CELLS = 12
# rich's default table: one cell of padding on both sides and one rule between columns,
# plus the left edge.
_PER_COLUMN_CELLS = 3
_EDGE_CELLS = 1

Justify = Literal["left", "right"]


@dataclass(frozen=True, slots=True)
class Column:
    """`priority` 0 is never dropped; higher numbers are dropped first."""

    header: str
    priority: int = 0
    justify: Justify = "left"
    whole: bool = False


class FittedTable:
    def __init__(
        self,
        columns: Sequence[Column],
        rows: Sequence[Sequence[str]],
        *,
        title: str | None = None,
        show_header: bool = True,
    ) -> None:
        self.columns = tuple(columns)
        self.rows = [tuple(row) for row in rows]
        self.title = title
        self.show_header = show_header

    def _texts(self, index: int) -> list[str]:
        cells = [row[index] for row in self.rows]
        return [*cells, self.columns[index].header] if self.show_header else cells

    def _widest(self, index: int) -> int:
        """The width that shows every cell of the column on one line."""
        return max(
            (cell_len(line) for t in self._texts(index) for line in t.splitlines()), default=1
        )

    def _narrowest(self, index: int) -> int:
        """The width below which the column would cut a word (a whole column: a cell)."""
        texts = self._texts(index)
        if self.columns[index].whole:
            return max((cell_len(t) for t in texts), default=1)
        longest = max((cell_len(word) for t in texts for word in t.split()), default=1)
        return min(longest, FOLD_MIN_CELLS)

    def kept(self, width: int) -> list[int]:
        """The indices of the columns shown at `width`: drop the least important (the last
        of the highest priority number) until the narrowest layout fits."""
        keep = list(range(len(self.columns)))
        narrowest = {i: self._narrowest(i) for i in keep}
        while _chrome(len(keep)) + sum(narrowest[i] for i in keep) > width:
            droppable = [i for i in keep if self.columns[i].priority > 0]
            if not droppable:
                break
            keep.remove(max(droppable, key=lambda i: (self.columns[i].priority, i)))
        return keep

    def widths(self, keep: Sequence[int], width: int) -> dict[int, int]:
        """Each kept column's width: its widest cell, the widest columns narrowed first (one
        cell at a time, not below `_narrowest`) until the table fits in `width`."""
        widths = {i: self._widest(i) for i in keep}
        excess = _chrome(len(keep)) + sum(widths.values()) - width
        # then, when only columns that may not be dropped are left and still do not fit,
        # folding columns give up their floor before a whole column is ever narrowed
        folding = {i: 1 for i in keep if not self.columns[i].whole}
        for floor in ({i: self._narrowest(i) for i in keep}, folding):
            while excess > 0:
                slack = [i for i in floor if widths[i] > floor[i]]
                if not slack:
                    break
                widest = max(slack, key=lambda i: (widths[i], -i))
                widths[widest] -= 1
                excess -= 1
        return widths

    def table(self, width: int) -> Table:
        keep = self.kept(width)
        widths = self.widths(keep, width)
        dropped = [self.columns[i].header for i in range(len(self.columns)) if i not in keep]
        table = Table(
            title=self.title,
            title_justify="left",
            show_header=self.show_header,
            caption=f"not shown at this width: {', '.join(dropped)}" if dropped else None,
            caption_justify="left",
        )
        for i in keep:
            column = self.columns[i]
            table.add_column(
                column.header,
                justify=column.justify,
                width=widths[i],
                no_wrap=column.whole,
                overflow="fold",
            )
        for row in self.rows:
            table.add_row(*(row[i] for i in keep))
        return table

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield self.table(options.max_width)


def _chrome(columns: int) -> int:
    return _PER_COLUMN_CELLS * columns + _EDGE_CELLS
