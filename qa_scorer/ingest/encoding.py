"""Decode export files: UTF-8 (with or without BOM), UTF-16 (Excel "Unicode text"), GBK/GB18030."""

from __future__ import annotations

import codecs

from charset_normalizer import from_bytes


class DecodeError(ValueError):
    pass


def decode_bytes(data: bytes, encoding: str | None = None) -> tuple[str, str]:
    """Return ``(text, encoding_used)``.

    Without an explicit encoding: BOMs first, then strict UTF-8, then strict GB18030 (a
    superset of GBK, what Windows Excel writes for Chinese), then charset-normalizer's
    best guess.  Strict decoding matters: a lenient decode would silently replace bytes.
    """
    if encoding:
        try:
            return data.decode(encoding), encoding
        except LookupError:
            raise DecodeError(f"unknown encoding {encoding!r}; try utf-8, gbk or gb18030") from None
        except UnicodeDecodeError as exc:
            line = data[: exc.start].count(b"\n") + 1
            raise DecodeError(
                f"bytes at line {line} are not valid {encoding}; check --encoding (utf-8, gbk, gb18030)"
            ) from None
    if data.startswith(codecs.BOM_UTF8):
        try:
            return data[len(codecs.BOM_UTF8):].decode("utf-8"), "utf-8-sig"
        except UnicodeDecodeError as exc:
            line = data[: exc.start].count(b"\n") + 1
            raise DecodeError(f"file starts with a UTF-8 BOM but line {line} is not valid UTF-8") from None
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16"), "utf-16"
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030"), "gb18030"
    except UnicodeDecodeError:
        pass
    best = from_bytes(data[:1_000_000]).best()
    if best is not None and best.encoding:
        try:
            return data.decode(best.encoding), best.encoding
        except (UnicodeDecodeError, LookupError):
            pass
    raise DecodeError(
        "cannot decode the file as UTF-8 or GBK/GB18030; if you know its encoding pass --encoding NAME"
    )
