"""A scripted implementation of our own port ``wizard.incident.Backend`` for UI and unit tests.

It stands in for the assessment, catalogue and procedure modules so the screens and the session
facade can be driven end to end without a lab. It is a fake of *our* port, not of a transport:
the integration tests of the transports use the real clients. Commands quoted here are the
domain reference's (§6.4, §6.16, §7.2).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from wizard.incident import (
    BackupChoice,
    BackupSetView,
    CheckView,
    OperatorQuestion,
    OutputLine,
    PathChoice,
    PathOption,
    ProbeView,
    Progress,
    StepDone,
    StepEvent,
    StepFailed,
    StepStarted,
    StepView,
)
from wizard.plan import LoadedPlan
from wizard.remote.errors import HostUnreachableError

BE_STEPS = (
    StepView("be-install-databases", "Recreate the Back End databases", "The Back End SQL was lost; the "
             "pool's databases are recreated empty before user data is imported.", "6.4", "fe01.fabrikam.lab",
             ("Install-CsDatabase -ConfiguredDatabases -SqlServerFqdn sql01.fabrikam.lab",),
             destructive=True, second_operator=True, estimate_s=600),
    StepView("be-stop-services", "Stop Lync services on the Front Ends", "Import-CsUserData needs the "
             "services stopped.", "6.4", "fe01.fabrikam.lab", ("Stop-CsWindowsService",), estimate_s=60),
    StepView("be-import-user-data", "Import user data", "Contacts, meetings and settings come back from "
             "the backup set.", "6.13", "fe01.fabrikam.lab",
             ("Import-CsUserData -PoolFqdn pool1.fabrikam.lab -FileName C:\\restore\\UserData.zip",),
             estimate_s=900),
    StepView("be-start-services", "Start Lync services", "Bring the pool back.", "6.4", "fe01.fabrikam.lab",
             ("Start-CsWindowsService",), estimate_s=60),
)

FAILOVER_STEPS = (
    StepView("pool-failover", "Fail pool1 over to pool2", "pool1 is lost and paired with pool2.", "6.16",
             "fe11.fabrikam.lab", ("Invoke-CsPoolFailover -PoolFqdn pool1.fabrikam.lab -DisasterMode -Verbose",),
             destructive=True, estimate_s=1800),
)

CHECKS = (
    CheckView("services", "Lync services", "fe01.fabrikam.lab", "Get-CsWindowsService",
              "every service Status = Running", fixed_by="be-start-services"),
    CheckView("databases", "Databases", "sql01.fabrikam.lab",
              "Test-CsDatabase -ConfiguredDatabases -SqlServerFqdn sql01.fabrikam.lab", "Succeed : True",
              fixed_by="be-install-databases"),
    CheckView("registration", "Sign-in", "pool1.fabrikam.lab", "Test-CsRegistration -TargetFqdn pool1.fabrikam.lab",
              "Result : Success"),
)


@dataclass
class ScriptedBackend:
    """Scenario ``be-lost`` recommends be-restore; ``pool-lost`` recommends pool-failover."""

    scenario: str = "be-lost"
    lines_per_step: int = 5
    line_delay_s: float = 0.0
    fail_first: set[str] = field(default_factory=set)  # steps whose first attempt fails
    failure: str = ""  # the sentence a failing step gives ("" for a short one)
    hold: threading.Event | None = None  # when set, run_step waits on it before finishing
    failing_checks: set[str] = field(default_factory=set)
    check_hold: threading.Event | None = None  # when set, verify waits on it before its last check
    attempts: dict[str, int] = field(default_factory=dict)

    def probe(self, loaded: LoadedPlan, cancel: threading.Event) -> Iterator[ProbeView]:
        hosts = ["fe01.fabrikam.lab", "fe02.fabrikam.lab", "sql01.fabrikam.lab", "fe11.fabrikam.lab"]
        for host in hosts:
            if cancel.is_set():
                return
            down = (self.scenario == "be-lost" and host.startswith("sql01")) or (
                self.scenario == "pool-lost" and host.startswith(("fe01", "fe02", "sql01")))
            for check in ("dns", "winrm", "services"):
                yield ProbeView(host, check, "fail" if down and check != "dns" else "ok",
                                  "no answer on 5985" if down else "")

    def questions(self, loaded: LoadedPlan) -> Sequence[OperatorQuestion]:
        return (OperatorQuestion("users", "Can users sign in?", ("no", "some", "yes")),)

    def recommend(self, loaded: LoadedPlan, probes: Sequence[ProbeView],
                  answers: dict[str, str]) -> PathChoice:
        failover = PathOption("pool-failover", "Fail the pool over to its paired pool",
                              "pool1 is paired with pool2, which answers.", ("pool2 healthy",),
                              "RTO ~30 min", "RPO ~30 min")
        restore = PathOption("be-restore", "Restore an Enterprise Edition Back End",
                             "sql01 does not answer and is not mirrored to a live node.",
                             ("sql01.fabrikam.lab: winrm fail", "sql02 mirror: no answer"),
                             "RTO hours", "RPO = backup age")
        if self.scenario == "pool-lost":
            return PathChoice(failover, (restore,))
        return PathChoice(restore, (failover,))

    def backup_sets(self, loaded: LoadedPlan, path_id: str) -> BackupChoice:
        sets = (
            BackupSetView("2026-11-25_0200", "2026-11-25T02:00:00Z", False, ("user_data",), "ok",
                          "UserData.zip missing for pool1"),
            BackupSetView("2026-11-24_0200", "2026-11-24T02:00:00Z", True, (), "ok", "all components present"),
            BackupSetView("2026-11-23_0200", "2026-11-23T02:00:00Z", True, (), "ok", "all components present"),
        )
        return BackupChoice(sets, "2026-11-24_0200", "newest complete and intact set; 2026-11-25_0200 lacks "
                            "user data for pool1")

    def compose(self, loaded: LoadedPlan, path_id: str, backup_set: str | None) -> Sequence[StepView]:
        return FAILOVER_STEPS if path_id == "pool-failover" else BE_STEPS

    def run_step(self, loaded: LoadedPlan, step: StepView, cancel: threading.Event) -> Iterator[StepEvent]:
        n = self.attempts[step.step_id] = self.attempts.get(step.step_id, 0) + 1
        yield StepStarted(step.step_id, step.host, step.commands[0])
        for i in range(self.lines_per_step):
            if cancel.is_set():
                return
            if self.line_delay_s:
                time.sleep(self.line_delay_s)
            yield OutputLine(step.step_id, f"{step.step_id}: line {i + 1}")
            yield Progress(step.step_id, 100.0 * (i + 1) / self.lines_per_step,
                           (self.lines_per_step - i - 1) * self.line_delay_s)
        if self.hold is not None:
            while not self.hold.wait(0.05):
                if cancel.is_set():
                    return
        if step.step_id in self.fail_first and n == 1:
            yield StepFailed(step.step_id, self.failure or f"{step.title} failed on {step.host} (exit 1).", 1)
            return
        yield StepDone(step.step_id, 0)

    def verify(self, loaded: LoadedPlan, path_id: str) -> Iterator[CheckView]:
        from dataclasses import replace

        for check in CHECKS:
            if self.check_hold is not None and check is CHECKS[-1]:
                self.check_hold.wait(10)
            bad = check.check_id in self.failing_checks
            yield replace(check, status="fail" if bad else "ok", detail="Stopped: RTCSRV" if bad else "")


@dataclass
class UnreachableBackend(ScriptedBackend):
    """Every probe fails the way the real transports fail when a host refuses connections: the
    UI must show the sentence, journal it, and stay usable."""

    def probe(self, loaded: LoadedPlan, cancel: threading.Event) -> Iterator[ProbeView]:
        raise HostUnreachableError("Cannot reach fe01.fabrikam.lab on port 5986: the connection was refused.")
        yield  # a generator, like the real backend's
