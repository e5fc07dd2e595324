"""The counts behind the figures, kept exactly in step with the registry by database triggers.

A trigger on ``incidents``, ``incident_tactics``, ``incident_people`` and ``people`` changes the
counts in :mod:`haven.insight.models` in the same statement as the row, whatever wrote it (the
registry writer, an import, a migration or plain SQL), so a figure read from the counts is the
figure a scan of the records would give at that moment. :func:`drift` proves it by recounting.

Each count is keyed by:

- ``audience``: ``clear``, ``green``, ``amber`` (TLP:AMBER and TLP:AMBER+STRICT, which reach the
  contributing organisation alone unless shared) or ``red``;
- ``contributor``: the contributing organisation for ``amber``, empty otherwise;

(both derived from the policy gate's rule by :func:`haven.access.policy.count_key_sql`, so the
counts are keyed by the audiences the gate declares);
- ``cleared``: whether the contributor cleared the record for open statistics;
- ``year`` (of the start of the incident), which the period filter uses;
- where it happened: the host state in ``stats_places``, and in the other tables its region key
  (:func:`region_of`), which the region filter uses and which keeps them small;
- the dimension counted.

Triggers run before the row changes, so that a tactic counts towards its PACE method only when the
incident has no other tactic of that method yet, whether the rows arrive one by one or in one
statement.

Migration 0006 installed these statements as fixed text, and a test checks that this module still
makes exactly that text: a change to the counting needs a migration that installs it.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, text

from haven.access.policy import count_key_sql
from haven.db.dialect import (
    RowTrigger,
    changed_sql,
    create_trigger,
    drop_trigger,
    refuse_sql,
    year_sql,
)
from haven.domain.countries import EU_MEMBER_STATES, M49_REGIONS, region_states
from haven.domain.taxonomy import load_taxonomy

SCOPE = ("audience", "contributor", "cleared", "year")
TARGET = "target"


@dataclass(frozen=True, slots=True)
class Cube:
    """A count table: the scope, where it happened (``host``, the state, or ``region``, see
    :func:`region_of`), and the dimensions counted."""

    table: str
    place: str
    dimensions: tuple[str, ...]

    @property
    def key(self) -> tuple[str, ...]:
        return (*SCOPE, self.place, *self.dimensions)


PLACES = Cube("stats_places", "host", ("origin",))
TRAITS = Cube("stats_traits", "region", ("involvement", "accusation"))
TACTICS = Cube("stats_tactics", "region", ("tactic",))
METHODS = Cube("stats_methods", "region", ("method",))
PROFILES = Cube("stats_profiles", "region", ("profile",))
CUBES = (PLACES, TRAITS, TACTICS, METHODS, PROFILES)
EU = "+eu"


def region_of(host: str) -> str:
    """The region key of a host state: its UN M49 region, with ``+eu`` for an EU member state
    (so Cyprus is ``asia+eu``); empty when no host state is recorded."""
    if not host:
        return ""
    for region in M49_REGIONS:
        if host in region_states(region):
            return region + (EU if host in EU_MEMBER_STATES else "")
    return ""


def region_keys(region: str) -> list[str]:
    """The region keys a filter by region (see ``REGION_NAMES``) selects."""
    if region == "eu":
        return [name + EU for name in M49_REGIONS]
    region_states(region)
    return [region, region + EU]


class _Sql:
    """The statements for one dialect (``sqlite`` or ``postgresql``)."""

    def __init__(self, dialect: str) -> None:
        self.dialect = dialect

    def year(self, row: str) -> str:
        return year_sql(self.dialect, f"{row}.occurred_start")

    def scope(self, row: str, cube: Cube) -> str:
        """The key columns of an incident row (a trigger's NEW or OLD, or a table alias), named
        as the count table names them."""
        if cube.place == "host":
            place = f"COALESCE({row}.host_state, '')"
        else:
            place = (
                "COALESCE((SELECT hr.region FROM stats_host_regions hr "
                f"WHERE hr.host = {row}.host_state), '')"
            )
        audience, contributor = count_key_sql(row)
        return ", ".join(
            (
                f"{audience} AS audience",
                f"{contributor} AS contributor",
                f"{row}.cleared_for_statistics AS cleared",
                f"{self.year(row)} AS year",
                f"{place} AS {cube.place}",
            )
        )

    @staticmethod
    def bump(cube: Cube, select: str) -> str:
        """Add the rows of ``select`` (the key columns by name, and ``n``) to a count table,
        summed by key first so that no key is written twice in one statement."""
        columns = ", ".join(cube.key)
        return (
            f"INSERT INTO {cube.table} ({columns}, n) "
            f"SELECT {columns}, SUM(n) FROM ({select}) x GROUP BY {columns} "
            f"ON CONFLICT ({columns}) DO UPDATE SET n = {cube.table}.n + excluded.n"
        )

    # -- what one incident contributes -------------------------------------------------------

    def incident(self, row: str, sign: int, *, children: bool) -> list[str]:
        """Statements adding ``sign`` times an incident's counts, given as a row reference."""
        statements = [
            self.bump(
                PLACES,
                f"SELECT {self.scope(row, PLACES)}, {row}.origin_state AS origin, {sign} AS n",
            ),
            self.bump(
                TRAITS,
                f"SELECT {self.scope(row, TRAITS)}, {row}.host_involvement AS involvement, "
                f"COALESCE({row}.accusation, '') AS accusation, {sign} AS n",
            ),
        ]
        if children:
            statements += [
                self.bump(
                    TACTICS,
                    f"SELECT {self.scope(row, TACTICS)}, t.tactic AS tactic, {sign} AS n "
                    f"FROM incident_tactics t WHERE t.incident_id = {row}.id",
                ),
                self.bump(
                    METHODS,
                    f"SELECT {self.scope(row, METHODS)}, m.method AS method, {sign} AS n "
                    "FROM (SELECT DISTINCT tm.method AS method FROM incident_tactics t "
                    "JOIN stats_tactic_methods tm ON tm.tactic = t.tactic "
                    f"WHERE t.incident_id = {row}.id) m",
                ),
                self.bump(
                    PROFILES,
                    f"SELECT {self.scope(row, PROFILES)}, COALESCE(p.profile, '') AS profile, "
                    f"{sign} AS n FROM incident_people ip JOIN people p ON p.id = ip.person_id "
                    f"WHERE ip.incident_id = {row}.id AND ip.role = '{TARGET}'",
                ),
            ]
        return statements

    def tactic(self, row: str, sign: int) -> list[str]:
        """A tactic row joining or leaving its incident (before the change): the tactic always
        counts; its method only when no other tactic of the incident has that method."""
        return [
            self.bump(
                TACTICS,
                f"SELECT {self.scope('i', TACTICS)}, {row}.tactic AS tactic, {sign} AS n "
                f"FROM incidents i WHERE i.id = {row}.incident_id",
            ),
            self.bump(
                METHODS,
                f"SELECT {self.scope('i', METHODS)}, tm.method AS method, {sign} AS n "
                f"FROM incidents i JOIN stats_tactic_methods tm ON tm.tactic = {row}.tactic "
                f"WHERE i.id = {row}.incident_id AND NOT EXISTS (SELECT 1 FROM incident_tactics o "
                "JOIN stats_tactic_methods om ON om.tactic = o.tactic "
                f"WHERE o.incident_id = {row}.incident_id AND o.tactic <> {row}.tactic "
                "AND om.method = tm.method)",
            ),
        ]

    def target(self, row: str, sign: int) -> list[str]:
        """A person linked to (or unlinked from) an incident as its target."""
        return [
            self.bump(
                PROFILES,
                f"SELECT {self.scope('i', PROFILES)}, COALESCE(p.profile, '') AS profile, "
                f"{sign} AS n FROM incidents i JOIN people p ON p.id = {row}.person_id "
                f"WHERE i.id = {row}.incident_id AND {row}.role = '{TARGET}'",
            )
        ]

    def profile(self, profile: str, sign: int) -> list[str]:
        """A target's profile leaving or joining every incident they are the target of."""
        return [
            self.bump(
                PROFILES,
                f"SELECT {self.scope('i', PROFILES)}, COALESCE({profile}, '') AS profile, "
                f"{sign} AS n FROM incident_people ip JOIN incidents i ON i.id = ip.incident_id "
                f"WHERE ip.person_id = OLD.id AND ip.role = '{TARGET}'",
            )
        ]

    # -- triggers ------------------------------------------------------------------------------

    def triggers(self) -> list[RowTrigger]:
        incident_key = (
            "tlp",
            "contributor_id",
            "cleared_for_statistics",
            "occurred_start",
            "host_state",
            "origin_state",
            "host_involvement",
            "accusation",
        )
        return [
            RowTrigger(
                "stats_incident_insert",
                "INSERT",
                "incidents",
                None,
                self.incident("NEW", 1, children=False),
            ),
            RowTrigger(
                "stats_incident_delete",
                "DELETE",
                "incidents",
                None,
                self.incident("OLD", -1, children=True),
            ),
            RowTrigger(
                "stats_incident_update",
                "UPDATE",
                "incidents",
                changed_sql(self.dialect, incident_key),
                self.incident("OLD", -1, children=True) + self.incident("NEW", 1, children=True),
            ),
            RowTrigger(
                "stats_tactic_insert", "INSERT", "incident_tactics", None, self.tactic("NEW", 1)
            ),
            RowTrigger(
                "stats_tactic_delete", "DELETE", "incident_tactics", None, self.tactic("OLD", -1)
            ),
            RowTrigger(
                "stats_tactic_update",
                "UPDATE",
                "incident_tactics",
                None,
                [refuse_sql(self.dialect, "the tactics of an incident are replaced, not updated")],
            ),
            RowTrigger(
                "stats_target_insert", "INSERT", "incident_people", None, self.target("NEW", 1)
            ),
            RowTrigger(
                "stats_target_delete", "DELETE", "incident_people", None, self.target("OLD", -1)
            ),
            RowTrigger(
                "stats_target_update",
                "UPDATE",
                "incident_people",
                changed_sql(self.dialect, ("incident_id", "person_id", "role")),
                self.target("OLD", -1) + self.target("NEW", 1),
            ),
            RowTrigger(
                "stats_profile_update",
                "UPDATE",
                "people",
                changed_sql(self.dialect, ("profile",)),
                self.profile("OLD.profile", -1) + self.profile("NEW.profile", 1),
            ),
        ]

    def create(self) -> list[str]:
        return [s for trigger in self.triggers() for s in create_trigger(self.dialect, trigger)]

    def drop(self) -> list[str]:
        return [s for trigger in self.triggers() for s in drop_trigger(self.dialect, trigger)]

    # -- recounting ----------------------------------------------------------------------------

    def recount(self, cube: Cube) -> str:
        """The counts of one table, recomputed from the records."""
        key = self.scope("i", cube)
        if cube is PLACES:
            inner = f"SELECT {key}, i.origin_state AS origin FROM incidents i"
        elif cube is TRAITS:
            inner = (
                f"SELECT {key}, i.host_involvement AS involvement, "
                "COALESCE(i.accusation, '') AS accusation FROM incidents i"
            )
        elif cube is TACTICS:
            inner = (
                f"SELECT {key}, t.tactic AS tactic FROM incidents i "
                "JOIN incident_tactics t ON t.incident_id = i.id"
            )
        elif cube is METHODS:
            inner = (
                f"SELECT {key}, m.method AS method FROM incidents i "
                "JOIN (SELECT DISTINCT t.incident_id, tm.method FROM incident_tactics t "
                "JOIN stats_tactic_methods tm ON tm.tactic = t.tactic) m ON m.incident_id = i.id"
            )
        else:
            inner = (
                f"SELECT {key}, COALESCE(p.profile, '') AS profile FROM incidents i "
                f"JOIN incident_people ip ON ip.incident_id = i.id AND ip.role = '{TARGET}' "
                "JOIN people p ON p.id = ip.person_id"
            )
        columns = ", ".join(cube.key)
        return f"SELECT {columns}, COUNT(*) FROM ({inner}) x GROUP BY {columns}"


def trigger_statements(dialect: str) -> list[str]:
    """The statements that create every trigger on a database of this dialect."""
    return _Sql(dialect).create()


def drop_statements(dialect: str) -> list[str]:
    return _Sql(dialect).drop()


def count_statements(dialect: str) -> list[str]:
    """The statements that fill the (empty) count tables from the records."""
    sql = _Sql(dialect)
    return [
        f"INSERT INTO {cube.table} ({', '.join(cube.key)}, n) {sql.recount(cube)}" for cube in CUBES
    ]


def tactic_methods() -> dict[str, str]:
    """Each tactic's PACE method, from the current taxonomy."""
    return {tactic.code: tactic.method for tactic in load_taxonomy().tactics}


def host_regions() -> dict[str, str]:
    """Each state's region key (see :func:`region_of`)."""
    states = sorted({state for region in M49_REGIONS for state in region_states(region)})
    return {state: region_of(state) for state in states}


def sync_methods(connection: Connection) -> None:
    """Write each tactic's PACE method from the current taxonomy (new tactics only add rows)."""
    rows = connection.execute(text("SELECT tactic, method FROM stats_tactic_methods"))
    known: dict[str, str] = {row.tactic: row.method for row in rows}
    for tactic, method in tactic_methods().items():
        if tactic not in known:
            connection.execute(
                text("INSERT INTO stats_tactic_methods (tactic, method) VALUES (:t, :m)"),
                {"t": tactic, "m": method},
            )
        elif known[tactic] != method:
            raise RuntimeError(f"the taxonomy moved tactic {tactic!r} to another method")


def sync_regions(connection: Connection) -> None:
    """Write each state's region key (see :func:`region_of`); a changed key is refused, since
    the counts were made with the old one."""
    rows = connection.execute(text("SELECT host, region FROM stats_host_regions"))
    known: dict[str, str] = {row.host: row.region for row in rows}
    for state, region in host_regions().items():
        if state not in known:
            connection.execute(
                text("INSERT INTO stats_host_regions (host, region) VALUES (:h, :r)"),
                {"h": state, "r": region},
            )
        elif known[state] != region:
            raise RuntimeError(f"the region of {state} changed; recount with a migration")


def install(connection: Connection) -> None:
    """Create the triggers and count what is already recorded (migration 0006 does the same
    from its own copy of these statements)."""
    sync_methods(connection)
    sync_regions(connection)
    for statement in trigger_statements(connection.dialect.name):
        connection.execute(text(statement))
    rebuild(connection)


def uninstall(connection: Connection) -> None:
    for statement in drop_statements(connection.dialect.name):
        connection.execute(text(statement))


def rebuild(connection: Connection) -> None:
    """Recount every table from the records."""
    for cube in CUBES:
        connection.execute(text(f"DELETE FROM {cube.table}"))
    for statement in count_statements(connection.dialect.name):
        connection.execute(text(statement))


def drift(connection: Connection) -> dict[str, int]:
    """How many keys of each table differ from a recount of the records (all zero when in step)."""
    sql = _Sql(connection.dialect.name)
    differences: dict[str, int] = {}
    for cube in CUBES:
        columns = cube.key
        stored = {
            tuple(row[:-1]): row[-1]
            for row in connection.execute(
                text(f"SELECT {', '.join(columns)}, n FROM {cube.table} WHERE n <> 0")
            ).all()
        }
        counted = {tuple(row[:-1]): row[-1] for row in connection.execute(text(sql.recount(cube)))}
        keys = stored.keys() | counted.keys()
        differences[cube.table] = sum(1 for key in keys if stored.get(key) != counted.get(key))
    return differences
