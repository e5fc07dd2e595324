"""Synthetic but plausible registry data for demonstrations, development and benchmarks.

Every person is fictional: names are drawn at random from pools of common names, so any likeness
to a real person is chance. Origin states follow the shape of Freedom House's counts; host states
are mostly EU member states. The same seed always gives the same data.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from haven.crypto.fields import FieldCipher
from haven.demo.names import NAME_POOLS, NamePool
from haven.domain.countries import EU_MEMBER_STATES, country_name
from haven.domain.enums import (
    Accusation,
    AcquisitionMethod,
    AgeBand,
    ContributorKind,
    DatePrecision,
    Gender,
    HostInvolvement,
    IncidentStatus,
    InstrumentKind,
    InstrumentStatus,
    OrganisationKind,
    OrganisationRole,
    PersonRole,
    Relationship,
    Tlp,
)
from haven.domain.taxonomy import load_taxonomy
from haven.registry.contributors import ensure_contributor
from haven.registry.schemas import (
    EvidenceIn,
    IncidentIn,
    InstrumentIn,
    OrganisationIn,
    PersonIn,
    parse,
)
from haven.registry.writer import Actor, RegistryWriter

# Relative weights after Freedom House's 2014-2024 counts of direct, physical incidents.
ORIGIN_WEIGHTS = {
    "CN": 272, "TR": 157, "TJ": 92, "RU": 86, "EG": 57, "KH": 55, "TM": 53, "UZ": 47,
    "IR": 47, "BY": 42, "RW": 30, "SA": 28, "ER": 20, "AZ": 20, "VN": 18,
}  # fmt: skip
OTHER_HOSTS = ("TR", "UA", "KZ", "TH", "AE", "GB", "US", "GE", "RS", "KG", "MY", "CA")
DEMO_CONTRIBUTORS = (
    ("Diaspora Rights Watch", ContributorKind.NGO, "DE"),
    ("Safe Return Network", ContributorKind.NGO, "NL"),
    ("Exile Legal Aid", ContributorKind.NGO, "FR"),
    ("Digital Defenders Desk", ContributorKind.NGO, "SE"),
    ("Federal Criminal Police Office focal point", ContributorKind.AUTHORITY, "DE"),
)
AGENCY_NAMES = ("Ministry of State Security", "Intelligence Directorate", "Consular Department")
RELATIONSHIPS = tuple(Relationship)
NARRATIVES = {
    "en": "The target reports {tactics}. It began after public criticism of the government of "
    "{origin}. The authorities of {host} were informed.",
    "fr": "La personne visée signale : {tactics}. Cela a commencé après des critiques publiques "
    "du gouvernement.",
    "de": "Die betroffene Person berichtet: {tactics}. Es begann nach öffentlicher Kritik an "
    "der Regierung.",
    "ru": "Пострадавший сообщает: {tactics}. Это началось после публичной критики правительства.",
    "ar": "أفاد الشخص المستهدف بما يلي: {tactics}. بدأ ذلك بعد انتقاد علني للحكومة.",
}
MEDIA_TYPES = ("image/jpeg", "application/pdf", "audio/ogg", "image/png", "text/plain")


def _weighted_origins() -> tuple[list[str], list[int]]:
    return list(ORIGIN_WEIGHTS), list(ORIGIN_WEIGHTS.values())


class IncidentFactory:
    """Plain input data (what an API client or an importer would send) for demo incidents."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.taxonomy = load_taxonomy()
        self.tactics = [tactic.code for tactic in self.taxonomy.tactics]
        self.origins, self.weights = _weighted_origins()
        self.hosts = sorted(EU_MEMBER_STATES) * 3 + list(OTHER_HOSTS)
        self.start = date(2014, 1, 1).toordinal()
        self.span = date(2025, 12, 31).toordinal() - self.start

    def origin(self) -> str:
        return self.rng.choices(self.origins, self.weights)[0]

    def incident(self, index: int, origin: str | None = None) -> dict[str, Any]:
        rng = self.rng
        origin = origin or self.origin()
        host = rng.choice(self.hosts)
        while host == origin:
            host = rng.choice(self.hosts)
        # Every tactic appears within the first len(tactics) incidents, then at random.
        first = self.tactics[index % len(self.tactics)]
        tactics = {first, *rng.sample(self.tactics, rng.choice((0, 0, 1, 2)))}
        occurred = date.fromordinal(self.start + rng.randrange(self.span))
        precision = rng.choice((DatePrecision.DAY, DatePrecision.DAY, DatePrecision.MONTH))
        if precision is DatePrecision.MONTH:
            occurred = occurred.replace(day=1)
        language = rng.choice(tuple(NARRATIVES))
        labels = ", ".join(self.taxonomy.tactic(code).label.lower() for code in sorted(tactics))
        return {
            "title": f"{self.taxonomy.tactic(first).label} in {country_name(host)}",
            "narrative": NARRATIVES[language].format(
                tactics=labels, origin=country_name(origin), host=country_name(host)
            ),
            "narrative_language": language,
            "occurred": {"start": occurred, "precision": precision},
            "reported_on": occurred + timedelta(days=rng.randrange(1, 400)),
            "origin_state": origin,
            "host_state": host,
            "tactics": sorted(tactics),
            "host_involvement": rng.choice(list(HostInvolvement)),
            "accusation": rng.choice([*Accusation, None, None]),
            "state_responsibility": rng.choice(
                ("state-ordered", "state-executed", "state-coordinated", "state-encouraged", None)
            ),
            "tlp": rng.choice((Tlp.GREEN, Tlp.AMBER, Tlp.AMBER, Tlp.AMBER_STRICT, Tlp.CLEAR)),
            # Most demo incidents verified, so that open statistics (verified only) show figures.
            "status": rng.choice(
                (IncidentStatus.VERIFIED,) * 3
                + (IncidentStatus.REPORTED, IncidentStatus.UNDER_REVIEW)
            ),
        }

    def incidents(self, count: int) -> Iterator[dict[str, Any]]:
        for index in range(count):
            yield self.incident(index)


