"""Text fitted to 80 columns: F1 help paragraphs reflowed to the dialog, log lines folded."""

from __future__ import annotations

from screens.help import reflow


def test_help_text_is_reflowed_to_the_dialog_width() -> None:
    text = "One sentence that was\nbroken at the source.\n\nA second\nparagraph.\n"
    assert reflow(text) == "One sentence that was broken at the source.\n\nA second paragraph."


def test_long_log_lines_fold_at_spaces_and_keep_every_word() -> None:
    from screens.restore import fold

    line = "by hand: Use a clean or new machine named exactly sql21.fabrikam.lab (same FQDN, instance names)"
    out = fold(["short", line], 40)
    assert out[0] == "short" and all(len(x) <= 40 for x in out)
    assert out[1].startswith("by hand:") and all(x.startswith("  ") for x in out[2:])
    assert " ".join(x.strip() for x in out[1:]) == line
    assert fold([line], 0) == [line]  # not laid out yet: untouched


def test_command_panel_says_how_many_commands_it_cannot_show() -> None:
    from screens.widgets.command_panel import panel_lines
    from wizard.incident import StepView

    commands = tuple(f"Stop-CsWindowsService -ComputerName 'fe2{i}'" for i in range(1, 6))
    step = StepView("stop", "Stop services", "why", "6.13", "fe21", commands)
    lines = panel_lines(step, 4)
    assert lines[0] == "on fe21:" and len(lines) == 4
    assert lines[1:3] == [f"PS> {commands[0]}", f"PS> {commands[1]}"]
    assert lines[3] == "... 3 more command(s): c copies them all"
    assert panel_lines(step, 6) == ["on fe21:", *[f"PS> {c}" for c in step.commands]]  # all fit: no marker
