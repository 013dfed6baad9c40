"""Drill or live, on one focusable line: ``[x] Drill  [ ] LIVE``.

Space, the arrow keys or the initials switch it (``d`` drill, ``l`` live). It replaces a
two-button RadioSet, which cost the start screen's first frame about 8 ms of stylesheet work for
two choices. Choosing live here changes nothing by itself: starting a live incident still asks
for the organisation's name (screens.start)."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.reactive import reactive
from textual.widgets import Static


class ModeSwitch(Static, can_focus=True):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("space,left,right", "flip_mode", "Drill/live", show=False),
        Binding("d", "choose(False)", "Drill", show=False),
        Binding("l", "choose(True)", "Live", show=False),
    ]
    COMPONENT_CLASSES: ClassVar[set[str]] = {"mode-switch--live"}

    live: reactive[bool] = reactive(False)

    def __init__(self, live: bool, *, id: str | None = None) -> None:
        super().__init__(id=id, markup=False)
        self.set_reactive(ModeSwitch.live, live)

    def action_flip_mode(self) -> None:  # not action_toggle: DOMNode has one (toggle an attribute)
        self.live = not self.live

    def action_choose(self, live: bool) -> None:
        self.live = live

    def render(self) -> Text:
        line = Text(no_wrap=True, overflow="crop")
        line.append(f"[{' ' if self.live else 'x'}] Drill", "bold" if not self.live else "")
        line.append("  ")
        line.append(f"[{'x' if self.live else ' '}] LIVE",
                    self.get_component_rich_style("mode-switch--live") if self.live else "")
        return line
