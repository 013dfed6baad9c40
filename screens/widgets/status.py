"""Where am I, for how long, against what: the one-line status bar and the live-mode banner.

The status bar redraws once a second from the session (incident, mode, stage, operator, elapsed
time against the RTO); it reads the journal-derived state and never writes anything.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.widgets import Static

from wizard.report import fmt_duration

if TYPE_CHECKING:
    from wizard.incident import IncidentSession

STAGE_WORDS = {"start": "Start", "assessment": "1 Assessment", "backup_set": "2 Backup set",
               "restore": "3 Restore", "verify": "4 Verify", "summary": "5 Summary", "closed": "Closed"}


def clock_text(session: IncidentSession | None) -> str:
    if session is None:
        return "no incident open"
    st = session.state
    elapsed = session.elapsed_s()
    over = " OVER RTO" if elapsed > session.rto_s else ""
    mode = "DRILL" if session.drill else "LIVE"
    # who is at the keyboard now (the journal writes every entry in their name), not who opened it
    operator = session.journal.operator if session.journal is not None else st.operator
    return (f"{st.incident} {mode} | {STAGE_WORDS.get(st.stage, st.stage)} | {operator} | "
            f"{fmt_duration(elapsed)} / RTO {fmt_duration(session.rto_s)}{over}")


class StatusBar(Static):
    """Incident, mode, stage, operator and the RTO clock, refreshed every second."""

    def __init__(self, session: IncidentSession | None) -> None:
        super().__init__(clock_text(session), id="status-bar", markup=False)
        self._session = session
        if session is not None and not session.drill:
            self.add_class("live")

    def on_mount(self) -> None:
        self.set_interval(1.0, self.tick)

    def tick(self) -> None:
        self.update(clock_text(self._session))
        if self._session is not None and self._session.elapsed_s() > self._session.rto_s:
            self.add_class("over")


class LiveBanner(Static):
    """A persistent red line in live mode: commands reach production."""

    def __init__(self, organisation: str) -> None:
        super().__init__(f" LIVE: commands run against {organisation}'s production servers ",
                         id="live-banner", markup=False)
