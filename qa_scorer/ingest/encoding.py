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
from pathlib import Path

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


def _decode(data: bytes, encoding: str, final: bool) -> str:
    if final:
        return data.decode(encoding)
    # A sample cut from a larger file: an incomplete character at the end is not an error.
    return codecs.getincrementaldecoder(encoding)().decode(data, final=False)


def _line_of(data: bytes, exc: UnicodeDecodeError) -> int:
    return data[: exc.start].count(b"\n") + 1


def _detect(data: bytes, *, final: bool = True) -> tuple[str, str]:
    """``(text, encoding)`` by the detection order of this module; ``final=False`` for a sample."""
    if data.startswith(codecs.BOM_UTF8):
        body = data[len(codecs.BOM_UTF8):]
        try:
            return _decode(body, "utf-8", final), "utf-8-sig"
        except UnicodeDecodeError as exc:
            line = _line_of(body, exc)
            raise DecodeError(f"the file starts with a UTF-8 BOM but line {line} is not valid UTF-8",
                              "check --encoding (utf-8, gbk, gb18030)") from None
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return _decode(data, "utf-16", final), "utf-16"
        except UnicodeDecodeError:
            raise DecodeError("the file starts with a UTF-16 BOM but is not valid UTF-16",
                              "check --encoding (utf-16, utf-8, gb18030)") from None
    for encoding in CANDIDATE_ENCODINGS:
        try:
            return _decode(data, encoding, final), encoding
        except UnicodeDecodeError:
            continue
    from charset_normalizer import from_bytes

    best = from_bytes(data[:_GUESS_BYTES]).best()
    if best is not None and best.encoding:
        try:
            return _decode(data, best.encoding, final), best.encoding
        except (UnicodeDecodeError, LookupError):
            pass
    raise DecodeError("cannot decode the file as UTF-8 or GBK/GB18030",
                      "if you know its encoding pass --encoding NAME")


def decode_bytes(data: bytes, encoding: str | None = None) -> tuple[str, str]:
    """Return ``(text, encoding_used)``; raise ``DecodeError`` (naming the line when it can).

    With ``encoding`` the bytes must be valid in it; without, the encoding is detected (see the
    module docstring).  A UTF-8 BOM is removed from the text ("utf-8-sig" is returned).
    """
    if encoding:
        try:
            return data.decode(encoding), encoding
        except LookupError:
            raise DecodeError(f"unknown encoding {encoding!r}", "try utf-8, gbk or gb18030") from None
        except UnicodeDecodeError as exc:
            raise DecodeError(f"bytes at line {_line_of(data, exc)} are not valid {encoding}",
                              "check --encoding (utf-8, gbk, gb18030)") from None
    return _detect(data)


def read_text(path: str | Path, encoding: str | None = None) -> tuple[str, str]:
    """``decode_bytes`` of a file's content.  ``OSError`` when it cannot be read."""
    return decode_bytes(Path(path).read_bytes(), encoding)


def sniff_file_encoding(path: str | Path, sample_bytes: int = 1 << 20) -> str:
    """Encoding of a (large) file from its first ``sample_bytes`` bytes, detected like
    ``decode_bytes`` (a character cut by the sample's end is allowed).  Raises ``DecodeError``."""
    with open(path, "rb") as fh:
        sample = fh.read(sample_bytes)
    if len(sample) < sample_bytes:  # the whole file: no character can be cut
        return _detect(sample, final=True)[1]
    return _detect(sample, final=False)[1]
