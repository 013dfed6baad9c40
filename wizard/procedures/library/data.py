"""Data steps: file store (§6.9), Monitoring/Archiving (§6.10), Persistent Chat (§6.11),
Response Group (§6.12), user data (§6.13), conference content from the partner pool (§6.14)
and LIS (§6.2 step 13, §6.15 step 8, §6.16 step 4).

User data is the one with a hard ordering: services stopped before ``Import-CsUserData`` and
started after (§11.5). The three steps carry ``services-stopped@pool``, ``userdata-import@pool``
and ``services-started@pool`` tags that :mod:`wizard.procedures.compose` checks.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

from wizard.plan.model import FileStore, Pool, SqlInstance
from wizard.procedures.library.common import (
    LOCAL_COPY,
    ON,
    Ctx,
    configured_databases_check,
    database_exists_check,
    file_check,
    prepare_rebuild,
    ps,
    server_down_check,
    services_check,
    services_stopped_check,
    sql,
)
from wizard.procedures.model import AllEqual, AnyEqual, Check, Manual, NoneEqual, NonEmpty, SqlCommand, Step
from wizard.remote.psbuild import Assign, Cmd, Pipeline, Raw, Value
from wizard.remote.sql import quote_identifier


def sql_literal(text: str) -> str:
    """``text`` as a T-SQL N'...' literal (quotes doubled): for RESTORE, which runs without ``?``."""
    if "\x00" in text:
        raise ValueError("a T-SQL literal cannot hold NUL")
    return "N'" + text.replace("'", "''") + "'"


def rgs_identity(pool: str) -> str:
    return f"service:ApplicationServer:{pool}"


# ----------------------------------------------------------------------------- §6.13 user data


def user_data_steps(ctx: Ctx, pool: Pool) -> list[Step]:
    """Copy the zip locally, stop every Front End, Import-CsUserData, start them all together
    (§6.2 step 12, §6.13 and its settled correction, §11.5, §5.4)."""
    host = ctx.fe(pool)
    standard = pool.edition == "standard"
    share_zip = ctx.backup_file("user_data", pool.fqdn)
    folder, name = share_zip.rsplit("\\", 1)
    zip_path = f"{LOCAL_COPY}\\{name}"
    computers: list[str | None] = [None] if standard else list(pool.servers)
    stop = [Cmd("Stop-CsWindowsService", {"ComputerName": c} if c else {}) for c in computers]
    # every Front End started at once (-NoWait), then the pool watched as it comes up: started one by
    # one, the first would wait in Start Pending for a quorum that never comes (§6.13, §5.4)
    start = [Cmd("Start-CsWindowsService", {"ComputerName": c, "NoWait": ON} if c else {}) for c in computers]
    stopped = tuple(services_stopped_check(host, c) for c in computers)
    scope_note = ("" if standard else
                  " On every Front End of the pool, then all started again together: Front Ends restarted one "
                  "by one with legacy data may overwrite what was imported (§6.13, the Import-CsUserData page's "
                  "correction); the pool is down meanwhile.")
    copy = Step(
        id=f"userdata-copy-{pool.fqdn}",
        title=f"Copy {name} to {host}",
        section="6.2",
        why="The user data zip is copied to the server that imports it before the services stop "
            "(§6.2 step 12); robocopy exit codes below 8 mean success.",
        phase="data",
        commands=(ps(host, Cmd("robocopy", positional=[folder, LOCAL_COPY, name, Raw("/R:2"), Raw("/W:5")]),
                     Raw("if ($LASTEXITCODE -ge 8) { throw 'robocopy reported a failure' }"), timeout_s=1800),),
        applies="user data is restored into this pool",
        requires=(file_check(host, share_zip),),
        post_checks=(file_check(host, zip_path),),
        undo=f"Delete {zip_path}.",
        duration_s=300,
        tags=frozenset({f"userdata-copied@{pool.fqdn}"}),
    )
    return [
        copy,
        Step(
            id=f"userdata-stop-{pool.fqdn}",
            title=f"Stop Lync services on {'the server' if standard else 'every Front End of'} {pool.fqdn}",
            section="6.13",
            why="Import-CsUserData must run with the Lync services stopped (§6.13, §11.5)." + scope_note,
            phase="data",
            commands=(ps(host, *stop, timeout_s=900),),
            applies="user data is restored into this pool",
            already_done=stopped[0] if len(stopped) == 1 else None,
            post_checks=stopped,
            destructive=True, confirm_text=pool.fqdn,
            undo="Start-CsWindowsService on the same computers (respect the start quorum, §5.4).",
            duration_s=300,
            tags=frozenset({f"services-stopped@{pool.fqdn}"}),
        ),
        Step(
            id=f"userdata-import-{pool.fqdn}",
            title=f"Import user data into {pool.fqdn}",
            section="6.13",
            why="Contacts, permissions and scheduled conferences come back from the Export-CsUserData "
                "zip (§6.13, §2.2, §9 rtcxds).",
            phase="data",
            commands=(ps(host, Cmd("Import-CsUserData", {"PoolFqdn": pool.fqdn, "FileName": zip_path}),
                         timeout_s=3600),),
            applies="the pool's Back End (rtcxds) was recreated",
            requires=(file_check(host, zip_path), *stopped),
            destructive=True, confirm_text=pool.fqdn,
            undo="Repeat the import from an older set; data changed since the export is lost.",
            duration_s=1200,
            needs=(f"services-stopped@{pool.fqdn}",),
            tags=frozenset({f"userdata-import@{pool.fqdn}"}),
        ),
        Step(
            id=f"userdata-start-{pool.fqdn}",
            title=f"Start Lync services on {'the server' if standard else 'every Front End of'} {pool.fqdn}",
            section="6.13",
            why="Services are started again after the import, on every Front End at once (-NoWait), and the "
                "pool is watched as it reaches its start quorum; imported data only shows once the Front "
                "End service restarted (§6.13, §11.5, §5.4).",
            phase="data",
            commands=(ps(host, *start, timeout_s=1800),),
            applies="after the user data import",
            already_done=services_check(host, computers[0]) if len(computers) == 1 else None,
            post_checks=tuple(services_check(host, c, wait_s=900) for c in computers),
            destructive=True, confirm_text=pool.fqdn,
            undo="Stop-CsWindowsService on the same computers.",
            duration_s=600,
            needs=(f"userdata-import@{pool.fqdn}",),
            tags=frozenset({f"services-started@{pool.fqdn}"}),
        ),
    ]


# ----------------------------------------------------------------------------- §6.12 RGS


def rgs_import_step(ctx: Ctx, home: Pool, destination: Pool, *, new_pool: bool, host: str | None = None,
                    after_failover: bool = False) -> Step:
    """Import a pool's Response Group configuration into ``destination`` (§6.12, §6.16 step 5)."""
    host = host or ctx.fe(destination)
    zip_path = ctx.backup_file("rgs", home.fqdn)
    params: dict[str, Value] = {"Destination": rgs_identity(destination.fqdn)}
    if new_pool:
        params["OverwriteOwner"] = ON
    params["FileName"] = zip_path
    listing = Pipeline(Cmd("Get-CsRgsWorkflow", {"Identity": rgs_identity(destination.fqdn), "ShowAll": ON}),
                       Cmd("Select-Object", {"Property": ["Name", "OwnerPool"]}))
    if after_failover:  # the groups stay owned by the failed pool (T13): some listed workflow is its own
        verified = Check(f"{home.fqdn}'s Response Group workflows are listed in {destination.fqdn} (with -ShowAll), "
                         f"still owned by {home.fqdn}", ps(host, json=listing), AnyEqual("OwnerPool", home.fqdn))
    else:
        verified = Check("Response Group workflows are listed (with -ShowAll)", ps(host, json=listing),
                         NonEmpty("Name"))
    return Step(
        id=f"rgs-import-{home.fqdn}" + (f"-to-{destination.fqdn}" if destination.fqdn != home.fqdn else ""),
        title=f"Import {home.fqdn}'s Response Group configuration into {destination.fqdn}",
        section="6.12",
        why=("Response Group configuration is not replicated; import it into the backup pool without "
             "-OverwriteOwner, so the groups stay owned by the failed pool and failback can take them home; "
             "manage them only with the Shell there (§6.16 step 5, §6.17 step 4, §6.12)." if after_failover else
             "Response Group workflows, queues and agent groups live in rgsconfig and come back from "
             "the Export-CsRgsConfiguration zip; -OverwriteOwner is needed in a newly deployed pool, "
             "even with the same FQDN (§6.12, §11.25)."),
        phase="data",
        commands=(ps(host, Cmd("Import-CsRgsConfiguration", params)),),
        applies="the pool runs Response Group",
        requires=(file_check(host, zip_path),),
        post_checks=(verified,),
        undo="Remove the imported workflows, queues and groups with the Shell.",
        duration_s=300,
        needs=(("pool-failover@" + home.fqdn,) if after_failover else ()),
        tags=frozenset({f"rgs-import@{destination.fqdn}"}),
    )


