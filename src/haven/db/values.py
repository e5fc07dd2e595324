"""Values Haven gives the database: record ids and timestamps."""

from __future__ import annotations

import secrets
import threading
import time
from datetime import UTC, datetime

_SEQUENCE_BITS = 12  # rand_a of RFC 9562's layout
# A new millisecond starts its sequence below half of rand_a's range, leaving room to count on.
_SEQUENCE_START_BITS = _SEQUENCE_BITS - 1
_RANDOM_BITS = 62  # rand_b


class _Ids:
    """UUID version 7 (RFC 9562), increasing strictly within the process: rand_a is a sequence
    within the millisecond (section 6.2, method 1), started at a random value, and rand_b is
    random for every id (``secrets``), so that one id says nothing of the ids made beside it.
    A sequence that runs out moves on to the next millisecond, as section 6.2 allows."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last = (0, 0)  # (milliseconds, sequence) of the last id made

    def next(self) -> str:
        millis = time.time_ns() // 1_000_000
        with self._lock:
            last_millis, last_sequence = self._last
            if millis > last_millis:
                sequence = secrets.randbits(_SEQUENCE_START_BITS)
            else:
                millis, sequence = last_millis, last_sequence + 1
                if sequence >> _SEQUENCE_BITS:
                    millis, sequence = millis + 1, secrets.randbits(_SEQUENCE_START_BITS)
            self._last = (millis, sequence)
        rand_b = secrets.randbits(_RANDOM_BITS)
        value = (millis << 80) | (0x7 << 76) | (sequence << 64) | (0b10 << 62) | rand_b
        h = f"{value:032x}"
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


_IDS = _Ids()


def new_id() -> str:
    """A time-ordered record id: bulk inserts append to the primary-key index instead of
    scattering across it, ids can be made before the row is written, and "newest first" is
    creation order, even for records made in the same millisecond."""
    return _IDS.next()


def utcnow() -> datetime:
    return datetime.now(UTC)
