"""The restore plan: what an organisation writes down, before the incident, about its Lync.

Every class here is a frozen dataclass whose fields carry a docstring (``spec(doc)``); the
same classes validate plans (``wizard.plan.loader``) and generate ``plans/schema.json``.
Domain references (§n) point at ``shared/domain/lync2013-backup-restore.md``.

The plan holds no secret: credentials name a *source* (prompt, environment variable,
keyring entry), never a password.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from wizard.plan.schema import Duration, spec

FQDN = r"^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$"
IDENT = r"^[A-Za-z][A-Za-z0-9_.-]{0,63}$"
SQL_INSTANCE_NAME = r"^[A-Za-z_][A-Za-z0-9_$#]{0,15}$"
# Values that reach commands (Import-CsConfiguration -FileName '...', robocopy "..." ...): no control
# characters and no double quote (Windows PowerShell 5.1 does not escape one for a native program),
# nor the other characters Windows forbids in a file name.
_NAME_CHARS = r'[^\\/:*?"<>|\x00-\x1f\x7f]'
SHARE = rf"^{_NAME_CHARS}{{1,80}}$"
UNC = rf"^\\\\[A-Za-z0-9._-]+(\\{_NAME_CHARS}+)+\\?$"
FILE_NAME = rf"^{_NAME_CHARS}{{1,120}}$"  # one file or folder name inside a backup set

PoolRole = Literal["front_end", "director", "edge", "mediation", "persistent_chat"]
Edition = Literal["standard", "enterprise"]
WinRMAuth = Literal["ntlm", "kerberos", "credssp", "basic"]
Component = Literal[
    "config", "lis", "user_data", "rgs", "persistent_chat", "monitoring", "archiving",
    "file_store", "audio",
]

#: Named points in the incident flow where an organisation may attach its own steps.
HOOKS = (
    "before_assessment",
    "after_assessment",
    "before_restore",
    "after_cms",
    "after_back_end",
    "after_file_store",
    "after_front_ends",
    "after_failover",
    "before_verify",
    "after_verify",
)
Hook = Literal[
    "before_assessment", "after_assessment", "before_restore", "after_cms", "after_back_end",
    "after_file_store", "after_front_ends", "after_failover", "before_verify", "after_verify",
]


@dataclass(frozen=True, kw_only=True)
class Organisation:
    """Who this plan belongs to."""

    name: str = spec("organisation name, shown on every screen and in live-mode confirmations")
    sip_domains: list[str] = spec("SIP domains served by this deployment", min_items=1)
    ad_domain: str | None = spec("Active Directory DNS domain (e.g. contoso.local)", default=None,
                                 pattern=FQDN)
    notes: str | None = spec("free text for the on-call engineer", default=None)


@dataclass(frozen=True, kw_only=True)
class Site:
    """A Lync central site (Topology Builder: Sites)."""

    name: str = spec("site name as in Topology Builder", pattern=IDENT)
    city: str | None = spec("where the data centre is", default=None)


@dataclass(frozen=True, kw_only=True)
class SqlInstance:
    """A SQL Server instance holding Lync databases (Back End, Monitoring, Archiving, PChat)."""

    id: str = spec("name used to refer to this instance elsewhere in the plan", pattern=IDENT)
    server: str = spec("SQL Server FQDN (always an FQDN: short names time out, §11.13)", pattern=FQDN)
    instance: str | None = spec("instance name (e.g. rtc); omit for the default instance",
                                default=None, pattern=SQL_INSTANCE_NAME)
    site: str = spec("site this instance lives in")
    mirror: str | None = spec("id of the SQL instance that mirrors this one (§6.5, §6.6)", default=None)
    witness: str | None = spec("id of the SQL instance acting as mirroring witness", default=None)
    version: Literal["2008R2", "2012"] | None = spec("SQL Server version (§6.1: 2008 R2 or 2012)",
                                                     default=None)
    credential: str | None = spec("id of the credential used for SQL logins (default: sql_default)",
                                  default=None)


@dataclass(frozen=True, kw_only=True)
class FileStore:
    """A Lync file store share (Topology Builder: File stores)."""

    id: str = spec("name used to refer to this file store", pattern=IDENT)
    server: str = spec("file server FQDN (for Standard Edition, the SE server itself)", pattern=FQDN)
    share: str = spec("share name: the restore must recreate exactly this name (§6.9)", pattern=SHARE)
    site: str = spec("site this file store lives in")


@dataclass(frozen=True, kw_only=True)
class Pool:
    """A pool: Front End (Standard or Enterprise), Director, Edge, Mediation or Persistent Chat."""

    fqdn: str = spec("pool FQDN (for Standard Edition, the server FQDN)", pattern=FQDN)
    role: PoolRole = spec("what the pool does")
    site: str = spec("site of the pool")
    servers: list[str] = spec("FQDNs of the pool's servers, in the order they were first started "
                              "(that order matters for quorum, §5.4)", min_items=1)
    edition: Edition = spec("Standard or Enterprise Edition (front_end pools)", default="enterprise")
    back_end: str | None = spec("id of the Back End SQL instance (Enterprise front_end pools)",
                                default=None)
    file_store: str | None = spec("id of the file store this pool uses", default=None)
    paired_with: str | None = spec("FQDN of the backup pool (pairing is 1:1 and reciprocal, §1)",
                                   default=None)
    response_group: bool = spec("whether the pool runs Response Group (§6.12)", default=False)
    test_users: bool = spec("front_end pools: health-monitoring test users are configured "
                            "(New-CsHealthMonitoringConfiguration, §7.2), so synthetic transactions run "
                            "without a user's credentials", default=True)
    monitoring_store: str | None = spec("id of the SQL instance holding LcsCDR/QoEMetrics",
                                        default=None)
    archiving_store: str | None = spec("id of the SQL instance holding LcsLog", default=None)
    persistent_chat_store: str | None = spec("id of the SQL instance holding mgc "
                                             "(persistent_chat pools)", default=None)
    persistent_chat_backup: Literal["sql", "export"] = spec(
        "how mgc is backed up; the restore must use the same method (§6.11)", default="sql")
    next_hop: str | None = spec("edge pools: FQDN of the Front End pool or Director used as "
                                "next hop (§6.16 step 2)", default=None)


@dataclass(frozen=True, kw_only=True)
class CentralManagement:
    """Where the Central Management store lives (§1, §6.2)."""

    pool: str = spec("FQDN of the front_end pool whose Back End (or SE server) hosts xds/lis")


@dataclass(frozen=True, kw_only=True)
class Topology:
    """The Lync 2013 topology as published (Topology Builder)."""

    sites: list[Site] = spec("central sites", min_items=1)
    pools: list[Pool] = spec("every pool, Front End or other", min_items=1)
    central_management: CentralManagement = spec("where the CMS store lives")
    sql_instances: list[SqlInstance] = spec("SQL Server instances", default_factory=list)
    file_stores: list[FileStore] = spec("file store shares", default_factory=list)


@dataclass(frozen=True, kw_only=True)
class BackupLocation:
    """Where backup sets are kept ($Backup, §3)."""

    name: str = spec("a short name for this location", pattern=IDENT)
    unc: str = spec(r"UNC path of the folder holding one sub-folder per backup set (\\server\share)",
                    pattern=UNC)
    local_path: str | None = spec("where the wizard's machine can read the same folder (a mount)",
                                  default=None)
    read_via: str | None = spec("FQDN of a host that lists the share over WinRM when there is no "
                                "local mount", default=None)
    site: str | None = spec("the topology site this location is in (lost with it); default: the "
                            "site of the UNC server when the topology names it, else off-site",
                            default=None)


@dataclass(frozen=True, kw_only=True)
class SetLayout:
    """File names inside one backup set (§3, inferred layout); ``{pool}`` is a pool FQDN."""

    folder_format: str = spec("strftime format of a set's folder name", default="%Y-%m-%d_%H%M", pattern=FILE_NAME)
    config: str = spec("Export-CsConfiguration zip", default="Config.zip", pattern=FILE_NAME)
    lis: str = spec("Export-CsLisConfiguration zip", default="E911Config.zip", pattern=FILE_NAME)
    user_data: str = spec("Export-CsUserData zip per pool", default="UserData_{pool}.zip", pattern=FILE_NAME)
    rgs: str = spec("Export-CsRgsConfiguration zip per Response Group pool", default="Rgs_{pool}.zip", pattern=FILE_NAME)
    persistent_chat_export: str = spec("Export-CsPersistentChatData zip per PChat pool",
                                       default="PChat_{pool}.zip", pattern=FILE_NAME)
    sql_folder: str = spec("folder of SQL .bak files (LcsLog, LcsCDR, QoEMetrics, mgc)",
                           default="sql", pattern=FILE_NAME)
    filestore_folder: str = spec("folder of the robocopy'd file stores, one sub-folder per share",
                                 default="filestore", pattern=FILE_NAME)
    audio_folder: str = spec("folder of custom audio copies", default="audio", pattern=FILE_NAME)
    manifest: str = spec("wizard metadata file", default="manifest.json", pattern=FILE_NAME)


@dataclass(frozen=True, kw_only=True)
class ScheduleEntry:
    """How often a component is backed up (§2.5)."""

    component: Component = spec("what is backed up")
    every: Duration = spec("interval between backups, e.g. 24h")


@dataclass(frozen=True, kw_only=True)
class Backup:
    """Backup locations, the layout of one set, and the schedule."""

    locations: list[BackupLocation] = spec("backup locations, most preferred first", min_items=1)
    schedule: list[ScheduleEntry] = spec("backup interval per component", min_items=1)
    layout: SetLayout = spec("names inside one backup set", default_factory=SetLayout)
    retention_days: int | None = spec("how long sets are kept", default=None, minimum=1)


@dataclass(frozen=True, kw_only=True)
class Objectives:
    """Recovery objectives."""

    rpo: Duration = spec("recovery point objective: the most data (in time) the business may lose")
    rto: Duration = spec("recovery time objective: how long restoring service may take")


@dataclass(frozen=True, kw_only=True)
class WinRMSettings:
    """How to reach a host's WinRM service."""

    scheme: Literal["https", "http"] | None = spec("https (default) or http (needs insecure: true)",
                                                   default=None)
    port: int | None = spec("TCP port (default 5986 for https, 5985 for http)", default=None,
                            minimum=1, maximum=65535)
    auth: WinRMAuth | None = spec("authentication (default ntlm); kerberos takes the service "
                                  "principal HTTP/<fqdn> from the host's FQDN, never its address",
                                  default=None)
    delegate: bool | None = spec("kerberos: forward the ticket to hosts trusted for delegation in "
                                 "AD, so they can read other servers' shares (the second hop)",
                                 default=None)
    krb5_config: str | None = spec("kerberos: the krb5.conf to use (default KRB5_CONFIG, else "
                                   "/etc/krb5.conf); with credssp, Kerberos is used inside it "
                                   "when this is set, else NTLM", default=None)
    ca_bundle: str | None = spec("PEM bundle used to validate the server certificate", default=None)
    insecure: bool | None = spec("allow plain http for this host (journaled as a warning)",
                                 default=None)
    path: str | None = spec("URL path (default /wsman)", default=None, pattern=r"^/[A-Za-z0-9/._-]*$")