# ----------------------------------------------------------------------------- LIS


def lis_import_step(ctx: Ctx, host: str, into: str, *, after_failover_of: str | None = None,
                    section: str = "6.2") -> Step:
    """Import and publish the E9-1-1 location data (§6.2 step 13, §6.15 step 8, §6.16 step 4)."""
    zip_path = ctx.backup_file("lis")
    needs: tuple[str, ...] = ("cms-available",)
    if after_failover_of:
        needs += (f"pool-failover@{after_failover_of}",)
    return Step(
        id=f"lis-import-{into}",
        title=f"Import and publish the LIS (E9-1-1) configuration for {into}",
        section=section,
        why=(f"LIS data lives in the CMS 'lis' database and is not replicated to the backup pool, so it "
             f"is imported after a failover and published for replication (§{section}, §6.16 step 4, §11.17, "
             "§11.24: the import merges)." if after_failover_of or section != "6.2" else
             "The restored CMS store's 'lis' database is empty: the E9-1-1 locations come back from "
             "E911Config.zip and are published for replication (§6.2 step 13, §11.24: the import merges)."),
        phase="data",
        commands=(ps(host, Cmd("Import-CsLisConfiguration", {"FileName": zip_path}),
                     Cmd("Publish-CsLisConfiguration")),),
        applies="the CMS was restored or failed over, or a pool failed over",
        requires=(file_check(host, zip_path),),
        post_checks=(Check("LIS synthetic transaction succeeds",
                           ps(host, json=Pipeline(Cmd("Test-CsLisConfiguration", {"TargetFqdn": into}),
                                                  Cmd("Select-Object", {"Property": ["TargetFqdn", "Result"]}))),
                           AllEqual("Result", "Success"), wait_s=300, poll_s=30),),
        undo="Import merges: records added since the backup stay (orphans); remove them by hand (§11.24).",
        duration_s=300,
        needs=needs,
        tags=frozenset({"lis-import", f"lis-import@{into}"}),
    )


