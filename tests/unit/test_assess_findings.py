"""A failed SQL probe is classified by SQL Server's error number, never by the words of its message.

SQL Server localises its messages (a French or German server says "Login failed" in French or
German) and rewords them between versions; the number is the same everywhere. The SQL probe keeps
the number in its result (``data["number"]``) and the findings read that.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from wizard.assess.events import ProbeResult
from wizard.assess.findings import build_findings, sql_failure_state
from wizard.assess.probes import sql_probe
from wizard.plan import load_plan
from wizard.plan.model import Plan
from wizard.remote.prompt import CredentialError
from wizard.remote.sqlerrors import from_odbc_error

REPO = Path(__file__).resolve().parents[2]
SQL_ID = "be1"


@pytest.fixture(scope="module")
def plan() -> Plan:
    return load_plan(REPO / "plans" / "lab.yaml").plan


class _FailingSql:
    """Transports whose SQL runner fails the way pyodbc reports ``odbc_args``."""

    def __init__(self, *odbc_args: str) -> None:
        self.odbc_args = odbc_args

    def sql(self, sql_id: str, timeout_s: float) -> Any:
        return self

    def query(self, sql: str) -> Any:
        raise from_odbc_error(self.odbc_args, where="be1", address="sql01.fabrikam.lab:1433",
                              driver="ODBC Driver 18 for SQL Server", during="connect")


def _probe(plan: Plan, *odbc_args: str) -> ProbeResult:
    run = sql_probe(_FailingSql(*odbc_args), plan, SQL_ID)  # type: ignore[arg-type]
    return run(None, 5.0)


def _sql_state(plan: Plan, result: ProbeResult) -> str:
    return build_findings(plan, [result]).instance(SQL_ID).state


def _server(number: int, text: str, sqlstate: str = "28000") -> tuple[str, str]:
    return (sqlstate, f"[{sqlstate}] [Microsoft][ODBC Driver 18 for SQL Server][SQL Server]{text} "
                      f"({number}) (SQLDriverConnect)")


# Localised messages of login refusals: none says "Login" or "Credential" in English.
REFUSED = [
    pytest.param(18456, "Échec de l'ouverture de session de l'utilisateur 'sa'.", id="18456-fr"),
    pytest.param(18486, "Anmeldung für den Benutzer 'sa' fehlgeschlagen, weil das Konto gesperrt ist.",
                 id="18486-de-locked-out"),
    pytest.param(18487, "Error de inicio de sesión del usuario 'sa'. Motivo: la contraseña ha expirado.",
                 id="18487-es-password-expired"),
    pytest.param(4060, 'Die von der Anmeldung angeforderte Datenbank "master" kann nicht geöffnet werden.',
                 id="4060-de-cannot-open-database"),
]


@pytest.mark.parametrize(("number", "text"), REFUSED)
def test_a_login_refusal_is_classified_by_its_number_whatever_the_language(
        plan: Plan, number: int, text: str) -> None:
    result = _probe(plan, *_server(number, text))
    assert result.status == "failed"
    assert result.data["number"] == number  # the probe keeps SQL Server's number
    assert _sql_state(plan, result) == "refused"


def test_the_words_of_a_message_do_not_make_a_refusal(plan: Plan) -> None:
    # An English server message full of "Login" words, but the number is not a refusal: the
    # service is paused, so the instance is down.
    paused = _probe(plan, *_server(17142, "Login failed: SQL Server service RTC has been paused. "
                                          "No new connections will be allowed.", "42000"))
    assert paused.data["number"] == 17142
    assert _sql_state(plan, paused) == "down"
    # A driver-level failure (no server number) that says "Login": nothing answered.
    timeout = _probe(plan, "HYT00", "[HYT00] [Microsoft][ODBC Driver 18 for SQL Server]Login timeout "
                                    "expired (0) (SQLDriverConnect)")
    assert timeout.data["number"] is None
    assert _sql_state(plan, timeout) == "down"


def test_classification_reads_the_number_not_the_summary() -> None:
    def failed(summary: str, data: dict[str, Any]) -> ProbeResult:
        return ProbeResult(f"sql:{SQL_ID}", "sql", SQL_ID, "failed", summary, data)

    assert sql_failure_state(failed("Connexion refusée.", {"error": "SqlServerError", "number": 18456})) == "refused"
    assert sql_failure_state(failed("SQL Server refused the login for 'sa'.",
                                    {"error": "SqlServerError", "number": 53})) == "down"
    assert sql_failure_state(failed("x", {"error": "SqlUnreachableError", "number": None})) == "down"


def test_a_credential_the_wizard_cannot_obtain_counts_as_refused(plan: Plan) -> None:
    class _NoCredential:
        def sql(self, sql_id: str, timeout_s: float) -> Any:
            raise CredentialError("credential 'sql' (sa) must be typed in, but nobody can be asked")

    result = sql_probe(_NoCredential(), plan, SQL_ID)(None, 5.0)  # type: ignore[arg-type]
    assert result.status == "failed" and "number" not in result.data
    assert _sql_state(plan, result) == "refused"
