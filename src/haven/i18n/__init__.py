"""The public pages in the reader's language.

Messages live in gettext catalogues (``locales/<language>/LC_MESSAGES/messages.po``), read with
Babel when Haven starts, so a translator adds or fixes a language by editing one ``.po`` file and
no code. ``scripts/messages`` extracts the messages from the templates, the Python sources and
the taxonomy into ``messages.pot`` and brings every catalogue in step with it.
"""

from __future__ import annotations

import gettext
import io
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

LOCALES = Path(__file__).parent / "locales"
DEFAULT = "en"


@dataclass(frozen=True, slots=True)
class Language:
    code: str  # BCP 47, as in <html lang>
    name: str  # in the language itself
    catalogue: str  # gettext locale of the catalogue and of pycountry's country names
    rtl: bool = False

    @property
    def direction(self) -> str:
        return "rtl" if self.rtl else "ltr"


LANGUAGES = {
    language.code: language
    for language in (
        Language("en", "English", "en"),
        Language("fr", "Français", "fr"),
        Language("de", "Deutsch", "de"),
        Language("es", "Español", "es"),
        Language("it", "Italiano", "it"),
        Language("pl", "Polski", "pl"),
        Language("ru", "Русский", "ru"),
        Language("uk", "Українська", "uk"),
        Language("tr", "Türkçe", "tr"),
        Language("zh-Hans", "简体中文", "zh_CN"),
        Language("ar", "العربية", "ar", rtl=True),
        Language("fa", "فارسی", "fa", rtl=True),
    )
}
# Language tags that mean one of the above.
_ALIASES = {"zh": "zh-Hans", "zh-cn": "zh-Hans", "zh-sg": "zh-Hans", "zh-hans": "zh-Hans"}


def language(code: str | None) -> Language | None:
    """The supported language a tag names, or None."""
    if not code:
        return None
    tag = code.strip().replace("_", "-")
    lowered = tag.lower()
    if lowered in _ALIASES:
        return LANGUAGES[_ALIASES[lowered]]
    for candidate in LANGUAGES.values():
        if candidate.code.lower() == lowered:
            return candidate
    primary = lowered.split("-", 1)[0]
    if primary == "zh":
        # Traditional Chinese readers get the simplified catalogue only when nothing else fits.
        return None if lowered in ("zh-tw", "zh-hk", "zh-hant") else LANGUAGES["zh-Hans"]
    return LANGUAGES.get(primary)


def negotiate(accept_language: str | None) -> Language:
    """The best supported language for an ``Accept-Language`` header (RFC 9110); English when
    none of the reader's languages is offered."""
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate((accept_language or "").split(",")):
        pieces = part.strip().split(";")
        tag = pieces[0].strip()
        quality = 1.0
        for parameter in pieces[1:]:
            name, _, value = parameter.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if tag and tag != "*" and quality > 0:
            ranked.append((-quality, position, tag))
    for _, _, tag in sorted(ranked):
        found = language(tag)
        if found is not None:
            return found
    return LANGUAGES[DEFAULT]


@cache
def translations(code: str) -> gettext.NullTranslations:
    """The catalogue of a supported language, compiled in memory from its ``.po`` file."""
    spec = LANGUAGES[code]
    path = LOCALES / spec.catalogue / "LC_MESSAGES" / "messages.po"
    if not path.exists():
        return gettext.NullTranslations()
    with path.open("rb") as handle:
        catalogue = read_po(handle, locale=spec.catalogue)
    compiled = io.BytesIO()
    write_mo(compiled, catalogue)
    compiled.seek(0)
    return gettext.GNUTranslations(compiled)


def N_(message: str) -> str:
    """Mark a message for extraction; it is translated where it is shown."""
    return message
