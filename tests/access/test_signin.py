"""The second factor's lock-out at the service level: wrong codes count apart from passwords."""

from __future__ import annotations

import time
from datetime import timedelta

import pyotp
import pytest
from sqlalchemy import select

from haven.access.accounts import NewOrganisation, NewUser, create_organisation, create_user
from haven.access.models import User
from haven.access.signin import (
    LOCKED,
    MAX_FAILURES,
    Next,
    SignInRefused,
    Started,
    begin_enrolment,
    find_session,
    finish_enrolment,
    sign_in,
    verify_second_factor,
)
from haven.audit.models import AuditEntry
from haven.crypto.fields import FieldCipher
from haven.db.values import utcnow
from haven.domain.enums import ContributorKind, Role
from haven.runtime import Runtime

LOGIN = "case@example.org"
PASSWORD = "correct horse battery staple"


@pytest.fixture
def totp(runtime: Runtime, cipher: FieldCipher) -> pyotp.TOTP:
    """A caseworker with a second factor set up; the authenticator that holds it."""
    with runtime.transaction() as session:
        ngo = create_organisation(
            session, cipher, NewOrganisation("Exile Legal Aid", ContributorKind.NGO), actor="t"
        )
        user = NewUser(ngo, LOGIN, PASSWORD, frozenset({Role.CASEWORKER}))
        create_user(session, cipher, user, actor="t")
    with runtime.transaction() as session:
        started = sign_in(session, cipher, LOGIN, PASSWORD)
        assert isinstance(started, Started)
        assert started.next is Next.ENROL
        web = find_session(session, started.secret)
        assert web is not None
        seed = begin_enrolment(LOGIN).seed
        finish_enrolment(session, cipher, web, seed, pyotp.TOTP(seed).now())
    return pyotp.TOTP(seed)


def right_code(totp: pyotp.TOTP) -> str:
    """The next time step's code: accepted (a step of clock drift is allowed) and never the
    step that enrolment used up."""
    return totp.at(time.time() + totp.interval)


def wrong_code(totp: pyotp.TOTP) -> str:
    now = time.time()
    taken = {totp.at(now + drift * totp.interval) for drift in (-1, 0, 1, 2)}
    return next(
        code for code in ("000000", "111111", "222222", "333333", "444444") if code not in taken
    )


def password(runtime: Runtime, cipher: FieldCipher, secret: str | None = None) -> str | None:
    """Sign in with the right password: the new pending session's secret, or ``secret`` (the
    session held so far) when the password is refused."""
    with runtime.transaction() as session:
        outcome = sign_in(session, cipher, LOGIN, PASSWORD)
    if isinstance(outcome, SignInRefused):
        return secret
    assert outcome.next is Next.SECOND_FACTOR
    return outcome.secret


def code(runtime: Runtime, cipher: FieldCipher, secret: str, given: str) -> SignInRefused | None:
    with runtime.transaction() as session:
        web = find_session(session, secret)
        assert web is not None
        return verify_second_factor(session, cipher, web, given)


def user_row(runtime: Runtime) -> User:
    with runtime.transaction() as session:
        user = session.scalars(select(User)).one()
        session.expunge(user)
    return user


def end_lock_out(runtime: Runtime) -> None:
    """The lock-out time has passed."""
    with runtime.transaction() as session:
        user = session.scalars(select(User)).one()
        assert user.locked_until is not None
        user.locked_until = utcnow() - timedelta(seconds=1)


def test_a_correct_password_between_rounds_of_wrong_codes_does_not_save_the_account(
    runtime: Runtime, cipher: FieldCipher, totp: pyotp.TOTP
) -> None:
    held: str | None = None
    answers = []
    for _ in range(4):
        held = password(runtime, cipher, held)
        assert held is not None
        answers += [code(runtime, cipher, held, wrong_code(totp)) for _ in range(4)]
    assert all(isinstance(answer, SignInRefused) for answer in answers)
    assert held is not None
    assert code(runtime, cipher, held, right_code(totp)) is LOCKED
    with runtime.transaction() as session:
        assert isinstance(sign_in(session, cipher, LOGIN, PASSWORD), SignInRefused)

    end_lock_out(runtime)
    fresh = password(runtime, cipher)
    assert fresh is not None
    assert code(runtime, cipher, fresh, right_code(totp)) is None
    with runtime.transaction() as session:
        web = find_session(session, fresh)
        assert web is not None
        assert web.verified


def test_five_wrong_codes_lock_and_the_lock_is_audited(
    runtime: Runtime, cipher: FieldCipher, totp: pyotp.TOTP
) -> None:
    held = password(runtime, cipher)
    assert held is not None
    for _ in range(MAX_FAILURES - 1):
        assert code(runtime, cipher, held, wrong_code(totp)) is not LOCKED
    assert user_row(runtime).locked_until is None
    assert code(runtime, cipher, held, wrong_code(totp)) is not None
    user = user_row(runtime)
    assert user.locked_until is not None
    assert user.locked_until > utcnow() + timedelta(minutes=14)
    with runtime.transaction() as session:
        locks = session.scalars(select(AuditEntry).where(AuditEntry.action == "lock")).all()
    assert [(entry.entity, entry.entity_id) for entry in locks] == [("users", user.id)]


def test_wrong_codes_and_wrong_passwords_keep_counts_of_their_own(
    runtime: Runtime, cipher: FieldCipher, totp: pyotp.TOTP
) -> None:
    held = password(runtime, cipher)
    assert held is not None
    for _ in range(MAX_FAILURES - 1):
        code(runtime, cipher, held, wrong_code(totp))
    for _ in range(MAX_FAILURES - 1):
        with runtime.transaction() as session:
            assert isinstance(sign_in(session, cipher, LOGIN, "not the password"), SignInRefused)
    user = user_row(runtime)
    assert (user.failed_sign_ins, user.failed_second_factors) == (4, 4)
    held = password(runtime, cipher, held)
    user = user_row(runtime)
    assert (user.failed_sign_ins, user.failed_second_factors) == (0, 4)
    assert held is not None
    code(runtime, cipher, held, wrong_code(totp))
    assert user_row(runtime).locked_until is not None


def test_a_correct_code_resets_the_count_of_wrong_codes(
    runtime: Runtime, cipher: FieldCipher, totp: pyotp.TOTP
) -> None:
    held = password(runtime, cipher)
    assert held is not None
    for _ in range(MAX_FAILURES - 1):
        code(runtime, cipher, held, wrong_code(totp))
    assert code(runtime, cipher, held, right_code(totp)) is None
    assert user_row(runtime).failed_second_factors == 0
    again = password(runtime, cipher)
    assert again is not None
    for _ in range(MAX_FAILURES - 1):
        assert code(runtime, cipher, again, wrong_code(totp)) is not LOCKED
    assert user_row(runtime).locked_until is None


def test_wrong_recovery_codes_count_like_wrong_totp_codes(
    runtime: Runtime, cipher: FieldCipher, totp: pyotp.TOTP
) -> None:
    held = password(runtime, cipher)
    assert held is not None
    for n in range(MAX_FAILURES):
        assert code(runtime, cipher, held, "abcdefghi" + "jklmn"[n]) is not None
    assert code(runtime, cipher, held, right_code(totp)) is LOCKED
