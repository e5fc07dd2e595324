"""The one write path into the registry.

Single records and million-row loads go the same way: inputs are validated models; the writer
assigns ids, encrypts identifying fields, computes blind indexes and audit digests, buffers plain
rows per table and writes them with the database's fastest path, then appends the audit entries
— all in the caller's transaction, which the caller commits.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from sqlalchemy import exists, select, update
from sqlalchemy.orm import Session

from haven.audit.chain import Change, append, record_digest
from haven.crypto.fields import FieldCipher
from haven.db.base import Base, table_of
from haven.db.dialect import bulk_insert, encode_json
from haven.db.values import new_id, utcnow
from haven.domain.enums import OrganisationRole, PersonRole, Relationship
from haven.domain.taxonomy import CURRENT_VERSION
from haven.errors import NotFound, ValidationFailed
from haven.registry import history, models
from haven.registry.schemas import (
    EvidenceIn,
    IncidentIn,
    InstrumentIn,
    OrganisationIn,
    PersonIn,
)
from haven.registry.sealed import lookup_values, sealed_context
from haven.registry.state import plain, stored_state


@dataclass(frozen=True, slots=True)
class Actor:
    """Who is writing: the contributing organisation and the person or process acting for it."""

    contributor_id: str
    name: str
    surface: str | None = None


_PROVENANCE = ("contributor_id", "contributed_by", "contributed_at")
_LABELLED = ("tlp", "updated_at", *_PROVENANCE)

INCIDENT_COLUMNS = (
    "id",
    "title",
    "narrative",
    "narrative_language",
    "occurred_start",
    "occurred_end",
    "occurred_precision",
    "reported_on",
    "origin_state",
    "host_state",
    "other_places",
    "host_involvement",
    "accusation",
    "state_responsibility",
    "status",
    "taxonomy_version",
    "cleared_for_statistics",
    *_LABELLED,
)
PERSON_COLUMNS = (
    "id",
    "nationality",
    "community",
    "profile",
    "gender",
    "age_band",
    "identity",
    *_LABELLED,
)
ORGANISATION_COLUMNS = ("id", "name", "kind", "country", "aliases", *_LABELLED)
INSTRUMENT_COLUMNS = (
    "id",
    "kind",
    "issuing_state",
    "subject_id",
    "issued_on",
    "status",
    "status_on",
    "reference",
    *_LABELLED,
)
EVIDENCE_COLUMNS = (
    "id",
    "filename",
    "media_type",
    "size_bytes",
    "sha256",
    "acquired_at",
    "acquisition_method",
    "acquired_by",
    "source_reliability",
    "information_credibility",
    *_LABELLED,
)
PERSON_LINK_COLUMNS = (
    "id",
    "incident_id",
    "person_id",
    "role",
    "on_behalf_of_id",
    "relationship",
    *_PROVENANCE,
)
ORGANISATION_LINK_COLUMNS = ("id", "incident_id", "organisation_id", "role", *_PROVENANCE)
INSTRUMENT_LINK_COLUMNS = ("incident_id", "instrument_id", *_PROVENANCE)
EVIDENCE_LINK_COLUMNS = ("incident_id", "evidence_id", *_PROVENANCE)

# Parents before children, so foreign keys hold at every insert.
_ORDER: tuple[tuple[type[Base], tuple[str, ...]], ...] = (
    (models.Incident, INCIDENT_COLUMNS),
    (models.IncidentTactic, ("incident_id", "tactic")),
    (models.Person, PERSON_COLUMNS),
    (models.PersonLookup, ("person_id", "kind", "digest")),
    (models.Organisation, ORGANISATION_COLUMNS),
    (models.LegalInstrument, INSTRUMENT_COLUMNS),
    (models.Evidence, EVIDENCE_COLUMNS),
    (models.IncidentPerson, PERSON_LINK_COLUMNS),
    (models.IncidentOrganisation, ORGANISATION_LINK_COLUMNS),
    (models.IncidentInstrument, INSTRUMENT_LINK_COLUMNS),
    (models.IncidentEvidence, EVIDENCE_LINK_COLUMNS),
)
_JSON_COLUMNS = frozenset({"other_places", "aliases"})


@cache
def _json_positions(columns: tuple[str, ...]) -> tuple[int, ...]:
    return tuple(i for i, column in enumerate(columns) if column in _JSON_COLUMNS)


class RegistryWriter:
    def __init__(
        self,
        session: Session,
        cipher: FieldCipher,
        actor: Actor,
        *,
        batch_rows: int = 20_000,
        defer_audit: bool = False,
    ) -> None:
        """With ``defer_audit`` the audit changes are kept in :attr:`deferred` for the caller to
        append with its own, in one append at the end of its work: the chain's head is then
        locked only for the last moments of the transaction."""
        self.defer_audit = defer_audit
        self.deferred: list[Change] = []
        self.session = session
        self.cipher = cipher
        self.actor = actor
        self.batch_rows = batch_rows
        self._rows: dict[type[Base], list[Sequence[Any]]] = {m: [] for m, _ in _ORDER}
        self._changes: list[Change] = []
        self._buffered = 0
        self._added: set[str] = set()
        # Ids of records written before this writer saw them, confirmed once by a query.
        self._confirmed: set[str] = set()
        # One timestamp per batch, like a database's transaction time.
        self._now = utcnow()
        self.written = 0

    # -- records ---------------------------------------------------------------------------

    def add_incident(self, data: IncidentIn) -> str:
        incident_id = new_id()
        state: dict[str, Any] = {
            "id": incident_id,
            **self._incident_values(incident_id, data),
            **self._provenance(self._now),
        }
        narrative = self._fingerprint(data.narrative or None)
        extra = {"tactics": sorted(data.tactics), "narrative": narrative}
        self._record(models.Incident, INCIDENT_COLUMNS, state, extra)
        rows = self._rows[models.IncidentTactic]
        rows.extend((incident_id, tactic) for tactic in data.tactics)
        self._buffered += len(data.tactics)
        return self._maybe_flush(incident_id)

    def add_person(self, data: PersonIn) -> str:
        person_id = new_id()
        values, lookups, fingerprint = self._person_values(person_id, data)
        self._rows[models.PersonLookup].extend(
            (person_id, kind, digest) for kind, digest in lookups
        )
        self._buffered += len(lookups)
        state = {"id": person_id, **values, **self._provenance(self._now)}
        extra = {"identity": fingerprint, "lookup": lookups}
        self._record(models.Person, PERSON_COLUMNS, state, extra)
        return self._maybe_flush(person_id)

    def add_organisation(self, data: OrganisationIn) -> str:
        organisation_id = new_id()
        state = {
            "id": organisation_id,
            **self._organisation_values(data),
            **self._provenance(self._now),
        }
        self._record(models.Organisation, ORGANISATION_COLUMNS, state)
        return self._maybe_flush(organisation_id)

    def add_instrument(self, data: InstrumentIn) -> str:
        instrument_id = new_id()
        values = self._instrument_values(instrument_id, data)
        state = {"id": instrument_id, **values, **self._provenance(self._now)}
        extra = {"reference": self._fingerprint(data.reference)}
        self._record(models.LegalInstrument, INSTRUMENT_COLUMNS, state, extra)
        return self._maybe_flush(instrument_id)

    def add_evidence(self, data: EvidenceIn) -> str:
        evidence_id = new_id()
        values = self._evidence_values(evidence_id, data)
        state = {"id": evidence_id, **values, **self._provenance(self._now)}
        self._record(
            models.Evidence, EVIDENCE_COLUMNS, state, {"filename": self._fingerprint(data.filename)}
        )
        return self._maybe_flush(evidence_id)

    # -- links -----------------------------------------------------------------------------

    def link_person(
        self,
        incident_id: str,
        person_id: str,
        role: PersonRole,
        *,
        on_behalf_of: str | None = None,
        relationship: Relationship | None = None,
    ) -> str:
        if (role is PersonRole.RELATIVE_TARGETED) != (on_behalf_of is not None):
            raise ValidationFailed(
                "a relative targeted by proxy, and only they, must name the person the "
                "pressure is aimed at (on_behalf_of)"
            )
        if relationship is not None and role is not PersonRole.RELATIVE_TARGETED:
            raise ValidationFailed("only a relative targeted by proxy has a relationship")
        self._require(models.Incident, incident_id)
        self._require(models.Person, person_id)
        if on_behalf_of is not None:
            self._require(models.Person, on_behalf_of)
        link_id = new_id()
        state = {
            "id": link_id,
            "incident_id": incident_id,
            "person_id": person_id,
            "role": role.value,
            "on_behalf_of_id": on_behalf_of,
            "relationship": plain(relationship),
            **self._provenance(self._now),
        }
        self._record(models.IncidentPerson, PERSON_LINK_COLUMNS, state)
        return self._maybe_flush(link_id)

    def link_organisation(
        self, incident_id: str, organisation_id: str, role: OrganisationRole
    ) -> str:
        self._require(models.Incident, incident_id)
        self._require(models.Organisation, organisation_id)
        link_id = new_id()
        state = {
            "id": link_id,
            "incident_id": incident_id,
            "organisation_id": organisation_id,
            "role": role.value,
            **self._provenance(self._now),
        }
        self._record(models.IncidentOrganisation, ORGANISATION_LINK_COLUMNS, state)
        return self._maybe_flush(link_id)

    def link_instrument(self, incident_id: str, instrument_id: str) -> None:
        self._require(models.LegalInstrument, instrument_id)
        self._link_pair(
            models.IncidentInstrument, INSTRUMENT_LINK_COLUMNS, incident_id, instrument_id
        )

    def link_evidence(self, incident_id: str, evidence_id: str) -> None:
        self._require(models.Evidence, evidence_id)
        self._link_pair(models.IncidentEvidence, EVIDENCE_LINK_COLUMNS, incident_id, evidence_id)

    # -- changes to existing records -------------------------------------------------------

    def replace_incident(self, incident_id: str, data: IncidentIn) -> None:
        """Replace an incident's content, keeping its id and original provenance."""
        tactics = table_of(models.IncidentTactic)

        def retag() -> None:
            self.session.execute(tactics.delete().where(tactics.c.incident_id == incident_id))
            self.session.execute(
                tactics.insert(), [{"incident_id": incident_id, "tactic": t} for t in data.tactics]
            )

        values = self._incident_values(incident_id, data)
        self._replace(models.Incident, incident_id, values, retag)

    def replace_person(self, person_id: str, data: PersonIn) -> None:
        """Replace a person's profile and identity, keeping the id and original provenance."""
        values, lookups, _ = self._person_values(person_id, data)

        def relink() -> None:
            table = table_of(models.PersonLookup)
            self.session.execute(table.delete().where(table.c.person_id == person_id))
            if lookups:
                self.session.execute(
                    table.insert(),
                    [{"person_id": person_id, "kind": k, "digest": d} for k, d in lookups],
                )

        self._replace(models.Person, person_id, values, relink)

    def replace_organisation(self, organisation_id: str, data: OrganisationIn) -> None:
        self._replace(models.Organisation, organisation_id, self._organisation_values(data))

    def replace_instrument(self, instrument_id: str, data: InstrumentIn) -> None:
        values = self._instrument_values(instrument_id, data)
        self._replace(models.LegalInstrument, instrument_id, values)

    def replace_evidence(self, evidence_id: str, data: EvidenceIn) -> None:
        self._replace(models.Evidence, evidence_id, self._evidence_values(evidence_id, data))

    def _replace(
        self,
        model: type[Base],
        record_id: str,
        values: dict[str, Any],
        also: Callable[[], None] | None = None,
    ) -> None:
        self.flush()
        table = table_of(model)
        # Read first: it locks the row, so what follows sees the state it replaces.
        earlier = history.earlier(self.session, model, record_id)
        before = stored_state(self.session, self.cipher, model, record_id)
        self.session.execute(update(table).where(table.c.id == record_id).values(values))
        if also is not None:
            also()
        after = stored_state(self.session, self.cipher, model, record_id)
        changed = history.changed_fields(before, after)
        history.keep(self.session, earlier, changed, self.actor.name, values["updated_at"])
        self._changes.append(
            self._change("update", table.name, record_id, before=before, after=after)
        )
        self.flush()

    # -- writing ---------------------------------------------------------------------------

    def flush(self) -> None:
        if self._buffered == 0 and not self._changes:
            return
        connection = self.session.connection()
        for model, columns in _ORDER:
            rows = self._rows[model]
            if rows:
                bulk_insert(connection, table_of(model), columns, rows)
                self.written += len(rows)
                rows.clear()
        if self.defer_audit:
            self.deferred.extend(self._changes)
        else:
            append(self.session, self._changes)
        self._changes.clear()
        self._buffered = 0
        self._added.clear()
        self._now = utcnow()

    def _record(
        self,
        model: type[Base],
        columns: tuple[str, ...],
        state: dict[str, Any],
        extra: dict[str, Any] | None = None,
        *,
        entity_id: str | None = None,
    ) -> None:
        """Buffer a new row and its audit entry. Records carry an ``id``; a link without one
        is named by ``entity_id``."""
        table_name = table_of(model).name
        digest_state = {**state, **extra} if extra else state
        row = list(map(state.__getitem__, columns))
        for index in _json_positions(columns):
            row[index] = encode_json(row[index])
        self._rows[model].append(row)
        self._buffered += 1
        if entity_id is None:
            entity_id = state["id"]
            self._added.add(entity_id)
        self._changes.append(
            Change(
                actor=self.actor.name,
                action="create",
                entity=table_name,
                entity_id=entity_id,
                after=record_digest(self.cipher, table_name, digest_state),
                surface=self.actor.surface,
            )
        )

    def _change(
        self,
        action: str,
        entity: str,
        entity_id: str,
        *,
        before: dict[str, Any] | None,
        after: dict[str, Any] | None,
    ) -> Change:
        return Change(
            actor=self.actor.name,
            action=action,
            entity=entity,
            entity_id=entity_id,
            before=None if before is None else record_digest(self.cipher, entity, before),
            after=None if after is None else record_digest(self.cipher, entity, after),
            surface=self.actor.surface,
        )

    def _link_pair(
        self, link: type[Base], columns: tuple[str, ...], incident_id: str, target_id: str
    ) -> None:
        """An incident's link to an instrument or a piece of evidence (columns: incident,
        target, provenance)."""
        self._require(models.Incident, incident_id)
        state = {"incident_id": incident_id, columns[1]: target_id, **self._provenance(self._now)}
        self._record(link, columns, state, entity_id=f"{incident_id}/{target_id}")
        self._maybe_flush(incident_id)

    def _incident_values(self, incident_id: str, data: IncidentIn) -> dict[str, Any]:
        """An incident's columns from its input: the same for a new and a replaced incident."""
        return {
            "title": data.title,
            "narrative": self._seal("incidents", "narrative", incident_id, data.narrative or None),
            "narrative_language": data.narrative_language,
            "occurred_start": data.occurred.start,
            "occurred_end": data.occurred.end,
            "occurred_precision": data.occurred.precision.value,
            "reported_on": data.reported_on,
            "origin_state": data.origin_state,
            "host_state": data.host_state,
            "other_places": [place.model_dump(exclude_none=True) for place in data.other_places],
            "host_involvement": data.host_involvement.value,
            "accusation": plain(data.accusation),
            "state_responsibility": data.state_responsibility,
            "status": data.status.value,
            "taxonomy_version": CURRENT_VERSION,
            "cleared_for_statistics": data.cleared_for_statistics,
            "tlp": data.tlp.value,
            "updated_at": self._now,
        }

    def _person_values(
        self, person_id: str, data: PersonIn
    ) -> tuple[dict[str, Any], list[tuple[str, str]], str | None]:
        """A person's columns, blind indexes and identity fingerprint from their input."""
        plaintext = None
        lookups: list[tuple[str, str]] = []
        if data.identity is not None:
            plaintext = data.identity.model_dump_json(exclude_none=True)
            lookups = sorted(
                {
                    (kind, self.cipher.blind_index(kind, value))
                    for kind, value in lookup_values(data.identity)
                }
            )
        values = {
            "nationality": data.nationality,
            "community": data.community,
            "profile": data.profile,
            "gender": data.gender.value,
            "age_band": plain(data.age_band),
            "identity": self._seal("people", "identity", person_id, plaintext),
            "tlp": data.tlp.value,
            "updated_at": self._now,
        }
        return values, lookups, self._fingerprint(plaintext)

    def _instrument_values(self, instrument_id: str, data: InstrumentIn) -> dict[str, Any]:
        if data.subject_id is not None:
            self._require(models.Person, data.subject_id)
        return {
            "kind": data.kind.value,
            "issuing_state": data.issuing_state,
            "subject_id": data.subject_id,
            "issued_on": data.issued_on,
            "status": data.status.value,
            "status_on": data.status_on,
            "reference": self._seal(
                "legal_instruments", "reference", instrument_id, data.reference
            ),
            "tlp": data.tlp.value,
            "updated_at": self._now,
        }

    def _evidence_values(self, evidence_id: str, data: EvidenceIn) -> dict[str, Any]:
        return {
            "filename": self._seal("evidence", "filename", evidence_id, data.filename),
            "media_type": data.media_type,
            "size_bytes": data.size_bytes,
            "sha256": data.sha256,
            "acquired_at": data.acquired_at,
            "acquisition_method": data.acquisition_method.value,
            "acquired_by": data.acquired_by,
            "source_reliability": data.source_reliability,
            "information_credibility": data.information_credibility,
            "tlp": data.tlp.value,
            "updated_at": self._now,
        }

    def _organisation_values(self, data: OrganisationIn) -> dict[str, Any]:
        return {
            "name": data.name,
            "kind": data.kind.value,
            "country": data.country,
            "aliases": list(data.aliases),
            "tlp": data.tlp.value,
            "updated_at": self._now,
        }

    def _fingerprint(self, plaintext: str | None) -> str | None:
        """What the audit digest covers for a sealed value: a keyed digest of its plaintext, so
        re-encryption under a new key leaves record digests unchanged."""
        return None if plaintext is None else self.cipher.digest(plaintext.encode())

    def _seal(self, table: str, column: str, record_id: str, plaintext: str | None) -> bytes | None:
        if plaintext is None:
            return None
        return self.cipher.encrypt(plaintext.encode(), sealed_context(table, column, record_id))

    def _require(self, model: type[Base], record_id: str) -> None:
        if record_id in self._added or record_id in self._confirmed:
            return
        table = table_of(model)
        if not self.session.scalar(select(exists().where(table.c.id == record_id))):
            raise NotFound(f"no {table.name} record {record_id}")
        if len(self._confirmed) < 10_000:
            self._confirmed.add(record_id)

    def _provenance(self, now: Any) -> dict[str, Any]:
        return {
            "contributor_id": self.actor.contributor_id,
            "contributed_by": self.actor.name,
            "contributed_at": now,
        }

    def _maybe_flush(self, record_id: str) -> str:
        if self._buffered >= self.batch_rows:
            self.flush()
        return record_id
