from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from haven.access.accounts import (
    NewOrganisation,
    NewUser,
    create_organisation,
    create_user,
    reader_for,
)
from haven.access.models import User
from haven.access.sharing import Share, share_record
from haven.crypto.fields import FieldCipher
from haven.domain.enums import ContributorKind, Role
from haven.errors import Forbidden
from haven.registry.schemas import IncidentIn
from haven.registry.writer import Actor, RegistryWriter


def test_only_the_contributing_organisation_shares_its_record(
    session: Session, cipher: FieldCipher
) -> None:
    owner = create_organisation(
        session, cipher, NewOrganisation("Owner", ContributorKind.NGO), actor="t"
    )
    other = create_organisation(
        session, cipher, NewOrganisation("Other", ContributorKind.NGO), actor="t"
    )
    roles = frozenset({Role.CASEWORKER})
    owner_user = create_user(
        session, cipher, NewUser(owner, "o@example.org", "x" * 16, roles), actor="t"
    )
    other_user = create_user(
        session, cipher, NewUser(other, "x@example.org", "x" * 16, roles), actor="t"
    )
    writer = RegistryWriter(session, cipher, Actor(owner, "test"))
    incident_id = writer.add_incident(
        IncidentIn.model_validate(
            {
                "title": "t",
                "occurred": {"start": "2024-01-01"},
                "origin_state": "CN",
                "tactics": ["doxing"],
                "tlp": "red",
            }
        )
    )
    writer.flush()
    outsider = reader_for(session, session.get_one(User, other_user), surface="test")
    with pytest.raises(Forbidden):
        share_record(session, outsider, Share("incidents", incident_id, recipients=[other_user]))
    insider = reader_for(session, session.get_one(User, owner_user), surface="test")
    share_record(session, insider, Share("incidents", incident_id, recipients=[other_user]))
