"""The exact commands of the current step, copyable over SSH.

Copying uses OSC 52 (``App.copy_to_clipboard``): the terminal on the operator's laptop puts the
text on its clipboard, which works through SSH and tmux (with ``set-clipboard on``).
"""

from __future__ import annotations

from textual.widgets import Static

from wizard.incident import StepView


class CommandPanel(Static):
    """Shows the step's host and commands; :meth:`text` is what the copy key sends."""

    def __init__(self) -> None:
        super().__init__("", id="command-panel", markup=False)
        self._text = ""

    def show(self, step: StepView | None) -> None:
        if step is None:
            self._text = ""
            self.update("")
            return
        self._text = "\n".join(step.commands)
        self.update(f"on {step.host}:\n" + "\n".join(f"PS> {c}" for c in step.commands))

    @property
    def text(self) -> str:
        return self._text