# ----------------------------------------------------------------------------- §6.9 file store


def file_store_steps(ctx: Ctx, fs: FileStore, *, enable_topology: bool, host: str | None = None) -> list[Step]:
    host = host or (ctx.fe(ctx.plan.front_end_pools()[0]) if ctx.pool is None else ctx.fe(ctx.target_pool))
    unc = f"\\\\{fs.server}\\{fs.share}"
    source = ctx.filestore_backup(fs.id)  # one folder per store id: share names repeat across sites
    # asked on the file server itself, where the share is local: from another host a session
    # without delegated credentials is denied it (the second hop) although it is there
    share_check = Check(f"{unc} is reachable", ps(fs.server, json=Cmd("Test-Path", {"LiteralPath": unc})),
                        AllEqual(".", True))
    # a file server of its own is rebuilt first when it was lost with its disk (§6.1); a store on a
    # Lync server (a Standard Edition server's own share) comes back with that server's path
    on_lync_server = fs.server.lower() in (s.lower() for s in ctx.plan.all_servers())
    rebuild = [] if on_lync_server else [
        replace(prepare_rebuild(ctx, fs.server), only_if=server_down_check(host, fs.server),
                applies="the file server itself was lost (a lost disk needs no rebuild)")]
    steps = [
        *rebuild,
        Step(
            id=f"filestore-share-{fs.id}",
            title=f"Recreate the share {unc} at its original path",
            section="6.9",
            why="The file store must come back at the byte-identical path and share name "
                "(§6.9 step 1, §11.11).",
            phase="file_store",
            manual=Manual("Windows", fs.server, (
                f"On {fs.server} create the folder at the path it had before and share it as '{fs.share}'.",
                "Give the share the permissions it had (Enable-CsTopology resets the Lync ACLs later).")),
            applies="the file store was lost",
            already_done=share_check,
            post_checks=(share_check,),
            undo="Remove the share.",
            duration_s=600,
            tags=frozenset({f"filestore-share@{fs.id}"}),
        ),
        Step(
            id=f"filestore-copy-{fs.id}",
            title=f"Copy the file store back into {unc}",
            section="6.9",
            why="Meeting content, application audio and PChat files come back from $Backup\\filestore "
                "with robocopy (robocopy exit codes below 8 mean success; switches inferred) (§6.9 step 1, §3, §4). "
                "/XO never replaces a newer file with the backup's older copy and nothing is deleted: a store "
                "shared with a pool that kept running keeps what was written after the backup.",
            phase="file_store",
            commands=(ps(host, Cmd("robocopy", positional=[source, unc, Raw("/E"), Raw("/XO"), Raw("/R:2"),
                                                           Raw("/W:5")]),
                         Raw("if ($LASTEXITCODE -ge 8) { throw 'robocopy reported a failure' }"),
                         timeout_s=7200),),
            applies="the file store was lost",
            requires=(file_check(host, source), share_check),
            post_checks=(Check(f"{unc} holds files again",
                               ps(host, json=Pipeline(Cmd("Get-ChildItem", {"LiteralPath": unc}),
                                                      Cmd("Select-Object", {"Property": ["Name"]}))),
                               NonEmpty("Name")),),
            undo="Delete the copied files from the share.",
            duration_s=1800,
            needs=(f"filestore-share@{fs.id}",),
            tags=frozenset({f"filestore@{fs.id}", "filestore"}),
        ),
    ]
    if enable_topology:
        steps.append(Step(
            id=f"filestore-acl-{fs.id}",
            title="Reset the file store ACLs with Enable-CsTopology",
            section="6.9",
            why="Topology Builder was not run in this recovery, so Enable-CsTopology resets the file "
                "store ACLs (§6.9 step 2).",
            phase="file_store",
            commands=(ps(host, Cmd("Enable-CsTopology", {"Verbose": ON})),),
            applies="Topology Builder was not run in this recovery",
            post_checks=(share_check,),
            undo="Nothing to undo.",
            duration_s=120,
            needs=(f"filestore@{fs.id}",),
        ))
    return steps


