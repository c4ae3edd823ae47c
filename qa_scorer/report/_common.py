"""Helpers shared by the HTML report, the workbook and the coaching examples.

Everything here tolerates missing columns: an audit run with a stage switched off (no
classifier, no rubric) still produces the other tables, and the reports show what is there.
"""

from __future__ import annotations

import json
import math
from functools import lru_cache
from typing import Any

import jinja2
import pandas as pd

from qa_scorer.schema import TAGS

#: Chinese label of each classifier tag (used in every human-facing output).
TAG_LABELS = {"pushy": "催单", "unhelpful": "敷衍", "rude": "态度差", "overclaim": "夸大"}

#: Rules a coaching example can be pulled for (CLI ``--rule`` choices).
RULES = ("short_reply", "product_answer_short", "missing_closing", "slow")
RULE_LABELS = {
    "short_reply": "短回复",
    "product_answer_short": "商品回复过短",
    "missing_closing": "缺少结束语",
    "slow": "响应慢",
}

#: Defaults of the thresholds the reports quote (qa_scorer.settings.MetricSettings); run.json overrides.
DEFAULT_THRESHOLDS = {
    "min_reply_chars": 4,
    "product_answer_min_chars": 15,
    "slow_seconds": 120,
    "within_seconds": 180,
    "closing_silence_s": 300,
}


def has(df: pd.DataFrame | None, *columns: str) -> bool:
    """True if ``df`` exists and has every one of ``columns``."""
    return df is not None and all(c in df.columns for c in columns)


def flag(df: pd.DataFrame, column: str) -> pd.Series:
    """A 0/1 (or True/False, "1"/"true") column as booleans; a missing column is all False.

    CSVs written by pandas may hold flags as 0/1, 0.0/1.0 or True/False depending on
    whether the stage produced ints or bools, so accept all of them.
    """
    if column not in df.columns:
        return pd.Series(False, index=df.index)
    s = df[column]
    if pd.api.types.is_bool_dtype(s):
        return s.fillna(False).astype(bool)
    if pd.api.types.is_numeric_dtype(s):
        return s.fillna(0).astype(float) != 0
    text = s.astype("string").str.strip().str.lower()
    return text.isin(["1", "1.0", "true", "yes", "y"]).fillna(False).astype(bool)


def number(df: pd.DataFrame, column: str) -> pd.Series:
    """A numeric column as float (NaN where missing or not a number); a missing column is all NaN."""
    if column not in df.columns:
        return pd.Series(float("nan"), index=df.index, dtype="float64")
    return pd.to_numeric(df[column], errors="coerce").astype("float64")


def is_missing(value: Any) -> bool:
    if value is None:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def fmt_seconds(value: Any) -> str:
    """42 -> '42秒', 192 -> '3分12秒', 3900 -> '1小时5分'; missing -> '–'."""
    if is_missing(value):
        return "–"
    seconds = float(value)
    if seconds < 0:
        return f"{seconds:.0f}秒"
    if seconds < 60:
        return f"{seconds:.0f}秒" if seconds >= 10 or seconds == int(seconds) else f"{seconds:.1f}秒"
    total = int(round(seconds))
    if total < 3600:
        m, s = divmod(total, 60)
        return f"{m}分{s}秒" if s else f"{m}分"
    h, rest = divmod(total, 3600)
    m = rest // 60
    return f"{h}小时{m}分" if m else f"{h}小时"


def rate_fraction(series: pd.Series) -> pd.Series:
    """A rate column as a 0..1 fraction (a stage that wrote percentages 0..100 is detected)."""
    s = pd.to_numeric(series, errors="coerce").astype("float64")
    if s.notna().any() and s.max() > 1.0 + 1e-9:
        return s / 100.0
    return s


def fmt_rate(value: Any) -> str:
    if is_missing(value):
        return "–"
    return f"{float(value) * 100:.1f}%"


def fmt_number(value: Any, digits: int = 1) -> str:
    if is_missing(value):
        return "–"
    v = float(value)
    if math.isfinite(v) and v == int(v):
        return f"{int(v):,}"
    return f"{v:,.{digits}f}"


