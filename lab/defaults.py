"""The drill's defaults, importable without the lab (the command line needs them before the first
frame; the lab itself starts in the app's worker)."""

DEFAULT_SCENARIO = "cms-lost-paired"  # what `lync-restore` with no arguments plays
DEFAULT_TIME_FACTOR = 600.0  # lab seconds per real second: a 3 h restore plays in 18 s
