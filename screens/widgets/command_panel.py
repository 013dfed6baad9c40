"""The exact commands of the current step, copyable over SSH.

Copying uses OSC 52 (``App.copy_to_clipboard``): the terminal on the operator's laptop puts the
text on its clipboard, which works through SSH and tmux (with ``set-clipboard on``).
"""

from __future__ import annotations

import textwrap

from textual.widgets import Static

from wizard.incident import StepView


def _rows(line: str, width: int | None) -> int:
    """Screen rows ``line`` takes when wrapped at ``width`` (words, as the panel wraps them)."""
    if not width or len(line) <= width:
        return 1
    return max(1, len(textwrap.wrap(line, width, break_on_hyphens=False)))


def panel_lines(step: StepView, height: int, width: int | None = None) -> list[str]:
    """The host line and the commands, fitted to ``height`` rows of ``width`` columns (a long
    command wraps): when they do not fit, the last line says how many more there are and where
    to see them, never silently cut."""
    lines = [f"PS> {c}" for c in step.commands]
    room = max(height - 1, 1)
    if sum(_rows(line, width) for line in lines) <= room:
        return [f"on {step.host}:", *lines]
    shown: list[str] = []
    used = 0
    for line in lines:
        marker = f"... {len(lines) - len(shown) - 1} more command(s): c copies them all"
        if used + _rows(line, width) + _rows(marker, width) > room:
            break
        shown.append(line)
        used += _rows(line, width)
    more = len(lines) - len(shown)
    return [f"on {step.host}:", *shown, f"... {more} more command(s): c copies them all"]


class CommandPanel(Static):
    """Shows the step's host and commands; :meth:`text` is what the copy key sends."""

    def __init__(self) -> None:
        super().__init__("", id="command-panel", markup=False)
        self._text = ""
        self._step: StepView | None = None

    def show(self, step: StepView | None) -> None:
        self._step = step
        self._text = "\n".join(step.commands) if step is not None else ""
        self._fill()

    def on_resize(self) -> None:
        self._fill()

    def _fill(self) -> None:
        step = self._step
        self.update("" if step is None else "\n".join(panel_lines(step, self.size.height or 4,
                                                                    self.size.width or None)))

    @property
    def text(self) -> str:
        return self._text
