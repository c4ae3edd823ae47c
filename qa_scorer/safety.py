"""Output hygiene for untrusted chat text: spreadsheet formula injection and PII masking."""

from __future__ import annotations

import re

import pandas as pd

#: What makes a spreadsheet cell risky - the one definition for every output (pandas
#: ``excel_safe`` for audit.xlsx, payroll, coaching and tagged CSVs; Arrow ``arrow_csv_safe`` for
#: the audit CSVs): text starting with = + - @ is run as a formula by Excel/WPS/LibreOffice, and a
#: leading tab or CR is stripped by some of them before evaluating.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_REGEX_CHAR = {"-": r"\-", "\t": r"\t", "\r": r"\r"}
#: The same as a regular expression, valid for Python ``re`` and Arrow's RE2 alike.
FORMULA_START_REGEX = "^[" + "".join(_REGEX_CHAR.get(c, c) for c in FORMULA_START) + "]"
#: Put in front of a risky cell: the spreadsheet shows the text as it is.
GUARD = "'"


def excel_safe_value(value):
    """Neutralise a cell a spreadsheet would run as a formula (prefix it with an apostrophe).

    Numbers stay numbers; only text starting with = + - @ (or tab/CR, which some
    spreadsheet programs strip before evaluating) is changed.
    """
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return GUARD + value
    return value


def excel_safe(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``df`` whose text cells cannot be evaluated as formulas by Excel/WPS/LibreOffice."""
    out = df.copy()
    for col in out.columns:
        s = out[col]
        if pd.api.types.is_object_dtype(s) or pd.api.types.is_string_dtype(s):
            text = s.astype("string")
            risky = text.str.match(FORMULA_START_REGEX, na=False)
            if risky.any():
                out[col] = s.astype(object).where(~risky, GUARD + text.astype(object))
    return out


def arrow_csv_safe(table):
    """``excel_safe`` for a pyarrow Table about to be written as CSV (the audit's CSVs are made to
    open in Excel): risky text cells get the apostrophe in front, and timestamps are cast to
    whole seconds (what the CSVs show).  Returns a new table; other columns are untouched."""
    import pyarrow as pa
    import pyarrow.compute as pc

    for i, fld in enumerate(table.schema):
        col = table.column(i)
        if pa.types.is_timestamp(fld.type):
            table = table.set_column(i, fld.name, col.cast(pa.timestamp("s"), safe=False))
        elif pa.types.is_string(fld.type) or pa.types.is_large_string(fld.type):
            risky = pc.match_substring_regex(col, FORMULA_START_REGEX)
            if pc.any(risky).as_py():
                quote = pa.scalar(GUARD, type=fld.type)
                empty = pa.scalar("", type=fld.type)
                guarded = pc.binary_join_element_wise(quote, col, empty)
                table = table.set_column(i, fld.name, pc.if_else(risky, guarded, col))
    return table


# Mainland mobile numbers (optionally +86), landlines with area code, order numbers (long digit runs).
_PHONE = re.compile(r"(?<!\d)(?:\+?86[- ]?)?1[3-9]\d[- ]?\d{4}[- ]?\d{4}(?!\d)")
_LANDLINE = re.compile(r"(?<!\d)0\d{2,3}-\d{7,8}(?!\d)")
_ORDER_NO = re.compile(r"(?<!\d)\d{12,20}(?!\d)")
# An address: province/city/district chain or a street/building/room run.
_ADDRESS = re.compile(
    r"[\u4e00-\u9fff]{2,8}(?:省|自治区|市)[\u4e00-\u9fff\d]{0,20}(?:市|区|县|镇|街道|路|街|号|栋|单元|室|村|小区)"
    r"[\u4e00-\u9fff\d\-号栋单元室楼层]*"
    r"|[\u4e00-\u9fff\d]{1,12}(?:路|街|大道|巷)\d+号[\u4e00-\u9fff\d\-栋单元室楼层]*"
)


def mask_phone(text: str) -> str:
    def repl(m: re.Match) -> str:
        digits = re.sub(r"\D", "", m.group(0))
        return digits[-11:][:3] + "****" + digits[-4:]
    return _LANDLINE.sub("[电话]", _PHONE.sub(repl, text))


def mask_pii(text: str, *, addresses: bool = True, order_numbers: bool = True,
             names: dict[str, str] | None = None) -> str:
    """Mask phone numbers (138****5678), order numbers ([订单号]), addresses ([地址]) and given names."""
    if not isinstance(text, str) or not text:
        return text
    out = mask_phone(text)
    if order_numbers:
        out = _ORDER_NO.sub("[订单号]", out)
    if addresses:
        out = _ADDRESS.sub("[地址]", out)
    if names:
        for name, alias in names.items():
            if name:
                out = out.replace(name, alias)
    return out


def mask_series(s: pd.Series, **kwargs) -> pd.Series:
    """Vectorised-enough masking for a column of texts (distinct values masked once)."""
    uniq = pd.unique(s.astype(object))
    mapping = {u: mask_pii(u, **kwargs) for u in uniq}
    return s.map(mapping)