# ----------------------------------------------------------------------------- §6.10 / §6.11 SQL

#: The 21 columns of RESTORE FILELISTONLY on SQL Server 2008 R2 and 2012 (and 2014), the versions
#: Lync Server 2013 runs on (§6.4 step 2): INSERT ... EXEC needs a table of exactly this shape
#: (SQL Server 2016 added SnapshotUrl; a mismatch fails with error 213).
_FILELIST_COLUMNS = (
    "LogicalName nvarchar(128), PhysicalName nvarchar(260), [Type] char(1), FileGroupName nvarchar(128), "
    "[Size] numeric(20,0), MaxSize numeric(20,0), FileId bigint, CreateLSN numeric(25,0), DropLSN numeric(25,0), "
    "UniqueId uniqueidentifier, ReadOnlyLSN numeric(25,0), ReadWriteLSN numeric(25,0), BackupSizeInBytes bigint, "
    "SourceBlockSize int, FileGroupId int, LogGroupGUID uniqueidentifier, DifferentialBaseLSN numeric(25,0), "
    "DifferentialBaseGUID uniqueidentifier, IsReadOnly bit, IsPresent bit, TDEThumbprint varbinary(32)")



def restore_batch(database: str, bak: str, *, recovery: bool) -> str:
    """One T-SQL batch that restores ``database`` from the full backup ``bak`` over what is there.

    It is fixed text (the operator reads it before it runs) that decides on the server:

    * the backup's files come from ``RESTORE FILELISTONLY`` (into a table variable); a file whose
      recorded folder holds no file of this instance (``sys.master_files``) is moved (``MOVE``) to
      the file of the same logical name of the database being replaced, else to the instance's
      default data or log folder: ``SERVERPROPERTY('InstanceDefaultDataPath')`` where the server
      knows it (2012 with late-2015 updates on), the folder of master's files on 2008 R2 (§6.10 step
      2: "confirm data and log paths");
    * when the database is ONLINE, the Lync services' sessions are ended first (``SET SINGLE_USER
      WITH ROLLBACK IMMEDIATE``): RESTORE needs exclusive access (error 3101) (§6.20 step 3);
    * the RESTORE itself runs through ``sp_executesql`` with the database name and the device as
      parameters; the MOVE operands are quoted on the server (quotes doubled, ``QUOTENAME`` stops at
      128 characters); ``NORECOVERY`` when log backups follow.

    The two values enter as N'...' literals (:func:`sql_literal`): a long-running command runs with
    live progress and carries no ``?`` parameters.
    """
    mode = "RECOVERY" if recovery else "NORECOVERY"
    restore = ("SELECT @sql = N'RESTORE DATABASE @db FROM DISK = @bak WITH REPLACE, RECOVERY, STATS = 10', @id = 0;"
               if recovery else
               "SELECT @sql = N'RESTORE DATABASE @db FROM DISK = @bak WITH REPLACE, NORECOVERY, STATS = 10', @id = 0;")
    # a folder is LEFT(p, LEN(p) - CHARINDEX(N'\', REVERSE(p))), a file name RIGHT(p, CHARINDEX(...) - 1):
    # string functions SQL Server 2008 R2 has
    return "\n".join([
        f"-- RESTORE DATABASE @db FROM DISK = @bak WITH REPLACE, {mode}: built on the server, with MOVE where "
        "a folder is missing, after the other sessions are ended",
        "USE master;",
        "SET NOCOUNT ON;",
        f"DECLARE @db sysname = {sql_literal(database)}, @bak nvarchar(4000) = {sql_literal(bak)};",
        f"DECLARE @files TABLE ({_FILELIST_COLUMNS});",
        "INSERT INTO @files EXEC sp_executesql N'RESTORE FILELISTONLY FROM DISK = @bak', "
        "N'@bak nvarchar(4000)', @bak = @bak;",
        "IF @@ROWCOUNT = 0 RETURN;",
        "-- where new files go: the instance's default folders (SQL Server 2008 R2 does not know these",
        "-- properties and returns NULL: then the folders of master's own files)",
        "DECLARE @data nvarchar(260) = CONVERT(nvarchar(260), SERVERPROPERTY('InstanceDefaultDataPath')),",
        "        @log nvarchar(260) = CONVERT(nvarchar(260), SERVERPROPERTY('InstanceDefaultLogPath'));",
        "IF @data IS NULL SELECT @data = LEFT(physical_name, LEN(physical_name) - CHARINDEX(N'\\', "
        "REVERSE(physical_name)) + 1) FROM sys.master_files WHERE database_id = 1 AND type = 0;",
        "IF @log IS NULL SELECT @log = LEFT(physical_name, LEN(physical_name) - CHARINDEX(N'\\', "
        "REVERSE(physical_name)) + 1) FROM sys.master_files WHERE database_id = 1 AND type = 1;",
        "DECLARE @sql nvarchar(max), @id bigint, @logical nvarchar(128), @physical nvarchar(260), "
        "@type char(1), @to nvarchar(260), @known int, @exclusive nvarchar(400);",
        restore,
        "WHILE 1 = 1",
        "BEGIN",
        "    SELECT TOP (1) @id = FileId, @logical = LogicalName, @physical = PhysicalName, @type = [Type] "
        "FROM @files WHERE FileId > @id ORDER BY FileId;",
        "    IF @@ROWCOUNT = 0 BREAK;",
        "    SELECT @known = COUNT(*) FROM sys.master_files WHERE LEFT(physical_name, LEN(physical_name) "
        "- CHARINDEX(N'\\', REVERSE(physical_name))) = LEFT(@physical, LEN(@physical) - CHARINDEX(N'\\', "
        "REVERSE(@physical)));",
        "    IF @known = 0",
        "    BEGIN",
        "        SET @to = NULL;",
        "        SELECT @to = physical_name FROM sys.master_files WHERE database_id = DB_ID(@db) AND name = @logical;",
        "        IF @to IS NULL AND @type = 'L' SET @to = @log + RIGHT(@physical, CHARINDEX(N'\\', "
        "REVERSE(@physical)) - 1);",
        "        IF @to IS NULL SET @to = @data + RIGHT(@physical, CHARINDEX(N'\\', REVERSE(@physical)) - 1);",
        "        SET @sql += N', MOVE N''' + REPLACE(@logical, N'''', N'''''') + N''' TO N''' "
        "+ REPLACE(@to, N'''', N'''''') + N'''';",
        "    END",
        "END",
        "IF DATABASEPROPERTYEX(@db, 'Status') = 'ONLINE'",
        "BEGIN",
        "    SET @exclusive = N'ALTER DATABASE ' + QUOTENAME(@db) + N' SET SINGLE_USER WITH ROLLBACK IMMEDIATE';",
        "    EXEC (@exclusive);",
        "END",
        "EXEC sp_executesql @sql, N'@db sysname, @bak nvarchar(4000)', @db = @db, @bak = @bak;",
    ])


