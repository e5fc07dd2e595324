"""Cell-key perturbation: the same cell always shows the same noisy count, and a changed cell a
freshly noisy one.

This is the cell key method of the Australian Bureau of Statistics (Thompson, Broadfoot and
Elazar, "Methodology for the automatic confidentialisation of statistical outputs from remote
servers at the Australian Bureau of Statistics", UNECE work session on statistical data
confidentiality 2013, https://unece.org/fileadmin/DAM/stats/documents/ece/ces/ge.46/2013/Topic_1_ABS.pdf),
which Eurostat also recommended for the tables of the 2021 census:

- every record has a *record key*, a number in ``[0, 2**32)``: here a keyed hash (BLAKE2b) of
  its id with an instance secret that never leaves the key file, so that it is stable from one
  release to the next and no one without the secret can compute it;
- a cell's *cell key* is the sum of its records' keys modulo ``2**32``: the same records always
  give the same cell key, and one record more or less gives a new one that nobody can predict;
- the cell key picks the noise from a fixed *perturbation table*.

The table here is a two-sided geometric distribution cut at :data:`MAX_NOISE`: noise ``d`` has
weight ``2 ** (MAX_NOISE - |d|)``, 766 in all. It averages zero, is zero for a third of all
cells and within two of zero for 83.6% of them (variance 3.74, standard deviation 1.93).
Geometric noise (the discrete Laplace mechanism of differential privacy) is chosen over a flat
table of the same spread because a flat table has edges that only one count can reach: with
noise of at most two, a published 7 rules out a count of 4. Here, between a count and the count
one higher, every perturbed value is at most twice as likely under one as under the other, so
someone who knows every record of a cell but one cannot tell from the cell whether that one
exists, only shift the odds by a factor of two for each cell and release they look at. The cut
at eight leaves certainty only for a value that needs the largest noise, which one cell in 766
gets in each direction.

A count of zero is never perturbed and a count of one or more never becomes less than one, so
the empty cells are the same before and after; an empty cell is never shown, and a count below
the threshold after perturbation is withheld like any small count.
"""

from __future__ import annotations

import hashlib
from bisect import bisect_right
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from itertools import accumulate

__all__ = [
    "KEY_SPACE",
    "MAX_NOISE",
    "NOISE_WEIGHTS",
    "RecordKeys",
    "Tally",
    "noise",
    "perturbed",
]

KEY_SPACE = 2**32
MAX_NOISE = 8
NOISE_WEIGHTS: Mapping[int, int] = {
    d: 2 ** (MAX_NOISE - abs(d)) for d in range(-MAX_NOISE, MAX_NOISE + 1)
}
_TOTAL_WEIGHT = sum(NOISE_WEIGHTS.values())
_NOISES = tuple(NOISE_WEIGHTS)
_BOUNDS = tuple(accumulate(NOISE_WEIGHTS.values()))
# BLAKE2b's personalisation: record keys of open statistics, and nothing else, come from here.
_PERSON = b"haven open rkey"


@dataclass(frozen=True, slots=True)
class RecordKeys:
    """Record keys from the instance secret (:func:`haven.insight.releases.record_keys`)."""

    secret: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if not 16 <= len(self.secret) <= hashlib.blake2b.MAX_KEY_SIZE:
            raise ValueError("the record-key secret must be 16 to 64 bytes")

    def of(self, *parts: str) -> int:
        """The record key of a record named by ``parts`` (a kind and ids)."""
        digest = hashlib.blake2b(
            "\x1f".join(parts).encode(), key=self.secret, digest_size=4, person=_PERSON
        ).digest()
        return int.from_bytes(digest, "big")


def noise(cell_key: int) -> int:
    """The perturbation table: the noise a cell key gives."""
    position = (cell_key % KEY_SPACE) * _TOTAL_WEIGHT >> 32
    return _NOISES[bisect_right(_BOUNDS, position)]


def perturbed(count: int, cell_key: int) -> int:
    """The count as published before any suppression: zero stays zero, anything else stays at
    least one."""
    if count < 0:
        raise ValueError(f"a count cannot be negative: {count}")
    if count == 0:
        return 0
    return max(1, count + noise(cell_key))


@dataclass(slots=True)
class Tally:
    """Counts and cell keys of one table, keyed by its codes."""

    counts: dict[tuple[str, ...], int] = field(default_factory=dict)
    keys: dict[tuple[str, ...], int] = field(default_factory=dict)

    def add(self, cell: tuple[str, ...], record_key: int) -> None:
        self.counts[cell] = self.counts.get(cell, 0) + 1
        self.keys[cell] = (self.keys.get(cell, 0) + record_key) % KEY_SPACE

    def margin(self, positions: Iterable[int]) -> Tally:
        """The table summed to the codes at ``positions``: counts add up, and so do cell keys,
        since a margin's records are its cells' records."""
        kept = tuple(positions)
        summed = Tally()
        for cell, n in self.counts.items():
            key = tuple(cell[p] for p in kept)
            summed.counts[key] = summed.counts.get(key, 0) + n
            summed.keys[key] = (summed.keys.get(key, 0) + self.keys[cell]) % KEY_SPACE
        return summed

    def perturbed(self) -> dict[tuple[str, ...], int]:
        """Every cell's count after perturbation (:func:`perturbed`)."""
        return {cell: perturbed(n, self.keys[cell]) for cell, n in self.counts.items()}
