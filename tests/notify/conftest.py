"""Real receivers on 127.0.0.1 (an SMTP server, an HTTP endpoint that checks signatures) and a
small world of organisations, users and incidents for notification tests."""

from __future__ import annotations

import datetime as dt
import email
import hashlib
import hmac
import ipaddress
import json
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from sqlalchemy.orm import Session

from haven.access import accounts
from haven.access.accounts import NewOrganisation, NewUser, create_organisation, create_user
from haven.access.consent import set_consent
from haven.access.passwords import hash_password
from haven.crypto.fields import FieldCipher
from haven.domain.enums import ContributorKind, PersonRole, RecipientKind, Role, Tlp
from haven.registry.schemas import Identity, IncidentIn, Name, PersonIn
from haven.registry.writer import Actor, RegistryWriter
from haven.runtime import Runtime
from haven.settings import Settings

PASSWORD = "correct horse battery staple"
TARGET = "Zerafshan Quillborough-Nakamura"
NARRATIVE = "Two men from the Thornvale consulate waited outside the flat in Wolkenhain."
TITLE = "Visit by Thornvale consulate staff"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


# -- SMTP ------------------------------------------------------------------------------------


@dataclass
class Mailbox:
    port: int
    messages: list[Message] = field(default_factory=list)
    recipients: list[list[str]] = field(default_factory=list)
    secure: list[bool] = field(default_factory=list)

    def to(self, address: str) -> list[Message]:
        pairs = zip(self.messages, self.recipients, strict=True)
        return [message for message, rcpt in pairs if address in rcpt]


class _MailHandler:
    def __init__(self, box: Mailbox) -> None:
        self.box = box

    async def handle_DATA(self, _server: Any, session: Any, envelope: Any) -> str:
        self.box.secure.append(session.ssl is not None)
        self.box.recipients.append(list(envelope.rcpt_tos))
        self.box.messages.append(email.message_from_bytes(envelope.content))
        return "250 OK"


def _run_smtp(tls: ssl.SSLContext | None) -> Iterator[Mailbox]:
    box = Mailbox(free_port())
    options: dict[str, Any] = {}
    if tls is not None:
        options = {"tls_context": tls, "require_starttls": True}
    controller = Controller(_MailHandler(box), hostname="127.0.0.1", port=box.port, **options)
    controller.start()
    try:
        yield box
    finally:
        controller.stop()


@pytest.fixture
def smtp_server() -> Iterator[Mailbox]:
    """An SMTP server on 127.0.0.1 without TLS."""
    yield from _run_smtp(None)


@dataclass(frozen=True)
class Certificate:
    cert: Path
    key: Path


@pytest.fixture(scope="session")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> Certificate:
    """A self-signed certificate for 127.0.0.1."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    paths = Certificate(folder / "cert.pem", folder / "key.pem")
    paths.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths.key.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return paths


@pytest.fixture
def tls_smtp_server(certificate: Certificate, monkeypatch: pytest.MonkeyPatch) -> Iterator[Mailbox]:
    """An SMTP server on 127.0.0.1 that requires STARTTLS, with a certificate the client is
    told to trust (SSL_CERT_FILE, which OpenSSL's default verify paths follow)."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(certificate.cert, certificate.key)
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate.cert))
    yield from _run_smtp(context)


# -- HTTP receiver ---------------------------------------------------------------------------


