"""Lists whose cursor is a glyph as well as a colour (#16 item 8): on a monochrome console, or a
screen captured as text, the highlighted line of a list or table is marked ``>``.

Both classes draw the mark over the first cell of the highlighted line, a cell that is blank by
construction (the option's left padding; a table's cell padding). They read a few private
attributes of the pinned Textual (``OptionList._lines``, ``DataTable._get_offsets``): Textual is
pinned exactly in ``pyproject.toml``, and ``tests/ui/test_pointed.py`` fails if they change."""

from __future__ import annotations

from typing import ClassVar

from rich.segment import Segment
from textual.strip import Strip
from textual.widgets import DataTable, OptionList

POINTER = ">"


def clipped(text: str, width: int) -> str:
    """``text`` in at most ``width`` columns, its end replaced by "..." when longer: a table cell
    says it is cut (the whole text is shown below the table), never ends mid-word unannounced."""
    text = " ".join(text.split())
    return text if len(text) <= width else text[:max(width - 3, 1)].rstrip() + "..."


def _pointed(strip: Strip) -> Strip:
    if strip.cell_length < 2:
        return strip
    first = next(iter(strip), None)
    style = first.style if first is not None else None
    return Strip.join([Strip([Segment(POINTER, style)], 1), strip.crop(1, strip.cell_length)])


class PointedOptionList(OptionList):
    """An option list whose highlighted option starts with ``>``."""

    DEFAULT_CSS: ClassVar[str] = """
    PointedOptionList { padding: 0 1 0 0; }
    PointedOptionList > .option-list--option { padding: 0 0 0 2; }
    """

    def render_line(self, y: int) -> Strip:
        strip = super().render_line(y)
        try:
            index, offset = self._lines[self.scroll_offset.y + y]
        except IndexError:
            return strip
        return _pointed(strip) if index == self.highlighted and offset == 0 else strip


class PointedTable(DataTable[str]):
    """A row-cursor data table whose cursor row starts with ``>`` (in its first cell's padding)."""

    def render_line(self, y: int) -> Strip:
        strip = super().render_line(y)
        if not self.show_cursor or self.cursor_type != "row" or self.row_count == 0:
            return strip
        header = self.header_height if self.show_header else 0
        if y < header:
            return strip
        try:
            key, offset = self._get_offsets(y + self.scroll_offset.y)
        except LookupError:
            return strip
        if offset != 0 or key != self._row_locations.get_key(self.cursor_row):
            return strip
        return _pointed(strip)
