from __future__ import annotations

import itertools
import time
import uuid

from haven.db.values import new_id


def test_ids_are_version_7_and_increase_strictly_within_a_process() -> None:
    ids = [new_id() for _ in range(20_000)]  # many share a millisecond
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)
    for value in ids[:: len(ids) // 50]:
        parsed = uuid.UUID(value)
        assert parsed.version == 7
        assert parsed.variant == uuid.RFC_4122
        assert str(parsed) == value


def _fields(value: str) -> tuple[int, int, int]:
    """(unix milliseconds, rand_a, rand_b) of a version 7 UUID."""
    number = uuid.UUID(value).int
    return number >> 80, (number >> 64) & 0xFFF, number & ((1 << 62) - 1)


def test_ids_made_together_share_no_guessable_low_bits() -> None:
    before = time.time_ns() // 1_000_000
    ids = [new_id() for _ in range(1_000)]  # a tight loop: many share a millisecond
    after = time.time_ns() // 1_000_000
    fields = [_fields(value) for value in ids]
    # Time order kept: the millisecond never goes back and stays within the loop's time (an id
    # may borrow the next millisecond when one runs out of room).
    millis = [m for m, _, _ in fields]
    assert millis == sorted(millis)
    assert before <= millis[0]
    assert millis[-1] <= after + 1
    assert ids == sorted(ids)
    # The low 62 bits are drawn afresh for every id: no neighbour is the last one plus a little.
    for (_, _, low), (_, _, next_low) in itertools.pairwise(fields):
        assert abs(next_low - low) > 1 << 32
    assert len({low for _, _, low in fields}) == len(fields)
