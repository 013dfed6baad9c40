"""The second hop and Kerberos failures as one sentence each (#15 items 2 and 3)."""

from __future__ import annotations

import builtins
from typing import Any

import pytest

from wizard.remote.negotiate import (
    KerberosError,
    kerberos_principal,
    kerberos_sentence,
    require_kerberos,
)
from wizard.remote.secondhop import denied_unc, hop_sentence

FE = "fe01.fabrikam.lab"


@pytest.mark.parametrize(("output", "expected"), [
    # .NET (Lync cmdlets, Get-Content): the path is in the message
    ("Import-CsConfiguration : Access to the path '\\\\bk01.fabrikam.lab\\LyncBackup\\s\\Config.zip' is denied.",
     "\\\\bk01.fabrikam.lab\\LyncBackup\\s\\Config.zip"),
    # robocopy prints it on stdout before the script's own throw
    ("ERROR 5 (0x00000005) Accessing Source Directory \\\\bk11\\LyncBackup\\s\\filestore\\fs-hq\\\n"
     "Access is denied.\nrobocopy reported a failure", "\\\\bk11\\LyncBackup\\s\\filestore\\fs-hq"),
    # Get-ChildItem says only "Access is denied"; its CategoryInfo line names the path
    ("Get-ChildItem : Access is denied\n+ CategoryInfo : PermissionDenied: (\\\\bk01\\LyncBackup:String)",
     "\\\\bk01\\LyncBackup"),
])
def test_a_denied_share_on_another_server_is_recognised(output: str, expected: str) -> None:
    assert denied_unc(FE, output) == expected


@pytest.mark.parametrize("output", [
    "Cannot find path '\\\\bk01\\LyncBackup\\s\\Config.zip' because it does not exist.",
    "Access to the path '\\\\fe01.fabrikam.lab\\c$\\x' is denied.",  # its own share: no hop
    "Access to the path '\\\\fe01\\c$\\x' is denied.",  # the same host by its short name
    "Access is denied",  # and no path anywhere to blame
    "The network path was not found: '\\\\bk01\\LyncBackup'.",
])
def test_other_failures_are_not_a_second_hop(output: str) -> None:
    assert denied_unc(FE, output) is None


def test_the_plain_denial_is_tied_to_the_path_the_command_used() -> None:
    assert denied_unc(FE, "Get-ChildItem : Access is denied", ("\\\\bk01\\LyncBackup",)) == "\\\\bk01\\LyncBackup"


def test_the_sentence_names_the_host_the_share_and_every_way_out() -> None:
    text = hop_sentence(FE, "\\\\bk01.fabrikam.lab\\LyncBackup", reading=True)
    assert text.count(". ") == 0 and text.endswith(".")  # one sentence
    for part in ("fe01.fabrikam.lab was denied access to \\\\bk01.fabrikam.lab\\LyncBackup", "second hop",
                 "CredSSP for fe01.fabrikam.lab", "delegation", "read_via: bk01.fabrikam.lab", "local_path"):
        assert part in text
    step = hop_sentence(FE, "\\\\bk01\\LyncBackup\\s\\Config.zip")
    assert "read_via" not in step and "copying the file to fe01.fabrikam.lab first" in step
    assert "could not be checked from" in hop_sentence(FE, "\\\\fs01\\share", probing=True)


@pytest.mark.parametrize(("account", "principal"), [
    ("FABRIKAM\\lyncadmin", "lyncadmin@FABRIKAM.LAB"),  # the NetBIOS name is not the realm
    ("lyncadmin@fabrikam.lab", "lyncadmin@FABRIKAM.LAB"),
    ("lyncadmin", "lyncadmin@FABRIKAM.LAB"),
])
def test_kerberos_principal_of_an_account(account: str, principal: str) -> None:
    assert kerberos_principal(account, "FABRIKAM.LAB") == principal


@pytest.mark.parametrize(("said", "expected"), [
    ("Cannot contact any KDC for realm 'CORP.CONTOSO.COM'", "could not reach a KDC for realm CORP.CONTOSO.COM"),
    ("Preauthentication failed", "refused the password of svc@CORP.CONTOSO.COM"),
    ("Client 'svc@CORP.CONTOSO.COM' not found in Kerberos database", "has no account svc@CORP.CONTOSO.COM"),
    ("Server not found in Kerberos database", "has no service principal HTTP/fe01.corp.contoso.com"),
    ("Clock skew too great", "clock is too far from the KDC"),
    ("No Kerberos credentials available (default cache: FILE:/tmp/krb5cc_0)", "run kinit svc@CORP.CONTOSO.COM"),
    ("Ticket expired", "has expired"),
])
def test_kerberos_failures_map_to_their_sentence(said: str, expected: str) -> None:
    error = kerberos_sentence(RuntimeError(said), where="fe01.corp.contoso.com:5986", principal="svc@CORP.CONTOSO.COM",
                              spn="HTTP/fe01.corp.contoso.com", realm="CORP.CONTOSO.COM", krb5_config="/etc/krb5.conf")
    assert isinstance(error, KerberosError) and expected in str(error)
    assert str(error).endswith(".") and "Traceback" not in str(error)


def test_a_missing_kerberos_library_names_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    real_import = builtins.__import__

    def no_gssapi(name: str, *args: Any, **kwargs: Any) -> Any:
        if name in ("gssapi", "krb5"):
            raise ImportError(f"No module named '{name}'", name=name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_gssapi)
    with pytest.raises(KerberosError) as info:
        require_kerberos("fe01.corp.contoso.com:5986")
    text = str(info.value)
    assert text.startswith("fe01.corp.contoso.com:5986 is set to Kerberos, but the Python module gssapi is "
                           "not installed")
    assert "lync-restore[kerberos]" in text and "libkrb5-dev" in text and "auth to ntlm" in text


def test_several_denied_locations_are_one_sentence() -> None:
    from wizard.remote.secondhop import hops_sentence

    text = hops_sentence([(FE, "\\\\bk01\\LyncBackup"), ("fe11.fabrikam.lab", "\\\\bk11\\LyncBackup")])
    assert text.count(". ") == 0 and text.endswith(".")
    assert "(fe01.fabrikam.lab \\\\bk01\\LyncBackup and fe11.fabrikam.lab \\\\bk11\\LyncBackup)" in text
    assert hops_sentence([(FE, "\\\\bk01\\LyncBackup")]) == hop_sentence(FE, "\\\\bk01\\LyncBackup", reading=True)
