"""Helpers every command shares: the ``--lang`` option and safe terminal text.

Terminal output never interprets text that came from files, paths or error messages:
``safe()`` escapes rich markup (``[/bold]``, ``[link=…]``), replaces control characters
(ANSI escapes, carriage returns, bells) and cuts long values, so a header such as
``\\x1b[31m[link=http://x]y[/link]`` is printed as the harmless text it is.
"""

from __future__ import annotations

import functools
import inspect
import os
import re
import unicodedata
from typing import Any, Callable, Optional

import typer
from rich.markup import escape

from qa_scorer.i18n import ENV_VAR, _, normalize_language, set_language

#: Longest value printed from a file (a header, a sender, a path, an error) before it is cut.
MAX_SHOWN = 160

# C0/C1 control characters (ESC, BEL, CR, …), DEL, and the Unicode bidi/format overrides that can
# make a line read differently from what it contains.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def plain(value: Any, limit: int | None = MAX_SHOWN) -> str:
    """``value`` as one printable line: control characters shown as ``�``/``⏎``, cut to ``limit``."""
    text = "" if value is None else str(value)
    text = text.replace("\r\n", "\n").replace("\n", "⏎").replace("\t", " ")
    text = _CONTROL.sub("�", text)
    text = "".join(ch if unicodedata.category(ch) != "Cs" else "�" for ch in text)  # lone surrogates
    if limit is not None and len(text) > limit:
        text = text[: limit - 1] + "…"
    return text


def safe(value: Any, limit: int | None = MAX_SHOWN) -> str:
    """``plain(value)`` with rich markup escaped: safe inside ``console.print`` markup."""
    return escape(plain(value, limit))


def _lang_callback(value: Optional[str]) -> Optional[str]:
    if value is None:
        return value
    try:
        lang = set_language(normalize_language(value))
    except ValueError:
        raise typer.BadParameter(_("use zh (Chinese) or en (English)")) from None
    os.environ[ENV_VAR] = lang  # worker processes (audit.xlsx, chunk pools) speak the same language
    return lang


LANG_HELP = ("Language of messages and reports: zh (Chinese, the default) or en (English). "
             "Also QA_SCORER_LANG=en.")


def lang_option(default_from_env: bool = False):
    """The ``--lang`` option; the root callback (``default_from_env``) also resets to the default."""

    def callback(value: Optional[str]) -> Optional[str]:
        if value is None and default_from_env:
            set_language(None)
            return None
        return _lang_callback(value)

    return typer.Option(None, "--lang", metavar="zh|en", help=LANG_HELP, callback=callback, is_eager=True,
                        show_default=False)


def with_lang(func: Callable) -> Callable:
    """``func`` with a ``--lang`` option added (so ``qa-scorer audit … --lang en`` works too)."""
    sig = inspect.signature(func)
    if "lang" in sig.parameters:
        return func

    @functools.wraps(func)
    def wrapper(*args, lang: Optional[str] = None, **kwargs):
        return func(*args, **kwargs)

    param = inspect.Parameter("lang", inspect.Parameter.KEYWORD_ONLY, default=lang_option(),
                              annotation=Optional[str])
    wrapper.__signature__ = sig.replace(parameters=[*sig.parameters.values(), param])
    wrapper.__annotations__ = {**getattr(func, "__annotations__", {}), "lang": Optional[str]}
    return wrapper


def fail(message: str, code: int = 2) -> None:
    """Print ``错误：message`` to stderr (``message`` already translated; values from files made ``plain``)."""
    typer.echo(_("Error: {message}").format(message=message), err=True)
    raise typer.Exit(code)
