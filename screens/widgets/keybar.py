"""The key bar: one line at the bottom of every screen with the keys that work there.

Textual's Footer lays the keys out in a row that scrolls off the right edge: at 80 columns the
restore screen's "n Verify" and "^q Quit" were past it, and an operator without a mouse cannot
scroll it. The key bar fits the line to the width instead (:func:`fit_keys`): full descriptions
when they fit; then the palette's word goes, descriptions are cut to their first word (longest
first), the spacing tightens, and keys lose their words. A one-space gap with every word is
tried before any word is cut. It is one Static redrawn when the
screen's bindings change (the focus moved), not a widget per key recomposed each time, which also
makes the first frame cheaper.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from rich.text import Text
from textual.screen import Screen
from textual.widgets import Static


@dataclass(frozen=True)
class KeyEntry:
    key: str  # as displayed: "^s", "f1", "r"
    description: str
    enabled: bool = True
    spare: bool = False  # its words go first when the line is short (the palette's)


def line_width(entries: list[KeyEntry], gap: int) -> int:
    """Columns the entries take with ``gap`` spaces between them and one leading space."""
    return sum(len(e.key) + (1 + len(e.description) if e.description else 0) for e in entries) \
        + gap * max(len(entries) - 1, 0) + 1  # one leading space


def fit_keys(entries: list[KeyEntry], width: int) -> tuple[list[KeyEntry], int]:
    """The entries as they fit ``width`` columns, and the gap between them. Every key is kept (a key
    that is not shown does not exist at 3 a.m.); words give way first: spare entries lose theirs,
    then descriptions are cut to their first word, longest first, then the gap narrows to one
    space, then keys lose their words, longest first."""
    shown = list(entries)

    def fits(gap: int) -> bool:
        return line_width(shown, gap) <= width

    def cut(i: int, words: str) -> None:
        e = shown[i]
        shown[i] = KeyEntry(e.key, words, e.enabled, e.spare)

    if fits(2):
        return shown, 2
    if fits(1):  # every word, a tighter line: better than a key without its word (#16 item 7)
        return shown, 1
    for i, e in enumerate(entries):
        if e.spare:
            cut(i, "")
    if fits(2):
        return shown, 2
    by_length = sorted(range(len(shown)), key=lambda i: -len(shown[i].description))
    for i in by_length:
        cut(i, shown[i].description.split(" ")[0])
        if fits(2):
            return shown, 2
    if not fits(1):  # a one-space gap is not enough: keys lose their words, longest first
        for i in by_length:
            cut(i, "")
            if fits(1):
                break
    return shown, 1


class KeyBar(Static):
    """The keys of the current screen (and the focused widget), fitted to one line."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {"keybar--key", "keybar--disabled"}

    def __init__(self) -> None:
        super().__init__(id="key-bar", markup=False)

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self._bindings_changed)

    def on_unmount(self) -> None:
        self.screen.bindings_updated_signal.unsubscribe(self)

    def _bindings_changed(self, screen: Screen[object]) -> None:
        if self.is_attached and screen is self.screen:
            self.refresh()

    def entries(self) -> list[KeyEntry]:
        """Shown bindings in the order the screen lists them, one per action, the palette last."""
        found: list[KeyEntry] = []
        actions: set[str] = set()
        palette: KeyEntry | None = None
        app = self.app
        for _node, binding, enabled, _tooltip in self.screen.active_bindings.values():
            if binding.key == app.COMMAND_PALETTE_BINDING and app.ENABLE_COMMAND_PALETTE:
                palette = KeyEntry(app.get_key_display(binding), "palette", enabled, spare=True)
                continue
            if not binding.show or binding.action in actions:
                continue
            actions.add(binding.action)
            found.append(KeyEntry(app.get_key_display(binding), binding.description, enabled))
        return found + ([palette] if palette is not None else [])

    def render(self) -> Text:
        shown, gap = fit_keys(self.entries(), self.size.width or 80)
        key_style = self.get_component_rich_style("keybar--key")
        off_style = self.get_component_rich_style("keybar--disabled")
        line = Text(" ", no_wrap=True, overflow="crop")
        for n, entry in enumerate(shown):
            if n:
                line.append(" " * gap)
            line.append(entry.key, off_style if not entry.enabled else key_style)
            if entry.description:
                line.append(" " + entry.description, off_style if not entry.enabled else "")
        return line
