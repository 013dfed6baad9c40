"""lync-restore core: everything but the terminal UI.

The core never imports Textual (an import-linter contract and a test enforce it): the plan,
the journal, the session state machine, assessment, the backup catalogue, the procedure
library, the remote transports and the lab all live here, so they can run headless, in tests
and in scripted drills. The UI in ``screens/`` renders their events.
"""

__version__ = "0.1.0"
