"""Widgets shared by the screens: status bar with the RTO clock and live banner (status), key bar
(keybar), checklist and command panel (restore). Import each from its module: this package
imports nothing itself, so the start screen's first frame does not pay for the restore widgets."""
