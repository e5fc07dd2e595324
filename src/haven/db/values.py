"""Values Haven gives the database: record ids and timestamps."""

from __future__ import annotations

import os
import threading
import time
from datetime import UTC, datetime

_COUNTER_BITS = 74  # rand_a (12 bits) and rand_b (62 bits) of RFC 9562's layout


class _Ids:
    """UUID version 7 (RFC 9562), increasing strictly within the process (section 6.2, method 2:
    the random bits count on within a millisecond)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last = (0, 0)  # (milliseconds, counter) of the last id made

    def next(self) -> str:
        millis = time.time_ns() // 1_000_000
        counter = int.from_bytes(os.urandom(10)) >> (80 - _COUNTER_BITS)
        with self._lock:
            if (millis, counter) <= self._last:
                millis, counter = self._last[0], self._last[1] + 1
                if counter >> _COUNTER_BITS:
                    millis, counter = millis + 1, 0
            self._last = (millis, counter)
        rand_a, rand_b = counter >> 62, counter & ((1 << 62) - 1)
        value = (millis << 80) | (0x7 << 76) | (rand_a << 64) | (0b10 << 62) | rand_b
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
