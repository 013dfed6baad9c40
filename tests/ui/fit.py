"""Is every text of the screen on the screen? (#16 item 7: texts cut at 80 columns.)

For the top screen of a pilot app (a dialog, or a stage screen), every text widget is compared
with what the terminal shows in its region: each of its words must appear there, in order. A text
may scroll (a scroll container the operator can move with a key), but never be cut at an edge. A
table's every visible cell must show whole and every column must start and end inside the table;
every option of a list must show all its words; the key bar must show every key with its word.

Textual's compositor map (``Screen._compositor.full_map``) gives each widget's region and clip; like
``screen_text``, it is read from the pinned Textual (8.2.8) since there is no public way."""

from __future__ import annotations

from textual.app import App
from textual.containers import ScrollableContainer
from textual.widget import Widget
from textual.widgets import DataTable, Log, OptionList, Static

from tests.ui.screen_text import screen_lines


def _words(text: str) -> list[str]:
    return [w for w in text.replace("┃", " ").split() if w]


def _in_order(wanted: list[str], shown: list[str]) -> str | None:
    """The first word of ``wanted`` not found (in order) in ``shown``; None when all are."""
    it = iter(shown)
    for w in wanted:
        if not any(w == s for s in it):
            return w
    return None


def _plain(widget: Static) -> str:
    visual = widget.visual
    plain = getattr(visual, "plain", None)
    return str(plain) if plain is not None else str(widget.render())


def _scrolls(widget: Widget) -> bool:
    """Inside a container that scrolls vertically (by its own keys, or the screen's PgUp/PgDn)?"""
    node = widget.parent
    while isinstance(node, Widget):
        if isinstance(node, ScrollableContainer) or node.styles.overflow_y in ("auto", "scroll"):
            return True
        node = node.parent
    return False


def cut_texts(app: App[object]) -> list[str]:
    """What the top screen shows cut, one line per problem (empty: nothing is cut)."""
    screen = app.screen
    lines = screen_lines(app)
    height, width = len(lines), max((len(line) for line in lines), default=0)
    geometry = screen._compositor.full_map  # widget -> MapGeometry(region, order, clip, ...)
    problems: list[str] = []

    def shown(x: int, y: int, right: int, bottom: int) -> list[str]:
        rows = [lines[r][x:right] for r in range(max(0, y), min(bottom, height))]
        return _words(" ".join(rows))

    for widget, geo in list(geometry.items()):
        if widget.screen is not screen or not widget.display or not widget.visible:
            continue
        region, clip = geo.region, geo.clip
        visible = region.intersection(clip)
        name = f"{type(widget).__name__}#{widget.id or ''}"
        if isinstance(widget, Log):
            continue  # streamed output: it scrolls, and folds its lines (test_text_fit)
        if isinstance(widget, DataTable):
            problems += _table_cut(widget, name)
            continue
        if isinstance(widget, OptionList):
            top, rows = widget.scroll_offset.y, widget.scrollable_content_region.height
            rowmap = widget._lines  # (option index, line of the option) per row, the pinned Textual's
            for i in range(widget.option_count):
                at = [n for n, (index, _) in enumerate(rowmap) if index == i]
                if not at or at[0] < top or at[-1] >= top + rows:
                    continue  # scrolled out of view (or partly): the list scrolls, nothing is cut
                prompt = widget.get_option_at_index(i).prompt
                text = str(getattr(prompt, "plain", prompt))
                missing = _in_order(_words(text), shown(visible.x, visible.y, visible.right, visible.bottom))
                if missing is not None and visible.height == region.height:
                    problems.append(f"{name}: option {text!r} cut at {missing!r}")
            continue
        if not isinstance(widget, Static) or region.width == 0:
            continue
        text = _plain(widget)
        if not text.strip():
            continue
        if visible.right < region.right or visible.x > region.x:
            problems.append(f"{name}: cut at a side ({region} shown {visible}): {text[:60]!r}")
            continue
        if visible.height < region.height and _scrolls(widget):
            continue  # it scrolls: what is not shown is reachable
        content = widget.content_region
        words = shown(content.x, content.y, min(content.right, width), content.bottom)
        missing = _in_order(_words(text), words)
        if missing is not None:
            problems.append(f"{name}: {text[:70]!r} is cut at {missing!r}")
    return problems


def _table_cut(table: DataTable[object], name: str) -> list[str]:
    problems = []
    room = table.scrollable_content_region.width
    used = sum(c.get_render_width(table) for c in table.ordered_columns)
    if used > room:
        problems.append(f"{name}: columns need {used} of {room} columns: "
                        + ", ".join(str(c.label) for c in table.ordered_columns))
    for column in table.ordered_columns:
        for row in table.ordered_rows:
            cell = table.get_cell(row.key, column.key)
            text = str(getattr(cell, "plain", cell))
            if len(text) > column.content_width:
                problems.append(f"{name}: cell {text!r} wider than its column {column.label}")
    return problems
