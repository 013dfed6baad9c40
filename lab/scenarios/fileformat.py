# ruff: noqa: RUF009  (``spec`` builds each field with its docstring, as in wizard/plan/model.py)
"""The scenario file: a drill written as YAML, read as plans are read (every error as
``FILE:LINE:COL: message``, all of them at once).

Three passes, as :mod:`wizard.plan.loader`: reading (size, binary, UTF-8, YAML syntax, aliases:
:func:`wizard.plan.loader.read_document`), shape (the typed dataclasses below through
:class:`wizard.plan.schema.Validator`: unknown keys and actions, wrong types, missing keys) and
meaning (:func:`_meaning`: the shipped plan and the plan it makes with ``plan_changes``, every
pool, host, SQL instance, file store, database, cmdlet, recovery path and backup location the
file names, against that plan). The format is documented in ``docs/scenarios.md``; its JSON
Schema (:func:`schema_document`) is ``docs/scenario-schema.json``.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import re
import tempfile
import typing
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml

from lab.latency import Latency
from lab.scenarios.model import ConnectionDrop, Faults, Scenario, SqlRestoreFails
from lab.scenarios.vocabulary import Broken, RestoredWhen, all_checks, chosen, names, run_actions
from lab.scoring import DEFAULT_WEIGHTS
from lab.sqlstate import STORE_DATABASES
from wizard.errors import PlanError
from wizard.plan import load_plan
from wizard.plan.loader import read_document
from wizard.plan.model import Plan
from wizard.plan.schema import Issue, Pos, TooLarge, Validator, json_schema, spec, where, yaml_key
from wizard.recovery_paths import BY_ID

PLANS_DIR = Path(str(resources.files("plans")))  # the shipped plans a lab is built from


class ScenarioError(PlanError):
    """A scenario file is invalid; ``errors`` holds every ``FILE:LINE:COL: message`` line."""

    title = "Invalid scenario"

    def __init__(self, errors: list[str]) -> None:
        super().__init__(errors)
        noun = "error" if len(errors) == 1 else "errors"
        files = len({e.split(":", 1)[0] for e in errors})
        where_ = "the scenario file" if files <= 1 else f"{files} scenario files"
        self.message = f"{len(errors)} {noun} in {where_}"
        self.args = (self.message,)


# ------------------------------------------------------------------------------ the shape


@dataclass(frozen=True)
class MissingParameter:
    """A server's Lync cmdlet lacks a parameter (a missing cumulative update)."""

    host: str = spec("the server's FQDN")
    cmdlet: str = spec("the cmdlet (§8)")
    parameter: str = spec("the parameter it lacks, without the dash")


@dataclass(frozen=True)
class MissingMembership:
    """An account lacks a membership (§10)."""

    account: str = spec("the account's short name (lyncadmin, lyncsql)")
    group: str = spec("a domain group, Administrators (every host's local group) or sysadmin (every instance)")


@dataclass(frozen=True)
class ShareUnreachable:
    """SMB from one host to a share's server is dropped (a firewall between them)."""

    host: str = spec("the host that cannot reach the share")
    share: str = spec(r"the share root, \\server\share")


@dataclass(frozen=True)
class SqlRestoreFailsSpec:
    """The next RESTORE DATABASE stops at a percent: reading the backup device fails (3203, then 3013), once."""

    instance: str = spec("the SQL instance (a plan SQL id, or a Standard Edition pool FQDN)")
    at_percent: int = spec("how far the restore gets before the read fails", minimum=1, maximum=99)
    database: str | None = spec("the database whose restore fails (any when absent)", default=None)


@dataclass(frozen=True)
class DropConnectionSpec:
    """While the cmdlet runs on the host, the WinRM connection to the host is lost, once."""

    host: str = spec("the host whose WinRM listener drops the connection")
    during: str = spec("the Lync cmdlet (§8) during which it drops")


@dataclass(frozen=True)
class Timed:
    """One timed fault: exactly one of these, striking once."""

    sql_restore_fails: SqlRestoreFailsSpec | None = spec("a SQL restore fails part way", default=None)
    drop_connection: DropConnectionSpec | None = spec("a WinRM connection lost during a cmdlet", default=None)


