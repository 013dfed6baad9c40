"""quote_identifier survives the wire: any name, bracket-quoted in T-SQL, reaches the toy
server's parser as exactly the name that also arrives as a ``?`` parameter."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from lab.tds import TdsServer
from lab.tds.toy import ToyBackend
from wizard.remote.odbc import FREETDS_PATHS, bundled_msodbc18
from wizard.remote.sql import SqlEndpoint, SqlRunner, quote_identifier

pytestmark = pytest.mark.integration

NAMES = st.text(st.characters(exclude_characters="\x00", exclude_categories=("Cs",)),
                min_size=1, max_size=128)


@pytest.fixture(scope="module", params=["freetds", "msodbc18"])
def runner(request: pytest.FixtureRequest) -> Iterator[tuple[SqlRunner, ToyBackend]]:
    driver = FREETDS_PATHS[0] if request.param == "freetds" else bundled_msodbc18()
    assert driver is not None
    backend = ToyBackend(users={"sa": "pw-lab-1"})
    with TdsServer(backend) as srv:
        ep = SqlEndpoint(server="sql01", port=srv.port, address="127.0.0.1", driver=driver,
                         encrypt="off")
        with SqlRunner(ep, "sa", "pw-lab-1") as r:
            yield r, backend


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=NAMES)
def test_any_name_round_trips(runner: tuple[SqlRunner, ToyBackend], name: str) -> None:
    sql, backend = runner
    assume(name not in backend.databases)
    quoted = quote_identifier(name)
    sql.query(f"CREATE DATABASE {quoted}")
    try:
        assert name in backend.databases  # the server's bracket parser got the very name
        rows = sql.query("SELECT name FROM sys.databases WHERE name = ?", [name])
        assert rows == [{"name": name}]
    finally:
        sql.query(f"DROP DATABASE {quoted}")
    assert name not in backend.databases
