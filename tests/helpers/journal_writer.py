"""Child process for the crash test: appends journal entries until killed.

With SPLIT_WRITES=1 each os.write is split in two with a pause between, modelling a kernel or
filesystem that lands a write in pieces, so a SIGKILL can fall inside an entry (a torn tail).
"""

from __future__ import annotations

import os
import sys
import time

from wizard.journal import Journal, Kind

if os.environ.get("SPLIT_WRITES") == "1":
    _real_write = os.write

    def _split_write(fd: int, data: bytes) -> int:  # type: ignore[override]
        half = len(data) // 2
        n = _real_write(fd, data[:half])
        time.sleep(0.002)
        return n + _real_write(fd, data[half:])

    os.write = _split_write  # type: ignore[assignment]

journal_dir, incident, canary = sys.argv[1], sys.argv[2], sys.argv[3]
j = Journal.create(journal_dir, incident=incident, operator="crash-test", drill=True,
                   payload={"plan": "plans/lab.yaml"})
j.register_secret(canary)
print("ready", flush=True)
i = 0
while True:
    i += 1
    j.append(Kind.OUTPUT, {"step": "restore-be", "i": i, "line": f"{i} percent processed " * 20,
                           "login": f"PWD={canary};"})