@dataclass(frozen=True)
class FaultsSpec:
    """Extra trouble on top of the outage (lab/scenarios/model.py ``Faults``)."""

    corrupt_newest_set: bool = spec("the newest backup set is damaged", default=False)
    missing_e911: bool = spec("the newest set lacks E911Config.zip", default=False)
    broken_log_chain: bool = spec("a log backup of the newest set is missing", default=False)
    flaky_host: str | None = spec("a host whose WinRM listener drops one request in five", default=None)
    slow_restore: bool = spec("SQL restores run at 2 MB/s", default=False)
    full_disk: bool = spec("SQL Server's disks fill up during a restore (3257)", default=False)
    no_delegation: bool = spec("no computer is trusted for delegation (the second hop needs CredSSP)",
                               default=False)
    backups_mounted: bool = spec("the backup shares are mounted on the wizard's machine", default=False)
    missing_parameter: MissingParameter | None = spec("a cmdlet lacks a parameter on a server", default=None)
    missing_membership: MissingMembership | None = spec("an account lacks a membership", default=None)
    share_unreachable: ShareUnreachable | None = spec("a share one host cannot reach", default=None)
    backups_stopped_hours: int = spec("the backup job stopped this many hours ago", default=0, minimum=0)
    servers_down: list[str] = spec("servers that are off", default_factory=list)
    timed: list[Timed] = spec("faults that strike once, at a moment of the recovery", default_factory=list)


@dataclass(frozen=True)
class NetworkSpec:
    """The network between the jump host and the servers (not a fault: every answer crosses it)."""

    latency_ms: int = spec("every host's WinRM and SQL answers arrive this many milliseconds late (one way, "
                           "once per answer: a request's round trip costs it once)", default=0, minimum=0)
    host_latency_ms: dict[str, int] = spec("per host (its FQDN): its own delay in milliseconds, in place of "
                                           "latency_ms", default_factory=dict)


@dataclass(frozen=True)
class SetSpec:
    """The backup set the trainee should restore from."""

    location: str | None = spec("the backup location's name (may be left out when the plan has one)",
                                default=None)
    newest: int = spec("0 = the newest set there, 1 = the one before, ...", default=0, minimum=0)


@dataclass(frozen=True)
class Expected:
    """What the instructor expects."""

    plan: list[list[str | None]] = spec("the plan of action: [recovery path id, pool or server] in order "
                                 "([path id] or [path id, null] for a path acting on no pool)",
                                 default_factory=list)
    set: SetSpec | None = spec("the backup set (null when no set is needed)", default=None)


@dataclass(frozen=True)
class Scoring:
    """How the drill is scored."""

    weights: dict[str, int] = spec("how much each part of the score counts: path, set, order, "
                                   "confirmation, rto, rpo, hints, restored (defaults in docs/scenarios.md)",
                                   default_factory=dict)


@dataclass(frozen=True)
class ScenarioFile:
    """A lab scenario: a drill (or the calm lab), as an instructor writes it."""

    name: str = spec("the scenario's name (lower case, digits, dashes)", pattern=r"[a-z0-9][a-z0-9-]{0,62}")
    summary: str = spec("one line the trainee reads")
    drill: bool = spec("false for the calm lab (nothing broken, no drill)", default=True)
    outage_class: Literal["A", "B", "C", "D", "E", "F", "G", "H", "I"] | None = spec(
        "the §5.3 outage class (A-I)", default=None)
    sections: list[str] = spec("the expected recovery, as domain reference sections (§5.2, §6)",
                               default_factory=list)
    plan: str = spec("the shipped plan the lab is built from", default="lab.yaml",
                     pattern=r"[A-Za-z0-9_.-]+\.yaml")
    #: read before the typed pass (free-form plan data): declared here for the documentation and the schema
    plan_changes: dict[str, str] = spec("changes merged into the plan (a mapping of plan keys; lists of "
                                        "mappings merge on fqdn, id or name)", default_factory=dict)
    broken: list[Broken] = spec("what breaks, in order (the healthy backup sets are written first)",
                                default_factory=list)
    restored_when: list[RestoredWhen] = spec("what must hold for service to count as restored",
                                             default_factory=list)
    faults: FaultsSpec | None = spec("extra trouble, static and timed", default=None)
    network: NetworkSpec | None = spec("the network's delay between the jump host and the servers", default=None)
    expected: Expected | None = spec("what the instructor expects", default=None)
    forbidden: list[str] = spec("orders the doc warns against, with their §", default_factory=list)
    scoring: Scoring | None = spec("how the drill is scored", default=None)


