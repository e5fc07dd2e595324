"""Countries by ISO 3166-1 alpha-2 code, with names in the reader's language (pycountry)."""

from __future__ import annotations

import gettext
import json
from functools import cache
from importlib import resources

import pycountry

from haven.errors import ValidationFailed

# The 27 member states of the European Union (since 1 February 2020).
EU_MEMBER_STATES: frozenset[str] = frozenset(
    {
        "AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "HU", "IE",
        "IT", "LV", "LT", "LU", "MT", "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE",
    }
)  # fmt: skip


@cache
def _alpha2_codes() -> frozenset[str]:
    return frozenset(country.alpha_2 for country in pycountry.countries)


def check_country(code: str) -> str:
    """Return the canonical upper-case alpha-2 code or refuse the value."""
    normalised = code.strip().upper()
    if normalised not in _alpha2_codes():
        raise ValidationFailed(
            f"unknown country code {code!r}",
            hint="use an ISO 3166-1 alpha-2 code such as DE, TR or CN",
        )
    return normalised


def is_member_state(code: str) -> bool:
    return check_country(code) in EU_MEMBER_STATES


@cache
def _translation(language: str) -> gettext.NullTranslations:
    return gettext.translation(
        "iso3166-1", pycountry.LOCALES_DIR, languages=[language], fallback=True
    )


def country_name(code: str, language: str = "en") -> str:
    """The country's name in ``language`` (a gettext locale such as ``de`` or ``zh_CN``).

    The short common name is preferred ("Iran" rather than "Iran, Islamic Republic of"); where a
    catalogue lacks it, the ISO name is tried, and the English name is the last resort.
    """
    country = pycountry.countries.get(alpha_2=check_country(code))
    candidates = [
        getattr(country, attribute, None) for attribute in ("common_name", "name", "official_name")
    ]
    names = [name for name in candidates if name]
    translation = _translation(language)
    for name in names:
        translated = translation.gettext(name)
        if translated != name:
            return translated
    return str(names[0])


# Regions a figure can be filtered by: the five UN M49 regions, and the European Union.
REGION_NAMES: dict[str, str] = {
    "eu": "European Union",
    "europe": "Europe",
    "africa": "Africa",
    "americas": "Americas",
    "asia": "Asia",
    "oceania": "Oceania",
}


M49_REGIONS = ("africa", "americas", "asia", "europe", "oceania")


@cache
def region_states(region: str) -> frozenset[str]:
    """The states of a region (see :data:`REGION_NAMES`)."""
    if region == "eu":
        return EU_MEMBER_STATES
    raw = json.loads(resources.files("haven.domain").joinpath("data/regions.json").read_text())
    regions: dict[str, list[str]] = raw["regions"]
    if region not in regions:
        known = ", ".join(REGION_NAMES)
        raise ValidationFailed(f"unknown region {region!r}", hint=f"known: {known}")
    return frozenset(regions[region])
