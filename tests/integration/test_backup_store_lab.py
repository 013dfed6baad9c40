"""The remote backup store lists the lab's backup share through a Front End over real WinRM,
and the same sets, files, sizes and hashes come back as from the lab's disk read locally."""

from __future__ import annotations

import hashlib

import pytest

from lab.runtime import LabRuntime
from lab.scenarios import scenario
from wizard.remote.backup_store import LocalBackupStore, RemoteBackupStore, SecondHopDenied, runner_stdout

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]


@pytest.mark.parametrize("auth", ["basic", "kerberos", "credssp"])
def test_remote_listing_matches_the_disk(auth: str) -> None:
    """Through each logon that holds credentials the Front End can present to the vault (Basic:
    a clear-text logon; Kerberos: the ticket forwarded; CredSSP: the password)."""
    with LabRuntime(scenario("file-store-lost")) as lab:
        loc = lab.plan.backup.locations[0]
        assert loc.read_via == "fe01.fabrikam.lab" and loc.local_path is None
        runner = lab.runner(loc.read_via, auth)  # type: ignore[arg-type]
        remote = RemoteBackupStore(runner_stdout(runner), loc.unc, loc.read_via, modules=())
        local = LocalBackupStore(lab.dep.paths.resolve(loc.unc), loc.unc)
        sets = remote.list_sets()
        assert [s.name for s in sets] == [s.name for s in local.list_sets()]
        assert len(sets) == 3
        newest = sets[-1].name
        remote_files = remote.list_files(newest)
        local_files = local.list_files(newest)
        assert [(f.path, f.size) for f in remote_files] == [(f.path, f.size) for f in local_files]
        assert {"Config.zip", "E911Config.zip", "manifest.json"} <= {f.path for f in remote_files}
        wanted = ["Config.zip", "E911Config.zip"]
        hashes = remote.sha256(newest, wanted)
        for rel in wanted:
            path = local.local_path(newest, rel)
            assert path is not None
            assert hashes[rel] == hashlib.sha256(path.read_bytes()).hexdigest()
        runner.close()


def test_an_ntlm_session_is_denied_the_vault_and_says_second_hop() -> None:
    """#15 item 3: over NTLM the Front End may not reach \\\\bk01 (the second hop): the listing
    fails with the one sentence naming the ways out, never as a missing folder."""
    with LabRuntime(scenario("file-store-lost")) as lab:
        loc = lab.plan.backup.locations[0]
        with lab.runner(loc.read_via, "ntlm") as runner:  # type: ignore[arg-type]
            remote = RemoteBackupStore(runner_stdout(runner), loc.unc, loc.read_via, modules=())
            with pytest.raises(SecondHopDenied) as denied:
                remote.list_sets()
    text = denied.value.message
    assert text.startswith(f"{loc.read_via} was denied access to {loc.unc} although the share is there")
    assert "second hop" in text and "read_via: bk01.fabrikam.lab" in text and "local_path" in text