def _restore_sql(instance: SqlInstance, database: str, bak: str, *, recovery: bool = True) -> SqlCommand:
    return SqlCommand(instance.server, instance.instance, restore_batch(database, bak, recovery=recovery),
                      long_running=True)


def _restore_log_sql(instance: SqlInstance, database: str, trn: str) -> SqlCommand:
    return SqlCommand(instance.server, instance.instance,
                      f"RESTORE LOG {quote_identifier(database)} FROM DISK = {sql_literal(trn)} "
                      "WITH NORECOVERY, STATS = 10", long_running=True)


def restored_check(instance: SqlInstance, database: str) -> Check:
    """The database is ONLINE (not left RESTORING) and open to the Lync services again."""
    return Check(f"database {database} is online and open to every user",
                 sql(instance, "SELECT name FROM sys.databases WHERE name = ? AND state_desc = 'ONLINE' "
                               "AND user_access_desc = 'MULTI_USER'", database),
                 NonEmpty("name"))


#: why the restore takes the database from the Lync services first (added to every SQL restore)
EXCLUSIVE_WHY = (" The Lync services of the pools using the store keep sessions open in the database, and SQL "
                 "Server refuses RESTORE ... REPLACE while any other session uses it (error 3101). The documented "
                 "way is to end those sessions, not to stop Lync: §6.20 step 3 (sp_who2, kill the connections, "
                 "then restore); §6.10 never stops the services and needs no service restart (step 3); §11.1 "
                 "(minimise restarts of healthy servers). So the database is set SINGLE_USER WITH ROLLBACK "
                 "IMMEDIATE first (only while it is ONLINE) and MULTI_USER again at the end.")