_NEEDS = "at least name, summary, outage_class, sections, broken and restored_when"
_KEYS = "name:, summary:, broken:, ..."
_SECTION = re.compile(r"\d+(\.\d+)*(\.[A-I])?")


@functools.cache
def _cmdlet_names() -> frozenset[str]:
    """The Lync cmdlets the lab has (§8), case-folded; read when a file first names one."""
    from lab.cmdlets import ALL_CMDLETS

    return frozenset(c.name.casefold() for c in ALL_CMDLETS)


_DATABASES = {n.casefold(): n for dbs in STORE_DATABASES.values() for n in dbs}


# ------------------------------------------------------------------------------ reading


def _key_node(mapping: yaml.Node, key: str) -> tuple[yaml.Node, yaml.Node] | None:
    if isinstance(mapping, yaml.MappingNode):
        for k, v in mapping.value:
            if isinstance(k, yaml.ScalarNode) and k.value == key:
                return k, v
    return None


def _normalise_entries(root: yaml.MappingNode, *path: str) -> None:
    """``- name:`` (null) in a list of named entries reads as ``- name: {}`` (no arguments)."""
    node: yaml.Node | None = root
    for key in path:
        found = _key_node(node, key) if node is not None else None
        node = found[1] if found else None
    if not isinstance(node, yaml.SequenceNode):
        return
    for item in node.value:
        if isinstance(item, yaml.MappingNode):
            item.value = [(k, yaml.MappingNode("tag:yaml.org,2002:map", [], v.start_mark, v.end_mark)
                           if isinstance(v, yaml.ScalarNode) and v.tag == "tag:yaml.org,2002:null" else v)
                          for k, v in item.value]


def _take_plan_changes(root: yaml.MappingNode) -> tuple[Any, Pos | None, list[Issue]]:
    """``plan_changes`` is free-form (it is plan data): taken out of the graph before the typed
    pass, constructed as plain YAML values."""
    found = _key_node(root, "plan_changes")
    if found is None:
        return {}, None, []
    root.value = [(k, v) for k, v in root.value if k is not found[0]]
    value = yaml.SafeLoader("").construct_document(found[1])
    pos = Pos.of(found[1])
    if value is None:
        return {}, pos, []
    if not isinstance(value, dict):
        return {}, pos, [Issue(pos, "scenario.plan_changes: expected a mapping of plan keys")]
    return value, pos, []


def load_scenario_file(path: str | Path) -> Scenario:
    """Read and fully check one scenario file; raise :class:`ScenarioError` with every problem."""
    p = Path(path)
    try:
        _text, root = read_document(p, what="scenario", needs=_NEEDS, keys=_KEYS)
    except PlanError as err:
        raise ScenarioError(err.errors) from None
    assert isinstance(root, yaml.MappingNode)
    changes, changes_pos, issues = _take_plan_changes(root)
    for key in ("broken", "restored_when"):
        _normalise_entries(root, key)
    _normalise_entries(root, "faults", "timed")
    validator = Validator()
    try:
        shape = validator.build(ScenarioFile, root, "scenario")
    except TooLarge:
        raise ScenarioError([f"{p}:1:1: the scenario expands to too many values; refused"]) from None
    issues += validator.issues
    scenario = None
    whole = shape is not None
    if shape is None:  # the parts that are well-shaped are still checked against the plan
        shape = _partial(root)
    if shape is not None:
        meaning = _Meaning(shape, changes, changes_pos or where(shape), whole=whole)
        meaning.check(root)
        issues += meaning.issues
        if whole and not issues:
            scenario = _build(shape, changes, meaning, p)
    if issues or scenario is None:
        issues.sort(key=lambda i: (i.pos.line, i.pos.col))
        raise ScenarioError([f"{p}:{i.pos.line}:{i.pos.col}: {i.message}" for i in issues])
    return scenario


