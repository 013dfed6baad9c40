"""F1 help text: paragraphs reflowed to the dialog's width."""

from __future__ import annotations

from screens.help import reflow


def test_help_text_is_reflowed_to_the_dialog_width() -> None:
    text = "One sentence that was\nbroken at the source.\n\nA second\nparagraph.\n"
    assert reflow(text) == "One sentence that was broken at the source.\n\nA second paragraph."
