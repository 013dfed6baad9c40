"""Widgets shared by every screen: status bar with the RTO clock, live banner, checklist, command panel."""

from screens.widgets.checklist import Checklist
from screens.widgets.command_panel import CommandPanel
from screens.widgets.status import LiveBanner, StatusBar

__all__ = ["Checklist", "CommandPanel", "LiveBanner", "StatusBar"]
