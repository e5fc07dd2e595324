"""The page templates (Jinja2, autoescaped), with gettext for the pages the public reads.

A template marks text with ``{% trans %}`` or ``_()``; it is translated into the language in the
template's context (``lang``, set by :func:`haven.web.report.localised`), English otherwise.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi.templating import Jinja2Templates
from jinja2 import pass_context
from jinja2.runtime import Context

from haven.i18n import DEFAULT, translations

TEMPLATES = Jinja2Templates(directory=Path(__file__).parent / "templates")
TEMPLATES.env.add_extension("jinja2.ext.i18n")


def _catalogue(context: Context) -> Any:
    language = context.get("lang")
    return translations(language.code if language is not None else DEFAULT)


@pass_context
def _gettext(context: Context, message: str) -> str:
    return str(_catalogue(context).gettext(message))


@pass_context
def _ngettext(context: Context, singular: str, plural: str, n: int) -> str:
    return str(_catalogue(context).ngettext(singular, plural, n))


TEMPLATES.env.install_gettext_callables(  # type: ignore[attr-defined]
    gettext=_gettext, ngettext=_ngettext, newstyle=True
)
