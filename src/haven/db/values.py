"""Values Haven gives the database: record ids and timestamps."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime

# Bits 76-79 hold the version (7) and bits 62-63 the RFC 4122 variant (0b10).
_VERSION_AND_VARIANT = (0x7 << 76) | (0b10 << 62)
_RANDOM_MASK = ((1 << 80) - 1) & ~(0xF << 76) & ~(0b11 << 62)


def new_id() -> str:
    """A UUID version 7 (RFC 9562): time-ordered, so bulk inserts append to the primary-key index
    instead of scattering across it, and ids can be made before the row is written."""
    millis = time.time_ns() // 1_000_000
    random = int.from_bytes(os.urandom(10))
    value = (millis << 80) | (random & _RANDOM_MASK) | _VERSION_AND_VARIANT
    h = f"{value:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def utcnow() -> datetime:
    return datetime.now(UTC)