def sql_restore_step(ctx: Ctx, instance: SqlInstance, database: str, section: str, why: str,
                     host: str, *, logs: Sequence[str] = ()) -> Step:
    """RESTORE one database from the set's sql folder (§6.10, §6.11; T-SQL inferred): the full
    backup, then each log backup of ``logs`` (UNC paths, oldest first) WITH NORECOVERY, then
    RECOVERY, and the database opened to every user again."""
    bak = ctx.sql_backup(database)
    verify = SqlCommand(instance.server, instance.instance,
                        f"RESTORE VERIFYONLY FROM DISK = {sql_literal(bak)}", long_running=True)
    chain: list[SqlCommand] = [_restore_sql(instance, database, bak, recovery=not logs)]
    chain += [_restore_log_sql(instance, database, trn) for trn in logs]
    if logs:
        chain.append(SqlCommand(instance.server, instance.instance,
                                f"RESTORE DATABASE {quote_identifier(database)} WITH RECOVERY"))
    chain.append(SqlCommand(instance.server, instance.instance,
                            f"ALTER DATABASE {quote_identifier(database)} SET MULTI_USER"))
    log_why = (f" The set holds {len(logs)} log backup(s) taken after the full one: they are applied in order WITH "
               "NORECOVERY, then the database is recovered (SQL Server refuses a log out of sequence, "
               "error 4305)." if logs else "")
    return Step(
        id=f"sql-restore-{database.lower()}-{instance.id}",
        title=f"Restore {database} on {instance.server}",
        section=section,
        why=why + EXCLUSIVE_WHY + log_why,
        phase="data",
        commands=(verify, *chain),
        applies=f"{database} is restored from a SQL backup",
        requires=(Check("the SQL instance answers", sql(instance, "SELECT @@SERVERNAME AS server_name"),
                        NonEmpty("server_name")),),
        post_checks=(restored_check(instance, database),),
        destructive=True, confirm_text=database, second_operator=True,
        undo=(f"None: WITH REPLACE overwrites {database}; restore an older backup if needed. If the step stopped "
              f"after the sessions were ended, ALTER DATABASE {quote_identifier(database)} SET MULTI_USER lets "
              f"the services back in; a database left RESTORING comes online with RESTORE DATABASE "
              f"{quote_identifier(database)} WITH RECOVERY (at the last log applied)."),
        duration_s=1800,
        tags=frozenset({f"sql-restore@{database}"}),
        sql_reads=tuple((instance.server, instance.instance, f) for f in (bak, *logs)),
    )


