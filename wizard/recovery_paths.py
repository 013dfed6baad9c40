"""Recovery paths: the shared vocabulary of assessment, the catalogue, procedures and the UI.

Each path is one of the recoveries the domain reference describes (§5.2 table, §5.3 taxonomy,
§6 procedures). Assessment recommends a path; the catalogue checks a backup set against the
components the path needs; the procedure library composes the path's steps; the runbook and
the UI name paths by ``id``.

Components are the parts of one backup set (§3 layout): ``config`` (Config.zip), ``lis``
(E911Config.zip), ``user_data`` (per pool), ``rgs`` (per Response Group pool),
``persistent_chat`` (export or mgc.bak), ``monitoring``/``archiving`` (.bak), ``file_store``,
``audio``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RecoveryPath:
    id: str
    title: str
    sections: tuple[str, ...]  # domain reference sections, in order of use
    outage_classes: tuple[str, ...]  # §5.3 letters this path answers
    restores_from_backup: bool  # needs a backup set (the Backup set stage runs)
    components: tuple[str, ...]  # backup components it needs (per pool where it applies)
    summary: str


PATHS: tuple[RecoveryPath, ...] = (
    RecoveryPath("member-rebuild", "Rebuild a member server with the same FQDN", ("6.1", "6.7"),
                 ("A", "F", "H"), False, (),
                 "One Front End, Director, Mediation, Persistent Chat or Edge server lost; the pool keeps "
                 "running. Rebuild it with the Deployment Wizard (Edge: local store from an exported zip)."),
    RecoveryPath("quorum-recovery", "Recover routing-group quorum", ("5.4", "5.3"), ("A",), False, (),
                 "Routing groups in quorum loss without pool-level quorum loss: "
                 "Reset-CsPoolRegistrarState -ResetType QuorumLossRecovery."),
    RecoveryPath("se-restore", "Restore a Standard Edition server", ("6.1", "6.3", "6.9", "6.13", "6.12"),
                 ("B", "E"), True, ("user_data", "rgs", "file_store"),
                 "Rebuild the SE server with the same FQDN, copy the file store back, run the Deployment "
                 "Wizard, import user data with services stopped, Response Group, Persistent Chat."),
    RecoveryPath("cms-restore", "Restore the server hosting the CMS", ("6.1", "6.2", "6.13", "6.12", "6.10"),
                 ("C",), True, ("config", "lis", "user_data", "rgs", "file_store"),
                 "No paired pool: recreate the CMS store (Install-CsDatabase -CentralManagementDatabase "
                 "-Clean), point AD at it, Import-CsConfiguration, Enable-CsTopology, then the rest."),
    RecoveryPath("cms-failover", "Fail the CMS over to the paired pool", ("6.15",), ("C",), False, ("lis",),
                 "Paired pool with a standby CMS: Invoke-CsManagementServerFailover from the backup pool, "
                 "then import LIS there. No failback needed."),
    RecoveryPath("be-restore", "Restore an Enterprise Edition Back End", ("6.1", "6.4", "6.13", "6.12", "6.10"),
                 ("B",), True, ("user_data", "rgs"),
                 "Back End lost, not mirrored (or both nodes): reinstall SQL with the same instance name, "
                 "recreate the databases, import user data with services stopped, Response Group."),
    RecoveryPath("be-mirror-primary", "Mirrored Back End: primary lost", ("6.18", "6.5"), ("B",), False, (),
                 "Fail every database type over to the mirror (unless the witness did), remove mirroring, "
                 "rebuild the old primary as the new mirror."),
    RecoveryPath("be-mirror-mirror", "Mirrored Back End: mirror lost", ("6.6",), ("B",), False, (),
                 "Remove mirroring for every database type, rebuild the mirror, recreate the mirror databases."),
    RecoveryPath("pool-failover", "Fail the pool over to its paired pool", ("6.15", "6.16"), ("B", "E"),
                 False, ("lis", "rgs"),
                 "Paired pool down and users need service: CMS failover if needed, move the Edge next hop, "
                 "Invoke-CsPoolFailover -DisasterMode, then LIS and Response Group into the backup pool."),
    RecoveryPath("pool-failback", "Fail the pool back to its rebuilt home", ("6.17", "6.14"), ("B", "E"),
                 False, ("rgs",),
                 "Home pool repaired: Invoke-CsPoolFailback, pull conference content back, move Response "
                 "Group home."),
    RecoveryPath("pool-restore", "Restore a whole pool from backup", ("6.8", "6.2", "6.4", "6.7", "6.9", "6.13",
                                                                      "6.12", "6.10", "6.11"),
                 ("E",), True, ("config", "lis", "user_data", "rgs", "file_store"),
                 "Unpaired pool lost: CMS (if hosted) -> Back End -> file store -> every Front End -> "
                 "Response Group, LIS, user data -> Monitoring/Archiving/Persistent Chat data."),
    RecoveryPath("file-store-restore", "Restore a file store", ("6.9",), ("D",), True, ("file_store",),
                 "Copy the share back to the identical path and share name; Enable-CsTopology resets ACLs."),
    RecoveryPath("conference-content-sync", "Pull conference content from the paired pool", ("6.14",), ("D",),
                 False, (),
                 "Paired pools: Invoke-CsBackupServiceSync -BackupModule ConfServices.DataConf, then watch "
                 "the Backup Service reach steady state."),
    RecoveryPath("monitoring-archiving-restore", "Recreate Monitoring/Archiving databases", ("6.10",), ("G",),
                 True, ("monitoring", "archiving"),
                 "Recreate LcsCDR/QoEMetrics/LcsLog; restore their data from SQL backups only if the "
                 "business needs it; check the RTCComponentUniversalServices ACL."),
    RecoveryPath("pchat-restore", "Restore Persistent Chat data", ("6.11",), ("H",), True, ("persistent_chat",),
                 "Recreate mgc and restore it with the same method used to back it up (SQL restore or "
                 "Import-CsPersistentChatData)."),
    RecoveryPath("pchat-failover", "Fail Persistent Chat over (log shipping)", ("6.20",), ("H",), False, (),
                 "Stretched pool with log shipping: bring the backup mgc online, set the pool FailedOver, "
                 "set active servers."),
    RecoveryPath("edge-dr", "Move federation and media off a lost Edge pool", ("6.21",), ("F",), False, (),
                 "Whole Edge pool lost: federation route in Topology Builder, XMPP route with Set-CsSite, "
                 "associate Front End pools with a surviving Edge pool."),
    RecoveryPath("abc-failover", "Replace a lost paired pool with a new pool (ABC)", ("6.15", "6.16", "6.19"),
                 ("E",), False, ("lis", "rgs", "audio"),
                 "Pool A lost for good: fail over to its partner B, build pool C, move A's users, conference "
                 "directories and data to C, start C, re-pair B with C."),
    RecoveryPath("cms-move", "Move the CMS to another pool (manual DR move)", ("6.15b",), ("C",), True,
                 ("config", "lis"),
                 "CMS on a Lync 2010 pool (or, inferred, any manual DR move): Install-CsDatabase "
                 "-CentralManagementDatabase in the target pool, then Move-CsManagementServer there."),
    RecoveryPath("config-rollback", "Roll back a bad configuration change", ("5.3",), ("I",), True,
                 ("config",),
                 "Import-CsConfiguration from the export taken before the change (reverts everything since), "
                 "replicate, and check every replica is up to date. (inferred flow, §5.3 I)"),
)

BY_ID: dict[str, RecoveryPath] = {p.id: p for p in PATHS}


def get(path_id: str) -> RecoveryPath:
    try:
        return BY_ID[path_id]
    except KeyError:
        known = ", ".join(BY_ID)
        raise KeyError(f"unknown recovery path '{path_id}' (known: {known})") from None
