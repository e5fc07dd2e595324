from __future__ import annotations

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