# ------------------------------------------------------------------------------ the meaning


@functools.lru_cache(maxsize=16)
def _plan_of(plan: str, changes_json: str) -> tuple[Plan | None, list[str]]:
    """The plan a scenario's lab is built from (the shipped plan with its changes), or the
    errors that plan has (each ``FILE:LINE:COL: message`` of a temporary copy)."""
    source = PLANS_DIR / plan
    changes = json.loads(changes_json)
    if not changes:
        try:
            return load_plan(source).plan, []
        except PlanError as err:
            return None, err.errors
    from lab.runtime import merge_plan

    data = merge_plan(yaml.safe_load(source.read_text(encoding="utf-8")), changes)
    with tempfile.TemporaryDirectory(prefix="lync-scenario-") as tmp:
        copy = Path(tmp) / plan
        copy.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
        try:
            return load_plan(copy).plan, []
        except PlanError as err:
            return None, [e.split(": ", 1)[-1] for e in err.errors]


class _Meaning:
    """The rules over a well-shaped scenario file and the plan it names."""

    def __init__(self, shape: ScenarioFile, changes: Mapping[str, Any], changes_pos: Pos, *, whole: bool) -> None:
        self.shape = shape
        self.whole = whole  # False: the parts of a file that failed its shape (what a drill needs is not asked)
        self.changes = changes
        self.changes_pos = changes_pos
        self.issues: list[Issue] = []
        self.plan: Plan | None = None

    def err(self, pos: Pos, message: str) -> None:
        self.issues.append(Issue(pos, message))

    def check(self, root: yaml.MappingNode) -> None:
        s = self.shape
        if not (PLANS_DIR / s.plan).is_file():
            shipped = ", ".join(sorted(q.name for q in PLANS_DIR.glob("lab*.yaml")))
            self.err(where(s, "plan"), f"scenario.plan: there is no shipped plan '{s.plan}' (the lab's: {shipped})")
        else:
            self.plan, errors = _plan_of(s.plan, json.dumps(self.changes, sort_keys=True))
            for e in errors:
                self.err(self.changes_pos, f"scenario.plan_changes: the plan they make is invalid: {e}")
        if s.drill and self.whole:
            for key, value in (("outage_class", s.outage_class), ("sections", s.sections),
                               ("broken", s.broken), ("restored_when", s.restored_when)):
                if not value:
                    self.err(where(s), f"scenario: a drill needs '{key}'")
        for i, section in enumerate(s.sections):
            if not _SECTION.fullmatch(section):
                self.err(_item_pos(root, s, "sections", i), f"scenario.sections[{i}]: '{section}' is not a "
                                                             "section of the domain reference (e.g. 6.10, 5.3.I)")
        self._entries("broken", s.broken, names(Broken))
        self._entries("restored_when", s.restored_when, names(RestoredWhen))
        if s.faults is not None:
            self._faults(s.faults)
        if s.network is not None:
            for host, ms in s.network.host_latency_ms.items():
                self._ref(where(s.network, "host_latency_ms"), f"scenario.network.host_latency_ms.{host}", "host", host)
                if ms < 0:
                    self.err(where(s.network, "host_latency_ms"),
                             f"scenario.network.host_latency_ms.{host}: {ms} is negative")
        if s.expected is not None:
            self._expected(root, s.expected)
        if s.scoring is not None:
            for weight, points in s.scoring.weights.items():
                if weight not in DEFAULT_WEIGHTS:
                    self.err(where(s.scoring, "weights"), f"scenario.scoring.weights: unknown weight '{weight}' "
                                                          f"(the weights: {', '.join(DEFAULT_WEIGHTS)})")
                elif points < 0:
                    self.err(where(s.scoring, "weights"), f"scenario.scoring.weights.{weight}: {points} is negative")

    def _entries(self, key: str, entries: Sequence[Broken | RestoredWhen], vocabulary: list[str]) -> None:
        for i, entry in enumerate(entries):
            given = chosen(entry)
            if not given and not self.whole:
                continue  # an entry that failed its shape (said already)
            if len(given) != 1:
                what = "an action" if key == "broken" else "a check"
                self.err(where(entry), f"scenario.{key}[{i}]: each entry names exactly one {what} "
                                       f"({', '.join(vocabulary)}); found {len(given)}")
                continue
            name, args = given[0]
            for field_name, kind, value in args.refs():
                self._ref(where(args, field_name), f"scenario.{key}[{i}].{name}.{field_name}", kind, value)

    def _ref(self, pos: Pos, path: str, kind: str, value: str) -> None:
        plan = self.plan
        if kind == "database":
            if value.casefold() not in _DATABASES:
                known = ", ".join(sorted(_DATABASES.values()))
                self.err(pos, f"{path}: '{value}' is not a Lync database (§9: {known})")
            return
        if kind == "cmdlet":
            if value.casefold() not in _cmdlet_names():
                self.err(pos, f"{path}: '{value}' is not a Lync cmdlet the lab has (§8)")
            return
        if plan is None:
            return  # the plan is missing or invalid: said once already
        pools = {p.fqdn.lower() for p in plan.topology.pools}
        if kind == "pool":
            if value.lower() not in pools:
                self.err(pos, f"{path}: pool {value} is not in the plan {self.shape.plan}")
        elif kind == "host":
            if value.lower() not in _hosts(plan):
                self.err(pos, f"{path}: {value} is not a server of the plan {self.shape.plan}")
        elif kind == "sql":
            ids = {s.id for s in plan.topology.sql_instances} | {
                p.fqdn.lower() for p in plan.front_end_pools() if p.edition == "standard"}
            if value not in ids and value.lower() not in ids:
                self.err(pos, f"{path}: '{value}' is not a SQL instance of the plan (ids: "
                              f"{', '.join(s.id for s in plan.topology.sql_instances)})")
        elif kind == "file_store":
            stores = [f.id for f in plan.topology.file_stores]
            if value not in stores:
                self.err(pos, f"{path}: '{value}' is not a file store of the plan (ids: {', '.join(stores)})")

    def _faults(self, f: FaultsSpec) -> None:
        base = "scenario.faults"
        for field_name in ("flaky_host",):
            value = getattr(f, field_name)
            if value is not None:
                self._ref(where(f, field_name), f"{base}.{field_name}", "host", value)
        for server in f.servers_down:
            self._ref(where(f, "servers_down"), f"{base}.servers_down", "host", server)
        if f.missing_parameter is not None:
            mp = f.missing_parameter
            self._ref(where(mp, "host"), f"{base}.missing_parameter.host", "host", mp.host)
            self._ref(where(mp, "cmdlet"), f"{base}.missing_parameter.cmdlet", "cmdlet", mp.cmdlet)
        if f.share_unreachable is not None:
            su = f.share_unreachable
            self._ref(where(su, "host"), f"{base}.share_unreachable.host", "host", su.host)
            server = su.share.lstrip("\\").split("\\", 1)[0]
            if not su.share.startswith("\\\\") or "\\" not in su.share.lstrip("\\"):
                self.err(where(su, "share"), f"{base}.share_unreachable.share: '{su.share}' is not a share root "
                                             r"(\\server\share)")
            else:
                self._ref(where(su, "share"), f"{base}.share_unreachable.share", "host", server)
        for i, timed in enumerate(f.timed):
            path = f"{base}.timed[{i}]"
            given = [(n, v) for n, v in (("sql_restore_fails", timed.sql_restore_fails),
                                         ("drop_connection", timed.drop_connection)) if v is not None]
            if not given and not self.whole:
                continue
            if len(given) != 1:
                self.err(where(timed), f"{path}: each timed fault is exactly one of sql_restore_fails, "
                                       f"drop_connection; found {len(given)}")
                continue
            if timed.sql_restore_fails is not None:
                srf = timed.sql_restore_fails
                self._ref(where(srf, "instance"), f"{path}.sql_restore_fails.instance", "sql", srf.instance)
                if srf.database is not None:
                    self._ref(where(srf, "database"), f"{path}.sql_restore_fails.database", "database", srf.database)
            elif timed.drop_connection is not None:
                dc = timed.drop_connection
                self._ref(where(dc, "host"), f"{path}.drop_connection.host", "host", dc.host)
                self._ref(where(dc, "during"), f"{path}.drop_connection.during", "cmdlet", dc.during)

    def _expected(self, root: yaml.MappingNode, e: Expected) -> None:
        plan = self.plan
        for i, entry in enumerate(e.plan):
            pos = _item_pos(root, e, "plan", i)
            path = f"scenario.expected.plan[{i}]"
            if not 1 <= len(entry) <= 2:
                self.err(pos, f"{path}: write [recovery path id, pool or server]; found {len(entry)} values")
                continue
            if str(entry[0]) not in BY_ID:
                self.err(pos, f"{path}: '{entry[0]}' is not a recovery path (the paths: {', '.join(BY_ID)})")
            if len(entry) == 2 and plan is not None:
                targets = {p.fqdn.lower() for p in plan.topology.pools} | _hosts(plan)
                if str(entry[1]).lower() not in targets:
                    self.err(pos, f"{path}: {entry[1]} is not a pool or server of the plan {self.shape.plan}")
        if e.set is not None and plan is not None:
            locations = [loc.name for loc in plan.backup.locations]
            if e.set.location is None and len(locations) > 1:
                self.err(where(e.set), f"scenario.expected.set: the plan has {len(locations)} backup locations: "
                                       f"name one ({', '.join(locations)})")
            elif e.set.location is not None and e.set.location not in locations:
                self.err(where(e.set, "location"), f"scenario.expected.set.location: '{e.set.location}' is not a "
                                                   f"backup location of the plan ({', '.join(locations)})")


