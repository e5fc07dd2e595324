from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from haven.i18n import LANGUAGES, LOCALES, Language, language, negotiate, translations

I18N = LOCALES.parent
PLACEHOLDER = re.compile(r"%\(\w+\)s")
TRANSLATED = [spec for spec in LANGUAGES.values() if spec.code != "en"]


def _msgids(path: Path, locale: str | None = None) -> set[str]:
    with path.open("rb") as handle:
        return {str(message.id) for message in read_po(handle, locale=locale) if message.id}


def test_the_template_is_in_step_with_the_sources(tmp_path: Path) -> None:
    """A message added to a page but not extracted would stay English in every language."""
    fresh = tmp_path / "messages.pot"
    subprocess.run(
        [
            sys.executable, "-m", "babel.messages.frontend", "extract", "--no-location",
            "-F", str(I18N / "babel.cfg"), "-k", "N_", "-o", str(fresh), str(I18N.parent),
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    assert _msgids(fresh) == _msgids(I18N / "messages.pot"), "run scripts/messages"


@pytest.mark.parametrize("spec", TRANSLATED, ids=lambda spec: spec.code)
def test_every_message_is_translated_with_its_placeholders(spec: Language) -> None:
    catalogue_name = spec.catalogue
    path = LOCALES / catalogue_name / "LC_MESSAGES" / "messages.po"
    with path.open("rb") as handle:
        catalogue = read_po(handle, locale=catalogue_name)
    template = _msgids(I18N / "messages.pot")
    messages = [m for m in catalogue if m.id]
    assert {m.id for m in messages} == template
    assert [m.id for m in messages if not m.string] == []
    assert [m.id for m in messages if m.fuzzy] == []
    for message in messages:
        assert isinstance(message.id, str)
        assert isinstance(message.string, str)
        assert sorted(PLACEHOLDER.findall(message.string)) == sorted(
            PLACEHOLDER.findall(message.id)
        ), message.id
        # A lone "%" breaks formatting at render time.
        assert "%" not in PLACEHOLDER.sub("", message.string).replace("%%", ""), message.id


def test_a_catalogue_is_used_for_its_language() -> None:
    assert translations("fr").gettext("Send the report") != "Send the report"
    assert translations("ar").gettext("Send the report") != "Send the report"
    assert translations("en").gettext("Send the report") == "Send the report"


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("fr-CH, fr;q=0.9, en;q=0.8, de;q=0.7, *;q=0.5", "fr"),
        ("de;q=0.2, uk;q=0.9", "uk"),
        ("zh-CN,zh;q=0.9", "zh-Hans"),
        ("zh-TW", "en"),
        ("fa-IR", "fa"),
        ("xx, yy;q=0.5", "en"),
        ("", "en"),
        ("ar;q=0, tr", "tr"),
        ("pt;q=abc, it", "it"),
    ],
)
def test_the_browser_language_is_negotiated(header: str, expected: str) -> None:
    assert negotiate(header).code == expected


def test_right_to_left_languages_say_so() -> None:
    assert {spec.code for spec in LANGUAGES.values() if spec.rtl} == {"ar", "fa"}
    assert LANGUAGES["ar"].direction == "rtl"
    assert LANGUAGES["en"].direction == "ltr"


def test_a_language_tag_is_read_loosely() -> None:
    found = language("ZH_hans")
    assert found is not None
    assert found.code == "zh-Hans"
    assert language("klingon") is None
    assert language(None) is None
