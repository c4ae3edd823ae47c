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

from qa_scorer.i18n import N_, _, ngettext
from qa_scorer.schema import TAGS


class _Labels(dict):
    """A mapping key -> English label (marked with N_) that returns the label in the current language."""

    def __getitem__(self, key):
        return _(super().__getitem__(key))

    def get(self, key, default=None):
        return self[key] if key in self else default

    def items(self):
        return [(k, self[k]) for k in self]

    def values(self):
        return [self[k] for k in self]


#: Label of each classifier tag (used in every human-facing output; Chinese by default).
TAG_LABELS = _Labels({"pushy": N_("pushy"), "unhelpful": N_("unhelpful"), "rude": N_("rude"),
                      "overclaim": N_("overclaim")})

#: Rules a coaching example can be pulled for (CLI ``--rule`` choices).
RULES = ("short_reply", "product_answer_short", "missing_closing", "slow")
RULE_LABELS = _Labels({
    "short_reply": N_("short reply"),
    "product_answer_short": N_("product answer too short"),
    "missing_closing": N_("missing closing"),
    "slow": N_("slow reply"),
})

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
    from qa_scorer.booleans import bool_column  # the one yes/no parser

    return bool_column(df, column)


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
    """42 -> '42秒', 192 -> '3分12秒', 3900 -> '1小时5分' (English: '42 s', '3 min 12 s', '1 h 5 min'); missing -> '–'."""
    if is_missing(value):
        return "–"
    seconds = float(value)
    if seconds < 0:
        return _("{seconds} s").format(seconds=f"{seconds:.0f}")
    if seconds < 60:
        shown = f"{seconds:.0f}" if seconds >= 10 or seconds == int(seconds) else f"{seconds:.1f}"
        return _("{seconds} s").format(seconds=shown)
    total = int(round(seconds))
    if total < 3600:
        m, s = divmod(total, 60)
        return _("{minutes} min {seconds} s").format(minutes=m, seconds=s) if s else _("{minutes} min").format(minutes=m)
    h, rest = divmod(total, 3600)
    m = rest // 60
    return _("{hours} h {minutes} min").format(hours=h, minutes=m) if m else _("{hours} h").format(hours=h)


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


def pooled_within_rate(conversations: pd.DataFrame) -> float:
    """The 3-minute response rate of all conversations together (NaN when there is none).

    Pooled over rounds: ``within_3min_rounds / counted_rounds`` when the metrics wrote those
    counts, else each conversation's rate weighted by its rounds.
    """
    if has(conversations, "within_3min_rounds", "counted_rounds"):
        counted = number(conversations, "counted_rounds").sum()
        return float(number(conversations, "within_3min_rounds").sum() / counted) if counted else float("nan")
    if not has(conversations, "within_3min_rate", "rounds"):
        return float("nan")
    rate = rate_fraction(conversations["within_3min_rate"])
    rounds = number(conversations, "rounds")
    ok = rate.notna() & (rounds > 0)
    return float((rate[ok] * rounds[ok]).sum() / rounds[ok].sum()) if ok.any() else float("nan")


#: The two averages of service scores, named the same in the terminal, report.html and the docs.
CONVERSATION_MEAN_LABEL = N_("Mean conversation score")   # 会话平均服务分: over all conversations
AGENT_MEAN_LABEL = N_("Mean agent score")                 # 客服平均服务分: over agents (each agent once)
CONVERSATION_MEAN_HINT = N_("mean of every conversation's service score")
AGENT_MEAN_HINT = N_("mean of the agents' service scores, each agent counted once")


def score_means(agents: pd.DataFrame | None, conversations: pd.DataFrame | None) -> dict[str, float]:
    """{"conversation": mean over conversations, "agent": mean over agents}; a missing one is left out."""
    out: dict[str, float] = {}
    for key, df in (("conversation", conversations), ("agent", agents)):
        if df is not None and "service_score" in df.columns:
            s = number(df, "service_score")
            if s.notna().any():
                out[key] = float(s.mean())
    return out


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
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("qa_scorer.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        extensions=["jinja2.ext.i18n"],
    )
    # {{ _("English") }} in a template is looked up in the current language at render time (the
    # lambdas defer to qa_scorer.i18n, so the cached environment follows set_language).  Its result
    # is a plain str, escaped like any other value.
    env.install_gettext_callables(lambda message: _(message),
                                  lambda singular, plural, n: ngettext(singular, plural, n), newstyle=False)
    return env


def render_template(name: str, **context: Any) -> str:
    """Render ``qa_scorer/report/templates/<name>`` with autoescaping."""
    return _environment().get_template(name).render(**context)
