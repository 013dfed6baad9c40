"""The restore steps as a checklist: one line each, a status mark the eye can scan at 3 a.m.

Marks are plain ASCII so a 16-colour Linux console shows them: ``[ ]`` to do, ``[>]`` running,
``[x]`` done, ``[!]`` failed, ``[-]`` skipped (not needed, or by the operator), ``[=]`` already
done (its pre-check found the work done), ``[h]`` done by hand, ``[?]`` in doubt. The highlighted
step is marked ``>`` as well as coloured.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.widgets.option_list import Option

from screens.widgets.pointed import PointedOptionList
from wizard.incident import StepView

MARKS = {"todo": "[ ]", "running": "[>]", "done": "[x]", "failed": "[!]", "skipped": "[-]",
         "done_by_hand": "[h]", "already_done": "[=]", "cancelled": "[c]", "in_doubt": "[?]"}
RESOLVED = ("done", "skipped", "done_by_hand", "already_done")


class Checklist(PointedOptionList):
    """Steps with their status; the highlighted one is the current step."""

    def __init__(self, steps: Sequence[StepView], status: dict[str, str]) -> None:
        self.steps = list(steps)
        self.status = dict(status)
        super().__init__(*self._step_options(), id="checklist")

    def _step_options(self) -> list[Option]:  # not _options: OptionList keeps its options list there
        return [Option(self._label(i, s), id=s.step_id) for i, s in enumerate(self.steps)]

    def _label(self, i: int, s: StepView) -> Text:
        st = self.status.get(s.step_id, "todo")
        flag = " !destructive" if s.destructive else ""
        return Text(f"{MARKS.get(st, '[ ]')} {i + 1:>2}. {s.title}{flag}")

    def set_status(self, step_id: str, status: str) -> None:
        self.status[step_id] = status
        for i, s in enumerate(self.steps):
            if s.step_id == step_id:
                self.replace_option_prompt_at_index(i, self._label(i, s))

    @property
    def current(self) -> StepView | None:
        i = self.highlighted
        return self.steps[i] if i is not None and 0 <= i < len(self.steps) else None

    def first_open(self) -> int:
        """The step that needs attention: a step in doubt first, else the first one not finished."""
        for i, s in enumerate(self.steps):
            if self.status.get(s.step_id) == "in_doubt":
                return i
        for i, s in enumerate(self.steps):
            if self.status.get(s.step_id, "todo") in ("todo", "failed", "in_doubt", "cancelled"):
                return i
        return max(0, len(self.steps) - 1)

    @property
    def all_resolved(self) -> bool:
        return all(self.status.get(s.step_id) in RESOLVED for s in self.steps)
