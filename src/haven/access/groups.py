"""Sharing groups: named sets of organisations, administered by the organisation that owns each."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from haven.access.integrity import MEMBERS, access_state_change
from haven.access.models import SharingGroup, SharingGroupMember
from haven.audit.chain import Change, append
from haven.errors import Forbidden, NotFound, ValidationFailed
from haven.registry.models import Contributor
from haven.registry.paging import is_record_id


@dataclass(frozen=True, slots=True)
class GroupView:
    id: str
    name: str
    owner: str
    members: list[tuple[str, str]]  # (organisation id, name)


def _owned(session: Session, group_id: str, owner_id: str | None) -> SharingGroup:
    group = session.get(SharingGroup, group_id) if is_record_id(group_id) else None
    if group is None:
        raise NotFound("no such sharing group")
    if owner_id is not None and group.owner_id != owner_id:
        raise Forbidden("only the organisation that owns a sharing group changes it")
    return group


@dataclass(frozen=True, slots=True)
class Membership:
    """An organisation joining (``member``) or leaving a sharing group."""

    group_id: str
    organisation_id: str
    member: bool


def set_member(session: Session, change: Membership, *, actor: str, owner_id: str | None) -> None:
    """Add or remove an organisation; ``owner_id`` is the acting organisation (None for a
    system administrator). The owner always stays a member."""
    group = _owned(session, change.group_id, owner_id)
    organisation_id, member = change.organisation_id, change.member
    if not is_record_id(organisation_id) or session.get(Contributor, organisation_id) is None:
        raise NotFound("no such organisation")
    present = session.get(SharingGroupMember, (group.id, organisation_id)) is not None
    if member and not present:
        session.execute(
            insert(SharingGroupMember), [{"group_id": group.id, "organisation_id": organisation_id}]
        )
    elif not member and present:
        if organisation_id == group.owner_id:
            raise ValidationFailed("the owner of a sharing group stays in it")
        session.execute(
            delete(SharingGroupMember).where(
                SharingGroupMember.group_id == group.id,
                SharingGroupMember.organisation_id == organisation_id,
            )
        )
    else:
        return
    action = "add-member" if member else "remove-member"
    append(
        session,
        [
            Change(actor, action, "sharing_groups", group.id, after=organisation_id),
            access_state_change(session, MEMBERS, (group.id,), actor=actor),
        ],
    )


def groups_of(session: Session, owner_id: str | None) -> list[GroupView]:
    """The groups an organisation owns, or every group (``owner_id`` None), with members."""
    query = select(SharingGroup).order_by(SharingGroup.name)
    if owner_id is not None:
        query = query.where(SharingGroup.owner_id == owner_id)
    rows = session.execute(select(Contributor.id, Contributor.name))
    names: dict[str, str] = {row.id: row.name for row in rows}
    views = []
    for group in session.scalars(query):
        members = session.scalars(
            select(SharingGroupMember.organisation_id).where(
                SharingGroupMember.group_id == group.id
            )
        )
        views.append(
            GroupView(
                group.id,
                group.name,
                names.get(group.owner_id, ""),
                sorted(((m, names.get(m, "")) for m in members), key=lambda pair: pair[1]),
            )
        )
    return views
