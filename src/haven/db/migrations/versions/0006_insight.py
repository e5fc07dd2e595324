"""Insight: incidents cleared for open statistics, and counts kept in step by triggers

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30 01:30:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SCOPE = (
    ("audience", sa.String(length=5)),
    ("contributor", sa.String(length=36)),
    ("cleared", sa.Boolean()),
    ("year", sa.Integer()),
)
_COUNTS = (
    ("stats_places", (("host", 2), ("origin", 2))),
    ("stats_traits", (("region", 12), ("involvement", 20), ("accusation", 20))),
    ("stats_tactics", (("region", 12), ("tactic", 40))),
    ("stats_methods", (("region", 12), ("method", 40))),
    ("stats_profiles", (("region", 12), ("profile", 40))),
)


def upgrade() -> None:
    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "cleared_for_statistics", sa.Boolean(), server_default=sa.false(), nullable=False
            )
        )
    for table, dimensions in _COUNTS:
        key = [name for name, _ in _SCOPE] + [name for name, _ in dimensions]
        op.create_table(
            table,
            *(sa.Column(name, kind, nullable=False) for name, kind in _SCOPE),
            *(sa.Column(name, sa.String(length=size), nullable=False) for name, size in dimensions),
            sa.Column("n", sa.Integer(), nullable=False),
            sa.PrimaryKeyConstraint(*key, name=op.f(f"pk_{table}")),
            sqlite_with_rowid=False,
        )
    methods = op.create_table(
        "stats_tactic_methods",
        sa.Column("tactic", sa.String(length=40), nullable=False),
        sa.Column("method", sa.String(length=40), nullable=False),
        sa.PrimaryKeyConstraint("tactic", name=op.f("pk_stats_tactic_methods")),
    )
    regions = op.create_table(
        "stats_host_regions",
        sa.Column("host", sa.String(length=2), nullable=False),
        sa.Column("region", sa.String(length=12), nullable=False),
        sa.PrimaryKeyConstraint("host", name=op.f("pk_stats_host_regions")),
    )
    op.bulk_insert(
        methods,
        [
            {"tactic": tactic, "method": method}
            for method, tactics in _TACTIC_METHODS.items()
            for tactic in tactics
        ],
    )
    op.bulk_insert(
        regions,
        [
            {"host": host, "region": region}
            for region, hosts in _HOST_REGIONS.items()
            for host in hosts.split()
        ],
    )
    triggers, counts, _ = _STATEMENTS[op.get_bind().dialect.name]
    for statement in (*triggers, *counts):
        op.execute(sa.text(statement))


def downgrade() -> None:
    _, _, drop = _STATEMENTS[op.get_bind().dialect.name]
    for statement in drop:
        op.execute(sa.text(statement))
    op.drop_table("stats_host_regions")
    op.drop_table("stats_tactic_methods")
    for table, _ in reversed(_COUNTS):
        op.drop_table(table)
    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.drop_column("cleared_for_statistics")


# What follows is the counting as this migration installs it, as fixed text: each tactic's PACE
# method and each state's region key (``haven.insight.cube.region_of``) at the time, then for
# each database the statements that create the triggers, fill the count tables from the records
# already there, and drop the triggers again. tests/db/test_migrations.py checks that
# haven.insight.cube still makes exactly these, so a change to the counting comes with a
# migration of its own.

_TACTIC_METHODS: dict[str, tuple[str, ...]] = {
    "direct-attack": (
        "targeted-killing",
        "abduction",
        "enforced-disappearance",
        "physical-assault",
        "harassment",
    ),
    "co-opting-other-countries": (
        "forced-return",
        "expulsion",
        "arrest-misuse",
        "extradition-misuse",
        "interpol-abuse",
        "aml-cft-misuse",
        "false-accusation",
    ),
    "mobility-controls": (
        "consular-misuse",
        "passport-cancellation",
    ),
    "threats-from-a-distance": (
        "legal-pressure",
        "surveillance",
        "intimidation",
        "blackmail",
        "coercion-by-proxy",
        "spyware",
        "hacking",
        "doxing",
        "malicious-communications",
        "ai-manipulation",
    ),
}

_HOST_REGIONS: dict[str, str] = {
    "europe": "AD AL AX BA BY CH FO GB GG GI IM IS JE LI MC MD ME MK NO RS RU SJ SM UA VA",
    "asia": (
        "AE AF AM AZ BD BH BN BT CN GE HK ID IL IN IQ IR JO JP KG KH KP KR KW KZ LA LB LK MM "
        "MN MO MV MY NP OM PH PK PS QA SA SG SY TH TJ TL TM TR TW UZ VN YE"
    ),
    "americas": (
        "AG AI AR AW BB BL BM BO BQ BR BS BV BZ CA CL CO CR CU CW DM DO EC FK GD GF GL GP GS "
        "GT GY HN HT JM KN KY LC MF MQ MS MX NI PA PE PM PR PY SR SV SX TC TT US UY VC VE VG "
        "VI"
    ),
    "africa": (
        "AO BF BI BJ BW CD CF CG CI CM CV DJ DZ EG EH ER ET GA GH GM GN GQ GW IO KE KM LR LS "
        "LY MA MG ML MR MU MW MZ NA NE NG RE RW SC SD SH SL SN SO SS ST SZ TD TF TG TN TZ UG "
        "YT ZA ZM ZW"
    ),
    "oceania": (
        "AS AU CC CK CX FJ FM GU HM KI MH MP NC NF NR NU NZ PF PG PN PW SB TK TO TV UM VU WF WS"
    ),
    "europe+eu": "AT BE BG CZ DE DK EE ES FI FR GR HR HU IE IT LT LU LV MT NL PL PT RO SE SI SK",
    "asia+eu": "CY",
}

_SQLITE_TRIGGERS = (
    "DROP TRIGGER IF EXISTS stats_incident_insert",
    (
        "CREATE TRIGGER stats_incident_insert BEFORE INSERT ON incidents FOR EACH ROW "
        "BEGIN "
        "INSERT INTO stats_places (audience, contributor, cleared, year, host, origin, n) "
        "SELECT audience, contributor, cleared, year, host, origin, SUM(n) "
        "FROM (SELECT CASE WHEN NEW.tlp IN ('clear', 'green', 'red') THEN NEW.tlp ELSE 'amber' "
        "END AS audience, CASE WHEN NEW.tlp IN ('amber', 'amber+strict') THEN "
        "CAST(NEW.contributor_id AS TEXT) ELSE '' END AS contributor, NEW.cleared_for_statistics "
        "AS cleared, CAST(substr(NEW.occurred_start, 1, 4) AS INTEGER) AS year, "
        "COALESCE(NEW.host_state, '') AS host, NEW.origin_state AS origin, 1 AS n) x "
        "GROUP BY audience, contributor, cleared, year, host, origin "
        "ON CONFLICT (audience, contributor, cleared, year, host, origin) "
        "DO UPDATE SET n = stats_places.n + excluded.n; "
        "INSERT INTO stats_traits (audience, contributor, cleared, year, region, involvement, "
        "accusation, n) "
        "SELECT audience, contributor, cleared, year, region, involvement, accusation, SUM(n) "
        "FROM (SELECT CASE WHEN NEW.tlp IN ('clear', 'green', 'red') THEN NEW.tlp ELSE 'amber' "
        "END AS audience, CASE WHEN NEW.tlp IN ('amber', 'amber+strict') THEN "
        "CAST(NEW.contributor_id AS TEXT) ELSE '' END AS contributor, NEW.cleared_for_statistics "
        "AS cleared, CAST(substr(NEW.occurred_start, 1, 4) AS INTEGER) AS year, COALESCE((SELECT "
        "hr.region FROM stats_host_regions hr WHERE hr.host = NEW.host_state), '') AS region, "
        "NEW.host_involvement AS involvement, COALESCE(NEW.accusation, '') AS accusation, 1 AS "
        "n) x "
        "GROUP BY audience, contributor, cleared, year, region, involvement, accusation "
        "ON CONFLICT (audience, contributor, cleared, year, region, involvement, accusation) "
        "DO UPDATE SET n = stats_traits.n + excluded.n; END"
    ),
    "DROP TRIGGER IF EXISTS stats_incident_delete",
    (
        "CREATE TRIGGER stats_incident_delete BEFORE DELETE ON incidents FOR EACH ROW "
        "BEGIN "
        "INSERT INTO stats_places (audience, contributor, cleared, year, host, origin, n) "
        "SELECT audience, contributor, cleared, year, host, origin, SUM(n) "
        "FROM (SELECT CASE WHEN OLD.tlp IN ('clear', 'green', 'red') THEN OLD.tlp ELSE 'amber' "
        "END AS audience, CASE WHEN OLD.tlp IN ('amber', 'amber+strict') THEN "
        "CAST(OLD.contributor_id AS TEXT) ELSE '' END AS contributor, OLD.cleared_for_statistics "
        "AS cleared, CAST(substr(OLD.occurred_start, 1, 4) AS INTEGER) AS year, "
        "COALESCE(OLD.host_state, '') AS host, OLD.origin_state AS origin, -1 AS n) x "
        "GROUP BY audience, contributor, cleared, year, host, origin "
        "ON CONFLICT (audience, contributor, cleared, year, host, origin) "
        "DO UPDATE SET n = stats_places.n + excluded.n; "
        "INSERT INTO stats_traits (audience, contributor, cleared, year, region, involvement, "
        "accusation, n) "
        "SELECT audience, contributor, cleared, year, region, involvement, accusation, SUM(n) "
        "FROM (SELECT CASE WHEN OLD.tlp IN ('clear', 'green', 'red') THEN OLD.tlp ELSE 'amber' "
        "END AS audience, CASE WHEN OLD.tlp IN ('amber', 'amber+strict') THEN "
        "CAST(OLD.contributor_id AS TEXT) ELSE '' END AS contributor, OLD.cleared_for_statistics "
        "AS cleared, CAST(substr(OLD.occurred_start, 1, 4) AS INTEGER) AS year, COALESCE((SELECT "
        "hr.region FROM stats_host_regions hr WHERE hr.host = OLD.host_state), '') AS region, "
        "OLD.host_involvement AS involvement, COALESCE(OLD.accusation, '') AS accusation, -1 AS "
        "n) x "
        "GROUP BY audience, contributor, cleared, year, region, involvement, accusation "
        "ON CONFLICT (audience, contributor, cleared, year, region, involvement, accusation) "
        "DO UPDATE SET n = stats_traits.n + excluded.n; "
        "INSERT INTO stats_tactics (audience, contributor, cleared, year, region, tactic, n) "
        "SELECT audience, contributor, cleared, year, region, tactic, SUM(n) "
        "FROM (SELECT CASE WHEN OLD.tlp IN ('clear', 'green', 'red') THEN OLD.tlp ELSE 'amber' "
        "END AS audience, CASE WHEN OLD.tlp IN ('amber', 'amber+strict') THEN "
        "CAST(OLD.contributor_id AS TEXT) ELSE '' END AS contributor, OLD.cleared_for_statistics "
        "AS cleared, CAST(substr(OLD.occurred_start, 1, 4) AS INTEGER) AS year, COALESCE((SELECT "
        "hr.region FROM stats_host_regions hr WHERE hr.host = OLD.host_state), '') AS region, "
        "t.tactic AS tactic, -1 AS n "
        "FROM incident_tactics t "
        "WHERE t.incident_id = OLD.id) x "
        "GROUP BY audience, contributor, cleared, year, region, tactic "
        "ON CONFLICT (audience, contributor, cleared, year, region, tactic) "
        "DO UPDATE SET n = stats_tactics.n + excluded.n; "
        "INSERT INTO stats_methods (audience, contributor, cleared, year, region, method, n) "
        "SELECT audience, contributor, cleared, year, region, method, SUM(n) "
        "FROM (SELECT CASE WHEN OLD.tlp IN ('clear', 'green', 'red') THEN OLD.tlp ELSE 'amber' "
        "END AS audience, CASE WHEN OLD.tlp IN ('amber', 'amber+strict') THEN "
        "CAST(OLD.contributor_id AS TEXT) ELSE '' END AS contributor, OLD.cleared_for_statistics "
        "AS cleared, CAST(substr(OLD.occurred_start, 1, 4) AS INTEGER) AS year, COALESCE((SELECT "
        "hr.region FROM stats_host_regions hr WHERE hr.host = OLD.host_state), '') AS region, "
        "m.method AS method, -1 AS n "
        "FROM (SELECT DISTINCT tm.method AS method FROM incident_tactics t JOIN "
        "stats_tactic_methods tm ON tm.tactic = t.tactic WHERE t.incident_id = OLD.id) m) x "
        "GROUP BY audience, contributor, cleared, year, region, method "
        "ON CONFLICT (audience, contributor, cleared, year, region, method) "
        "DO UPDATE SET n = stats_methods.n + excluded.n; "
        "INSERT INTO stats_profiles (audience, contributor, cleared, year, region, profile, n) "
        "SELECT audience, contributor, cleared, year, region, profile, SUM(n) "
        "FROM (SELECT CASE WHEN OLD.tlp IN ('clear', 'green', 'red') THEN OLD.tlp ELSE 'amber' "
        "END AS audience, CASE WHEN OLD.tlp IN ('amber', 'amber+strict') THEN "
        "CAST(OLD.contributor_id AS TEXT) ELSE '' END AS contributor, OLD.cleared_for_statistics "
        "AS cleared, CAST(substr(OLD.occurred_start, 1, 4) AS INTEGER) AS year, COALESCE((SELECT "
        "hr.region FROM stats_host_regions hr WHERE hr.host = OLD.host_state), '') AS region, "
        "COALESCE(p.profile, '') AS profile, -1 AS n "
        "FROM incident_people ip "
        "JOIN people p ON p.id = ip.person_id "
        "WHERE ip.incident_id = OLD.id "
        "AND ip.role = 'target') x "
        "GROUP BY audience, contributor, cleared, year, region, profile "
        "ON CONFLICT (audience, contributor, cleared, year, region, profile) "
        "DO UPDATE SET n = stats_profiles.n + excluded.n; "
        "END"
    ),
    "DROP TRIGGER IF EXISTS stats_incident_update",
    (
        "CREATE TRIGGER stats_incident_update BEFORE UPDATE ON incidents FOR EACH ROW "
        "WHEN OLD.tlp IS NOT NEW.tlp OR OLD.contributor_id IS NOT NEW.contributor_id OR "
        "OLD.cleared_for_statistics IS NOT NEW.cleared_for_statistics OR OLD.occurred_start IS "
        "NOT NEW.occurred_start OR OLD.host_state IS NOT NEW.host_state OR OLD.origin_state IS "
        "NOT NEW.origin_state OR OLD.host_involvement IS NOT NEW.host_involvement OR "
        "OLD.accusation IS NOT NEW.accusation "
        "BEGIN "
        "INSERT INTO stats_places (audience, contributor, cleared, year, host, origin, n) "
        "SELECT audience, contributor, cleared, year, host, origin, SUM(n) "
        "FROM (SELECT CASE WHEN OLD.tlp IN ('clear', 'green', 'red') THEN OLD.tlp ELSE 'amber' "
        "END AS audience, CASE WHEN OLD.tlp IN ('amber', 'amber+strict') THEN "
        "CAST(OLD.contributor_id AS TEXT) ELSE '' END AS contributor, OLD.cleared_for_statistics "
        "AS cleared, CAST(substr(OLD.occurred_start, 1, 4) AS INTEGER) AS year, "
        "COALESCE(OLD.host_state, '') AS host, OLD.origin_state AS origin, -1 AS n) x "
        "GROUP BY audience, contributor, cleared, year, host, origin "
        "ON CONFLICT (audience, contributor, cleared, year, host, origin) "
        "DO UPDATE SET n = stats_places.n + excluded.n; "
        "INSERT INTO stats_traits (audience, contributor, cleared, year, region, involvement, "
        "accusation, n) "
        "SELECT audience, contributor, cleared, year, region, involvement, accusation, SUM(n) "
        "FROM (SELECT CASE WHEN OLD.tlp IN ('clear', 'green', 'red') THEN OLD.tlp ELSE 'amber' "
        "END AS audience, CASE WHEN OLD.tlp IN ('amber', 'amber+strict') THEN "
        "CAST(OLD.contributor_id AS TEXT) ELSE '' END AS contributor, OLD.cleared_for_statistics "
        "AS cleared, CAST(substr(OLD.occurred_start, 1, 4) AS INTEGER) AS year, COALESCE((SELECT "
        "hr.region FROM stats_host_regions hr WHERE hr.host = OLD.host_state), '') AS region, "
        "OLD.host_involvement AS involvement, COALESCE(OLD.accusation, '') AS accusation, -1 AS "
        "n) x "
        "GROUP BY audience, contributor, cleared, year, region, involvement, accusation "
        "ON CONFLICT (audience, contributor, cleared, year, region, involvement, accusation) "
        "DO UPDATE SET n = stats_traits.n + excluded.n; "
        "INSERT INTO stats_tactics (audience, contributor, cleared, year, region, tactic, n) "
        "SELECT audience, contributor, cleared, year, region, tactic, SUM(n) "
        "FROM (SELECT CASE WHEN OLD.tlp IN ('clear', 'green', 'red') THEN OLD.tlp ELSE 'amber' "
        "END AS audience, CASE WHEN OLD.tlp IN ('amber', 'amber+strict') THEN "
        "CAST(OLD.contributor_id AS TEXT) ELSE '' END AS contributor, OLD.cleared_for_statistics "
        "AS cleared, CAST(substr(OLD.occurred_start, 1, 4) AS INTEGER) AS year, COALESCE((SELECT "
        "hr.region FROM stats_host_regions hr WHERE hr.host = OLD.host_state), '') AS region, "
        "t.tactic AS tactic, -1 AS n "
        "FROM incident_tactics t "
        "WHERE t.incident_id = OLD.id) x "
        "GROUP BY audience, contributor, cleared, year, region, tactic "
        "ON CONFLICT (audience, contributor, cleared, year, region, tactic) "
        "DO UPDATE SET n = stats_tactics.n + excluded.n; "
        "INSERT INTO stats_methods (audience, contributor, cleared, year, region, method, n) "
        "SELECT audience, contributor, cleared, year, region, method, SUM(n) "
        "FROM (SELECT CASE WHEN OLD.tlp IN ('clear', 'green', 'red') THEN OLD.tlp ELSE 'amber' "
        "END AS audience, CASE WHEN OLD.tlp IN ('amber', 'amber+strict') THEN "
        "CAST(OLD.contributor_id AS TEXT) ELSE '' END AS contributor, OLD.cleared_for_statistics "
        "AS cleared, CAST(substr(OLD.occurred_start, 1, 4) AS INTEGER) AS year, COALESCE((SELECT "
        "hr.region FROM stats_host_regions hr WHERE hr.host = OLD.host_state), '') AS region, "
        "m.method AS method, -1 AS n "
        "FROM (SELECT DISTINCT tm.method AS method FROM incident_tactics t JOIN "
        "stats_tactic_methods tm ON tm.tactic = t.tactic WHERE t.incident_id = OLD.id) m) x "
        "GROUP BY audience, contributor, cleared, year, region, method "
        "ON CONFLICT (audience, contributor, cleared, year, region, method) "
        "DO UPDATE SET n = stats_methods.n + excluded.n; "
        "INSERT INTO stats_profiles (audience, contributor, cleared, year, region, profile, n) "
        "SELECT audience, contributor, cleared, year, region, profile, SUM(n) "
        "FROM (SELECT CASE WHEN OLD.tlp IN ('clear', 'green', 'red') THEN OLD.tlp ELSE 'amber' "
        "END AS audience, CASE WHEN OLD.tlp IN ('amber', 'amber+strict') THEN "
        "CAST(OLD.contributor_id AS TEXT) ELSE '' END AS contributor, OLD.cleared_for_statistics "
        "AS cleared, CAST(substr(OLD.occurred_start, 1, 4) AS INTEGER) AS year, COALESCE((SELECT "
        "hr.region FROM stats_host_regions hr WHERE hr.host = OLD.host_state), '') AS region, "
        "COALESCE(p.profile, '') AS profile, -1 AS n "
        "FROM incident_people ip "
        "JOIN people p ON p.id = ip.person_id "
        "WHERE ip.incident_id = OLD.id "
        "AND ip.role = 'target') x "
        "GROUP BY audience, contributor, cleared, year, region, profile "
        "ON CONFLICT (audience, contributor, cleared, year, region, profile) "
        "DO UPDATE SET n = stats_profiles.n + excluded.n; "
        "INSERT INTO stats_places (audience, contributor, cleared, year, host, origin, n) "
        "SELECT audience, contributor, cleared, year, host, origin, SUM(n) "
        "FROM (SELECT CASE WHEN NEW.tlp IN ('clear', 'green', 'red') THEN NEW.tlp ELSE 'amber' "
        "END AS audience, CASE WHEN NEW.tlp IN ('amber', 'amber+strict') THEN "
        "CAST(NEW.contributor_id AS TEXT) ELSE '' END AS contributor, NEW.cleared_for_statistics "
        "AS cleared, CAST(substr(NEW.occurred_start, 1, 4) AS INTEGER) AS year, "
        "COALESCE(NEW.host_state, '') AS host, NEW.origin_state AS origin, 1 AS n) x "
        "GROUP BY audience, contributor, cleared, year, host, origin "
        "ON CONFLICT (audience, contributor, cleared, year, host, origin) "
        "DO UPDATE SET n = stats_places.n + excluded.n; "
        "INSERT INTO stats_traits (audience, contributor, cleared, year, region, involvement, "
        "accusation, n) "
        "SELECT audience, contributor, cleared, year, region, involvement, accusation, SUM(n) "
        "FROM (SELECT CASE WHEN NEW.tlp IN ('clear', 'green', 'red') THEN NEW.tlp ELSE 'amber' "
        "END AS audience, CASE WHEN NEW.tlp IN ('amber', 'amber+strict') THEN "
        "CAST(NEW.contributor_id AS TEXT) ELSE '' END AS contributor, NEW.cleared_for_statistics "
        "AS cleared, CAST(substr(NEW.occurred_start, 1, 4) AS INTEGER) AS year, COALESCE((SELECT "
        "hr.region FROM stats_host_regions hr WHERE hr.host = NEW.host_state), '') AS region, "
        "NEW.host_involvement AS involvement, COALESCE(NEW.accusation, '') AS accusation, 1 AS "
        "n) x "
        "GROUP BY audience, contributor, cleared, year, region, involvement, accusation "
        "ON CONFLICT (audience, contributor, cleared, year, region, involvement, accusation) "
        "DO UPDATE SET n = stats_traits.n + excluded.n; "
        "INSERT INTO stats_tactics (audience, contributor, cleared, year, region, tactic, n) "
        "SELECT audience, contributor, cleared, year, region, tactic, SUM(n) "
        "FROM (SELECT CASE WHEN NEW.tlp IN ('clear', 'green', 'red') THEN NEW.tlp ELSE 'amber' "
        "END AS audience, CASE WHEN NEW.tlp IN ('amber', 'amber+strict') THEN "
        "CAST(NEW.contributor_id AS TEXT) ELSE '' END AS contributor, NEW.cleared_for_statistics "
        "AS cleared, CAST(substr(NEW.occurred_start, 1, 4) AS INTEGER) AS year, COALESCE((SELECT "
        "hr.region FROM stats_host_regions hr WHERE hr.host = NEW.host_state), '') AS region, "
        "t.tactic AS tactic, 1 AS n "
        "FROM incident_tactics t "
        "WHERE t.incident_id = NEW.id) x "
        "GROUP BY audience, contributor, cleared, year, region, tactic "
        "ON CONFLICT (audience, contributor, cleared, year, region, tactic) "
        "DO UPDATE SET n = stats_tactics.n + excluded.n; "
        "INSERT INTO stats_methods (audience, contributor, cleared, year, region, method, n) "
        "SELECT audience, contributor, cleared, year, region, method, SUM(n) "
        "FROM (SELECT CASE WHEN NEW.tlp IN ('clear', 'green', 'red') THEN NEW.tlp ELSE 'amber' "
        "END AS audience, CASE WHEN NEW.tlp IN ('amber', 'amber+strict') THEN "
        "CAST(NEW.contributor_id AS TEXT) ELSE '' END AS contributor, NEW.cleared_for_statistics "
        "AS cleared, CAST(substr(NEW.occurred_start, 1, 4) AS INTEGER) AS year, COALESCE((SELECT "
        "hr.region FROM stats_host_regions hr WHERE hr.host = NEW.host_state), '') AS region, "
        "m.method AS method, 1 AS n "
        "FROM (SELECT DISTINCT tm.method AS method FROM incident_tactics t JOIN "
        "stats_tactic_methods tm ON tm.tactic = t.tactic WHERE t.incident_id = NEW.id) m) x "
        "GROUP BY audience, contributor, cleared, year, region, method "
        "ON CONFLICT (audience, contributor, cleared, year, region, method) "
        "DO UPDATE SET n = stats_methods.n + excluded.n; "
        "INSERT INTO stats_profiles (audience, contributor, cleared, year, region, profile, n) "
        "SELECT audience, contributor, cleared, year, region, profile, SUM(n) "
        "FROM (SELECT CASE WHEN NEW.tlp IN ('clear', 'green', 'red') THEN NEW.tlp ELSE 'amber' "
        "END AS audience, CASE WHEN NEW.tlp IN ('amber', 'amber+strict') THEN "
        "CAST(NEW.contributor_id AS TEXT) ELSE '' END AS contributor, NEW.cleared_for_statistics "
        "AS cleared, CAST(substr(NEW.occurred_start, 1, 4) AS INTEGER) AS year, COALESCE((SELECT "
        "hr.region FROM stats_host_regions hr WHERE hr.host = NEW.host_state), '') AS region, "
        "COALESCE(p.profile, '') AS profile, 1 AS n "
        "FROM incident_people ip "
        "JOIN people p ON p.id = ip.person_id "
        "WHERE ip.incident_id = NEW.id "
        "AND ip.role = 'target') x "
        "GROUP BY audience, contributor, cleared, year, region, profile "
        "ON CONFLICT (audience, contributor, cleared, year, region, profile) "
        "DO UPDATE SET n = stats_profiles.n + excluded.n; "
        "END"
    ),
    "DROP TRIGGER IF EXISTS stats_tactic_insert",
    (
        "CREATE TRIGGER stats_tactic_insert BEFORE INSERT ON incident_tactics FOR EACH ROW "
        "BEGIN "
        "INSERT INTO stats_tactics (audience, contributor, cleared, year, region, tactic, n) "
        "SELECT audience, contributor, cleared, year, region, tactic, SUM(n) "
        "FROM (SELECT CASE WHEN i.tlp IN ('clear', 'green', 'red') THEN i.tlp ELSE 'amber' END "
        "AS audience, CASE WHEN i.tlp IN ('amber', 'amber+strict') THEN CAST(i.contributor_id AS "
        "TEXT) ELSE '' END AS contributor, i.cleared_for_statistics AS cleared, "
        "CAST(substr(i.occurred_start, 1, 4) AS INTEGER) AS year, COALESCE((SELECT hr.region "
        "FROM stats_host_regions hr WHERE hr.host = i.host_state), '') AS region, NEW.tactic AS "
        "tactic, 1 AS n "
        "FROM incidents i WHERE i.id = NEW.incident_id) x "
        "GROUP BY audience, contributor, cleared, year, region, tactic "
        "ON CONFLICT (audience, contributor, cleared, year, region, tactic) "
        "DO UPDATE SET n = stats_tactics.n + excluded.n; "
        "INSERT INTO stats_methods (audience, contributor, cleared, year, region, method, n) "
        "SELECT audience, contributor, cleared, year, region, method, SUM(n) "
        "FROM (SELECT CASE WHEN i.tlp IN ('clear', 'green', 'red') THEN i.tlp ELSE 'amber' END "
        "AS audience, CASE WHEN i.tlp IN ('amber', 'amber+strict') THEN CAST(i.contributor_id AS "
        "TEXT) ELSE '' END AS contributor, i.cleared_for_statistics AS cleared, "
        "CAST(substr(i.occurred_start, 1, 4) AS INTEGER) AS year, COALESCE((SELECT hr.region "
        "FROM stats_host_regions hr WHERE hr.host = i.host_state), '') AS region, tm.method AS "
        "method, 1 AS n "
        "FROM incidents i "
        "JOIN stats_tactic_methods tm ON tm.tactic = NEW.tactic "
        "WHERE i.id = NEW.incident_id "
        "AND NOT EXISTS (SELECT 1 FROM incident_tactics o JOIN stats_tactic_methods om ON "
        "om.tactic = o.tactic WHERE o.incident_id = NEW.incident_id AND o.tactic <> NEW.tactic "
        "AND om.method = tm.method)) x "
        "GROUP BY audience, contributor, cleared, year, region, method "
        "ON CONFLICT (audience, contributor, cleared, year, region, method) "
        "DO UPDATE SET n = stats_methods.n + excluded.n; "
        "END"
    ),
    "DROP TRIGGER IF EXISTS stats_tactic_delete",
    (
        "CREATE TRIGGER stats_tactic_delete BEFORE DELETE ON incident_tactics FOR EACH ROW "
        "BEGIN "
        "INSERT INTO stats_tactics (audience, contributor, cleared, year, region, tactic, n) "
        "SELECT audience, contributor, cleared, year, region, tactic, SUM(n) "
        "FROM (SELECT CASE WHEN i.tlp IN ('clear', 'green', 'red') THEN i.tlp ELSE 'amber' END "
        "AS audience, CASE WHEN i.tlp IN ('amber', 'amber+strict') THEN CAST(i.contributor_id AS "
        "TEXT) ELSE '' END AS contributor, i.cleared_for_statistics AS cleared, "
        "CAST(substr(i.occurred_start, 1, 4) AS INTEGER) AS year, COALESCE((SELECT hr.region "
        "FROM stats_host_regions hr WHERE hr.host = i.host_state), '') AS region, OLD.tactic AS "
        "tactic, -1 AS n "
        "FROM incidents i WHERE i.id = OLD.incident_id) x "
        "GROUP BY audience, contributor, cleared, year, region, tactic "
        "ON CONFLICT (audience, contributor, cleared, year, region, tactic) "
        "DO UPDATE SET n = stats_tactics.n + excluded.n; "
        "INSERT INTO stats_methods (audience, contributor, cleared, year, region, method, n) "
        "SELECT audience, contributor, cleared, year, region, method, SUM(n) "
        "FROM (SELECT CASE WHEN i.tlp IN ('clear', 'green', 'red') THEN i.tlp ELSE 'amber' END "
        "AS audience, CASE WHEN i.tlp IN ('amber', 'amber+strict') THEN CAST(i.contributor_id AS "
        "TEXT) ELSE '' END AS contributor, i.cleared_for_statistics AS cleared, "
        "CAST(substr(i.occurred_start, 1, 4) AS INTEGER) AS year, COALESCE((SELECT hr.region "
        "FROM stats_host_regions hr WHERE hr.host = i.host_state), '') AS region, tm.method AS "
        "method, -1 AS n "
        "FROM incidents i "
        "JOIN stats_tactic_methods tm ON tm.tactic = OLD.tactic "
        "WHERE i.id = OLD.incident_id "
        "AND NOT EXISTS (SELECT 1 FROM incident_tactics o JOIN stats_tactic_methods om ON "
        "om.tactic = o.tactic WHERE o.incident_id = OLD.incident_id AND o.tactic <> OLD.tactic "
        "AND om.method = tm.method)) x "
        "GROUP BY audience, contributor, cleared, year, region, method "
        "ON CONFLICT (audience, contributor, cleared, year, region, method) "
        "DO UPDATE SET n = stats_methods.n + excluded.n; "
        "END"
    ),
    "DROP TRIGGER IF EXISTS stats_tactic_update",
    (
        "CREATE TRIGGER stats_tactic_update BEFORE UPDATE ON incident_tactics FOR EACH ROW "
        "BEGIN "
        "SELECT RAISE(ABORT, 'the tactics of an incident are replaced, not updated'); "
        "END"
    ),
    "DROP TRIGGER IF EXISTS stats_target_insert",
    (
        "CREATE TRIGGER stats_target_insert BEFORE INSERT ON incident_people FOR EACH ROW "
        "BEGIN "
        "INSERT INTO stats_profiles (audience, contributor, cleared, year, region, profile, n) "
        "SELECT audience, contributor, cleared, year, region, profile, SUM(n) "
        "FROM (SELECT CASE WHEN i.tlp IN ('clear', 'green', 'red') THEN i.tlp ELSE 'amber' END "
        "AS audience, CASE WHEN i.tlp IN ('amber', 'amber+strict') THEN CAST(i.contributor_id AS "
        "TEXT) ELSE '' END AS contributor, i.cleared_for_statistics AS cleared, "
        "CAST(substr(i.occurred_start, 1, 4) AS INTEGER) AS year, COALESCE((SELECT hr.region "
        "FROM stats_host_regions hr WHERE hr.host = i.host_state), '') AS region, "
        "COALESCE(p.profile, '') AS profile, 1 AS n "
        "FROM incidents i "
        "JOIN people p ON p.id = NEW.person_id "
        "WHERE i.id = NEW.incident_id "
        "AND NEW.role = 'target') x "
        "GROUP BY audience, contributor, cleared, year, region, profile "
        "ON CONFLICT (audience, contributor, cleared, year, region, profile) "
        "DO UPDATE SET n = stats_profiles.n + excluded.n; "
        "END"
    ),
    "DROP TRIGGER IF EXISTS stats_target_delete",
    (
        "CREATE TRIGGER stats_target_delete BEFORE DELETE ON incident_people FOR EACH ROW "
        "BEGIN "
        "INSERT INTO stats_profiles (audience, contributor, cleared, year, region, profile, n) "
        "SELECT audience, contributor, cleared, year, region, profile, SUM(n) "
        "FROM (SELECT CASE WHEN i.tlp IN ('clear', 'green', 'red') THEN i.tlp ELSE 'amber' END "
        "AS audience, CASE WHEN i.tlp IN ('amber', 'amber+strict') THEN CAST(i.contributor_id AS "
        "TEXT) ELSE '' END AS contributor, i.cleared_for_statistics AS cleared, "
        "CAST(substr(i.occurred_start, 1, 4) AS INTEGER) AS year, COALESCE((SELECT hr.region "
        "FROM stats_host_regions hr WHERE hr.host = i.host_state), '') AS region, "
        "COALESCE(p.profile, '') AS profile, -1 AS n "
        "FROM incidents i "
        "JOIN people p ON p.id = OLD.person_id "
        "WHERE i.id = OLD.incident_id "
        "AND OLD.role = 'target') x "
        "GROUP BY audience, contributor, cleared, year, region, profile "
        "ON CONFLICT (audience, contributor, cleared, year, region, profile) "
        "DO UPDATE SET n = stats_profiles.n + excluded.n; "
        "END"
    ),
    "DROP TRIGGER IF EXISTS stats_target_update",
    (
        "CREATE TRIGGER stats_target_update BEFORE UPDATE ON incident_people FOR EACH ROW "
        "WHEN OLD.incident_id IS NOT NEW.incident_id OR OLD.person_id IS NOT NEW.person_id OR "
        "OLD.role IS NOT NEW.role "
        "BEGIN "
        "INSERT INTO stats_profiles (audience, contributor, cleared, year, region, profile, n) "
        "SELECT audience, contributor, cleared, year, region, profile, SUM(n) "
        "FROM (SELECT CASE WHEN i.tlp IN ('clear', 'green', 'red') THEN i.tlp ELSE 'amber' END "
        "AS audience, CASE WHEN i.tlp IN ('amber', 'amber+strict') THEN CAST(i.contributor_id AS "
        "TEXT) ELSE '' END AS contributor, i.cleared_for_statistics AS cleared, "
        "CAST(substr(i.occurred_start, 1, 4) AS INTEGER) AS year, COALESCE((SELECT hr.region "
        "FROM stats_host_regions hr WHERE hr.host = i.host_state), '') AS region, "
        "COALESCE(p.profile, '') AS profile, -1 AS n "
        "FROM incidents i "
        "JOIN people p ON p.id = OLD.person_id "
        "WHERE i.id = OLD.incident_id "
        "AND OLD.role = 'target') x "
        "GROUP BY audience, contributor, cleared, year, region, profile "
        "ON CONFLICT (audience, contributor, cleared, year, region, profile) "
        "DO UPDATE SET n = stats_profiles.n + excluded.n; "
        "INSERT INTO stats_profiles (audience, contributor, cleared, year, region, profile, n) "
        "SELECT audience, contributor, cleared, year, region, profile, SUM(n) "
        "FROM (SELECT CASE WHEN i.tlp IN ('clear', 'green', 'red') THEN i.tlp ELSE 'amber' END "
        "AS audience, CASE WHEN i.tlp IN ('amber', 'amber+strict') THEN CAST(i.contributor_id AS "
        "TEXT) ELSE '' END AS contributor, i.cleared_for_statistics AS cleared, "
        "CAST(substr(i.occurred_start, 1, 4) AS INTEGER) AS year, COALESCE((SELECT hr.region "
        "FROM stats_host_regions hr WHERE hr.host = i.host_state), '') AS region, "
        "COALESCE(p.profile, '') AS profile, 1 AS n "
        "FROM incidents i "
        "JOIN people p ON p.id = NEW.person_id "
        "WHERE i.id = NEW.incident_id "
        "AND NEW.role = 'target') x "
        "GROUP BY audience, contributor, cleared, year, region, profile "
        "ON CONFLICT (audience, contributor, cleared, year, region, profile) "
        "DO UPDATE SET n = stats_profiles.n + excluded.n; "
        "END"
    ),
    "DROP TRIGGER IF EXISTS stats_profile_update",
    (
        "CREATE TRIGGER stats_profile_update BEFORE UPDATE ON people FOR EACH ROW "
        "WHEN OLD.profile IS NOT NEW.profile BEGIN "
        "INSERT INTO stats_profiles (audience, contributor, cleared, year, region, profile, n) "
        "SELECT audience, contributor, cleared, year, region, profile, SUM(n) "
        "FROM (SELECT CASE WHEN i.tlp IN ('clear', 'green', 'red') THEN i.tlp ELSE 'amber' END "
        "AS audience, CASE WHEN i.tlp IN ('amber', 'amber+strict') THEN CAST(i.contributor_id AS "
        "TEXT) ELSE '' END AS contributor, i.cleared_for_statistics AS cleared, "
        "CAST(substr(i.occurred_start, 1, 4) AS INTEGER) AS year, COALESCE((SELECT hr.region "
        "FROM stats_host_regions hr WHERE hr.host = i.host_state), '') AS region, "
        "COALESCE(OLD.profile, '') AS profile, -1 AS n "
        "FROM incident_people ip "
        "JOIN incidents i ON i.id = ip.incident_id "
        "WHERE ip.person_id = OLD.id "
        "AND ip.role = 'target') x "
        "GROUP BY audience, contributor, cleared, year, region, profile "
        "ON CONFLICT (audience, contributor, cleared, year, region, profile) "
        "DO UPDATE SET n = stats_profiles.n + excluded.n; "
        "INSERT INTO stats_profiles (audience, contributor, cleared, year, region, profile, n) "
        "SELECT audience, contributor, cleared, year, region, profile, SUM(n) "
        "FROM (SELECT CASE WHEN i.tlp IN ('clear', 'green', 'red') THEN i.tlp ELSE 'amber' END "
        "AS audience, CASE WHEN i.tlp IN ('amber', 'amber+strict') THEN CAST(i.contributor_id AS "
        "TEXT) ELSE '' END AS contributor, i.cleared_for_statistics AS cleared, "
        "CAST(substr(i.occurred_start, 1, 4) AS INTEGER) AS year, COALESCE((SELECT hr.region "
        "FROM stats_host_regions hr WHERE hr.host = i.host_state), '') AS region, "
        "COALESCE(NEW.profile, '') AS profile, 1 AS n "
        "FROM incident_people ip "
        "JOIN incidents i ON i.id = ip.incident_id "
        "WHERE ip.person_id = OLD.id "
        "AND ip.role = 'target') x "
        "GROUP BY audience, contributor, cleared, year, region, profile "
        "ON CONFLICT (audience, contributor, cleared, year, region, profile) "
        "DO UPDATE SET n = stats_profiles.n + excluded.n; "
        "END"
    ),
)

_SQLITE_COUNTS = (
    (
        "INSERT INTO stats_places (audience, contributor, cleared, year, host, origin, n) "
        "SELECT audience, contributor, cleared, year, host, origin, COUNT(*) "
        "FROM (SELECT CASE WHEN i.tlp IN ('clear', 'green', 'red') THEN i.tlp ELSE 'amber' END "
        "AS audience, CASE WHEN i.tlp IN ('amber', 'amber+strict') THEN CAST(i.contributor_id AS "
        "TEXT) ELSE '' END AS contributor, i.cleared_for_statistics AS cleared, "
        "CAST(substr(i.occurred_start, 1, 4) AS INTEGER) AS year, COALESCE(i.host_state, '') AS "
        "host, i.origin_state AS origin "
        "FROM incidents i) x "
        "GROUP BY audience, contributor, cleared, year, host, origin"
    ),
    (
        "INSERT INTO stats_traits (audience, contributor, cleared, year, region, involvement, "
        "accusation, n) "
        "SELECT audience, contributor, cleared, year, region, involvement, accusation, COUNT(*) "
        "FROM (SELECT CASE WHEN i.tlp IN ('clear', 'green', 'red') THEN i.tlp ELSE 'amber' END "
        "AS audience, CASE WHEN i.tlp IN ('amber', 'amber+strict') THEN CAST(i.contributor_id AS "
        "TEXT) ELSE '' END AS contributor, i.cleared_for_statistics AS cleared, "
        "CAST(substr(i.occurred_start, 1, 4) AS INTEGER) AS year, COALESCE((SELECT hr.region "
        "FROM stats_host_regions hr WHERE hr.host = i.host_state), '') AS region, "
        "i.host_involvement AS involvement, COALESCE(i.accusation, '') AS accusation "
        "FROM incidents i) x "
        "GROUP BY audience, contributor, cleared, year, region, involvement, accusation"
    ),
    (
        "INSERT INTO stats_tactics (audience, contributor, cleared, year, region, tactic, n) "
        "SELECT audience, contributor, cleared, year, region, tactic, COUNT(*) "
        "FROM (SELECT CASE WHEN i.tlp IN ('clear', 'green', 'red') THEN i.tlp ELSE 'amber' END "
        "AS audience, CASE WHEN i.tlp IN ('amber', 'amber+strict') THEN CAST(i.contributor_id AS "
        "TEXT) ELSE '' END AS contributor, i.cleared_for_statistics AS cleared, "
        "CAST(substr(i.occurred_start, 1, 4) AS INTEGER) AS year, COALESCE((SELECT hr.region "
        "FROM stats_host_regions hr WHERE hr.host = i.host_state), '') AS region, t.tactic AS "
        "tactic "
        "FROM incidents i "
        "JOIN incident_tactics t ON t.incident_id = i.id) x "
        "GROUP BY audience, contributor, cleared, year, region, tactic"
    ),
    (
        "INSERT INTO stats_methods (audience, contributor, cleared, year, region, method, n) "
        "SELECT audience, contributor, cleared, year, region, method, COUNT(*) "
        "FROM (SELECT CASE WHEN i.tlp IN ('clear', 'green', 'red') THEN i.tlp ELSE 'amber' END "
        "AS audience, CASE WHEN i.tlp IN ('amber', 'amber+strict') THEN CAST(i.contributor_id AS "
        "TEXT) ELSE '' END AS contributor, i.cleared_for_statistics AS cleared, "
        "CAST(substr(i.occurred_start, 1, 4) AS INTEGER) AS year, COALESCE((SELECT hr.region "
        "FROM stats_host_regions hr WHERE hr.host = i.host_state), '') AS region, m.method AS "
        "method "
        "FROM incidents i "
        "JOIN (SELECT DISTINCT t.incident_id, tm.method FROM incident_tactics t JOIN "
        "stats_tactic_methods tm ON tm.tactic = t.tactic) m ON m.incident_id = i.id) x "
        "GROUP BY audience, contributor, cleared, year, region, method"
    ),
    (
        "INSERT INTO stats_profiles (audience, contributor, cleared, year, region, profile, n) "
        "SELECT audience, contributor, cleared, year, region, profile, COUNT(*) "
        "FROM (SELECT CASE WHEN i.tlp IN ('clear', 'green', 'red') THEN i.tlp ELSE 'amber' END "
        "AS audience, CASE WHEN i.tlp IN ('amber', 'amber+strict') THEN CAST(i.contributor_id AS "
        "TEXT) ELSE '' END AS contributor, i.cleared_for_statistics AS cleared, "
        "CAST(substr(i.occurred_start, 1, 4) AS INTEGER) AS year, COALESCE((SELECT hr.region "
        "FROM stats_host_regions hr WHERE hr.host = i.host_state), '') AS region, "
        "COALESCE(p.profile, '') AS profile "
        "FROM incidents i "
        "JOIN incident_people ip ON ip.incident_id = i.id "
        "AND ip.role = 'target' "
        "JOIN people p ON p.id = ip.person_id) x "
        "GROUP BY audience, contributor, cleared, year, region, profile"
    ),
)

_SQLITE_DROP = (
    "DROP TRIGGER IF EXISTS stats_incident_insert",
    "DROP TRIGGER IF EXISTS stats_incident_delete",
    "DROP TRIGGER IF EXISTS stats_incident_update",
    "DROP TRIGGER IF EXISTS stats_tactic_insert",
    "DROP TRIGGER IF EXISTS stats_tactic_delete",
    "DROP TRIGGER IF EXISTS stats_tactic_update",
    "DROP TRIGGER IF EXISTS stats_target_insert",
    "DROP TRIGGER IF EXISTS stats_target_delete",
    "DROP TRIGGER IF EXISTS stats_target_update",
    "DROP TRIGGER IF EXISTS stats_profile_update",
)

_POSTGRESQL_TRIGGERS = (
    (
        "CREATE OR REPLACE FUNCTION stats_incident_insert() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ "
        "BEGIN "
        "INSERT INTO stats_places (audience, contributor, cleared, year, host, origin, n) "
        "SELECT audience, contributor, cleared, year, host, origin, SUM(n) "
        "FROM (SELECT CASE WHEN NEW.tlp IN ('clear', 'green', 'red') THEN NEW.tlp ELSE 'amber' "
        "END AS audience, CASE WHEN NEW.tlp IN ('amber', 'amber+strict') THEN "
        "CAST(NEW.contributor_id AS TEXT) ELSE '' END AS contributor, NEW.cleared_for_statistics "
        "AS cleared, CAST(EXTRACT(YEAR FROM NEW.occurred_start) AS INTEGER) AS year, "
        "COALESCE(NEW.host_state, '') AS host, NEW.origin_state AS origin, 1 AS n) x "
        "GROUP BY audience, contributor, cleared, year, host, origin "
        "ON CONFLICT (audience, contributor, cleared, year, host, origin) "
        "DO UPDATE SET n = stats_places.n + excluded.n; "
        "INSERT INTO stats_traits (audience, contributor, cleared, year, region, involvement, "
        "accusation, n) "
        "SELECT audience, contributor, cleared, year, region, involvement, accusation, SUM(n) "
        "FROM (SELECT CASE WHEN NEW.tlp IN ('clear', 'green', 'red') THEN NEW.tlp ELSE 'amber' "
        "END AS audience, CASE WHEN NEW.tlp IN ('amber', 'amber+strict') THEN "
        "CAST(NEW.contributor_id AS TEXT) ELSE '' END AS contributor, NEW.cleared_for_statistics "
        "AS cleared, CAST(EXTRACT(YEAR FROM NEW.occurred_start) AS INTEGER) AS year, "
        "COALESCE((SELECT hr.region FROM stats_host_regions hr WHERE hr.host = NEW.host_state), "
        "'') AS region, NEW.host_involvement AS involvement, COALESCE(NEW.accusation, '') AS "
        "accusation, 1 AS n) x "
        "GROUP BY audience, contributor, cleared, year, region, involvement, accusation "
        "ON CONFLICT (audience, contributor, cleared, year, region, involvement, accusation) "
        "DO UPDATE SET n = stats_traits.n + excluded.n; "
        "RETURN NEW; END $$"
    ),
    "DROP TRIGGER IF EXISTS stats_incident_insert ON incidents",
    (
        "CREATE TRIGGER stats_incident_insert BEFORE INSERT ON incidents FOR EACH ROW "
        "EXECUTE FUNCTION stats_incident_insert()"
    ),
    (
        "CREATE OR REPLACE FUNCTION stats_incident_delete() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ "
        "BEGIN "
        "INSERT INTO stats_places (audience, contributor, cleared, year, host, origin, n) "
        "SELECT audience, contributor, cleared, year, host, origin, SUM(n) "
        "FROM (SELECT CASE WHEN OLD.tlp IN ('clear', 'green', 'red') THEN OLD.tlp ELSE 'amber' "
        "END AS audience, CASE WHEN OLD.tlp IN ('amber', 'amber+strict') THEN "
        "CAST(OLD.contributor_id AS TEXT) ELSE '' END AS contributor, OLD.cleared_for_statistics "
        "AS cleared, CAST(EXTRACT(YEAR FROM OLD.occurred_start) AS INTEGER) AS year, "
        "COALESCE(OLD.host_state, '') AS host, OLD.origin_state AS origin, -1 AS n) x "
        "GROUP BY audience, contributor, cleared, year, host, origin "
        "ON CONFLICT (audience, contributor, cleared, year, host, origin) "
        "DO UPDATE SET n = stats_places.n + excluded.n; "
        "INSERT INTO stats_traits (audience, contributor, cleared, year, region, involvement, "
        "accusation, n) "
        "SELECT audience, contributor, cleared, year, region, involvement, accusation, SUM(n) "
        "FROM (SELECT CASE WHEN OLD.tlp IN ('clear', 'green', 'red') THEN OLD.tlp ELSE 'amber' "
        "END AS audience, CASE WHEN OLD.tlp IN ('amber', 'amber+strict') THEN "
        "CAST(OLD.contributor_id AS TEXT) ELSE '' END AS contributor, OLD.cleared_for_statistics "
        "AS cleared, CAST(EXTRACT(YEAR FROM OLD.occurred_start) AS INTEGER) AS year, "
        "COALESCE((SELECT hr.region FROM stats_host_regions hr WHERE hr.host = OLD.host_state), "
        "'') AS region, OLD.host_involvement AS involvement, COALESCE(OLD.accusation, '') AS "
        "accusation, -1 AS n) x "
        "GROUP BY audience, contributor, cleared, year, region, involvement, accusation "
        "ON CONFLICT (audience, contributor, cleared, year, region, involvement, accusation) "
        "DO UPDATE SET n = stats_traits.n + excluded.n; "
        "INSERT INTO stats_tactics (audience, contributor, cleared, year, region, tactic, n) "
        "SELECT audience, contributor, cleared, year, region, tactic, SUM(n) "
        "FROM (SELECT CASE WHEN OLD.tlp IN ('clear', 'green', 'red') THEN OLD.tlp ELSE 'amber' "
        "END AS audience, CASE WHEN OLD.tlp IN ('amber', 'amber+strict') THEN "
        "CAST(OLD.contributor_id AS TEXT) ELSE '' END AS contributor, OLD.cleared_for_statistics "
        "AS cleared, CAST(EXTRACT(YEAR FROM OLD.occurred_start) AS INTEGER) AS year, "
        "COALESCE((SELECT hr.region FROM stats_host_regions hr WHERE hr.host = OLD.host_state), "
        "'') AS region, t.tactic AS tactic, -1 AS n "
        "FROM incident_tactics t "
        "WHERE t.incident_id = OLD.id) x "
        "GROUP BY audience, contributor, cleared, year, region, tactic "
        "ON CONFLICT (audience, contributor, cleared, year, region, tactic) "
        "DO UPDATE SET n = stats_tactics.n + excluded.n; "
        "INSERT INTO stats_methods (audience, contributor, cleared, year, region, method, n) "
        "SELECT audience, contributor, cleared, year, region, method, SUM(n) "
        "FROM (SELECT CASE WHEN OLD.tlp IN ('clear', 'green', 'red') THEN OLD.tlp ELSE 'amber' "
        "END AS audience, CASE WHEN OLD.tlp IN ('amber', 'amber+strict') THEN "
        "CAST(OLD.contributor_id AS TEXT) ELSE '' END AS contributor, OLD.cleared_for_statistics "
        "AS cleared, CAST(EXTRACT(YEAR FROM OLD.occurred_start) AS INTEGER) AS year, "
        "COALESCE((SELECT hr.region FROM stats_host_regions hr WHERE hr.host = OLD.host_state), "
        "'') AS region, m.method AS method, -1 AS n "
        "FROM (SELECT DISTINCT tm.method AS method FROM incident_tactics t JOIN "
        "stats_tactic_methods tm ON tm.tactic = t.tactic WHERE t.incident_id = OLD.id) m) x "
        "GROUP BY audience, contributor, cleared, year, region, method "
        "ON CONFLICT (audience, contributor, cleared, year, region, method) "
        "DO UPDATE SET n = stats_methods.n + excluded.n; "
        "INSERT INTO stats_profiles (audience, contributor, cleared, year, region, profile, n) "
        "SELECT audience, contributor, cleared, year, region, profile, SUM(n) "
        "FROM (SELECT CASE WHEN OLD.tlp IN ('clear', 'green', 'red') THEN OLD.tlp ELSE 'amber' "
        "END AS audience, CASE WHEN OLD.tlp IN ('amber', 'amber+strict') THEN "
        "CAST(OLD.contributor_id AS TEXT) ELSE '' END AS contributor, OLD.cleared_for_statistics "
        "AS cleared, CAST(EXTRACT(YEAR FROM OLD.occurred_start) AS INTEGER) AS year, "
        "COALESCE((SELECT hr.region FROM stats_host_regions hr WHERE hr.host = OLD.host_state), "
        "'') AS region, COALESCE(p.profile, '') AS profile, -1 AS n "
        "FROM incident_people ip "
        "JOIN people p ON p.id = ip.person_id "
        "WHERE ip.incident_id = OLD.id "
        "AND ip.role = 'target') x "
        "GROUP BY audience, contributor, cleared, year, region, profile "
        "ON CONFLICT (audience, contributor, cleared, year, region, profile) "
        "DO UPDATE SET n = stats_profiles.n + excluded.n; "
        "RETURN OLD; END $$"
    ),
    "DROP TRIGGER IF EXISTS stats_incident_delete ON incidents",
    (
        "CREATE TRIGGER stats_incident_delete BEFORE DELETE ON incidents FOR EACH ROW "
        "EXECUTE FUNCTION stats_incident_delete()"
    ),
    (
        "CREATE OR REPLACE FUNCTION stats_incident_update() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ "
        "BEGIN "
        "INSERT INTO stats_places (audience, contributor, cleared, year, host, origin, n) "
        "SELECT audience, contributor, cleared, year, host, origin, SUM(n) "
        "FROM (SELECT CASE WHEN OLD.tlp IN ('clear', 'green', 'red') THEN OLD.tlp ELSE 'amber' "
        "END AS audience, CASE WHEN OLD.tlp IN ('amber', 'amber+strict') THEN "
        "CAST(OLD.contributor_id AS TEXT) ELSE '' END AS contributor, OLD.cleared_for_statistics "
        "AS cleared, CAST(EXTRACT(YEAR FROM OLD.occurred_start) AS INTEGER) AS year, "
        "COALESCE(OLD.host_state, '') AS host, OLD.origin_state AS origin, -1 AS n) x "
        "GROUP BY audience, contributor, cleared, year, host, origin "
        "ON CONFLICT (audience, contributor, cleared, year, host, origin) "
        "DO UPDATE SET n = stats_places.n + excluded.n; "
        "INSERT INTO stats_traits (audience, contributor, cleared, year, region, involvement, "
        "accusation, n) "
        "SELECT audience, contributor, cleared, year, region, involvement, accusation, SUM(n) "
        "FROM (SELECT CASE WHEN OLD.tlp IN ('clear', 'green', 'red') THEN OLD.tlp ELSE 'amber' "
        "END AS audience, CASE WHEN OLD.tlp IN ('amber', 'amber+strict') THEN "
        "CAST(OLD.contributor_id AS TEXT) ELSE '' END AS contributor, OLD.cleared_for_statistics "
        "AS cleared, CAST(EXTRACT(YEAR FROM OLD.occurred_start) AS INTEGER) AS year, "
        "COALESCE((SELECT hr.region FROM stats_host_regions hr WHERE hr.host = OLD.host_state), "
        "'') AS region, OLD.host_involvement AS involvement, COALESCE(OLD.accusation, '') AS "
        "accusation, -1 AS n) x "
        "GROUP BY audience, contributor, cleared, year, region, involvement, accusation "
        "ON CONFLICT (audience, contributor, cleared, year, region, involvement, accusation) "
        "DO UPDATE SET n = stats_traits.n + excluded.n; "
        "INSERT INTO stats_tactics (audience, contributor, cleared, year, region, tactic, n) "
        "SELECT audience, contributor, cleared, year, region, tactic, SUM(n) "
        "FROM (SELECT CASE WHEN OLD.tlp IN ('clear', 'green', 'red') THEN OLD.tlp ELSE 'amber' "
        "END AS audience, CASE WHEN OLD.tlp IN ('amber', 'amber+strict') THEN "
        "CAST(OLD.contributor_id AS TEXT) ELSE '' END AS contributor, OLD.cleared_for_statistics "
        "AS cleared, CAST(EXTRACT(YEAR FROM OLD.occurred_start) AS INTEGER) AS year, "
        "COALESCE((SELECT hr.region FROM stats_host_regions hr WHERE hr.host = OLD.host_state), "
        "'') AS region, t.tactic AS tactic, -1 AS n "
        "FROM incident_tactics t "
        "WHERE t.incident_id = OLD.id) x "
        "GROUP BY audience, contributor, cleared, year, region, tactic "
        "ON CONFLICT (audience, contributor, cleared, year, region, tactic) "
        "DO UPDATE SET n = stats_tactics.n + excluded.n; "
        "INSERT INTO stats_methods (audience, contributor, cleared, year, region, method, n) "
        "SELECT audience, contributor, cleared, year, region, method, SUM(n) "
        "FROM (SELECT CASE WHEN OLD.tlp IN ('clear', 'green', 'red') THEN OLD.tlp ELSE 'amber' "
        "END AS audience, CASE WHEN OLD.tlp IN ('amber', 'amber+strict') THEN "
        "CAST(OLD.contributor_id AS TEXT) ELSE '' END AS contributor, OLD.cleared_for_statistics "
        "AS cleared, CAST(EXTRACT(YEAR FROM OLD.occurred_start) AS INTEGER) AS year, "
        "COALESCE((SELECT hr.region FROM stats_host_regions hr WHERE hr.host = OLD.host_state), "
        "'') AS region, m.method AS method, -1 AS n "
        "FROM (SELECT DISTINCT tm.method AS method FROM incident_tactics t JOIN "
        "stats_tactic_methods tm ON tm.tactic = t.tactic WHERE t.incident_id = OLD.id) m) x "
        "GROUP BY audience, contributor, cleared, year, region, method "
        "ON CONFLICT (audience, contributor, cleared, year, region, method) "
        "DO UPDATE SET n = stats_methods.n + excluded.n; "
        "INSERT INTO stats_profiles (audience, contributor, cleared, year, region, profile, n) "
        "SELECT audience, contributor, cleared, year, region, profile, SUM(n) "
        "FROM (SELECT CASE WHEN OLD.tlp IN ('clear', 'green', 'red') THEN OLD.tlp ELSE 'amber' "
        "END AS audience, CASE WHEN OLD.tlp IN ('amber', 'amber+strict') THEN "
        "CAST(OLD.contributor_id AS TEXT) ELSE '' END AS contributor, OLD.cleared_for_statistics "
        "AS cleared, CAST(EXTRACT(YEAR FROM OLD.occurred_start) AS INTEGER) AS year, "
        "COALESCE((SELECT hr.region FROM stats_host_regions hr WHERE hr.host = OLD.host_state), "
        "'') AS region, COALESCE(p.profile, '') AS profile, -1 AS n "
        "FROM incident_people ip "
        "JOIN people p ON p.id = ip.person_id "
        "WHERE ip.incident_id = OLD.id "
        "AND ip.role = 'target') x "
        "GROUP BY audience, contributor, cleared, year, region, profile "
        "ON CONFLICT (audience, contributor, cleared, year, region, profile) "
        "DO UPDATE SET n = stats_profiles.n + excluded.n; "
        "INSERT INTO stats_places (audience, contributor, cleared, year, host, origin, n) "
        "SELECT audience, contributor, cleared, year, host, origin, SUM(n) "
        "FROM (SELECT CASE WHEN NEW.tlp IN ('clear', 'green', 'red') THEN NEW.tlp ELSE 'amber' "
        "END AS audience, CASE WHEN NEW.tlp IN ('amber', 'amber+strict') THEN "
        "CAST(NEW.contributor_id AS TEXT) ELSE '' END AS contributor, NEW.cleared_for_statistics "
        "AS cleared, CAST(EXTRACT(YEAR FROM NEW.occurred_start) AS INTEGER) AS year, "
        "COALESCE(NEW.host_state, '') AS host, NEW.origin_state AS origin, 1 AS n) x "
        "GROUP BY audience, contributor, cleared, year, host, origin "
        "ON CONFLICT (audience, contributor, cleared, year, host, origin) "
        "DO UPDATE SET n = stats_places.n + excluded.n; "
        "INSERT INTO stats_traits (audience, contributor, cleared, year, region, involvement, "
        "accusation, n) "
        "SELECT audience, contributor, cleared, year, region, involvement, accusation, SUM(n) "
        "FROM (SELECT CASE WHEN NEW.tlp IN ('clear', 'green', 'red') THEN NEW.tlp ELSE 'amber' "
        "END AS audience, CASE WHEN NEW.tlp IN ('amber', 'amber+strict') THEN "
        "CAST(NEW.contributor_id AS TEXT) ELSE '' END AS contributor, NEW.cleared_for_statistics "
        "AS cleared, CAST(EXTRACT(YEAR FROM NEW.occurred_start) AS INTEGER) AS year, "
        "COALESCE((SELECT hr.region FROM stats_host_regions hr WHERE hr.host = NEW.host_state), "
        "'') AS region, NEW.host_involvement AS involvement, COALESCE(NEW.accusation, '') AS "
        "accusation, 1 AS n) x "
        "GROUP BY audience, contributor, cleared, year, region, involvement, accusation "
        "ON CONFLICT (audience, contributor, cleared, year, region, involvement, accusation) "
        "DO UPDATE SET n = stats_traits.n + excluded.n; "
        "INSERT INTO stats_tactics (audience, contributor, cleared, year, region, tactic, n) "
        "SELECT audience, contributor, cleared, year, region, tactic, SUM(n) "
        "FROM (SELECT CASE WHEN NEW.tlp IN ('clear', 'green', 'red') THEN NEW.tlp ELSE 'amber' "
        "END AS audience, CASE WHEN NEW.tlp IN ('amber', 'amber+strict') THEN "
        "CAST(NEW.contributor_id AS TEXT) ELSE '' END AS contributor, NEW.cleared_for_statistics "
        "AS cleared, CAST(EXTRACT(YEAR FROM NEW.occurred_start) AS INTEGER) AS year, "
        "COALESCE((SELECT hr.region FROM stats_host_regions hr WHERE hr.host = NEW.host_state), "
        "'') AS region, t.tactic AS tactic, 1 AS n "
        "FROM incident_tactics t "
        "WHERE t.incident_id = NEW.id) x "
        "GROUP BY audience, contributor, cleared, year, region, tactic "
        "ON CONFLICT (audience, contributor, cleared, year, region, tactic) "
        "DO UPDATE SET n = stats_tactics.n + excluded.n; "
        "INSERT INTO stats_methods (audience, contributor, cleared, year, region, method, n) "
        "SELECT audience, contributor, cleared, year, region, method, SUM(n) "
        "FROM (SELECT CASE WHEN NEW.tlp IN ('clear', 'green', 'red') THEN NEW.tlp ELSE 'amber' "
        "END AS audience, CASE WHEN NEW.tlp IN ('amber', 'amber+strict') THEN "
        "CAST(NEW.contributor_id AS TEXT) ELSE '' END AS contributor, NEW.cleared_for_statistics "
        "AS cleared, CAST(EXTRACT(YEAR FROM NEW.occurred_start) AS INTEGER) AS year, "
        "COALESCE((SELECT hr.region FROM stats_host_regions hr WHERE hr.host = NEW.host_state), "
        "'') AS region, m.method AS method, 1 AS n "
        "FROM (SELECT DISTINCT tm.method AS method FROM incident_tactics t JOIN "
        "stats_tactic_methods tm ON tm.tactic = t.tactic WHERE t.incident_id = NEW.id) m) x "
        "GROUP BY audience, contributor, cleared, year, region, method "
        "ON CONFLICT (audience, contributor, cleared, year, region, method) "
        "DO UPDATE SET n = stats_methods.n + excluded.n; "
        "INSERT INTO stats_profiles (audience, contributor, cleared, year, region, profile, n) "
        "SELECT audience, contributor, cleared, year, region, profile, SUM(n) "
        "FROM (SELECT CASE WHEN NEW.tlp IN ('clear', 'green', 'red') THEN NEW.tlp ELSE 'amber' "
        "END AS audience, CASE WHEN NEW.tlp IN ('amber', 'amber+strict') THEN "
        "CAST(NEW.contributor_id AS TEXT) ELSE '' END AS contributor, NEW.cleared_for_statistics "
        "AS cleared, CAST(EXTRACT(YEAR FROM NEW.occurred_start) AS INTEGER) AS year, "
        "COALESCE((SELECT hr.region FROM stats_host_regions hr WHERE hr.host = NEW.host_state), "
        "'') AS region, COALESCE(p.profile, '') AS profile, 1 AS n "
        "FROM incident_people ip "
        "JOIN people p ON p.id = ip.person_id "
        "WHERE ip.incident_id = NEW.id "
        "AND ip.role = 'target') x "
        "GROUP BY audience, contributor, cleared, year, region, profile "
        "ON CONFLICT (audience, contributor, cleared, year, region, profile) "
        "DO UPDATE SET n = stats_profiles.n + excluded.n; "
        "RETURN NEW; END $$"
    ),
    "DROP TRIGGER IF EXISTS stats_incident_update ON incidents",
    (
        "CREATE TRIGGER stats_incident_update BEFORE UPDATE ON incidents FOR EACH ROW "
        "WHEN (OLD.tlp IS DISTINCT "
        "FROM NEW.tlp OR OLD.contributor_id IS DISTINCT "
        "FROM NEW.contributor_id OR OLD.cleared_for_statistics IS DISTINCT "
        "FROM NEW.cleared_for_statistics OR OLD.occurred_start IS DISTINCT "
        "FROM NEW.occurred_start OR OLD.host_state IS DISTINCT "
        "FROM NEW.host_state OR OLD.origin_state IS DISTINCT "
        "FROM NEW.origin_state OR OLD.host_involvement IS DISTINCT "
        "FROM NEW.host_involvement OR OLD.accusation IS DISTINCT "
        "FROM NEW.accusation) "
        "EXECUTE FUNCTION stats_incident_update()"
    ),
    (
        "CREATE OR REPLACE FUNCTION stats_tactic_insert() RETURNS trigger LANGUAGE plpgsql AS $$ "
        "BEGIN "
        "INSERT INTO stats_tactics (audience, contributor, cleared, year, region, tactic, n) "
        "SELECT audience, contributor, cleared, year, region, tactic, SUM(n) "
        "FROM (SELECT CASE WHEN i.tlp IN ('clear', 'green', 'red') THEN i.tlp ELSE 'amber' END "
        "AS audience, CASE WHEN i.tlp IN ('amber', 'amber+strict') THEN CAST(i.contributor_id AS "
        "TEXT) ELSE '' END AS contributor, i.cleared_for_statistics AS cleared, "
        "CAST(EXTRACT(YEAR FROM i.occurred_start) AS INTEGER) AS year, COALESCE((SELECT "
        "hr.region FROM stats_host_regions hr WHERE hr.host = i.host_state), '') AS region, "
        "NEW.tactic AS tactic, 1 AS n "
        "FROM incidents i WHERE i.id = NEW.incident_id) x "
        "GROUP BY audience, contributor, cleared, year, region, tactic "
        "ON CONFLICT (audience, contributor, cleared, year, region, tactic) "
        "DO UPDATE SET n = stats_tactics.n + excluded.n; "
        "INSERT INTO stats_methods (audience, contributor, cleared, year, region, method, n) "
        "SELECT audience, contributor, cleared, year, region, method, SUM(n) "
        "FROM (SELECT CASE WHEN i.tlp IN ('clear', 'green', 'red') THEN i.tlp ELSE 'amber' END "
        "AS audience, CASE WHEN i.tlp IN ('amber', 'amber+strict') THEN CAST(i.contributor_id AS "
        "TEXT) ELSE '' END AS contributor, i.cleared_for_statistics AS cleared, "
        "CAST(EXTRACT(YEAR FROM i.occurred_start) AS INTEGER) AS year, COALESCE((SELECT "
        "hr.region FROM stats_host_regions hr WHERE hr.host = i.host_state), '') AS region, "
        "tm.method AS method, 1 AS n "
        "FROM incidents i "
        "JOIN stats_tactic_methods tm ON tm.tactic = NEW.tactic "
        "WHERE i.id = NEW.incident_id "
        "AND NOT EXISTS (SELECT 1 FROM incident_tactics o JOIN stats_tactic_methods om ON "
        "om.tactic = o.tactic WHERE o.incident_id = NEW.incident_id AND o.tactic <> NEW.tactic "
        "AND om.method = tm.method)) x "
        "GROUP BY audience, contributor, cleared, year, region, method "
        "ON CONFLICT (audience, contributor, cleared, year, region, method) "
        "DO UPDATE SET n = stats_methods.n + excluded.n; "
        "RETURN NEW; END $$"
    ),
    "DROP TRIGGER IF EXISTS stats_tactic_insert ON incident_tactics",
    (
        "CREATE TRIGGER stats_tactic_insert BEFORE INSERT ON incident_tactics FOR EACH ROW "
        "EXECUTE FUNCTION stats_tactic_insert()"
    ),
    (
        "CREATE OR REPLACE FUNCTION stats_tactic_delete() RETURNS trigger LANGUAGE plpgsql AS $$ "
        "BEGIN "
        "INSERT INTO stats_tactics (audience, contributor, cleared, year, region, tactic, n) "
        "SELECT audience, contributor, cleared, year, region, tactic, SUM(n) "
        "FROM (SELECT CASE WHEN i.tlp IN ('clear', 'green', 'red') THEN i.tlp ELSE 'amber' END "
        "AS audience, CASE WHEN i.tlp IN ('amber', 'amber+strict') THEN CAST(i.contributor_id AS "
        "TEXT) ELSE '' END AS contributor, i.cleared_for_statistics AS cleared, "
        "CAST(EXTRACT(YEAR FROM i.occurred_start) AS INTEGER) AS year, COALESCE((SELECT "
        "hr.region FROM stats_host_regions hr WHERE hr.host = i.host_state), '') AS region, "
        "OLD.tactic AS tactic, -1 AS n "
        "FROM incidents i WHERE i.id = OLD.incident_id) x "
        "GROUP BY audience, contributor, cleared, year, region, tactic "
        "ON CONFLICT (audience, contributor, cleared, year, region, tactic) "
        "DO UPDATE SET n = stats_tactics.n + excluded.n; "
        "INSERT INTO stats_methods (audience, contributor, cleared, year, region, method, n) "
        "SELECT audience, contributor, cleared, year, region, method, SUM(n) "
        "FROM (SELECT CASE WHEN i.tlp IN ('clear', 'green', 'red') THEN i.tlp ELSE 'amber' END "
        "AS audience, CASE WHEN i.tlp IN ('amber', 'amber+strict') THEN CAST(i.contributor_id AS "
        "TEXT) ELSE '' END AS contributor, i.cleared_for_statistics AS cleared, "
        "CAST(EXTRACT(YEAR FROM i.occurred_start) AS INTEGER) AS year, COALESCE((SELECT "
        "hr.region FROM stats_host_regions hr WHERE hr.host = i.host_state), '') AS region, "
        "tm.method AS method, -1 AS n "
        "FROM incidents i "
        "JOIN stats_tactic_methods tm ON tm.tactic = OLD.tactic "
        "WHERE i.id = OLD.incident_id "
        "AND NOT EXISTS (SELECT 1 FROM incident_tactics o JOIN stats_tactic_methods om ON "
        "om.tactic = o.tactic WHERE o.incident_id = OLD.incident_id AND o.tactic <> OLD.tactic "
        "AND om.method = tm.method)) x "
        "GROUP BY audience, contributor, cleared, year, region, method "
        "ON CONFLICT (audience, contributor, cleared, year, region, method) "
        "DO UPDATE SET n = stats_methods.n + excluded.n; "
        "RETURN OLD; END $$"
    ),
    "DROP TRIGGER IF EXISTS stats_tactic_delete ON incident_tactics",
    (
        "CREATE TRIGGER stats_tactic_delete BEFORE DELETE ON incident_tactics FOR EACH ROW "
        "EXECUTE FUNCTION stats_tactic_delete()"
    ),
    (
        "CREATE OR REPLACE FUNCTION stats_tactic_update() RETURNS trigger LANGUAGE plpgsql AS $$ "
        "BEGIN RAISE EXCEPTION 'the tactics of an incident are replaced, not updated'; "
        "RETURN NEW; END $$"
    ),
    "DROP TRIGGER IF EXISTS stats_tactic_update ON incident_tactics",
    (
        "CREATE TRIGGER stats_tactic_update BEFORE UPDATE ON incident_tactics FOR EACH ROW "
        "EXECUTE FUNCTION stats_tactic_update()"
    ),
    (
        "CREATE OR REPLACE FUNCTION stats_target_insert() RETURNS trigger LANGUAGE plpgsql AS $$ "
        "BEGIN "
        "INSERT INTO stats_profiles (audience, contributor, cleared, year, region, profile, n) "
        "SELECT audience, contributor, cleared, year, region, profile, SUM(n) "
        "FROM (SELECT CASE WHEN i.tlp IN ('clear', 'green', 'red') THEN i.tlp ELSE 'amber' END "
        "AS audience, CASE WHEN i.tlp IN ('amber', 'amber+strict') THEN CAST(i.contributor_id AS "
        "TEXT) ELSE '' END AS contributor, i.cleared_for_statistics AS cleared, "
        "CAST(EXTRACT(YEAR FROM i.occurred_start) AS INTEGER) AS year, COALESCE((SELECT "
        "hr.region FROM stats_host_regions hr WHERE hr.host = i.host_state), '') AS region, "
        "COALESCE(p.profile, '') AS profile, 1 AS n "
        "FROM incidents i "
        "JOIN people p ON p.id = NEW.person_id "
        "WHERE i.id = NEW.incident_id "
        "AND NEW.role = 'target') x "
        "GROUP BY audience, contributor, cleared, year, region, profile "
        "ON CONFLICT (audience, contributor, cleared, year, region, profile) "
        "DO UPDATE SET n = stats_profiles.n + excluded.n; "
        "RETURN NEW; END $$"
    ),
    "DROP TRIGGER IF EXISTS stats_target_insert ON incident_people",
    (
        "CREATE TRIGGER stats_target_insert BEFORE INSERT ON incident_people FOR EACH ROW "
        "EXECUTE FUNCTION stats_target_insert()"
    ),
    (
        "CREATE OR REPLACE FUNCTION stats_target_delete() RETURNS trigger LANGUAGE plpgsql AS $$ "
        "BEGIN "
        "INSERT INTO stats_profiles (audience, contributor, cleared, year, region, profile, n) "
        "SELECT audience, contributor, cleared, year, region, profile, SUM(n) "
        "FROM (SELECT CASE WHEN i.tlp IN ('clear', 'green', 'red') THEN i.tlp ELSE 'amber' END "
        "AS audience, CASE WHEN i.tlp IN ('amber', 'amber+strict') THEN CAST(i.contributor_id AS "
        "TEXT) ELSE '' END AS contributor, i.cleared_for_statistics AS cleared, "
        "CAST(EXTRACT(YEAR FROM i.occurred_start) AS INTEGER) AS year, COALESCE((SELECT "
        "hr.region FROM stats_host_regions hr WHERE hr.host = i.host_state), '') AS region, "
        "COALESCE(p.profile, '') AS profile, -1 AS n "
        "FROM incidents i "
        "JOIN people p ON p.id = OLD.person_id "
        "WHERE i.id = OLD.incident_id "
        "AND OLD.role = 'target') x "
        "GROUP BY audience, contributor, cleared, year, region, profile "
        "ON CONFLICT (audience, contributor, cleared, year, region, profile) "
        "DO UPDATE SET n = stats_profiles.n + excluded.n; "
        "RETURN OLD; END $$"
    ),
    "DROP TRIGGER IF EXISTS stats_target_delete ON incident_people",
    (
        "CREATE TRIGGER stats_target_delete BEFORE DELETE ON incident_people FOR EACH ROW "
        "EXECUTE FUNCTION stats_target_delete()"
    ),
    (
        "CREATE OR REPLACE FUNCTION stats_target_update() RETURNS trigger LANGUAGE plpgsql AS $$ "
        "BEGIN "
        "INSERT INTO stats_profiles (audience, contributor, cleared, year, region, profile, n) "
        "SELECT audience, contributor, cleared, year, region, profile, SUM(n) "
        "FROM (SELECT CASE WHEN i.tlp IN ('clear', 'green', 'red') THEN i.tlp ELSE 'amber' END "
        "AS audience, CASE WHEN i.tlp IN ('amber', 'amber+strict') THEN CAST(i.contributor_id AS "
        "TEXT) ELSE '' END AS contributor, i.cleared_for_statistics AS cleared, "
        "CAST(EXTRACT(YEAR FROM i.occurred_start) AS INTEGER) AS year, COALESCE((SELECT "
        "hr.region FROM stats_host_regions hr WHERE hr.host = i.host_state), '') AS region, "
        "COALESCE(p.profile, '') AS profile, -1 AS n "
        "FROM incidents i "
        "JOIN people p ON p.id = OLD.person_id "
        "WHERE i.id = OLD.incident_id "
        "AND OLD.role = 'target') x "
        "GROUP BY audience, contributor, cleared, year, region, profile "
        "ON CONFLICT (audience, contributor, cleared, year, region, profile) "
        "DO UPDATE SET n = stats_profiles.n + excluded.n; "
        "INSERT INTO stats_profiles (audience, contributor, cleared, year, region, profile, n) "
        "SELECT audience, contributor, cleared, year, region, profile, SUM(n) "
        "FROM (SELECT CASE WHEN i.tlp IN ('clear', 'green', 'red') THEN i.tlp ELSE 'amber' END "
        "AS audience, CASE WHEN i.tlp IN ('amber', 'amber+strict') THEN CAST(i.contributor_id AS "
        "TEXT) ELSE '' END AS contributor, i.cleared_for_statistics AS cleared, "
        "CAST(EXTRACT(YEAR FROM i.occurred_start) AS INTEGER) AS year, COALESCE((SELECT "
        "hr.region FROM stats_host_regions hr WHERE hr.host = i.host_state), '') AS region, "
        "COALESCE(p.profile, '') AS profile, 1 AS n "
        "FROM incidents i "
        "JOIN people p ON p.id = NEW.person_id "
        "WHERE i.id = NEW.incident_id "
        "AND NEW.role = 'target') x "
        "GROUP BY audience, contributor, cleared, year, region, profile "
        "ON CONFLICT (audience, contributor, cleared, year, region, profile) "
        "DO UPDATE SET n = stats_profiles.n + excluded.n; "
        "RETURN NEW; END $$"
    ),
    "DROP TRIGGER IF EXISTS stats_target_update ON incident_people",
    (
        "CREATE TRIGGER stats_target_update BEFORE UPDATE ON incident_people FOR EACH ROW "
        "WHEN (OLD.incident_id IS DISTINCT "
        "FROM NEW.incident_id OR OLD.person_id IS DISTINCT "
        "FROM NEW.person_id OR OLD.role IS DISTINCT "
        "FROM NEW.role) "
        "EXECUTE FUNCTION stats_target_update()"
    ),
    (
        "CREATE OR REPLACE FUNCTION stats_profile_update() RETURNS trigger LANGUAGE plpgsql AS $$ "
        "BEGIN "
        "INSERT INTO stats_profiles (audience, contributor, cleared, year, region, profile, n) "
        "SELECT audience, contributor, cleared, year, region, profile, SUM(n) "
        "FROM (SELECT CASE WHEN i.tlp IN ('clear', 'green', 'red') THEN i.tlp ELSE 'amber' END "
        "AS audience, CASE WHEN i.tlp IN ('amber', 'amber+strict') THEN CAST(i.contributor_id AS "
        "TEXT) ELSE '' END AS contributor, i.cleared_for_statistics AS cleared, "
        "CAST(EXTRACT(YEAR FROM i.occurred_start) AS INTEGER) AS year, COALESCE((SELECT "
        "hr.region FROM stats_host_regions hr WHERE hr.host = i.host_state), '') AS region, "
        "COALESCE(OLD.profile, '') AS profile, -1 AS n "
        "FROM incident_people ip "
        "JOIN incidents i ON i.id = ip.incident_id "
        "WHERE ip.person_id = OLD.id "
        "AND ip.role = 'target') x "
        "GROUP BY audience, contributor, cleared, year, region, profile "
        "ON CONFLICT (audience, contributor, cleared, year, region, profile) "
        "DO UPDATE SET n = stats_profiles.n + excluded.n; "
        "INSERT INTO stats_profiles (audience, contributor, cleared, year, region, profile, n) "
        "SELECT audience, contributor, cleared, year, region, profile, SUM(n) "
        "FROM (SELECT CASE WHEN i.tlp IN ('clear', 'green', 'red') THEN i.tlp ELSE 'amber' END "
        "AS audience, CASE WHEN i.tlp IN ('amber', 'amber+strict') THEN CAST(i.contributor_id AS "
        "TEXT) ELSE '' END AS contributor, i.cleared_for_statistics AS cleared, "
        "CAST(EXTRACT(YEAR FROM i.occurred_start) AS INTEGER) AS year, COALESCE((SELECT "
        "hr.region FROM stats_host_regions hr WHERE hr.host = i.host_state), '') AS region, "
        "COALESCE(NEW.profile, '') AS profile, 1 AS n "
        "FROM incident_people ip "
        "JOIN incidents i ON i.id = ip.incident_id "
        "WHERE ip.person_id = OLD.id "
        "AND ip.role = 'target') x "
        "GROUP BY audience, contributor, cleared, year, region, profile "
        "ON CONFLICT (audience, contributor, cleared, year, region, profile) "
        "DO UPDATE SET n = stats_profiles.n + excluded.n; "
        "RETURN NEW; END $$"
    ),
    "DROP TRIGGER IF EXISTS stats_profile_update ON people",
    (
        "CREATE TRIGGER stats_profile_update BEFORE UPDATE ON people FOR EACH ROW "
        "WHEN (OLD.profile IS DISTINCT FROM NEW.profile) "
        "EXECUTE FUNCTION stats_profile_update()"
    ),
)

_POSTGRESQL_COUNTS = (
    (
        "INSERT INTO stats_places (audience, contributor, cleared, year, host, origin, n) "
        "SELECT audience, contributor, cleared, year, host, origin, COUNT(*) "
        "FROM (SELECT CASE WHEN i.tlp IN ('clear', 'green', 'red') THEN i.tlp ELSE 'amber' END "
        "AS audience, CASE WHEN i.tlp IN ('amber', 'amber+strict') THEN CAST(i.contributor_id AS "
        "TEXT) ELSE '' END AS contributor, i.cleared_for_statistics AS cleared, "
        "CAST(EXTRACT(YEAR FROM i.occurred_start) AS INTEGER) AS year, COALESCE(i.host_state, "
        "'') AS host, i.origin_state AS origin "
        "FROM incidents i) x "
        "GROUP BY audience, contributor, cleared, year, host, origin"
    ),
    (
        "INSERT INTO stats_traits (audience, contributor, cleared, year, region, involvement, "
        "accusation, n) "
        "SELECT audience, contributor, cleared, year, region, involvement, accusation, COUNT(*) "
        "FROM (SELECT CASE WHEN i.tlp IN ('clear', 'green', 'red') THEN i.tlp ELSE 'amber' END "
        "AS audience, CASE WHEN i.tlp IN ('amber', 'amber+strict') THEN CAST(i.contributor_id AS "
        "TEXT) ELSE '' END AS contributor, i.cleared_for_statistics AS cleared, "
        "CAST(EXTRACT(YEAR FROM i.occurred_start) AS INTEGER) AS year, COALESCE((SELECT "
        "hr.region FROM stats_host_regions hr WHERE hr.host = i.host_state), '') AS region, "
        "i.host_involvement AS involvement, COALESCE(i.accusation, '') AS accusation "
        "FROM incidents i) x "
        "GROUP BY audience, contributor, cleared, year, region, involvement, accusation"
    ),
    (
        "INSERT INTO stats_tactics (audience, contributor, cleared, year, region, tactic, n) "
        "SELECT audience, contributor, cleared, year, region, tactic, COUNT(*) "
        "FROM (SELECT CASE WHEN i.tlp IN ('clear', 'green', 'red') THEN i.tlp ELSE 'amber' END "
        "AS audience, CASE WHEN i.tlp IN ('amber', 'amber+strict') THEN CAST(i.contributor_id AS "
        "TEXT) ELSE '' END AS contributor, i.cleared_for_statistics AS cleared, "
        "CAST(EXTRACT(YEAR FROM i.occurred_start) AS INTEGER) AS year, COALESCE((SELECT "
        "hr.region FROM stats_host_regions hr WHERE hr.host = i.host_state), '') AS region, "
        "t.tactic AS tactic "
        "FROM incidents i "
        "JOIN incident_tactics t ON t.incident_id = i.id) x "
        "GROUP BY audience, contributor, cleared, year, region, tactic"
    ),
    (
        "INSERT INTO stats_methods (audience, contributor, cleared, year, region, method, n) "
        "SELECT audience, contributor, cleared, year, region, method, COUNT(*) "
        "FROM (SELECT CASE WHEN i.tlp IN ('clear', 'green', 'red') THEN i.tlp ELSE 'amber' END "
        "AS audience, CASE WHEN i.tlp IN ('amber', 'amber+strict') THEN CAST(i.contributor_id AS "
        "TEXT) ELSE '' END AS contributor, i.cleared_for_statistics AS cleared, "
        "CAST(EXTRACT(YEAR FROM i.occurred_start) AS INTEGER) AS year, COALESCE((SELECT "
        "hr.region FROM stats_host_regions hr WHERE hr.host = i.host_state), '') AS region, "
        "m.method AS method "
        "FROM incidents i "
        "JOIN (SELECT DISTINCT t.incident_id, tm.method FROM incident_tactics t JOIN "
        "stats_tactic_methods tm ON tm.tactic = t.tactic) m ON m.incident_id = i.id) x "
        "GROUP BY audience, contributor, cleared, year, region, method"
    ),
    (
        "INSERT INTO stats_profiles (audience, contributor, cleared, year, region, profile, n) "
        "SELECT audience, contributor, cleared, year, region, profile, COUNT(*) "
        "FROM (SELECT CASE WHEN i.tlp IN ('clear', 'green', 'red') THEN i.tlp ELSE 'amber' END "
        "AS audience, CASE WHEN i.tlp IN ('amber', 'amber+strict') THEN CAST(i.contributor_id AS "
        "TEXT) ELSE '' END AS contributor, i.cleared_for_statistics AS cleared, "
        "CAST(EXTRACT(YEAR FROM i.occurred_start) AS INTEGER) AS year, COALESCE((SELECT "
        "hr.region FROM stats_host_regions hr WHERE hr.host = i.host_state), '') AS region, "
        "COALESCE(p.profile, '') AS profile "
        "FROM incidents i "
        "JOIN incident_people ip ON ip.incident_id = i.id "
        "AND ip.role = 'target' "
        "JOIN people p ON p.id = ip.person_id) x "
        "GROUP BY audience, contributor, cleared, year, region, profile"
    ),
)

_POSTGRESQL_DROP = (
    "DROP TRIGGER IF EXISTS stats_incident_insert ON incidents",
    "DROP FUNCTION IF EXISTS stats_incident_insert()",
    "DROP TRIGGER IF EXISTS stats_incident_delete ON incidents",
    "DROP FUNCTION IF EXISTS stats_incident_delete()",
    "DROP TRIGGER IF EXISTS stats_incident_update ON incidents",
    "DROP FUNCTION IF EXISTS stats_incident_update()",
    "DROP TRIGGER IF EXISTS stats_tactic_insert ON incident_tactics",
    "DROP FUNCTION IF EXISTS stats_tactic_insert()",
    "DROP TRIGGER IF EXISTS stats_tactic_delete ON incident_tactics",
    "DROP FUNCTION IF EXISTS stats_tactic_delete()",
    "DROP TRIGGER IF EXISTS stats_tactic_update ON incident_tactics",
    "DROP FUNCTION IF EXISTS stats_tactic_update()",
    "DROP TRIGGER IF EXISTS stats_target_insert ON incident_people",
    "DROP FUNCTION IF EXISTS stats_target_insert()",
    "DROP TRIGGER IF EXISTS stats_target_delete ON incident_people",
    "DROP FUNCTION IF EXISTS stats_target_delete()",
    "DROP TRIGGER IF EXISTS stats_target_update ON incident_people",
    "DROP FUNCTION IF EXISTS stats_target_update()",
    "DROP TRIGGER IF EXISTS stats_profile_update ON people",
    "DROP FUNCTION IF EXISTS stats_profile_update()",
)

# (triggers, first counts, drop) by dialect name
_STATEMENTS: dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = {
    "sqlite": (_SQLITE_TRIGGERS, _SQLITE_COUNTS, _SQLITE_DROP),
    "postgresql": (_POSTGRESQL_TRIGGERS, _POSTGRESQL_COUNTS, _POSTGRESQL_DROP),
}