def _partial(root: yaml.MappingNode) -> ScenarioFile | None:
    """The well-shaped parts of a file whose shape failed, so that their meaning is checked too
    (all errors at once): each key kept when it builds on its own (an action, check or timed
    fault that does not is replaced by an empty entry, so that the others keep their index), the
    rest left out. The issues of this pass are the first pass's, and are not reported again."""
    fields = {yaml_key(f): f for f in dataclasses.fields(ScenarioFile)}
    hints = typing.get_type_hints(ScenarioFile)

    def builds(tp: Any, node: yaml.Node) -> bool:
        return Validator().build(tp, node, "") is not None

    def entries(item: Any, node: yaml.SequenceNode) -> yaml.SequenceNode:
        kept = [n if builds(item, n) else yaml.MappingNode(_MAP, [], n.start_mark, n.end_mark) for n in node.value]
        return yaml.SequenceNode(node.tag, kept, node.start_mark, node.end_mark)

    pairs: list[tuple[yaml.Node, yaml.Node]] = []
    for key_node, value_node in root.value:
        f = fields.get(key_node.value) if isinstance(key_node, yaml.ScalarNode) else None
        if f is None or f.name in ("name", "summary"):
            continue
        if f.name in ("broken", "restored_when") and isinstance(value_node, yaml.SequenceNode):
            pairs.append((key_node, entries(Broken if f.name == "broken" else RestoredWhen, value_node)))
        elif builds(hints[f.name], value_node):
            pairs.append((key_node, value_node))
        elif f.name == "faults":
            timed = _key_node(value_node, "timed")
            if timed is not None and isinstance(timed[1], yaml.SequenceNode):
                only = yaml.MappingNode(_MAP, [(timed[0], entries(Timed, timed[1]))],
                                        value_node.start_mark, value_node.end_mark)
                pairs.append((key_node, only))
        elif f.name == "network" and isinstance(value_node, yaml.MappingNode):  # each key on its own
            kept_keys = [(k, v) for k, v in value_node.value
                         if builds(NetworkSpec, yaml.MappingNode(_MAP, [(k, v)], v.start_mark, v.end_mark))]
            pairs.append((key_node, yaml.MappingNode(_MAP, kept_keys, value_node.start_mark, value_node.end_mark)))
    mark = root.start_mark
    for key in ("name", "summary"):
        pairs.append((yaml.ScalarNode(_STR, key, mark, mark), yaml.ScalarNode(_STR, "x", mark, mark)))
    shape = Validator().build(ScenarioFile, yaml.MappingNode(_MAP, pairs, mark, root.end_mark), "scenario")
    return shape if isinstance(shape, ScenarioFile) else None


