"""Over real WinRM (pywinrm against the lab's loopback listeners): the catalogue verifies backup
sets through a PowerShell 3.0 host (fe01, no Get-FileHash) and a 4.0 host (fe11); a cmdlet that
asks before acting fails under powershell.exe -NonInteractive unless the script stops the
question, and the wizard's own step, which does, passes."""

from __future__ import annotations

import pytest

from lab.runtime import LabRuntime
from lab.scenarios import scenario
from wizard.catalog.discover import list_store_sets
from wizard.catalog.recommend import choose_set
from wizard.plan import load_plan
from wizard.plan.model import Plan
from wizard.procedures.library.common import Ctx
from wizard.procedures.library.failover import quorum_steps
from wizard.procedures.model import PsCommand
from wizard.remote import psbuild
from wizard.remote.backup_store import RemoteBackupStore, runner_stdout

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]

NONINTERACTIVE = "PowerShell is in NonInteractive mode. Read and Prompt functionality is not available."


@pytest.mark.parametrize(("location", "host", "major"), [
    ("hq-vault", "fe01.fabrikam.lab", 3), ("dr-vault", "fe11.fabrikam.lab", 4)])
def test_catalogue_verifies_sets_through_30_and_40_hosts(location: str, host: str, major: int) -> None:
    with LabRuntime(scenario("monitoring-db-lost").with_faults(corrupt_newest_set=True)) as lab:
        plan = load_plan(lab.plan_path).plan
        loc = next(item for item in plan.backup.locations if item.name == location)
        assert loc.read_via == host and loc.local_path is None
        runner = lab.runner(host, "basic")
        try:
            version = runner.run("$PSVersionTable.PSVersion.Major", deadline_s=30)
            assert version.exit_code == 0 and version.stdout.split() == [str(major)]
            store = RemoteBackupStore(runner_stdout(runner), loc.unc, host, modules=())
            listing = list_store_sets(store, plan.backup.layout, loc.unc)
            choice = choose_set(plan, listing, "cms-restore", now=lab.dep.now, verifier=None)
        finally:
            runner.close()
    # The corrupt newest set is caught by the far-side hashes; the one before passes them.
    assert choice.chosen is not None and choice.chosen.name.endswith("2026-11-23_0200"), choice.summary
    assert any("Config.zip differs from the manifest (SHA-256 mismatch, checked by hash on the far side"
               in reason for reason in choice.passed_over[0].reasons), choice.passed_over[0].reasons
    integrity = choice.chosen.integrity
    assert integrity is not None and integrity.intact
    config = next(check for check in integrity.checks if check.rel == "Config.zip")
    assert config.ok is True and "checked by hash on the far side" in config.detail


def _quorum_reset(plan: Plan) -> PsCommand:
    steps = quorum_steps(Ctx(plan, pool="pool1.fabrikam.lab"), plan.pool("pool1.fabrikam.lab"))
    step = next(s for s in steps if s.id.startswith("quorum-loss-recovery-"))
    (command,) = step.commands
    assert isinstance(command, PsCommand)
    return command


def test_prompting_cmdlet_fails_over_winrm_but_the_wizard_step_passes() -> None:
    with LabRuntime(scenario("monitoring-db-lost")) as lab:
        plan = load_plan(lab.plan_path).plan
        command = _quorum_reset(plan)
        runner = lab.runner(command.host, "basic")
        try:
            bare = runner.run("Import-Module Lync\r\nReset-CsPoolRegistrarState -PoolFqdn pool1.fabrikam.lab "
                              "-ResetType QuorumLossRecovery\r\n", deadline_s=60)
            assert bare.exit_code != 0
            assert any(NONINTERACTIVE in e.message for e in bare.errors), bare.stderr
            assert not any(e[1] == "Reset-CsPoolRegistrarState" for e in lab.dep.cmdlet_log)
            # The wizard's command carries -Confirm:$false itself: it passes even without the
            # preamble's $ConfirmPreference = 'None' ...
            assert "-Confirm:$false" in command.lines()[0]
            alone = runner.run(psbuild.script(*command.statements, preamble=False), deadline_s=120)
            assert alone.exit_code == 0, alone.stderr
            # ... and as the wizard runs it.
            wizard = runner.run(command.script(), deadline_s=120)
            assert wizard.exit_code == 0, wizard.stderr
        finally:
            runner.close()
    assert sum(e[1] == "Reset-CsPoolRegistrarState" for e in lab.dep.cmdlet_log) == 2
