"""Native programs of the lab's Windows hosts: robocopy, whoami and the Lync Deployment Wizard.

``robocopy`` copies real files on the lab's disk with the switches the wizard and the docs use
(``/E /S /MIR /XF /XD /R: /W: /NP /NFL /NDL /NJH /NJS /LOG:``) and robocopy's exit-code bits:
1 files copied, 2 extra files in the destination, 4 mismatches; 8 or more is a failure
(16: a fatal error such as a missing source, or a share that does not answer: ERROR 53).

``whoami`` (:mod:`lab.whoami`) prints the logon's user and the groups of its token.

``Bootstrapper.exe`` (``C:\\Program Files\\Microsoft Lync Server 2013\\Deployment``, §11.45)
stands for Deployment Wizard steps 1-2 on the local host (§6.1): the local configuration store
is filled from the CMS (or, on an Edge, from a file imported with ``Import-CsConfiguration
-LocalStore``), the components are installed with their services stopped, and on a Standard
Edition server the collocated databases are created.
"""

from __future__ import annotations

import fnmatch
import shutil
from collections.abc import Callable, Mapping
from pathlib import Path

from lab.model import LabDeployment
from lab.powershell.evaluator import NativeContext, NativeHandler
from lab.powershell.vfs import AccessDenied, VFSError
from lab.whoami import whoami


class _NetworkPathNotFound(VFSError):
    """The server of a UNC path does not answer from this host (down, or SMB dropped)."""


def _robocopy(dep: LabDeployment, host: str, ctx: NativeContext) -> int:
    args = list(ctx.args)
    paths: list[str] = []
    options: list[str] = []
    for arg in args:
        (options if arg.startswith("/") else paths).append(arg)
    xf: list[str] = []
    xd: list[str] = []
    mode = ""
    patterns: list[str] = []
    flags = set()
    for i, opt in enumerate(args):
        up = opt.upper()
        if up in ("/XF", "/XD"):
            mode = up
            continue
        if opt.startswith("/"):
            mode = ""
            flags.add(up.split(":")[0])
            continue
        if mode == "/XF":
            xf.append(opt)
        elif mode == "/XD":
            xd.append(opt)
        elif len([a for a in args[:i] if not a.startswith("/")]) >= 2 and opt not in paths[:2]:
            patterns.append(opt)
    sources = [p for p in args if not p.startswith("/")]
    if len(sources) < 2:
        ctx.write_stdout("ERROR : Invalid Parameter #1 : \"robocopy\"\n\n"
                         "Usage :: ROBOCOPY source destination [file [file]...] [options]")
        return 16
    src_text, dst_text = sources[0], sources[1]
    patterns = [p for p in sources[2:] if p not in xf and p not in xd] or ["*.*"]
    try:
        src = _path(dep, host, ctx, src_text)
        dst = _path(dep, host, ctx, dst_text)
    except AccessDenied as exc:
        which = src_text if str(exc) == src_text else dst_text
        role = "Source" if which == src_text else "Destination"
        ctx.write_stdout(f"ERROR 5 (0x00000005) Accessing {role} Directory {which}\\\n"
                         "Access is denied.")
        return 16
    except _NetworkPathNotFound as exc:
        role = "Source" if str(exc) == src_text else "Destination"
        ctx.write_stdout(f"ERROR 53 (0x00000035) Accessing {role} Directory {exc}\\\n"
                         "The network path was not found.")
        return 16
    except VFSError:
        ctx.write_stdout(f"ERROR 3 (0x00000003) Accessing Source Directory {src_text}\n"
                         "The system cannot find the path specified.")
        return 16
    if not src.is_dir():
        ctx.write_stdout(f"ERROR 3 (0x00000003) Accessing Source Directory {src_text}\\\n"
                         "The system cannot find the path specified.")
        return 16
    recurse = bool(flags & {"/E", "/S", "/MIR"})
    mirror = "/MIR" in flags or "/PURGE" in flags
    copied = extra = skipped = 0

    def match(name: str, pats: list[str]) -> bool:
        return any(fnmatch.fnmatch(name.lower(), p.lower().replace("*.*", "*")) for p in pats)

    files = src.rglob("*") if recurse else src.glob("*")
    wanted: set[Path] = set()
    for path in sorted(files):
        rel = path.relative_to(src)
        if any(match(part, xd) for part in rel.parts[:-1]) or (path.is_dir() and match(path.name, xd)):
            continue
        if path.is_dir():
            if "/E" in flags or "/MIR" in flags:
                (dst / rel).mkdir(parents=True, exist_ok=True)
                wanted.add(dst / rel)
            continue
        if match(path.name, xf) or not match(path.name, patterns):
            continue
        target = dst / rel
        wanted.add(target)
        if target.is_file():
            here, there = path.stat(), target.stat()
            if (here.st_size, int(here.st_mtime)) == (there.st_size, int(there.st_mtime)):
                continue  # "Same": robocopy compares size and last-write time, never content
            if "/XO" in flags and here.st_mtime < there.st_mtime:
                skipped += 1  # /XO: an older source file never replaces a newer destination
                continue
        target.parent.mkdir(parents=True, exist_ok=True)
        for inst in dep.instances_on(_server_of(dep, host, dst_text)):
            if inst.fault_disk_full:
                ctx.write_stdout(f"ERROR 112 (0x00000070) Copying File {path.name}\n"
                                 "There is not enough space on the disk.")
                return 8
        shutil.copy2(path, target)  # /COPY:DAT by default: data, attributes, timestamps
        copied += 1
        if "/NFL" not in flags:
            ctx.write_stdout(f"\t  New File  \t\t{path.stat().st_size}\t{rel}")
    if dst.is_dir():
        for path in sorted(dst.rglob("*"), reverse=True):
            if path in wanted or any(p in wanted for p in [path]):
                continue
            if path.is_file() and not match(path.name, xf):
                if mirror:
                    path.unlink()
                extra += 1
    if "/NJS" not in flags:
        ctx.write_stdout(f"               Total    Copied   Skipped  Mismatch    FAILED    Extras\n"
                         f"    Files :  {copied + skipped:>8}  {copied:>8}  {skipped:>8}         0         0"
                         f"  {extra:>8}")
    dep.log(host, f"robocopy {src_text} -> {dst_text}: {copied} file(s) copied")
    return (1 if copied else 0) | (2 if extra else 0)