def mon_arch_steps(ctx: Ctx, pool: Pool, host: str, *, logs: Mapping[str, Sequence[str]] | None = None) -> list[Step]:
    """§6.10: recreate the Monitoring/Archiving databases, restore data, check the ACL. ``logs``:
    per database, the set's log backups (UNC paths, oldest first) to apply after the full one."""
    steps: list[Step] = []
    stores: dict[str, list[str]] = {}
    if pool.archiving_store:
        stores.setdefault(pool.archiving_store, []).append("LcsLog")
    if pool.monitoring_store:
        stores.setdefault(pool.monitoring_store, []).extend(["LcsCDR", "QoEMetrics"])
    domain = (ctx.plan.organisation.ad_domain or "DOMAIN").split(".")[0].upper()
    login = f"{domain}\\RTCComponentUniversalServices"
    for sql_id, dbs in stores.items():
        inst = ctx.plan.sql(sql_id)
        steps.append(Step(
            id=f"monarch-install-{sql_id}",
            title=f"Recreate the Monitoring/Archiving databases on {inst.server}",
            section="6.10",
            why="The databases must exist (empty, with permissions) before data is restored "
                "(§6.10, Install-CsDatabase -ConfiguredDatabases).",
            phase="data",
            commands=(ps(host, Cmd("Install-CsDatabase", {"ConfiguredDatabases": ON, "SqlServerFqdn": inst.server}),
                         timeout_s=1800),),
            applies="Monitoring or Archiving databases were lost",
            already_done=configured_databases_check(host, inst.server),
            # present in any state: a SUSPECT or damaged one is not recreated by Install-CsDatabase, the
            # restore that follows replaces it (WITH REPLACE)
            post_checks=tuple(Check(f"database {db} exists", sql(inst, "SELECT name FROM sys.databases "
                                                               "WHERE name = ?", db), NonEmpty("name"))
                              for db in dbs),
            undo="Nothing to undo: the databases are empty.",
            duration_s=600,
            tags=frozenset({f"monarch-db@{sql_id}"}),
        ))
        for db in dbs:
            step = sql_restore_step(ctx, inst, db, "6.10",
                                    f"{db} is not needed for service; restore its data when the business "
                                    "or a regulator needs it (§6.10, §5.3 G; T-SQL inferred).", host,
                                    logs=(logs or {}).get(db.lower(), ()))
            steps.append(Step(**{**step.__dict__, "needs": (f"monarch-db@{sql_id}",)}))
            principal = Check(f"{login} is a user of {db}",
                              SqlCommand(inst.server, inst.instance,
                                         f"SELECT name FROM {quote_identifier(db)}.sys.database_principals "  # noqa: S608
                                         "WHERE name = ?", (login,)),
                              NonEmpty("name"))
            steps.append(Step(
                id=f"sql-acl-{db.lower()}-{sql_id}",
                title=f"Give RTCComponentUniversalServices access to {db}",
                section="6.10",
                why="After a restore the database must list RTCComponentUniversalServices in the "
                    "ServerRole role (§6.10 step 3; T-SQL inferred).",
                phase="data",
                commands=(SqlCommand(inst.server, inst.instance,
                                     f"CREATE USER {quote_identifier(login)} FOR LOGIN {quote_identifier(login)}",
                                     database=db),
                          SqlCommand(inst.server, inst.instance, "EXEC sp_addrolemember ?, ?",
                                     ("ServerRole", login), database=db)),
                applies=f"{db} was restored",
                already_done=principal,
                post_checks=(principal,),
                undo="DROP USER in the database.",
                duration_s=30,
                needs=(f"sql-restore@{db}",),
            ))
    return steps


