"""The transports as the services see them: the least each service needs of a PowerShell or SQL
runner, defined once. :class:`wizard.remote.winrm.PowerShellRunner` and
:class:`wizard.remote.sql.SqlRunner` satisfy them; unit tests pass fakes of these ports (never of
pywinrm or pyodbc)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol


class PsOutcome(Protocol):
    """What a PowerShell run returns (:class:`wizard.remote.winrm.PsResult` fits)."""

    @property
    def exit_code(self) -> int: ...
    @property
    def stdout(self) -> str: ...
    @property
    def stderr(self) -> str: ...


class SqlQuery(Protocol):
    """One SQL instance that answers queries."""

    def query(self, sql: str, params: Sequence[object] = ()) -> list[dict[str, object]]:
        """Rows of the first result set; raises a WizardError (RemoteError) on any failure."""
        ...
