"""Over SSH the wizard draws fewer frames and no animation (#16): Textual reads both from the
environment when it is imported, so ``lync-restore``'s entry sets them first (an explicit setting wins)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

PROBE = ("from wizard.cli import terminal_settings; terminal_settings(); "
         "import textual.constants as c; print(c.MAX_FPS, c.TEXTUAL_ANIMATIONS)")


def _textual_sees(**env: str) -> str:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("SSH_", "TEXTUAL_"))}
    out = subprocess.run([sys.executable, "-c", PROBE], env={**clean, **env}, capture_output=True, text=True,
                         timeout=60, check=True)
    return out.stdout.strip()


@pytest.mark.parametrize(("env", "seen"), [
    ({}, "60 full"),  # a local terminal: Textual's defaults
    ({"SSH_CONNECTION": "192.0.2.7 50022 192.0.2.1 22"}, "15 none"),
    ({"SSH_CONNECTION": "192.0.2.7 50022 192.0.2.1 22", "TEXTUAL_FPS": "30"}, "30 none"),  # explicit wins
])
def test_frame_rate_and_animations_follow_the_link(env: dict[str, str], seen: str) -> None:
    assert _textual_sees(**env) == seen