_MAP, _STR = "tag:yaml.org,2002:map", "tag:yaml.org,2002:str"


def _hosts(plan: Plan) -> set[str]:
    topo = plan.topology
    hosts = {s.lower() for p in topo.pools for s in p.servers} | {s.server.lower() for s in topo.sql_instances}
    hosts |= {f.server.lower() for f in topo.file_stores}
    hosts |= {loc.unc.lstrip("\\").split("\\", 1)[0].lower() for loc in plan.backup.locations}
    return hosts


def _item_pos(root: yaml.MappingNode, obj: object, key: str, index: int) -> Pos:
    """Where item ``index`` of the list ``key`` of ``obj`` was written (the list's own position
    when the node cannot be found)."""
    pos = where(obj, key)
    for node in _walk(root):
        if isinstance(node, yaml.SequenceNode) and Pos.of(node) == pos and index < len(node.value):
            return Pos.of(node.value[index])
    return pos


def _walk(node: yaml.Node) -> Iterator[yaml.Node]:
    yield node
    if isinstance(node, yaml.SequenceNode):
        for child in node.value:
            yield from _walk(child)
    elif isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            yield from _walk(k)
            yield from _walk(v)


# ------------------------------------------------------------------------------ the scenario


def _build(shape: ScenarioFile, changes: Mapping[str, Any], meaning: _Meaning, source: Path) -> Scenario:
    f = shape.faults or FaultsSpec()
    timed_sql = tuple(SqlRestoreFails(t.sql_restore_fails.instance, t.sql_restore_fails.at_percent,
                                      t.sql_restore_fails.database)
                      for t in f.timed if t.sql_restore_fails is not None)
    timed_drop = tuple(ConnectionDrop(t.drop_connection.host, t.drop_connection.during)
                       for t in f.timed if t.drop_connection is not None)
    faults = Faults(
        corrupt_newest_set=f.corrupt_newest_set, missing_e911=f.missing_e911, broken_log_chain=f.broken_log_chain,
        flaky_host=f.flaky_host, slow_restore=f.slow_restore, full_disk=f.full_disk, no_delegation=f.no_delegation,
        backups_mounted=f.backups_mounted,
        missing_parameter=(f.missing_parameter.host, f.missing_parameter.cmdlet, f.missing_parameter.parameter)
        if f.missing_parameter else None,
        missing_membership=(f.missing_membership.account, f.missing_membership.group)
        if f.missing_membership else None,
        share_unreachable=(f.share_unreachable.host, f.share_unreachable.share) if f.share_unreachable else None,
        backups_stopped_hours=f.backups_stopped_hours, servers_down=tuple(f.servers_down),
        sql_restore_fails=timed_sql, connection_drops=timed_drop)
    actions = [chosen(b)[0][1] for b in shape.broken]
    checks = [chosen(c)[0][1] for c in shape.restored_when]
    expected = shape.expected or Expected()
    expected_set: tuple[str | None, int] | None = None
    if expected.set is not None:
        expected_set = (expected.set.location, expected.set.newest)
    weights = {**DEFAULT_WEIGHTS, **(shape.scoring.weights if shape.scoring else {})}
    network = shape.network or NetworkSpec()
    return Scenario(
        name=shape.name, summary=shape.summary, outage_class=shape.outage_class or "",
        expected_path=tuple(shape.sections), damage=run_actions(actions), check=all_checks(checks),
        plan=shape.plan, plan_changes=dict(changes), faults=faults, forbidden=tuple(shape.forbidden),
        latency=Latency.ms(network.latency_ms, network.host_latency_ms),
        expected_plan=tuple((str(e[0]), e[1] if len(e) > 1 else None) for e in expected.plan),
        expected_set=expected_set, weights=weights, drill=shape.drill, source=source)


def schema_document() -> dict[str, Any]:
    """The JSON Schema of scenario files (``docs/scenario-schema.json``)."""
    doc = json_schema(ScenarioFile, title="lync-restore lab scenario",
                      schema_id="https://lync-restore.invalid/docs/scenario-schema.json")
    doc["properties"]["plan_changes"] = {"type": "object", "description": doc["properties"]["plan_changes"][
        "description"]}
    return doc