@dataclass
class Receiver:
    """A webhook endpoint that checks each request's signature and records its delivery id."""

    secret: str = ""
    status: int = 200
    delay: float = 0.0
    port: int = 0
    deliveries: list[str] = field(default_factory=list)
    bodies: list[dict[str, Any]] = field(default_factory=list)
    bad_signatures: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def accept(self, headers: Any, body: bytes) -> int:
        timestamp = headers.get("X-Haven-Timestamp", "")
        mac = hmac.new(self.secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
        expected = "sha256=" + mac.hexdigest()
        fresh = timestamp.isdigit() and abs(time.time() - int(timestamp)) < 300
        valid = fresh and hmac.compare_digest(expected, headers.get("X-Haven-Signature", ""))
        with self.lock:
            if not valid:
                self.bad_signatures += 1
                return 401
            self.deliveries.append(headers["X-Haven-Delivery"])
            self.bodies.append(json.loads(body))
        if self.delay:
            time.sleep(self.delay)
        return self.status


def _handler_for(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            status = receiver.accept(self.headers, body)
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *_args: Any) -> None:
            pass

    return Handler


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client killed mid-request (the crash test) is expected, not news."""


@pytest.fixture(autouse=True)
def webhooks_may_reach_this_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    """The receivers here listen on 127.0.0.1, which a webhook may reach only with
    HAVEN_WEBHOOK_ALLOW_PRIVATE on. Set in the environment, so that the settings of every test
    (made after this autouse fixture) and of every worker started as a process of its own read
    it."""
    monkeypatch.setenv("HAVEN_WEBHOOK_ALLOW_PRIVATE", "true")


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver()
    server = _QuietServer(("127.0.0.1", 0), _handler_for(found))
    server.daemon_threads = True
    found.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield found
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def mail_settings(settings: Settings, box: Mailbox, **more: Any) -> Settings:
    return settings.model_copy(
        update={"smtp_host": "127.0.0.1", "smtp_port": box.port, "base_url": "https://haven.test"}
        | more
    )


# -- the world -------------------------------------------------------------------------------


@dataclass(frozen=True)
class World:
    ngo: str
    de_authority: str
    fr_authority: str
    ngo_caseworker: str
    focal_point: str  # a caseworker of the German authority
    de_admin: str
    fr_focal_point: str


FOCAL_LOGIN = "focal-point@bka.example.org"
ADMIN_LOGIN = "admin@bka.example.org"


@pytest.fixture(scope="session")
def password_hash() -> str:
    return hash_password(PASSWORD)


@pytest.fixture
def world(
    runtime: Runtime, cipher: FieldCipher, password_hash: str, monkeypatch: pytest.MonkeyPatch
) -> World:
    # Every user has the same password: hash it once, not once per user (argon2 is slow).
    monkeypatch.setattr(accounts, "hash_password", lambda _password: password_hash)

    def user(session: Session, org: str, login: str, *roles: Role) -> str:
        new = NewUser(org, login, PASSWORD, frozenset(roles))
        return create_user(session, cipher, new, actor="test")

    with runtime.transaction() as session:
        ngo = create_organisation(
            session,
            cipher,
            NewOrganisation("Exile Legal Aid", ContributorKind.NGO, "DE"),
            actor="test",
        )
        de = create_organisation(
            session,
            cipher,
            NewOrganisation("BKA focal point", ContributorKind.AUTHORITY, "DE"),
            actor="test",
        )
        fr = create_organisation(
            session,
            cipher,
            NewOrganisation("DGSI focal point", ContributorKind.AUTHORITY, "FR"),
            actor="test",
        )
        return World(
            ngo=ngo,
            de_authority=de,
            fr_authority=fr,
            ngo_caseworker=user(session, ngo, "caseworker@ngo.example.org", Role.CASEWORKER),
            focal_point=user(session, de, FOCAL_LOGIN, Role.CASEWORKER),
            de_admin=user(session, de, ADMIN_LOGIN, Role.ADMINISTRATOR),
            fr_focal_point=user(session, fr, "focal-point@dgsi.example.org", Role.CASEWORKER),
        )


@dataclass(frozen=True)
class Sensitive:
    target: str = TARGET
    narrative: str = NARRATIVE
    title: str = TITLE

    @property
    def words(self) -> tuple[str, ...]:
        return (self.target, "Quillborough", self.narrative, "Thornvale", "Wolkenhain", self.title)


@pytest.fixture
def sensitive() -> Sensitive:
    """What an incident made by ``make_incident`` holds that no message may carry."""
    return Sensitive()


@pytest.fixture
def make_incident() -> Any:
    return add_incident


@dataclass(frozen=True)
class IncidentShape:
    """What ``make_incident`` varies; ``consent`` None leaves the person without a statement
    (labels alone decide), otherwise exactly these kinds are granted."""

    tlp: Tlp = Tlp.GREEN
    host_state: str | None = "DE"
    origin_state: str = "BY"
    tactics: tuple[str, ...] = ("intimidation",)
    consent: tuple[RecipientKind, ...] | None = None
    consent_state: str | None = None


def add_incident(
    session: Session, cipher: FieldCipher, contributor: str, **shape: Any
) -> tuple[str, str]:
    """An incident with a named target, shaped by ``IncidentShape``'s fields."""
    spec = IncidentShape(**shape)
    writer = RegistryWriter(session, cipher, Actor(contributor, "test", "test"))
    incident_id = writer.add_incident(
        IncidentIn.model_validate(
            {
                "title": TITLE,
                "narrative": NARRATIVE,
                "occurred": {"start": "2025-03-01"},
                "origin_state": spec.origin_state,
                "host_state": spec.host_state,
                "tactics": list(spec.tactics),
                "tlp": spec.tlp.value,
            }
        )
    )
    person_id = writer.add_person(
        PersonIn(identity=Identity(names=(Name(value=TARGET),)), tlp=spec.tlp)
    )
    writer.link_person(incident_id, person_id, PersonRole.TARGET)
    writer.flush()
    if spec.consent is not None:
        for kind in RecipientKind:
            state = spec.consent_state if kind is RecipientKind.AUTHORITY else None
            set_consent(
                session, person_id, kind, kind in spec.consent, actor="test", member_state=state
            )
    return incident_id, person_id
