"""Textual UI of lync-restore: one Screen per stage of the incident flow.

Screens render core events and ask the operator questions; they never talk to servers
themselves. Blocking core calls run in thread workers.
"""
