"""The trainee's hands in a drill: the manual steps of a procedure, played on the lab.

A real restore has steps no script can do - Windows and SQL Server set-up (§6.1), the
Deployment Wizard (§6.1 steps 1-4, §6.2 step 4, §6.7, §6.21 Run Again), Topology Builder (§6.2
step 10, §6.4 step 3, §6.5 steps 3-4 and 8, §6.6 step 3, §6.21), a share made by hand. The operator does the work and
answers "done"; the engine then runs the step's post-check. In a drill the lab plays those hands
so the trainee's "done" is true, and it does to the deployment exactly what the real tool would:

* it follows the step's own instructions (the store names the Topology Builder instructions
  give are read from the question text, not guessed from the outage);
* it runs the lab's own programs on the lab's own hosts where one exists (``Bootstrapper.exe``,
  ``Import-CsConfiguration -LocalStore``, ``Start-CsWindowsService``), so their rules apply;
* it never makes up for an earlier step: with no working CMS, Topology Builder cannot publish;
  an Edge without an exported zip gets no local store; a server never prepared cannot run the
  Deployment Wizard. The note it returns says what it did or could not do, and the post-check
  or the §7 verification catches the rest.

:class:`LabHands` is reached through :meth:`lab.runtime.LabRuntime.perform_manual`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from lab.cmdlets.databases import create_databases, topology_stores
from lab.model import LabDeployment, LabServer, LabStateError
from lab.powershell.host import PowerShellHost
from lab.sqlstate import STORE_DATABASES, SqlInstanceState
from wizard.procedures.library.common import edge_export_path

#: Where the Deployment Wizard keeps Bootstrapper.exe (§11.45).
BOOTSTRAPPER = r"& 'C:\Program Files\Microsoft Lync Server 2013\Deployment\Bootstrapper.exe'"

_STORE = r"([A-Za-z0-9.-]+)\\([A-Za-z0-9_$-]+)"
#: §6.5 steps 3-4: "Set 'SQL Server store' to sql02.fabrikam.lab\rtc; OK; Publish again."
_SET_STORE = re.compile(r"Set 'SQL Server store' to " + _STORE)
#: §6.2 step 10 / §6.4-6.6: "... set the mirroring SQL Server store to sql01.fabrikam.lab\rtc; OK."
_SET_MIRROR = re.compile(r"mirroring SQL Server store to " + _STORE)
#: §6.5 step 8 with a witness: "... tick 'Use SQL Server mirroring witness' and set the witness to X\inst"
_SET_WITNESS = re.compile(r"set the witness to " + _STORE)
#: §6.16 step 2 (same site): "... > Next Hop: choose pool2.fabrikam.lab; OK."
_NEXT_HOP = re.compile(r"Edge pool ([A-Za-z0-9.-]+) > Next Hop: choose ([A-Za-z0-9.-]+);")
#: §6.21: "... Edge pool X > General: clear|tick 'Enable federation for this Edge pool (Port 5061)'"
_FEDERATION = re.compile(r"Edge pool ([A-Za-z0-9.-]+) > General: (clear|tick) 'Enable federation")
#: §6.21: "... Front End pool P > Associations: 'Associate Edge pool (for media components)' = E;"
_MEDIA = re.compile(r"Front End pool ([A-Za-z0-9.-]+) > Associations: 'Associate Edge pool \(for media "
                    r"components\)' = ([A-Za-z0-9.-]+);")


class HandsError(Exception):
    """The manual work could not be done on the lab (the note says why)."""


@dataclass(frozen=True)
class ScriptResult:
    """What one script run on a lab host printed."""

    code: int
    stdout: str
    stderr: str

    @property
    def first_error(self) -> str:
        lines = [ln.strip() for ln in (self.stderr or self.stdout).splitlines() if ln.strip()]
        return lines[0] if lines else f"exit code {self.code}"


class LabHands:
    """Plays manual steps on one deployment. ``powershell(fqdn)`` gives a host's PowerShell,
    ``rebuild(fqdn)`` is the §6.1 "new machine" action, ``listen(fqdn)`` (re)starts a host's
    listeners after its SQL instances changed."""

    def __init__(self, dep: LabDeployment, powershell: Callable[[str], PowerShellHost],
                 rebuild: Callable[[str], None], listen: Callable[[str], None]) -> None:
        self.dep = dep
        self.powershell = powershell
        self.rebuild = rebuild
        self.listen = listen

    # ------------------------------------------------------------------ dispatch
    def perform(self, step_id: str, question_text: str) -> str | None:
        """Do the manual work of ``step_id`` on the lab; a one-line note, or None when the step
        needs no hands (an organisation procedure, a look at the Control Panel)."""
        handlers: tuple[tuple[str, Callable[[str, str], str]], ...] = (
            ("prepare-first-se-", self.prepare_first_se),
            ("prepare-", self.prepare),
            ("deploy-", self.deployment_wizard),
            ("be-mirror-topology-", self.clear_mirroring),
            ("be-mirror-create-", self.create_mirror),
            ("filestore-share-", self.share_file_store),
            ("edge-next-hop-", self.edge_next_hop),
            ("edge-federation-route-", self.federation_route),
            ("edge-setup-again-", self.edge_setup_again),
            ("edge-media-", self.edge_media),
            ("cms-move-bootstrap", self.bootstrap_cms_pool),
        )
        for prefix, handler in handlers:
            if step_id.startswith(prefix):
                try:
                    return handler(step_id.removeprefix(prefix), question_text)
                except (HandsError, LabStateError) as exc:
                    return str(exc)
        return None

    # ------------------------------------------------------------------ helpers
    def run(self, fqdn: str, script: str) -> ScriptResult:
        """Run ``script`` in the PowerShell of ``fqdn`` (what the trainee types there)."""
        out: list[str] = []
        err: list[str] = []
        code = self.powershell(fqdn).run_script(script, out.append, err.append,
                                                clixml_errors=False)
        return ScriptResult(code, "".join(out), "".join(err))

    def _server(self, fqdn: str) -> LabServer:
        srv = self.dep.server(fqdn)
        if not srv.reachable:
            raise HandsError(f"{srv.fqdn} is not running, so nothing could be done on it "
                             "(prepare it first, §6.1).")
        return srv

    def _cms_or_fail(self, tool: str) -> None:
        problem = self.dep.publish_problem()
        if problem is not None:
            raise HandsError(f"{tool} could not reach the Central Management store ({problem}); "
                             "nothing was published.")

    def _named_store(self, pattern: re.Pattern[str], text: str, what: str) -> SqlInstanceState:
        match = pattern.search(text)
        if match is None:
            raise HandsError(f"The instructions name no {what}; nothing was changed.")
        server, instance = match.group(1).lower(), match.group(2).lower()
        inst = self.dep.instance(server, None if instance == "default" else instance)
        if inst is None:
            raise HandsError(f"Topology Builder knows no SQL Server store {server}\\{instance}; "
                             "nothing was changed.")
        return inst

    def _publish(self, host: str, what: str) -> None:
        """Topology Builder's Publish: a new topology version in the CMS (replicas follow)."""
        self.dep.bump_config()
        self.dep.log(host, f"Topology Builder published: {what}")

    # ------------------------------------------------------------------ §6.1
    def prepare(self, fqdn: str, _text: str) -> str:
        """§6.1: a clean machine with the same FQDN (and SQL Server for a database host)."""
        srv = self.dep.server(fqdn)
        self.rebuild(srv.fqdn)
        sql = ", with SQL Server and the same instance names" if self.dep.instances_on(srv.fqdn) else ""
        return f"{srv.fqdn} was rebuilt as a clean server with the same FQDN{sql} (§6.1)."

    def prepare_first_se(self, fqdn: str, _text: str) -> str:
        """§6.2 step 4: 'Prepare first Standard Edition server' installs the CMS store locally."""
        srv = self._server(fqdn)
        inst = self.dep.instance(srv.fqdn, "rtc")
        if inst is None:
            raise HandsError(f"{srv.fqdn} has no RTC SQL instance in the topology; nothing was done.")
        with self.dep.lock:
            inst.up = True
            made = _create_stores(self.dep, inst, ["CentralMgmtStore"])
        self.listen(srv.fqdn)
        self.dep.log(srv.fqdn, "Deployment Wizard: Prepare first Standard Edition server")
        made_text = f" ({', '.join(made)} created)" if made else ""
        return f"Prepare first Standard Edition server ran on {srv.fqdn}: SQL Server Express " \
               f"instance RTC with an empty Central Management store{made_text} (§6.2 step 4)."

    # ------------------------------------------------------------------ Deployment Wizard
    def deployment_wizard(self, fqdn: str, _text: str) -> str:
        """§6.1 Deployment Wizard Steps 1-4 on a rebuilt server (§6.7; Edge: store from a zip)."""
        srv = self._server(fqdn)
        pool = self.dep.pool_of(srv.fqdn)
        if srv.kind != "lync" or pool is None:
            raise HandsError(f"{srv.fqdn} is not a Lync server in the topology; nothing was done.")
        done: list[str] = []
        if pool.spec.role == "edge":
            unc = edge_export_path(self.dep.plan, pool.fqdn)
            if not self.dep.paths.resolve(unc).is_file():
                raise HandsError(f"No configuration zip exported for {pool.fqdn} was found at {unc}, "
                                 "so Step 1 (import from a file) could not be done.")
            imported = self.run(srv.fqdn, f"Import-CsConfiguration -LocalStore -FileName '{unc}'")
            if imported.code != 0:
                raise HandsError(f"Step 1 failed on {srv.fqdn}: {imported.first_error}")
            done.append("local store imported from the exported zip")
        boot = self.run(srv.fqdn, BOOTSTRAPPER)
        if boot.code != 0:
            raise HandsError(f"Deployment Wizard Steps 1-2 failed on {srv.fqdn}: {boot.first_error}")
        done.append("local store and components installed")
        done.append("certificates assigned")  # §6.1 step 5 kept the machine's certificates
        # Step 4 starts the services and shows their state; it does not wait for a pool below its
        # start quorum (the Front End then shows Start Pending, §5.4)
        start = self.run(srv.fqdn, "Start-CsWindowsService -NoWait")
        if start.code != 0:
            raise HandsError(f"Step 4 (Start Services) failed on {srv.fqdn}: {start.first_error}")
        with self.dep.lock:
            replica = srv.service("REPLICA")
            if (replica is None or replica.status == "Running") and self.dep.cms_functional():
                self.dep.replicate(srv.fqdn)  # the CMS pushes to the new replica (§7.2)
            front = srv.service("RTCSRV")
            state = front.status if front is not None else "n/a"
        done.append(f"services started (RTCSRV {state})")
        return f"Deployment Wizard Steps 1-4 on {srv.fqdn}: " + "; ".join(done) + "."

    def bootstrap_cms_pool(self, _rest: str, _text: str) -> str:
        """§6.15b: Bootstrapper on the other Front Ends of the pool now hosting the CMS."""
        ran: list[str] = []
        for srv in self.dep.lync_servers(self.dep.cms_pool):
            if not srv.reachable:
                continue
            result = self.run(srv.fqdn, BOOTSTRAPPER)
            if result.code != 0:
                raise HandsError(f"Bootstrapper failed on {srv.fqdn}: {result.first_error}")
            self.run(srv.fqdn, "Start-CsWindowsService")
            ran.append(srv.fqdn)
        if self.dep.cms_functional():
            self.dep.replicate()
        return f"Bootstrapper ran on {', '.join(ran) or 'no server'} of {self.dep.cms_pool} (§6.15b)."

    # ------------------------------------------------------------------ Topology Builder
    def clear_mirroring(self, pool_fqdn: str, text: str) -> str:
        """§6.5 steps 3-4: clear 'Enable SQL Server store mirroring', publish; set the SQL Server
        store to the surviving server, publish again."""
        pool = self.dep.pool(pool_fqdn)
        host = pool.spec.servers[0]
        self._cms_or_fail("Topology Builder")
        survivor = self._named_store(_SET_STORE, text, "SQL Server store")
        with self.dep.lock:
            self.dep.mirror_override[pool.fqdn.lower()] = None
            self.dep.witness_override[pool.fqdn.lower()] = None  # no mirroring, no witness
            self.dep.mirroring_changed_now(pool.fqdn)
            self._publish(host, f"mirroring of {pool.fqdn} cleared")
            self.dep.store_override[pool.fqdn.lower()] = self.dep.instance_key_of(survivor)
            self._publish(host, f"SQL Server store of {pool.fqdn} = {survivor.data_source}")
        return f"Topology Builder: mirroring of {pool.fqdn} cleared and its SQL Server store set " \
               f"to {survivor.data_source}; published twice (§6.5 steps 3-4)."

    def create_mirror(self, pool_fqdn: str, text: str) -> str:
        """§6.2 step 10 / §6.4 step 3 / §6.5 step 8 / §6.6 step 3: enable mirroring with the named
        mirror, publish, Install Database -> Create Mirror Database."""
        pool = self.dep.pool(pool_fqdn)
        host = pool.spec.servers[0]
        self._cms_or_fail("Topology Builder")
        mirror = self._named_store(_SET_MIRROR, text, "mirroring SQL Server store")
        with self.dep.lock:
            store = self.dep.pool_sql(pool.fqdn)
            if store is None:
                raise HandsError(f"{pool.fqdn} has no SQL Server store in the topology; nothing "
                                 "was changed.")
            if store is mirror:
                raise HandsError(f"Topology Builder refused: {mirror.data_source} is already the SQL "
                                 f"Server store of {pool.fqdn} and cannot be its own mirror.")
            self.dep.mirror_override[pool.fqdn.lower()] = self.dep.instance_key_of(mirror)
            witness = self._named_store(_SET_WITNESS, text, "witness") if _SET_WITNESS.search(text) else None
            self.dep.witness_override[pool.fqdn.lower()] = self.dep.instance_key_of(witness) if witness else None
            self.dep.mirroring_changed_now(pool.fqdn)
            self._publish(host, f"mirroring of {pool.fqdn} to {mirror.data_source}"
                                + (f", witness {witness.data_source}" if witness else ", no witness"))
            if not self.dep.sql_up(store) or not self.dep.sql_up(mirror):
                down = store if not self.dep.sql_up(store) else mirror
                raise HandsError(f"Install Database could not connect to {down.data_source}; the "
                                 "topology was published but no database was created.")
            stores = topology_stores(self.dep, store)
            _create_stores(self.dep, store, stores)  # "Create databases" (missing ones only)
            names = [n for s in stores for n in _store_databases(s)]
            mirrored: list[str] = []
            for name in names:
                src = store.database(name)
                if src is None or src.state != "ONLINE":
                    continue
                copy_db = src.snapshot()
                copy_db.state = "RESTORING"
                copy_db.mirroring_role = "MIRROR"
                if mirror.database(name) is not None:
                    mirror.drop_database(name)
                mirror.add_database(copy_db)
                src.mirroring_role = "PRINCIPAL"
                src.recovery_model = "FULL"
                mirrored.append(name)
            scp = self.dep.scp
            if (scp is not None and "xds" in mirrored
                    and self.dep.instance(scp.sql_server, scp.sql_instance) is store):
                scp.mirror_server, scp.mirror_instance = mirror.server, mirror.instance
        self.listen(mirror.server)
        return f"Topology Builder: mirroring of {pool.fqdn} enabled to {mirror.data_source}, " \
               f"published, and {len(mirrored)} mirror database(s) created (Create Mirror Database)."

    def edge_next_hop(self, _edge: str, text: str) -> str:
        """§6.16 step 2 (same site): the Edge pool's next hop in Topology Builder, published."""
        match = _NEXT_HOP.search(text)
        if match is None:
            raise HandsError("The instructions name no next hop; nothing was changed.")
        edge, hop = match.group(1).lower(), match.group(2).lower()
        self._cms_or_fail("Topology Builder")
        with self.dep.lock:
            cfg = self.dep.cms_config()
            assert cfg is not None
            hops = dict(cfg["topology"].get("edge_next_hop", {}))
            hops[edge] = hop
            self.dep.bump_config({"topology": dict(cfg["topology"], edge_next_hop=hops)})
            self.dep.log(hop, f"Topology Builder published: next hop of {edge} = {hop}")
        return f"Topology Builder: the next hop of {edge} is now {hop}; published (§6.16 step 2)."

    def federation_route(self, _lost: str, text: str) -> str:
        """§6.21 Federation route: Topology Builder clears 'Enable federation' on one Edge pool, ticks it
        on another and publishes. Only one Edge pool can be published for federation."""
        changes = {m.group(1).lower(): m.group(2) for m in _FEDERATION.finditer(text)}
        ticked = [pool for pool, change in changes.items() if change == "tick"]
        if len(ticked) != 1:
            raise HandsError("The instructions name no single Edge pool to publish for federation; nothing "
                             "was changed.")
        new = ticked[0]
        self._cms_or_fail("Topology Builder")
        with self.dep.lock:
            if new not in self.dep.pools or self.dep.pool(new).spec.role != "edge":
                raise HandsError(f"Topology Builder knows no Edge pool {new}; nothing was changed.")
            old = self.dep.federation_edge()
            if old not in (None, new) and changes.get(old) != "clear":
                raise HandsError(f"Topology Builder refused to publish: only one Edge pool can be enabled for "
                                 f"federation and {old} still is (§6.21).")
            cfg = self.dep.cms_config()
            assert cfg is not None
            self.dep.bump_config({"topology": dict(cfg["topology"], federation_edge=new)})
            self.dep.log(new, f"Topology Builder published: federation moved from {old} to {new}")
        return f"Topology Builder: federation (port 5061) moved from {old} to {new}; published (§6.21)."

    def edge_setup_again(self, pool_fqdn: str, _text: str) -> str:
        """§6.21: Deployment Wizard 'Setup or Remove Lync Server Components' run again on each server of
        the Edge pool (Bootstrapper on the Edge itself: it reads the topology from the local store)."""
        pool = self.dep.pool(pool_fqdn)
        done: list[str] = []
        for fqdn in pool.spec.servers:
            srv = self._server(fqdn)
            result = self.run(srv.fqdn, BOOTSTRAPPER)
            if result.code != 0:
                raise HandsError(f"Setup failed on {srv.fqdn}: {result.first_error}")
            done.append(srv.fqdn + ("" if srv.fqdn in self.dep.federation_setup else " (without federation: its "
                                    "local store did not hold the published topology)"))
        return f"Deployment Wizard 'Setup or Remove Lync Server Components' ran again on {', '.join(done)} (§6.21)."

    def edge_media(self, _lost: str, text: str) -> str:
        """§6.21 Media association: each named Front End pool's 'Associate Edge pool (for media
        components)' in Topology Builder, published."""
        pairs = [(m.group(1).lower(), m.group(2).lower()) for m in _MEDIA.finditer(text)]
        if not pairs:
            raise HandsError("The instructions name no Front End pool to associate; nothing was changed.")
        self._cms_or_fail("Topology Builder")
        with self.dep.lock:
            for fe, edge in pairs:
                if fe not in self.dep.pools or edge not in self.dep.pools \
                        or self.dep.pool(edge).spec.role != "edge":
                    raise HandsError(f"Topology Builder knows no Front End pool {fe} or Edge pool {edge}; nothing "
                                     "was changed.")
            cfg = self.dep.cms_config()
            assert cfg is not None
            media = dict(cfg["topology"].get("edge_media", {}), **dict(pairs))
            self.dep.bump_config({"topology": dict(cfg["topology"], edge_media=media)})
            self.dep.log(pairs[0][1], "Topology Builder published: media association of "
                                      + ", ".join(f"{fe} = {edge}" for fe, edge in pairs))
        return "Topology Builder: " + "; ".join(f"{fe} uses {edge} for media" for fe, edge in pairs) \
            + "; published (§6.21)."

    # ------------------------------------------------------------------ Windows
    def share_file_store(self, store_id: str, _text: str) -> str:
        """§6.9: the file store's folder at its old path, shared under its old name."""
        fs = self.dep.plan.file_store(store_id)
        srv = self._server(fs.server)
        root = self.dep.paths.unc(fs.server, fs.share)
        existed = root.is_dir()
        root.mkdir(parents=True, exist_ok=True)
        self.dep.log(srv.fqdn, f"share {fs.share} created by hand")
        return f"\\\\{fs.server}\\{fs.share} {'was already' if existed else 'is now'} shared (§6.9)."


# ---------------------------------------------------------------------- database helpers
class _Quiet:
    """The Invocation face the lab's database helpers need, for work done outside a cmdlet."""

    name = "Topology Builder"

    def write_verbose(self, message: str) -> None:
        return None

    def error(self, message: str, *args: object, **kwargs: object) -> Exception:
        return HandsError(message)


def _create_stores(dep: LabDeployment, inst: SqlInstanceState, stores: list[str]) -> list[str]:
    """Create the stores' databases that are missing on ``inst`` (never drops anything)."""
    return create_databases(dep, inst, stores, False, _Quiet())  # type: ignore[arg-type]


def _store_databases(store: str) -> tuple[str, ...]:
    return tuple(STORE_DATABASES[store])


__all__ = ["BOOTSTRAPPER", "HandsError", "LabHands", "ScriptResult"]
