"""Names that reach connection strings and URLs are host names or IP addresses (#15 item 7)."""

from __future__ import annotations

import pytest

from wizard.plan.loader import host_name_problem


@pytest.mark.parametrize("value", ["127.0.0.1", "::1", "fe01.fabrikam.lab", "FE01.Fabrikam.Lab.", "sql-01",
                                   "a" * 63 + ".lab"])
def test_host_names_and_addresses_pass(value: str) -> None:
    assert host_name_problem(value) is None


@pytest.mark.parametrize(("value", "why"), [
    ("127.0.0.1,1433;Encrypt=no;x=", "'1,1433;Encrypt=no;x=' is not a DNS label"),
    ("fe01.fabrikam.lab:5986", "'lab:5986' is not a DNS label"),
    ("https://fe01", "'https://fe01' is not a DNS label"),
    ("-fe01.lab", "'-fe01' is not a DNS label"),
    ("a" * 64 + ".lab", "is not a DNS label"),
    ("", "empty"),
    ("x." * 130 + "lab", "longer than 253"),
])
def test_anything_else_is_refused_with_the_label_at_fault(value: str, why: str) -> None:
    problem = host_name_problem(value)
    assert problem is not None and why in problem
