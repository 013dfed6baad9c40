"""The key bar: every key of the screen stays on the one line at 80 columns (Textual's Footer
scrolled the restore screen's "n Verify" and "^q Quit" off the edge), words give way in a fixed
order, and the bar follows the bindings when the focus moves."""

from __future__ import annotations

from typing import ClassVar

import pytest
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Input

from screens.widgets.keybar import KeyBar, KeyEntry, fit_keys, line_width
from tests.ui.conftest import wait_for

RESTORE = [KeyEntry(k, d) for k, d in [("f1", "Help"), ("r", "Run/Retry"), ("s", "Skip"), ("d", "Manual"),
                                       ("x", "Abort"), ("c", "Copy cmds"), ("n", "Verify"), ("^q", "Quit")]]
PALETTE = KeyEntry("^p", "palette", spare=True)


def test_everything_shown_when_it_fits() -> None:
    entries = [*RESTORE[:4], PALETTE]
    shown, gap = fit_keys(entries, 80)
    assert shown == entries and gap == 2


def test_a_tighter_line_keeps_every_word_before_any_is_cut() -> None:
    """#16 item 7: "^p" was shown without its word although one-space gaps had room for all."""
    entries = [KeyEntry(k, d) for k, d in [("f1", "Help"), ("g", "Go on"), ("r", "Run"), ("s", "Skip"),
                                           ("d", "Manual"), ("x", "Stop"), ("c", "Copy"), ("n", "Verify"),
                                           ("^q", "Quit")]] + [PALETTE]
    assert line_width(entries, 2) > 80 >= line_width(entries, 1)
    shown, gap = fit_keys(entries, 80)
    assert shown == entries and gap == 1


def test_the_palette_word_goes_first_then_the_longest_descriptions() -> None:
    shown, gap = fit_keys([*RESTORE, PALETTE], 60)  # all words need 61 columns even one space apart
    assert gap == 1 and line_width(shown, gap) <= 60
    words = {e.key: e.description for e in shown}
    assert words["^p"] == ""  # the spare word went first
    assert words["r"] == "" and words["c"] == ""  # then the longest ("Run/Retry", "Copy cmds" -> "Copy")
    assert words["f1"] == "Help" and words["s"] == "Skip" and words["n"] == "Verify"  # the rest kept whole


@pytest.mark.parametrize("width", [80, 60, 40, 30, 20])
def test_every_key_is_kept_at_any_width(width: int) -> None:
    entries = [*RESTORE, PALETTE]
    shown, gap = fit_keys(entries, width)
    assert [e.key for e in shown] == [e.key for e in entries]
    keys_only = line_width([KeyEntry(e.key, "") for e in entries], 1)
    assert line_width(shown, gap) <= max(width, keys_only)


class TwoFields(App[None]):
    """Two inputs whose own bindings differ: the bar must follow the focus."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("f2", "always", "Always")]

    def compose(self) -> ComposeResult:
        yield First(id="first")
        yield Second(id="second")
        yield KeyBar()

    def action_always(self) -> None:
        pass


class First(Input):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("f5", "first", "First only")]

    def action_first(self) -> None:
        pass


class Second(Input):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("f6", "second", "Second only")]

    def action_second(self) -> None:
        pass


def bar_text(app: App[None]) -> str:
    return str(app.query_one(KeyBar).render())


async def test_the_bar_follows_the_focus() -> None:
    app = TwoFields()
    async with app.run_test(size=(80, 24)) as pilot:
        app.query_one("#first").focus()
        await wait_for(pilot, lambda: "f5 First only" in bar_text(app))
        assert "f2 Always" in bar_text(app) and "f6" not in bar_text(app)
        await pilot.press("tab")
        await wait_for(pilot, lambda: "f6 Second only" in bar_text(app))
        assert "f5" not in bar_text(app)
        assert bar_text(app).rstrip().endswith("^p palette")