@dataclass(frozen=True, kw_only=True)
class SqlSettings:
    """How to reach SQL Server."""

    driver: str | None = spec("ODBC driver name or absolute path (default: found in odbcinst)",
                              default=None)
    encrypt: Literal["strict", "mandatory", "optional", "off"] | None = spec(
        "TLS for the SQL connection (default mandatory)", default=None)
    trust_server_certificate: bool | None = spec("skip certificate validation (not recommended)",
                                                 default=None)
    ca_bundle: str | None = spec("PEM file of the CAs SQL Server certificates are checked against "
                                 "(ODBC Driver 17/18: handed to OpenSSL as SSL_CERT_FILE while "
                                 "connecting; default: the system store)", default=None)
    login_timeout: int | None = spec("seconds to wait for a login", default=None, minimum=1)
    query_timeout: int | None = spec("seconds a query may run (0 = no limit)", default=None,
                                     minimum=0)
    port: int | None = spec("TCP port when not the default 1433 / SQL Browser", default=None,
                            minimum=1, maximum=65535)


@dataclass(frozen=True, kw_only=True)
class HostConnection:
    """Per-host overrides of the connection defaults."""

    address: str | None = spec("address to connect to instead of the FQDN (a lab or a jump "
                               "route)", default=None)
    winrm: WinRMSettings | None = spec("WinRM overrides", default=None)
    sql: SqlSettings | None = spec("SQL overrides (for SQL servers)", default=None)
    credential: str | None = spec("id of the credential for this host", default=None)


