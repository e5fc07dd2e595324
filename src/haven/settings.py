"""Haven's settings: one typed object read from ``HAVEN_*`` environment variables.

Every field is documented in docs/settings.md; a test keeps the two in step.
"""

from __future__ import annotations

import re
from datetime import timedelta
from enum import StrEnum
from ipaddress import IPv4Network, IPv6Network, ip_network
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from haven.domain.deadlines import Deadlines
from haven.errors import ConfigurationError

OPEN_THRESHOLD = 5
DEVELOPMENT_SECRET = "development-only-secret-do-not-use-in-production"  # noqa: S105
MINIMUM_SECRET_LENGTH = 32
RATE_LIMIT_SCHEMES = frozenset({"memory", "redis", "rediss", "redis+unix"})


class Mode(StrEnum):
    DEVELOPMENT = "development"
    PRODUCTION = "production"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HAVEN_", extra="ignore", frozen=True)

    # development migrates on start and accepts the built-in secret; production refuses both.
    mode: Mode = Mode.DEVELOPMENT
    # Where the SQLite database and the key file live unless their own settings say otherwise.
    data_dir: Path = Path("var")
    # SQLAlchemy URL; empty means a SQLite file in data_dir. PostgreSQL: postgresql+psycopg://...
    database_url: str = ""
    # The key file holding the data-encryption keys and the blind-index key (see `haven keys init`).
    key_file: Path | None = None
    # The Ed25519 key that signs audit checkpoints; empty means audit-signing-key.pem beside the
    # key file. Kept apart from the database and from the data keys, so that whoever can rewrite
    # the audit chain cannot also sign a checkpoint for it.
    audit_signing_key_file: Path | None = None
    # When set, the worker writes a signed audit checkpoint into this directory every hour;
    # it belongs on other storage than the database's (another disk, a mounted share).
    audit_checkpoint_dir: Path | None = None
    # Signs session cookies and CSRF tokens; must be long and random in production.
    secret_key: str = DEVELOPMENT_SECRET
    # Address and port `haven serve` binds to; 127.0.0.1 keeps development off the network.
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    # Run pending migrations when `haven serve` starts; on by default in development only.
    migrate_on_start: bool | None = None
    # Level of Haven's own log messages.
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    # Where evidence files are kept (encrypted); empty means "evidence" in data_dir.
    evidence_dir: Path | None = None
    # Largest evidence file accepted, in megabytes, and most files with one report or message.
    max_file_mb: int = Field(default=20, ge=1, le=2048)
    max_files: int = Field(default=5, ge=0, le=50)
    # Largest body of any other request to the JSON API, in kilobytes: only the public report
    # form and the import upload carry files and take the limit above. A small cap keeps a
    # flood of large bodies from filling the memory before anything is checked.
    max_api_body_kb: int = Field(default=1024, ge=1, le=1024 * 1024)
    # Evidence uploads stop (reports still arrive) when the disk has less free space than this.
    disk_reserve_mb: int = Field(default=1024, ge=0)
    # Reports accepted from the public form per minute, and evidence megabytes per hour, in all.
    reports_per_minute: int = Field(default=300, ge=1)
    evidence_mb_per_hour: int = Field(default=2048, ge=1)
    # Where links in notifications point; empty means http://HOST:PORT.
    base_url: str = ""
    # The mail server notifications are sent through; empty keeps e-mail waiting in the outbox.
    smtp_host: str = ""
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_from: str = "haven@localhost"
    # Sign-in at the mail server, only over TLS (STARTTLS or implicit); empty user means none.
    smtp_user: str = ""
    smtp_password: SecretStr = SecretStr("")
    # How the mail connection is secured: starttls (TLS whenever the server offers STARTTLS),
    # tls (implicit TLS from the first byte, port 465), or none (never TLS, for a development
    # mail catcher whose certificate does not verify; production refuses it).
    smtp_security: Literal["starttls", "tls", "none"] = "starttls"
    # A PEM file of the authorities the mail server's certificate must chain to, for a private
    # CA; empty: the system's trusted authorities.
    smtp_ca_file: Path | None = None
    # Delivered and given-up outbox rows are deleted this many days later (0: kept forever):
    # they hold who was told of which record, which is worth keeping only while it may be asked.
    outbox_retention_days: int = Field(default=30, ge=0, le=3650)
    # Digest subscriptions are sent every this many minutes (on the hour for 60).
    digest_minutes: int = Field(default=60, ge=1, le=1440)
    # Webhooks may point at loopback, private, link-local and other internal addresses only when
    # this is on (a receiver on the same machine); otherwise whoever administers an organisation
    # could make Haven send requests into the network it runs in.
    webhook_allow_private: bool = False
    # How soon a case or referral must be acknowledged: urgent ones in minutes, others in
    # working days; late ones are escalated to coordinators, and again when still late.
    urgent_ack_minutes: int = Field(default=120, ge=1)
    ack_working_days: int = Field(default=3, ge=1)
    # Open statistics: no published count below this threshold; production refuses less than 5.
    open_threshold: int = Field(default=OPEN_THRESHOLD, ge=1, le=1000)
    # Open statistics: published counts rounded to a multiple of this (1: not rounded).
    open_rounding: int = Field(default=1, ge=1, le=100)
    # How many origin states the concentration figure counts ("the top ten").
    top_states: int = Field(default=10, ge=1, le=100)
    # Open statistics are published as dated releases, which the worker makes once in each
    # period; each release is one more difference to compare, so none is made more often.
    # manual: only by `haven stats release`.
    open_releases: Literal["monthly", "quarterly", "yearly", "manual"] = "monthly"
    # Proxies (addresses or CIDR ranges) whose X-Forwarded-For names the client for the
    # per-client limits; behind a proxy every client would otherwise share the proxy's budget.
    # Empty: the header is never believed, since anyone can send it.
    trusted_proxies: Annotated[tuple[IPv4Network | IPv6Network, ...], NoDecode] = ()
    # Where rate budgets are counted: memory:// (each process its own), or a Redis server that
    # every Haven process shares (redis://host:port/db), so that a budget holds across them.
    rate_limit_storage: str = "memory://"

    @field_validator("rate_limit_storage")
    @classmethod
    def _rate_limit_scheme(cls, value: str) -> str:
        scheme, found, _ = value.partition("://")
        if not found or scheme not in RATE_LIMIT_SCHEMES:
            raise ValueError(
                "must be memory:// or a Redis URL (redis://host:port, rediss://, redis+unix://)"
            )
        return value

    @field_validator("smtp_ca_file")
    @classmethod
    def _ca_file_exists(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_file():
            raise ValueError(f"{value} is not a file; give a PEM file of certificate authorities")
        return value

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _proxy_networks(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        networks = []
        for part in re.split(r"[,\s]+", value.strip()):
            if not part:
                continue
            try:
                networks.append(ip_network(part))
            except ValueError as exc:
                raise ValueError(f"{exc}; give IP addresses or CIDR ranges") from None
        return tuple(networks)

    @model_validator(mode="after")
    def _rounding_below_threshold(self) -> Settings:
        if self.open_rounding > self.open_threshold:
            raise ValueError(
                f"HAVEN_OPEN_ROUNDING ({self.open_rounding}) must not exceed HAVEN_OPEN_THRESHOLD "
                f"({self.open_threshold})"
            )
        return self

    @property
    def deadlines(self) -> Deadlines:
        return Deadlines(timedelta(minutes=self.urgent_ack_minutes), self.ack_working_days)

    @model_validator(mode="after")
    def _refuse_unsafe_production(self) -> Settings:
        if self.mode is Mode.PRODUCTION:
            if self.secret_key == DEVELOPMENT_SECRET or not self.secret_key:
                raise ValueError(
                    "HAVEN_SECRET_KEY is missing or still the development default; production "
                    "needs a random secret, e.g. `python -c 'import secrets; "
                    "print(secrets.token_urlsafe(48))'`"
                )
            if len(self.secret_key) < MINIMUM_SECRET_LENGTH:
                raise ValueError(
                    f"HAVEN_SECRET_KEY is shorter than {MINIMUM_SECRET_LENGTH} characters; "
                    "production needs a long random secret"
                )
            if self.open_threshold < OPEN_THRESHOLD:
                raise ValueError(
                    f"HAVEN_OPEN_THRESHOLD is {self.open_threshold}; production publishes no count "
                    f"below {OPEN_THRESHOLD}, so it may only be raised"
                )
            if self.smtp_security == "none":
                raise ValueError(
                    "HAVEN_SMTP_SECURITY is none; production sends mail over TLS only "
                    "(starttls, or tls for port 465)"
                )
            if self.key_file is None or _inside(self.key_file, self.data_dir):
                raise ValueError(
                    "HAVEN_KEY_FILE must be set in production, to a path outside HAVEN_DATA_DIR: "
                    "a copy of the data directory must not carry the keys that open it"
                )
        return self

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'haven.db').as_posix()}"

    @property
    def resolved_base_url(self) -> str:
        return (self.base_url or f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def resolved_evidence_dir(self) -> Path:
        return self.evidence_dir or self.data_dir / "evidence"

    @property
    def resolved_key_file(self) -> Path:
        return self.key_file if self.key_file is not None else self.data_dir / "keys.json"

    @property
    def resolved_audit_signing_key_file(self) -> Path:
        if self.audit_signing_key_file is not None:
            return self.audit_signing_key_file
        return self.resolved_key_file.with_name("audit-signing-key.pem")

    @property
    def should_migrate_on_start(self) -> bool:
        if self.migrate_on_start is not None:
            return self.migrate_on_start
        return self.mode is Mode.DEVELOPMENT


def _inside(path: Path, directory: Path) -> bool:
    return path.resolve().is_relative_to(directory.resolve())


def load_settings(**overrides: object) -> Settings:
    """Read settings from the environment, turning a bad value into one clear line."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"])
        name = f"HAVEN_{field.upper()}" if field else "settings"
        message = first["msg"].removeprefix("Value error, ")
        raise ConfigurationError(f"{name}: {message}") from None
