"""The exact commands of the current step, copyable over SSH.

Copying uses OSC 52 (``App.copy_to_clipboard``): the terminal on the operator's laptop puts the
text on its clipboard, which works through SSH and tmux (with ``set-clipboard on``).
"""

from __future__ import annotations

from textual.widgets import Static

from wizard.incident import StepView


def panel_lines(step: StepView, height: int) -> list[str]:
    """The host line and the commands, fitted to ``height`` lines: when they do not fit, the last
    line says how many more there are and where to see them, never silently cut."""
    lines = [f"PS> {c}" for c in step.commands]
    room = max(height - 1, 1)
    if len(lines) > room:
        more = len(lines) - (room - 1)
        lines = [*lines[:room - 1], f"... {more} more command(s): c copies them all"]
    return [f"on {step.host}:", *lines]


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
        self.update("" if step is None else "\n".join(panel_lines(step, self.size.height or 4)))

    @property
    def text(self) -> str:
        return self._text
