"""What a statement sends back through the lab's SQL engine, recorded in order (the TDS
server's sink): shared by the engine, restore and T-SQL procedure tests."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field

from lab.tds.api import Column, SqlError


@dataclass
class Sink:
    """Records everything a statement sends, in order."""

    events: list[tuple[str, object]] = field(default_factory=list)
    cancel: threading.Event = field(default_factory=threading.Event)
    cancel_after_info: int | None = None  # set cancelled after this many 3211 messages

    def columns(self, cols: Sequence[Column]) -> None:
        self.events.append(("columns", [c.name for c in cols]))

    def row(self, values: Sequence[object]) -> None:
        self.events.append(("row", list(values)))

    def info(self, number: int, message: str, *, severity: int = 0, state: int = 1) -> None:
        self.events.append(("info", (number, message)))
        if number == 3211 and self.cancel_after_info is not None:
            if sum(1 for k, v in self.events if k == "info" and v[0] == 3211) >= self.cancel_after_info:
                self.cancel.set()

    def error(self, err: SqlError) -> None:
        self.events.append(("error", (err.number, err.message)))

    def done(self, rowcount: int | None = None) -> None:
        self.events.append(("done", rowcount))

    @property
    def cancelled(self) -> threading.Event:
        return self.cancel

    def rows(self) -> list[list[object]]:
        return [v for k, v in self.events if k == "row"]  # type: ignore[misc]

    def infos(self) -> list[tuple[int, str]]:
        return [v for k, v in self.events if k == "info"]  # type: ignore[misc]

    def errors(self) -> list[int]:
        return [v[0] for k, v in self.events if k == "error"]  # type: ignore[index]

    def messages(self) -> list[str]:
        return [v[1] for k, v in self.events if k in ("error", "info")]  # type: ignore[index]
