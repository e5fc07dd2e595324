"""The versioned vocabulary Haven records facts in, loaded from ``data/taxonomy-v<N>.json``.

Codes are stable: a record stores the code, never the label, so labels and translations may change
while stored data keeps its meaning. A new version adds codes; it never reuses or repurposes one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from haven.errors import ValidationFailed

CURRENT_VERSION = 1


@dataclass(frozen=True, slots=True)
class Term:
    code: str
    label: str
    meaning: str = ""


@dataclass(frozen=True, slots=True)
class Tactic:
    code: str
    label: str
    plain: str
    method: str
    freedom_house: str | None


@dataclass(frozen=True, slots=True)
class Vocabulary:
    name: str
    terms: tuple[Term, ...]
    codes: frozenset[str]

    def check(self, code: str) -> str:
        if code not in self.codes:
            known = ", ".join(term.code for term in self.terms)
            raise ValidationFailed(f"unknown {self.name} {code!r}", hint=f"known: {known}")
        return code


@dataclass(frozen=True, slots=True)
class Taxonomy:
    version: int
    tactics: tuple[Tactic, ...]
    methods: Vocabulary
    freedom_house: Vocabulary
    target_profiles: Vocabulary
    state_responsibility: Vocabulary
    tlp: Vocabulary
    pap: Vocabulary
    source_reliability: Vocabulary
    information_credibility: Vocabulary

    @property
    def tactic_codes(self) -> frozenset[str]:
        return frozenset(tactic.code for tactic in self.tactics)

    def tactic(self, code: str) -> Tactic:
        for tactic in self.tactics:
            if tactic.code == code:
                return tactic
        known = ", ".join(t.code for t in self.tactics)
        raise ValidationFailed(f"unknown tactic {code!r}", hint=f"known: {known}")

    def tactics_of_method(self, method: str) -> tuple[Tactic, ...]:
        self.methods.check(method)
        return tuple(t for t in self.tactics if t.method == method)


def _vocabulary(raw: dict[str, Any], key: str, name: str) -> Vocabulary:
    terms = tuple(
        Term(code=entry["code"], label=entry["label"], meaning=entry.get("meaning", ""))
        for entry in raw[key]
    )
    return Vocabulary(name=name, terms=terms, codes=frozenset(term.code for term in terms))


@cache
def load_taxonomy(version: int = CURRENT_VERSION) -> Taxonomy:
    text = (
        resources.files("haven.domain")
        .joinpath(f"data/taxonomy-v{version}.json")
        .read_text(encoding="utf-8")
    )
    raw = json.loads(text)
    tactics = tuple(
        Tactic(
            code=entry["code"],
            label=entry["label"],
            plain=entry["plain"],
            method=entry["method"],
            freedom_house=entry["freedom_house"],
        )
        for entry in raw["tactics"]
    )
    return Taxonomy(
        version=raw["version"],
        tactics=tactics,
        methods=_vocabulary(raw, "methods", "PACE method"),
        freedom_house=_vocabulary(raw, "freedom_house", "Freedom House category"),
        target_profiles=_vocabulary(raw, "target_profiles", "target profile"),
        state_responsibility=_vocabulary(raw, "state_responsibility", "state-responsibility level"),
        tlp=_vocabulary(raw, "tlp", "TLP label"),
        pap=_vocabulary(raw, "pap", "PAP label"),
        source_reliability=_vocabulary(raw, "source_reliability", "source reliability"),
        information_credibility=_vocabulary(
            raw, "information_credibility", "information credibility"
        ),
    )
