"""Decode export files: UTF-8 (with or without BOM), UTF-16 (Excel "Unicode text"), GBK/GB18030.

The one place that decides how a file's bytes become text, for every reader of the
package: chat exports (``ingest.readers``, whole files and the first megabyte of big ones),
sales and scores files (``commission``) and the classifier's CSVs.

* ``decode_bytes(data, encoding=None) -> (text, encoding)``: a whole file in memory.
* ``read_text(path, encoding=None) -> (text, encoding)``: the same, from a path.
* ``sniff_file_encoding(path, sample_bytes) -> encoding``: a big file, from its first bytes
  (a multi-byte character cut by the end of the sample is allowed).

Detection order, the same everywhere: BOMs first, then strict UTF-8, then strict GB18030 (a
superset of GBK, what Windows Excel writes for Chinese), then charset-normalizer's best
guess.  Strict decoding matters: a lenient decode would silently replace bytes.
"""

from __future__ import annotations

import codecs
import threading
from pathlib import Path

from qa_scorer.i18n import _

#: Tried in this order when no BOM says otherwise.  GB18030 after UTF-8: valid UTF-8 Chinese
#: is almost never valid GB18030 by accident the other way round.
CANDIDATE_ENCODINGS = ("utf-8", "gb18030")

#: How much of a file charset-normalizer looks at (it is slow on large inputs).
_GUESS_BYTES = 1_000_000


class DecodeError(ValueError):
    """The bytes are not text in any encoding we accept.

    ``reason`` says what is wrong; ``hint`` how an ``audit`` user fixes it (``--encoding``).
    ``str(exc)`` is both; callers without an ``--encoding`` option show ``reason`` and their own hint.
    """

    def __init__(self, reason: str, hint: str = ""):
        super().__init__(f"{reason}; {hint}" if hint else reason)
        self.reason = reason
        self.hint = hint


#: ``errors=`` values accepted by the decoders here: "strict" (default: a byte that does not
#: decode fails the file, naming its line) or "replace" (U+FFFD for it; the count is returned).
ENCODING_ERRORS = ("strict", "replace")

#: A file is taken as "this encoding, with a few damaged bytes" (rather than "another encoding")
#: when at most this share of its bytes fail to decode (and at least one byte always may).
_DAMAGE_SHARE = 0.002

_counts = threading.local()


def _count_replace(exc: UnicodeDecodeError):
    _counts.n = getattr(_counts, "n", 0) + 1
    return "\ufffd", exc.end


#: Name of the registered error handler that replaces like "replace" and counts (``replaced_count``).
COUNTING_REPLACE = "qa_scorer.count_replace"
codecs.register_error(COUNTING_REPLACE, _count_replace)


def reset_replaced() -> None:
    """Start counting characters replaced by ``COUNTING_REPLACE`` (in this thread)."""
    _counts.n = 0


def replaced_count() -> int:
    """Characters replaced by ``COUNTING_REPLACE`` since ``reset_replaced`` (in this thread)."""
    return getattr(_counts, "n", 0)


def _handler(errors: str) -> str:
    if errors not in ENCODING_ERRORS:
        raise ValueError(f"encoding_errors must be one of {', '.join(ENCODING_ERRORS)}, got {errors!r}")
    return "strict" if errors == "strict" else COUNTING_REPLACE


def _decode(data: bytes, encoding: str, final: bool, errors: str = "strict") -> str:
    if final:
        return data.decode(encoding, errors)
    # A sample cut from a larger file: an incomplete character at the end is not an error.
    return codecs.getincrementaldecoder(encoding)(errors).decode(data, final=False)


def _line_of(data: bytes, exc: UnicodeDecodeError) -> int:
    return data[: exc.start].count(b"\n") + 1


def _where(data: bytes, exc: UnicodeDecodeError, offset: int = 0) -> str:
    return _("line {line} (byte offset {offset})").format(line=_line_of(data, exc), offset=exc.start + offset)


def _errors_in(data: bytes, encoding: str, final: bool) -> int:
    reset_replaced()
    try:
        _decode(data, encoding, final, COUNTING_REPLACE)
    except LookupError:
        return len(data) + 1
    return replaced_count()


def _damaged_candidate(data: bytes, final: bool) -> tuple[str, int] | None:
    """``(encoding, bad characters)`` when the bytes are one of the candidate encodings with a few
    damaged bytes (a share below ``_DAMAGE_SHARE``), else None."""
    best = None
    for encoding in CANDIDATE_ENCODINGS:
        n = _errors_in(data, encoding, final)
        if best is None or n < best[1]:
            best = (encoding, n)
    if best is not None and best[1] <= max(1, int(len(data) * _DAMAGE_SHARE)):
        return best
    return None


