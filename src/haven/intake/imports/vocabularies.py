"""The words a sheet may use for countries, tactics, target profiles and host-state involvement,
and the codes Haven keeps for them."""

from __future__ import annotations

from functools import cache

import pycountry

from haven.domain.countries import check_country
from haven.domain.enums import HostInvolvement
from haven.domain.taxonomy import load_taxonomy
from haven.errors import ValidationFailed

# English short names that pycountry's lookup does not know (it knows "Iran", "Syria", "Laos").
COUNTRY_ALIASES: dict[str, str] = {
    "russia": "RU",
    "turkey": "TR",
    "ivory coast": "CI",
    "palestine": "PS",
    "uk": "GB",
    "great britain": "GB",
    "britain": "GB",
    "uae": "AE",
    "brunei": "BN",
    "cape verde": "CV",
    "burma": "MM",
    "dr congo": "CD",
    "drc": "CD",
    "democratic republic of the congo": "CD",
    "democratic republic of congo": "CD",
    "congo-kinshasa": "CD",
    "congo-brazzaville": "CG",
    "the gambia": "GM",
    "swaziland": "SZ",
    "macedonia": "MK",
    "east timor": "TL",
    "vatican": "VA",
    "micronesia": "FM",
    "the bahamas": "BS",
    "us": "US",
    "united states of america": "US",
}


def country_code(value: str) -> str | None:
    """The ISO 3166-1 alpha-2 code of an alpha-2 or alpha-3 code or an English country name."""
    cleaned = " ".join(value.split())
    alias = COUNTRY_ALIASES.get(cleaned.casefold())
    if alias is not None:
        return alias
    if len(cleaned) == 2 and cleaned.isalpha():
        try:
            return check_country(cleaned)
        except ValidationFailed:
            return None
    if not cleaned or cleaned.isdigit():
        return None
    try:
        found = pycountry.countries.lookup(cleaned)
    except LookupError:
        return None
    return check_country(str(found.alpha_2))


@cache
def _tactic_names() -> dict[str, str]:
    """Tactic codes, English labels and Freedom House categories (codes and labels), folded,
    to the taxonomy tactic code. A Freedom House category goes to the first tactic carrying it."""
    taxonomy = load_taxonomy()
    names: dict[str, str] = {}
    for category in taxonomy.freedom_house.terms:
        first = next(t for t in taxonomy.tactics if t.freedom_house == category.code)
        names[category.code.casefold()] = first.code
        names[category.label.casefold()] = first.code
    for tactic in taxonomy.tactics:  # a tactic's own code and label win over a category
        names[tactic.code.casefold()] = tactic.code
        names[tactic.label.casefold()] = tactic.code
    return names


@cache
def _profile_names() -> dict[str, str]:
    names: dict[str, str] = {}
    for term in load_taxonomy().target_profiles.terms:
        names[term.code.casefold()] = term.code
        names[term.label.casefold()] = term.code
    return names


_INVOLVEMENT: dict[str, HostInvolvement] = {
    **{item.value: item for item in HostInvolvement},
    "yes": HostInvolvement.COMPLICIT,
    "y": HostInvolvement.COMPLICIT,
    "no": HostInvolvement.NONE,
    "n": HostInvolvement.NONE,
}


def _fold(value: str) -> str:
    return " ".join(value.split()).casefold()


def tactic_code(value: str) -> str | None:
    """The taxonomy tactic a tactic code or label, or a Freedom House category, names."""
    return _tactic_names().get(_fold(value))


def profile_code(value: str) -> str | None:
    """The taxonomy target profile a profile code or label names."""
    return _profile_names().get(_fold(value))


def host_involvement(value: str) -> HostInvolvement | None:
    """Haven's word for a host-state involvement; yes means complicit and no means none."""
    return _INVOLVEMENT.get(_fold(value))
