"""Cell-key perturbation: the perturbation table as published, record keys that only the secret
gives, cell keys that are the sums of record keys, and the same cell always perturbed alike."""

from __future__ import annotations

import random
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from haven.insight.noise import (
    KEY_SPACE,
    MAX_NOISE,
    NOISE_WEIGHTS,
    RecordKeys,
    Tally,
    noise,
    perturbed,
)

SECRET = bytes(range(32))


def _probability(value: int, count: int) -> Fraction:
    """P(a count is perturbed to ``value``), from the table as published."""
    total = sum(NOISE_WEIGHTS.values())
    if count == 0:
        return Fraction(int(value == 0))
    weight = sum(w for d, w in NOISE_WEIGHTS.items() if max(1, count + d) == value)
    return Fraction(weight, total)


# -- the perturbation table ------------------------------------------------------------------------


def test_the_table_is_as_the_methods_describe_it() -> None:
    total = sum(NOISE_WEIGHTS.values())
    assert MAX_NOISE == 8
    assert total == 766
    assert set(NOISE_WEIGHTS) == set(range(-MAX_NOISE, MAX_NOISE + 1))
    assert sum(d * w for d, w in NOISE_WEIGHTS.items()) == 0  # zero on average
    assert round(100 * NOISE_WEIGHTS[0] / total) == 33  # zero for a third of all counts
    within_two = sum(w for d, w in NOISE_WEIGHTS.items() if abs(d) <= 2)
    assert round(100 * within_two / total) == 84
    variance = Fraction(sum(d * d * w for d, w in NOISE_WEIGHTS.items()), total)
    assert round(float(variance), 2) == 3.74


def test_cell_keys_pick_the_noise_in_the_proportions_of_the_table() -> None:
    total = sum(NOISE_WEIGHTS.values())
    steps = total * 1000
    seen: dict[int, int] = dict.fromkeys(NOISE_WEIGHTS, 0)
    for i in range(steps):
        seen[noise(i * KEY_SPACE // steps)] += 1
    for d, weight in NOISE_WEIGHTS.items():
        assert abs(seen[d] - weight * 1000) <= 1, d
    assert noise(0) == -MAX_NOISE
    assert noise(KEY_SPACE - 1) == MAX_NOISE


@given(count=st.integers(0, 10_000), cell_key=st.integers(0, KEY_SPACE - 1))
def test_noise_is_bounded_and_no_count_is_made_empty_or_negative(count: int, cell_key: int) -> None:
    value = perturbed(count, cell_key)
    if count == 0:
        assert value == 0
    else:
        assert value >= 1
        assert abs(value - count) <= MAX_NOISE
    assert perturbed(count, cell_key) == value  # the same cell always gives the same value


def test_a_negative_count_is_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        perturbed(-1, 5)


@pytest.mark.parametrize("count", range(1, 40))
def test_one_record_more_shifts_the_odds_by_at_most_two(count: int) -> None:
    """Between a count and the count one higher, each value is at most twice as likely under
    one as under the other, but for values only the largest noise reaches."""
    for value in range(1, count + MAX_NOISE + 2):
        low, high = _probability(value, count), _probability(value, count + 1)
        if low and high:
            assert Fraction(1, 2) <= high / low <= 2 or value == 1, value
        elif low or high:
            assert max(low, high) == Fraction(1, 766) or value == 1, value
    # The value 1 gathers every noise that would go below it: never a value anyone is shown.


# -- record keys and cell keys -------------------------------------------------------------------


def test_record_keys_are_stable_and_come_from_the_secret() -> None:
    keys = RecordKeys(SECRET)
    assert keys.of("incident", "a") == RecordKeys(SECRET).of("incident", "a")
    assert 0 <= keys.of("incident", "a") < KEY_SPACE
    assert keys.of("incident", "a") != keys.of("incident", "b")
    assert keys.of("incident", "a") != RecordKeys(bytes(32)).of("incident", "a")
    # The parts are kept apart: ("ab", "c") is not ("a", "bc").
    assert keys.of("target", "ab", "c") != keys.of("target", "a", "bc")
    assert repr(keys) == "RecordKeys()"  # the secret is never printed
    with pytest.raises(ValueError, match="16 to 64 bytes"):
        RecordKeys(b"short")


def test_record_keys_look_uniform() -> None:
    keys = RecordKeys(SECRET)
    values = [keys.of("incident", str(i)) for i in range(20_000)]
    buckets = [0] * 16
    for value in values:
        buckets[value * 16 // KEY_SPACE] += 1
    assert all(1100 < bucket < 1400 for bucket in buckets), buckets


def test_a_cell_key_is_the_sum_of_its_records_keys_in_any_order() -> None:
    rng = random.Random(7)
    records = [(("RU", rng.choice("ab")), rng.randrange(KEY_SPACE)) for _ in range(50)]
    forward, backward = Tally(), Tally()
    for cell, key in records:
        forward.add(cell, key)
    for cell, key in reversed(records):
        backward.add(cell, key)
    assert forward == backward
    assert forward.perturbed() == backward.perturbed()
    for counted in forward.counts:
        keys = [key for c, key in records if c == counted]
        assert forward.counts[counted] == len(keys)
        assert forward.keys[counted] == sum(keys) % KEY_SPACE


def test_a_margin_is_the_tally_of_its_records() -> None:
    rng = random.Random(11)
    records = [((rng.choice("xyz"), rng.choice("pq")), rng.randrange(KEY_SPACE)) for _ in range(60)]
    table, rows = Tally(), Tally()
    for (row, column), key in records:
        table.add((row, column), key)
        rows.add((row,), key)
    assert table.margin((0,)) == rows
    total = table.margin(())
    assert total.counts == {(): 60}
    assert total.keys == {(): sum(key for _, key in records) % KEY_SPACE}


def test_one_record_more_gives_a_cell_fresh_noise() -> None:
    """Over many cells, adding one record changes the noise as often as two independent draws
    differ: the new value cannot be told from the old one plus one."""
    rng = random.Random(3)
    same = 0
    trials = 4000
    for _ in range(trials):
        tally = Tally()
        for _ in range(10):
            tally.add(("c",), rng.randrange(KEY_SPACE))
        before = tally.perturbed()[("c",)]
        tally.add(("c",), rng.randrange(KEY_SPACE))
        after = tally.perturbed()[("c",)]
        same += after - before == 1
    total = sum(NOISE_WEIGHTS.values())
    collision = sum(w * w for w in NOISE_WEIGHTS.values()) / total**2  # P(two draws agree)
    assert abs(same / trials - collision) < 0.03


@settings(max_examples=50, deadline=None)
@given(keys=st.lists(st.integers(0, KEY_SPACE - 1), min_size=1, max_size=30))
def test_the_same_records_always_give_the_same_value(keys: list[int]) -> None:
    first, second = Tally(), Tally()
    for key in keys:
        first.add(("cell",), key)
    for key in sorted(keys):
        second.add(("cell",), key)
    assert first.perturbed() == second.perturbed()
