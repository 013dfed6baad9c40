"""The remote backup store lists the lab's backup share through a Front End over real WinRM,
and the same sets, files, sizes and hashes come back as from the lab's disk read locally."""

from __future__ import annotations

import hashlib

import pytest

from lab.runtime import LabRuntime
from lab.scenarios import scenario
from wizard.remote.backup_store import LocalBackupStore, RemoteBackupStore, runner_stdout

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]


@pytest.mark.parametrize("auth", ["basic", "ntlm"])
def test_remote_listing_matches_the_disk(auth: str) -> None:
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