def pchat_restore_step(ctx: Ctx, pool: Pool, host: str) -> Step:
    """§6.11: restore mgc with the method used to back it up, to the last full backup only (§6.11:
    "either way only to the last full backup"): log backups of mgc in the set are not applied."""
    if not pool.persistent_chat_store:
        raise ValueError(f"{pool.fqdn} names no persistent_chat_store")
    inst = ctx.plan.sql(pool.persistent_chat_store)
    if pool.persistent_chat_backup == "sql":
        return sql_restore_step(ctx, inst, "mgc", "6.11",
                                "Persistent Chat content was backed up with SQL, so it is restored with SQL "
                                "(the method must match), to the last full backup only: §6.11 restores no "
                                "further, so log backups in the set are not applied.", host)
    zip_path = ctx.backup_file("persistent_chat", pool.fqdn)
    db_instance = f"{inst.server}\\{inst.instance}" if inst.instance else inst.server
    return Step(
        id=f"pchat-import-{pool.fqdn}",
        title=f"Import Persistent Chat data into {db_instance}",
        section="6.11",
        why="mgc was exported with Export-CsPersistentChatData, so it is restored with "
            "Import-CsPersistentChatData as CsPersistentChatAdministrator (§6.11, §10).",
        phase="data",
        commands=(ps(host, Cmd("Import-CsPersistentChatData", {"DBInstance": db_instance, "FileName": zip_path}),
                     timeout_s=3600),),
        applies="Persistent Chat is used and was backed up by export",
        requires=(file_check(host, zip_path),),
        post_checks=(database_exists_check(inst, "mgc"),),
        destructive=True, confirm_text="mgc",
        undo="Restore again from an older export.",
        duration_s=1800,
    )


# ----------------------------------------------------------------------------- §6.14


def backup_service_check(host: str, pool: str, *, wait_s: float = 0) -> list[Check]:
    """§7.2: no Backup Service module in ErrorState or NonSteadyState (field names inferred)."""
    stmts = (Assign("lrStatus", Cmd("Get-CsBackupServiceStatus", {"PoolFqdn": pool})),)
    out = Cmd("Write-Output", {"InputObject": Raw("$lrStatus.BackupModules")})
    return [Check(f"Backup Service of {pool}: no module in {state}", ps(host, *stmts, json=out),
                  NoneEqual("ExportStatus", state), wait_s=wait_s, poll_s=30)
            for state in ("ErrorState", "NonSteadyState")]


def conference_sync_step(ctx: Ctx, home: Pool, partner: Pool) -> Step:
    host = ctx.fe(partner)
    return Step(
        id=f"conference-sync-{home.fqdn}",
        title=f"Pull conference content for {home.fqdn} from {partner.fqdn}",
        section="6.14",
        why="The paired pool holds a copy of the conference content; a sync of ConfServices.DataConf "
            "brings it back (§6.14, §6.17 step 3).",
        phase="data",
        commands=(ps(host, Cmd("Invoke-CsBackupServiceSync",
                               {"PoolFqdn": partner.fqdn, "BackupModule": "ConfServices.DataConf"})),),
        applies="paired pools, conference content lost or home pool rebuilt",
        post_checks=tuple(backup_service_check(host, partner.fqdn, wait_s=1800)),
        undo="Nothing to undo: the sync only copies.",
        duration_s=900,
        tags=frozenset({f"conference-sync@{home.fqdn}"}),
    )