@dataclass
class PersonFactory:
    rng: random.Random

    def pool(self, origin: str) -> NamePool:
        return self.rng.choice(NAME_POOLS[origin])

    def person(self, origin: str, profile: str | None, family: str | None = None) -> dict[str, Any]:
        rng = self.rng
        pool = self.pool(origin)
        given = rng.choice(pool.given)
        surname = rng.choice(pool.family)
        if family is not None:
            surname = next((f for f in pool.family if f[1] == family), surname)

        def full(part: int) -> str:
            ordered = (
                (surname[part], given[part]) if pool.family_first else (given[part], surname[part])
            )
            return ("" if pool.family_first and part == 0 else " ").join(ordered)

        names = [{"value": full(0), "script": pool.script}]
        if full(1) != full(0):
            names.append({"value": full(1), "script": "Latn", "transliteration": pool.language})
        born = date(1950, 1, 1) + timedelta(days=rng.randrange(365 * 55))
        handle = f"{given[1].lower()}.{surname[1].lower()}{rng.randrange(10, 99)}"
        number = f"{origin}{rng.randrange(10**7, 10**8)}"
        return {
            "identity": {
                "names": names,
                "date_of_birth": born,
                "contact": [f"{handle}@example.org", f"+49 15{rng.randrange(10**8, 10**9)}"],
                "address": f"{rng.randrange(1, 200)} Example Street, {rng.randrange(10000, 99999)}",
                "documents": [{"kind": "passport", "number": number, "issuing_state": origin}],
            },
            "nationality": origin,
            "community": None,
            "profile": profile,
            "gender": rng.choice((Gender.FEMALE, Gender.MALE, Gender.UNDISCLOSED)),
            "age_band": rng.choice(list(AgeBand)[1:]),
        }


@dataclass(frozen=True, slots=True)
class DemoSummary:
    incidents: int
    people: int
    rows: int
    contributors: tuple[str, ...]


_INSTRUMENT_FOR = {
    "interpol-abuse": InstrumentKind.RED_NOTICE,
    "extradition-misuse": InstrumentKind.EXTRADITION_REQUEST,
    "passport-cancellation": InstrumentKind.PASSPORT_CANCELLATION,
    "consular-misuse": InstrumentKind.CONSULAR_DENIAL,
    "arrest-misuse": InstrumentKind.ARREST_WARRANT,
}


