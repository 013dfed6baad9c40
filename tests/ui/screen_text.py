"""Read what a pilot's screen shows as plain text lines (for assertions on what the operator sees)."""

from __future__ import annotations

from textual.app import App


def screen_lines(app: App[object]) -> list[str]:
    # Screen._compositor is Textual's, not ours: Textual 8.2.8 has no public way to read the composed
    # screen as text (App.export_screenshot goes through the same compositor and only gives an SVG).
    return [strip.text for strip in app.screen._compositor.render_strips()]


def screen_text(app: App[object]) -> str:
    return "\n".join(screen_lines(app))