def fmt_time(value: Any, with_date: bool = True) -> str:
    if is_missing(value):
        return ""
    ts = pd.Timestamp(value)
    return ts.strftime("%Y-%m-%d %H:%M:%S" if with_date else "%H:%M:%S")


def tag_columns(replies: pd.DataFrame | None) -> list[str]:
    """The classifier tags present as 0/1 columns in ``replies`` (none when the classifier was off)."""
    if replies is None:
        return []
    return [t for t in TAGS if t in replies.columns]


def parse_tag_words(value: Any) -> dict[str, str]:
    """'pushy: 最后一件, 没有了; overclaim: 百分百' -> {'pushy': '最后一件, 没有了', 'overclaim': '百分百'}."""
    if is_missing(value) or not str(value).strip():
        return {}
    out: dict[str, str] = {}
    for part in str(value).split(";"):
        name, sep, words = part.partition(":")
        if sep and name.strip():
            out[name.strip()] = words.strip()
    return out


def parse_score_items(value: Any) -> list[dict[str, Any]]:
    """score_items JSON -> list of row dicts for a breakdown table.

    The rubric stage writes JSON; accept a list of objects ({"item":…, "points":…, …}), a
    mapping item -> points, or a mapping item -> object.  Anything else gives one row with
    the raw text, so a format change never breaks the report.
    """
    if is_missing(value) or not str(value).strip():
        return []
    try:
        data = json.loads(value) if isinstance(value, str) else value
    except (TypeError, ValueError):
        return [{"item": str(value)}]
    if isinstance(data, dict):
        rows = []
        for key, item in data.items():
            if isinstance(item, dict):
                rows.append({"item": key, **item})
            else:
                rows.append({"item": key, "points": item})
        return rows
    if isinstance(data, list):
        return [row if isinstance(row, dict) else {"item": row} for row in data]
    return [{"item": data}]


def find_setting(run_info: dict | None, key: str, default: Any = None) -> Any:
    """Look ``key`` up anywhere in run.json (top level, ``settings``, ``settings.metrics`` …)."""
    if not isinstance(run_info, dict):
        return default
    stack = [run_info]
    while stack:
        node = stack.pop(0)
        if key in node and not isinstance(node[key], dict):
            return node[key]
        stack.extend(v for v in node.values() if isinstance(v, dict))
    return default


def thresholds(run_info: dict | None) -> dict[str, Any]:
    """The thresholds used by the run (from run.json), defaults where run.json says nothing."""
    return {k: find_setting(run_info, k, v) for k, v in DEFAULT_THRESHOLDS.items()}


def short_agent_name(names: pd.Series) -> pd.Series:
    """'店铺:小美' / '店铺：小美' -> '小美'; a name without the prefix is unchanged."""
    return names.astype("string").fillna("").str.replace(r"^.*[:：]", "", regex=True)


def agent_matches(names: pd.Series, wanted: str) -> pd.Series:
    """Rows whose agent is ``wanted``, given with or without the ``店铺:`` prefix (either colon)."""
    full = names.astype("string").fillna("").str.replace("：", ":", regex=False)
    wanted_norm = wanted.strip().replace("：", ":")
    if ":" in wanted_norm:
        return (full == wanted_norm).fillna(False).astype(bool)
    return ((full == wanted_norm) | (short_agent_name(full) == wanted_norm)).fillna(False).astype(bool)


def letters(n: int) -> str:
    """0 -> 'A', 25 -> 'Z', 26 -> 'AA' (spreadsheet-style, so aliases never run out)."""
    out = ""
    n += 1
    while n:
        n, r = divmod(n - 1, 26)
        out = chr(65 + r) + out
    return out


@lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    # autoescape=True for every template: each {{ value }} is HTML-escaped unless it is a
    # markupsafe.Markup, and the code marks as Markup only package assets (CSS, JS) and the SVG
    # charts, which qa_scorer.report.svg builds from escaped values.
    return jinja2.Environment(
        loader=jinja2.PackageLoader("qa_scorer.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render_template(name: str, **context: Any) -> str:
    """Render ``qa_scorer/report/templates/<name>`` with autoescaping."""
    return _environment().get_template(name).render(**context)