def fill(
    session: Session,
    cipher: FieldCipher,
    incidents: int,
    *,
    seed: int = 2025,
    progress: Callable[[int], None] | None = None,
) -> DemoSummary:
    """Write ``incidents`` demo incidents with their people, agencies, instruments and evidence,
    in the caller's transaction."""
    contributors = [
        ensure_contributor(session, cipher, *entry, actor="demo") for entry in DEMO_CONTRIBUTORS
    ]
    factory = IncidentFactory(seed)
    people = PersonFactory(random.Random(seed + 1))
    rng = random.Random(seed + 2)
    profiles = sorted(factory.taxonomy.target_profiles.codes - {"relative", "other"})
    writers = [
        RegistryWriter(session, cipher, Actor(cid, f"demo:{name}", "demo"))
        for cid, (name, _, _) in zip(contributors, DEMO_CONTRIBUTORS, strict=True)
    ]
    agencies: dict[str, list[str]] = {}
    for origin in ORIGIN_WEIGHTS:
        agencies[origin] = [
            writers[0].add_organisation(
                parse(
                    OrganisationIn,
                    {
                        "name": f"{name} of {country_name(origin)}",
                        "kind": OrganisationKind.STATE_AGENCY,
                        "country": origin,
                    },
                )
            )
            for name in AGENCY_NAMES
        ]
    writers[0].flush()
    person_count = 0
    for index in range(incidents):
        writer = writers[index % len(writers)]
        data = parse(IncidentIn, factory.incident(index))
        incident_id = writer.add_incident(data)
        target = people.person(data.origin_state, rng.choice(profiles))
        target_id = writer.add_person(parse(PersonIn, target))
        writer.link_person(incident_id, target_id, PersonRole.TARGET)
        person_count += 1
        if "coercion-by-proxy" in data.tactics:
            family = target["identity"]["names"][-1]["value"].split()[-1]
            relative_id = writer.add_person(
                parse(PersonIn, people.person(data.origin_state, "relative", family))
            )
            writer.link_person(
                incident_id,
                relative_id,
                PersonRole.RELATIVE_TARGETED,
                on_behalf_of=target_id,
                relationship=rng.choice(RELATIONSHIPS),
            )
            person_count += 1
        writer.link_organisation(
            incident_id, rng.choice(agencies[data.origin_state]), OrganisationRole.PERPETRATOR
        )
        for tactic in data.tactics:
            kind = _INSTRUMENT_FOR.get(tactic)
            if kind is None:
                continue
            instrument = InstrumentIn(
                kind=kind,
                issuing_state=data.origin_state,
                subject_id=target_id,
                issued_on=data.occurred.start,
                status=rng.choice(list(InstrumentStatus)),
                reference=f"{kind.value.upper()}-{rng.randrange(10**6, 10**7)}",
                tlp=data.tlp,
            )
            writer.link_instrument(incident_id, writer.add_instrument(instrument))
        if rng.random() < 0.5:
            evidence = EvidenceIn(
                filename=f"evidence-{index}-{rng.randrange(1000)}.bin",
                media_type=rng.choice(MEDIA_TYPES),
                size_bytes=rng.randrange(1_000, 20_000_000),
                sha256=f"{rng.getrandbits(256):064x}",
                acquired_at=datetime.combine(
                    data.reported_on or data.occurred.start, datetime.min.time(), UTC
                ),
                acquisition_method=rng.choice(list(AcquisitionMethod)),
                acquired_by=writer.actor.name,
                source_reliability=rng.choice("abcdef"),
                information_credibility=rng.choice("123456"),
                tlp=data.tlp,
            )
            writer.link_evidence(incident_id, writer.add_evidence(evidence))
        if progress is not None and (index + 1) % 1000 == 0:
            progress(index + 1)
    for writer in writers:
        writer.flush()
    if progress is not None:
        progress(incidents)
    return DemoSummary(
        incidents=incidents,
        people=person_count,
        rows=sum(w.written for w in writers),
        contributors=tuple(name for name, _, _ in DEMO_CONTRIBUTORS),
    )