@dataclass(frozen=True, kw_only=True)
class Connections:
    """Connection settings: defaults, then per-host overrides keyed by FQDN."""

    winrm: WinRMSettings = spec("WinRM defaults", default_factory=WinRMSettings)
    sql: SqlSettings = spec("SQL defaults", default_factory=SqlSettings)
    hosts: dict[str, HostConnection] = spec("overrides per host FQDN", default_factory=dict)
    powershell_modules: list[str] = spec("modules to import before Lync cmdlets", default_factory=lambda: ["Lync"])
    drill_only_loopback: bool = spec("drills reach loopback only, whichever command starts them; always true "
                                     "(false is refused)", default=True)


@dataclass(frozen=True, kw_only=True)
class Credential:
    """Where a credential comes from. Never the secret itself."""

    id: str = spec("name used to refer to this credential", pattern=IDENT)
    username: str = spec(r"account name, e.g. CONTOSO\svc-lync or sa")
    source: Literal["prompt", "env", "keyring", "ticket"] = spec(
        "where the password comes from; ticket: no password, the Kerberos ticket cache (kinit "
        "first; WinRM with auth kerberos only)")
    env: str | None = spec("environment variable holding the password (source: env)", default=None,
                           pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    keyring_service: str | None = spec("keyring service name (source: keyring)", default=None)
    kind: Literal["windows", "sql"] = spec("a Windows account or a SQL login", default="windows")


@dataclass(frozen=True, kw_only=True)
class Credentials:
    """Credential sources and which one is used by default."""

    entries: list[Credential] = spec("credential sources", min_items=1)
    winrm_default: str = spec("id of the credential for WinRM when a host names none")
    sql_default: str | None = spec("id of the credential for SQL (default: winrm_default)",
                                   default=None)


@dataclass(frozen=True, kw_only=True)
class Contact:
    """Someone to call."""

    name: str = spec("full name")
    role: str = spec("e.g. Lync admin, DBA, network, management")
    phone: str | None = spec("phone number", default=None)
    email: str | None = spec("e-mail address", default=None)
    escalation_level: int = spec("1 = call first", default=1, minimum=1, maximum=9)


@dataclass(frozen=True, kw_only=True)
class CustomStep:
    """An organisation-specific step attached to a named point of the flow."""

    id: str = spec("step id, unique in the plan", pattern=IDENT)
    hook: Hook = spec("where in the flow the step goes")
    title: str = spec("one line shown in the checklist")
    why: str = spec("why the organisation needs it")
    kind: Literal["manual", "powershell"] = spec("manual: the operator confirms; powershell: runs",
                                                 default="manual")
    host: str | None = spec("host to run on (powershell steps)", default=None)
    script: str | None = spec("PowerShell to run (powershell steps), written by the organisation",
                              default=None)
    instructions: str | None = spec("what the operator does (manual steps)", default=None)
    destructive: bool = spec("needs typed confirmation", default=False)


@dataclass(frozen=True, kw_only=True)
class Plan:
    """A Lync Server 2013 restore plan."""

    version: int = spec("plan format version (1)", minimum=1, maximum=1)
    organisation: Organisation = spec("the organisation")
    topology: Topology = spec("the published topology")
    backup: Backup = spec("backup locations, layout and schedule")
    objectives: Objectives = spec("RPO and RTO")
    credentials: Credentials = spec("where credentials come from")
    connections: Connections = spec("connection settings", default_factory=Connections)
    contacts: list[Contact] = spec("who to call, in escalation order", default_factory=list)
    custom_steps: list[CustomStep] = spec("organisation-specific steps", default_factory=list)
    lab: LabInfo | None = spec("set by the lab on plans it serves; absent in real plans", default=None)

    # ------------------------------------------------------------------ convenience
    def pool(self, fqdn: str) -> Pool:
        for p in self.topology.pools:
            if p.fqdn.lower() == fqdn.lower():
                return p
        raise KeyError(fqdn)

    def sql(self, sql_id: str) -> SqlInstance:
        for s in self.topology.sql_instances:
            if s.id == sql_id:
                return s
        raise KeyError(sql_id)

    def file_store(self, fs_id: str) -> FileStore:
        for f in self.topology.file_stores:
            if f.id == fs_id:
                return f
        raise KeyError(fs_id)

    @property
    def cms_pool(self) -> Pool:
        return self.pool(self.topology.central_management.pool)

    def front_end_pools(self) -> list[Pool]:
        return [p for p in self.topology.pools if p.role == "front_end"]

    def all_servers(self) -> list[str]:
        return [s for p in self.topology.pools for s in p.servers]

    def site_of_host(self, fqdn: str) -> str | None:
        """The topology site of a server, SQL Server or file server (None: not in the topology)."""
        low = fqdn.lower()
        for p in self.topology.pools:
            if any(s.lower() == low for s in p.servers):
                return p.site
        for q in self.topology.sql_instances:
            if q.server.lower() == low:
                return q.site
        for f in self.topology.file_stores:
            if f.server.lower() == low:
                return f.site
        return None

    def location_site(self, location: BackupLocation) -> str | None:
        """Where a backup location lives (§3: keep backups where they will be available): its
        declared ``site``, else the site of its UNC server, else None (off-site)."""
        if location.site:
            return location.site
        return self.site_of_host(location.unc.lstrip("\\").split("\\", 1)[0])

    def location(self, name: str) -> BackupLocation:
        for loc in self.backup.locations:
            if loc.name == name:
                return loc
        raise KeyError(name)

    def set_key(self, location: str, name: str) -> str:
        """How a backup set is named in choices and journals: its folder name, qualified by its
        location when the plan has several (equal folder names in two vaults never mix)."""
        return f"{location}/{name}" if len(self.backup.locations) > 1 else name

    def resolve_set(self, key: str) -> tuple[BackupLocation | None, str]:
        """(location, folder name) of a set key; an unqualified key names no location."""
        if "/" in key:
            location, name = key.split("/", 1)
            try:
                return self.location(location), name
            except KeyError:
                return None, key
        return None, key

    def locations_for(self, failed_site: str | None) -> list[BackupLocation]:
        """The backup locations in the order a path acting on ``failed_site`` reads them: every
        location outside that site first (plan order: most preferred first), then the ones in it
        (a site's own vault is usually lost with it, §3)."""
        locs = list(self.backup.locations)
        if failed_site is None:
            return locs
        inside = [loc for loc in locs if (self.location_site(loc) or "").lower() == failed_site.lower()]
        return [loc for loc in locs if loc not in inside] + inside

    def interval(self, component: str) -> Duration | None:
        for e in self.backup.schedule:
            if e.component == component:
                return e.every
        return None


@dataclass(frozen=True, kw_only=True)
class LabInfo:
    """Marks a plan written by the lab for one of its scenarios (drills only)."""

    scenario: str = spec("scenario name")
    state_dir: str | None = spec("the lab's disk", default=None)
