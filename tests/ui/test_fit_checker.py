"""The 80x24 checker (tests/ui/fit.py) itself: it must see a text cut at the bottom or at the
right edge and a table wider than its room, and must not complain about text that fits."""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.widgets import DataTable, Static

from tests.ui.fit import cut_texts

LONG = " ".join(f"word{i}" for i in range(60))  # about 420 columns: six rows at 80


class Boxes(App[None]):
    CSS = "#short { height: 2; } #fits { height: auto; } #wide { width: 120; height: 1; }"

    def __init__(self, *widgets: Static) -> None:
        super().__init__()
        self._widgets = widgets

    def compose(self) -> ComposeResult:
        yield from self._widgets


async def _problems(*widgets: Static) -> list[str]:
    app = Boxes(*widgets)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        return cut_texts(app)  # type: ignore[arg-type]


async def test_text_that_wraps_whole_is_not_cut() -> None:
    assert await _problems(Static(LONG, id="fits")) == []


async def test_text_cut_at_the_bottom_is_found() -> None:
    [problem] = await _problems(Static(LONG, id="short"))
    assert "Static#short" in problem and "is cut at 'word" in problem


async def test_text_past_the_right_edge_is_found() -> None:
    [problem] = await _problems(Static("a line that runs past the edge of the screen " * 3, id="wide"))
    assert "Static#wide" in problem


async def test_a_table_wider_than_the_screen_is_found() -> None:
    class Wide(App[None]):
        def compose(self) -> ComposeResult:
            table: DataTable[str] = DataTable(id="t")
            table.add_columns("a", "b")
            table.add_row("x" * 50, "y" * 50)
            yield table

    app = Wide()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        problems = cut_texts(app)  # type: ignore[arg-type]
    assert any("DataTable#t: columns need" in p for p in problems), problems
