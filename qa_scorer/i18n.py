"""Messages for people: Simplified Chinese by default, English on request.

Source strings in the code are English and wrapped in ``_()``; the Chinese comes from the
gettext catalog ``qa_scorer/locale/zh_CN/LC_MESSAGES/qa_scorer.po`` (compiled to ``.mo``, both
shipped in the package).  The language is chosen once per process:

    set_language("en")        # or "zh"; None = QA_SCORER_LANG, else the locale (en_* -> English), else Chinese

``_("...")`` looks the message up at call time, so module-level constants must store the English
text (mark it with ``N_("...")`` so it is extracted) and translate it where it is shown.  Use
``str.format`` placeholders inside the message (``_("{n} files read").format(n=3)``) so
translators can move them.

How the language is chosen, first match wins:

1. ``qa-scorer --lang en|zh`` (or ``--lang`` after a command name), which calls ``set_language``
   and exports ``QA_SCORER_LANG`` so worker processes speak the same language;
2. the ``QA_SCORER_LANG`` environment variable (``zh``, ``zh_CN``, ``en``, ``en_US`` …);
3. the locale variables ``LANGUAGE``, ``LC_ALL``, ``LC_MESSAGES``, ``LANG`` - only an ``en*``
   value switches to English (``C``/``POSIX``/unset and anything else keep Chinese);
4. Chinese.

The catalog is maintained with Babel (see docs/translating.md); the runtime needs only the
compiled ``.mo`` file and the standard library.
"""

from __future__ import annotations

import gettext
import os
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Iterator

__all__ = ["_", "N_", "ngettext", "pgettext", "set_language", "get_language", "use_language", "LANGUAGES", "LOCALE_DIR",
           "DOMAIN", "ENV_VAR", "normalize_language"]

LOCALE_DIR = Path(__file__).resolve().parent / "locale"
DOMAIN = "qa_scorer"
LANGUAGES = ("zh", "en")
ENV_VAR = "QA_SCORER_LANG"

_translation: gettext.NullTranslations | None = None
_language: str | None = None


def _default_language() -> str:
    env = os.environ.get(ENV_VAR, "").strip().lower()
    if env:
        return "en" if env.startswith("en") else "zh"
    # The first locale variable that is set decides (POSIX precedence); only English switches.
    for var in ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(var, "").strip().lower()
        if value:
            return "en" if value.startswith("en") else "zh"
    # No variable set: Chinese.  (locale.getlocale() is not asked: Python reports C.UTF-8 as en_US.)
    return "zh"


def normalize_language(lang: str) -> str:
    """'zh_CN', 'zh-Hans', 'ZH' -> 'zh'; 'en_US.UTF-8' -> 'en'; anything else raises ValueError."""
    value = (lang or "").strip().lower()
    if value.startswith("zh"):
        return "zh"
    if value.startswith("en"):
        return "en"
    raise ValueError(f"unknown language {lang!r}; allowed: {', '.join(LANGUAGES)}")


@lru_cache(maxsize=1)
def _chinese() -> gettext.NullTranslations:
    return gettext.translation(DOMAIN, localedir=str(LOCALE_DIR), languages=["zh_CN"], fallback=True)


def set_language(lang: str | None = None) -> str:
    """Choose the language of every later message ("zh" or "en"); returns the one chosen."""
    global _translation, _language
    lang = normalize_language(lang or _default_language())
    if lang == "en":
        _translation = gettext.NullTranslations()
    else:
        _translation = _chinese()
    _language = lang
    return lang


def get_language() -> str:
    if _language is None:
        set_language(None)
    return _language  # type: ignore[return-value]


@contextmanager
def use_language(lang: str | None) -> Iterator[str]:
    """``with use_language("en"): ...`` - a language for one block (tests, one report), then back."""
    global _translation, _language
    before = _language
    chosen = set_language(lang)
    try:
        yield chosen
    finally:
        if before is None:
            _translation, _language = None, None
        else:
            set_language(before)


def N_(message: str) -> str:
    """Mark a string for extraction without translating it now (module-level constants)."""
    return message


def _(message: str) -> str:
    if _translation is None:
        set_language(None)
    return _translation.gettext(message)  # type: ignore[union-attr]


def ngettext(singular: str, plural: str, n: int) -> str:
    if _translation is None:
        set_language(None)
    return _translation.ngettext(singular, plural, n)  # type: ignore[union-attr]


def pgettext(context: str, message: str) -> str:
    """``message`` in a context (``pgettext("sheet", "Conversations")`` = 会话, the column is 会话数)."""
    if _translation is None:
        set_language(None)
    return _translation.pgettext(context, message)  # type: ignore[union-attr]
