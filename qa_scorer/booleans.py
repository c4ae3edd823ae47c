"""Yes/no values as they come back from CSVs, spreadsheets and hand-made files.

A flag written by one stage is read again by another (rubric scoring of ``replies.csv``, the
report, a corpus of labels): pandas writes True/False, an int column 0/1, a float one 0.0/1.0,
and people type yes/no or 是/否.  These are the one reading of all of them.
"""

from __future__ import annotations

import pandas as pd

#: Text read as true / false (compared after strip() and lower()).
TRUE_STRINGS = frozenset({"1", "1.0", "true", "t", "yes", "y", "是"})
FALSE_STRINGS = frozenset({"0", "0.0", "false", "f", "no", "n", "否"})


def parse_bool(value) -> bool | None:
    """True / False for a recognised yes/no value, None for a missing or unrecognised one.

    bool -> itself; numbers -> nonzero; text -> ``TRUE_STRINGS`` / ``FALSE_STRINGS``."""
    if value is None or value is pd.NA:
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return None if value != value else value != 0
    if hasattr(value, "item") and not isinstance(value, str):  # numpy scalars
        return parse_bool(value.item())
    text = str(value).strip().lower()
    if text in TRUE_STRINGS:
        return True
    if text in FALSE_STRINGS:
        return False
    return None


def parse_bool_series(s: pd.Series) -> pd.Series:
    """Nullable booleans (``boolean`` dtype): True / False, <NA> for missing or unrecognised
    cells - for validators that must point at the bad cell."""
    if pd.api.types.is_bool_dtype(s):
        return s.astype("boolean")
    if pd.api.types.is_numeric_dtype(s):
        return (s.astype(float) != 0).astype("boolean").mask(s.isna())
    text = s.astype("string").str.strip().str.lower()
    out = pd.Series(pd.NA, index=s.index, dtype="boolean")
    out[text.isin(TRUE_STRINGS).fillna(False).astype(bool)] = True
    out[text.isin(FALSE_STRINGS).fillna(False).astype(bool)] = False
    return out


def bool_series(s: pd.Series) -> pd.Series:
    """Plain ``bool`` values; missing and unrecognised cells are False."""
    if s.dtype == bool:
        return s.copy()
    return parse_bool_series(s).fillna(False).astype(bool)


def bool_column(df: pd.DataFrame, column: str) -> pd.Series:
    """``bool_series`` of ``df[column]``; all False when the column is missing."""
    if column not in df.columns:
        return pd.Series(False, index=df.index)
    return bool_series(df[column])