def _detect(data: bytes, *, final: bool = True, errors: str = "strict") -> tuple[str, str]:
    """``(text, encoding)`` by the detection order of this module; ``final=False`` for a sample.
    ``errors="replace"``: a file that is a candidate encoding with a few damaged bytes is decoded
    with U+FFFD for them (``replaced_count()`` says how many)."""
    handler = _handler(errors)
    reset_replaced()
    if data.startswith(codecs.BOM_UTF8):
        body = data[len(codecs.BOM_UTF8):]
        try:
            return _decode(body, "utf-8", final, handler), "utf-8-sig"
        except UnicodeDecodeError as exc:
            raise DecodeError(_("the file starts with a UTF-8 BOM but {where} is not valid UTF-8").format(
                where=_where(body, exc, len(codecs.BOM_UTF8))),
                _("check --encoding (utf-8, gbk, gb18030), or --encoding-errors replace")) from None
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return _decode(data, "utf-16", final, handler), "utf-16"
        except UnicodeDecodeError as exc:
            raise DecodeError(_("the file starts with a UTF-16 BOM but byte offset {offset} is not valid "
                                "UTF-16").format(offset=exc.start),
                              _("check --encoding (utf-16, utf-8, gb18030)")) from None
    for encoding in CANDIDATE_ENCODINGS:
        try:
            return _decode(data, encoding, final), encoding
        except UnicodeDecodeError:
            continue
    damaged = _damaged_candidate(data, final)
    if damaged is not None:
        encoding, bad = damaged
        if errors == "replace":
            reset_replaced()
            return _decode(data, encoding, final, handler), encoding
        try:
            _decode(data, encoding, final)
        except UnicodeDecodeError as exc:
            raise DecodeError(
                _("the file is {encoding} except for {n} undecodable byte(s); the first is at {where}").format(
                    encoding=encoding, n=bad, where=_where(data, exc)),
                _("fix the file, or read it with --encoding-errors replace (the bad bytes become U+FFFD)"),
            ) from None
    from charset_normalizer import from_bytes

    best = from_bytes(data[:_GUESS_BYTES]).best()
    if best is not None and best.encoding:
        try:
            return _decode(data, best.encoding, final), best.encoding
        except (UnicodeDecodeError, LookupError):
            pass
    raise DecodeError(_("cannot decode the file as UTF-8 or GBK/GB18030 (first bad byte: {where})").format(
                          where=_first_bad_where(data, final)),
                      _("if you know its encoding pass --encoding NAME"))


def _first_bad_where(data: bytes, final: bool) -> str:
    """Where the candidate encoding that gets furthest first fails."""
    furthest = None
    for encoding in CANDIDATE_ENCODINGS:
        try:
            _decode(data, encoding, final)
        except UnicodeDecodeError as exc:
            if furthest is None or exc.start > furthest.start:
                furthest = exc
    return _where(data, furthest) if furthest is not None else "?"


def decode_bytes(data: bytes, encoding: str | None = None, errors: str = "strict") -> tuple[str, str]:
    """Return ``(text, encoding_used)``; raise ``DecodeError`` (naming the line and byte offset
    when it can).

    With ``encoding`` the bytes must be valid in it; without, the encoding is detected (see the
    module docstring).  A UTF-8 BOM is removed from the text ("utf-8-sig" is returned).
    ``errors="replace"`` puts U+FFFD for undecodable bytes; ``replaced_count()`` says how many.
    """
    if encoding:
        handler = _handler(errors)
        reset_replaced()
        try:
            return data.decode(encoding, handler), encoding
        except LookupError:
            raise DecodeError(_("unknown encoding {name}").format(name=repr(encoding)),
                              _("try utf-8, gbk or gb18030")) from None
        except UnicodeDecodeError as exc:
            raise DecodeError(_("bytes at line {line} are not valid {encoding} (first bad byte at offset {offset})").format(
                line=_line_of(data, exc), encoding=encoding, offset=exc.start),
                              _("check --encoding (utf-8, gbk, gb18030), or --encoding-errors replace")) from None
    return _detect(data, errors=errors)


def read_text(path: str | Path, encoding: str | None = None) -> tuple[str, str]:
    """``decode_bytes`` of a file's content.  ``OSError`` when it cannot be read."""
    return decode_bytes(Path(path).read_bytes(), encoding)


def sniff_file_encoding(path: str | Path, sample_bytes: int = 1 << 20, errors: str = "strict") -> str:
    """Encoding of a (large) file from its first ``sample_bytes`` bytes, detected like
    ``decode_bytes`` (a character cut by the sample's end is allowed).  Raises ``DecodeError``."""
    with open(path, "rb") as fh:
        sample = fh.read(sample_bytes)
    if len(sample) < sample_bytes:  # the whole file: no character can be cut
        return _detect(sample, final=True, errors=errors)[1]
    return _detect(sample, final=False, errors=errors)[1]