def _server_of(dep: LabDeployment, host: str, path: str) -> str:
    full = path.replace("/", "\\")
    if full.startswith("\\\\"):
        return dep.paths.fqdn(full[2:].split("\\", 1)[0])
    return dep.paths.fqdn(host)


def _path(dep: LabDeployment, host: str, ctx: NativeContext, text: str) -> Path:
    full = ctx.session.fs.absolute(text.rstrip("\\") or text)
    if not dep.paths.reachable(full, host):
        raise _NetworkPathNotFound(text)
    if dep.paths.hop_denied(full, host):
        raise AccessDenied(text)
    return dep.paths.resolve(full, host)


def _bootstrapper(dep: LabDeployment, host: str, ctx: NativeContext) -> int:
    with dep.lock:
        srv = dep.server(host)
        if srv.kind != "lync":
            ctx.write_stdout(f"Bootstrapper: {srv.fqdn} is not defined in the topology.")
            return 1
        pool = dep.pool_of(host)
        version = srv.replica_version
        if pool is not None and pool.spec.role != "edge":
            # Step 1 "retrieve directly from the Central Management store" reads the store's database:
            # the first server of a restored CMS pool (or an SE hosting it) installs before any master runs
            problem = dep.cms_problem(master=False)
            if problem is not None:
                ctx.write_stdout(f"Bootstrapper: cannot read the topology: {problem}.")
                return 1
            version = dep.config_version()
            srv.replica_reported = True  # filled from the CMS by replication: the master knows it
        elif not version:
            ctx.write_stdout("Bootstrapper: the local configuration store is empty. Import the "
                             "configuration with Import-CsConfiguration -LocalStore first.")
            return 1
        srv.lync_installed = True
        srv.replica_version = version
        srv.last_update_creation = dep.now
        if pool is not None and pool.spec.role == "edge" and version and version == dep.config_version():
            # setup reads the topology from the local store: federation is set up on this Edge when the
            # store holds the current topology and it publishes this pool for federation (§6.21)
            if dep.federation_edge() == pool.fqdn.lower():
                dep.federation_setup.add(srv.fqdn)
            else:
                dep.federation_setup.discard(srv.fqdn)
        for svc in srv.services.values():
            svc.status = "Stopped"
        if pool is not None and pool.spec.role == "front_end" and pool.spec.edition == "standard":
            inst = dep.pool_sql(pool.fqdn)
            if inst is not None:
                from lab.cmdlets.databases import create_databases, topology_stores

                class _Quiet:
                    name = "Bootstrapper"

                    def write_verbose(self, message: str) -> None:
                        ctx.write_stdout(message)

                    def error(self, message: str, *a: object, **k: object) -> Exception:
                        raise RuntimeError(message)

                stores = [s for s in topology_stores(dep, inst) if s != "CentralMgmtStore"]
                create_databases(dep, inst, stores, False, _Quiet())  # type: ignore[arg-type]
        ctx.write_stdout(f"Bootstrapper: Lync Server components installed on {srv.fqdn}; "
                         "services are stopped.")
        dep.log(srv.fqdn, "Deployment Wizard steps 1-2 (Bootstrapper)")
        return 0


def lab_natives(dep: LabDeployment, host: str) -> Mapping[str, NativeHandler]:
    """The native programs available on ``host``."""

    def bind(fn: Callable[[LabDeployment, str, NativeContext], int]) -> NativeHandler:
        return lambda ctx: fn(dep, host, ctx)

    def _whoami(dep: LabDeployment, host: str, ctx: NativeContext) -> int:
        with dep.lock:
            return whoami(dep.directory, dep.admin_accounts()[0], host, ctx)

    return {"robocopy": bind(_robocopy), "bootstrapper": bind(_bootstrapper), "whoami": bind(_whoami)}
