"""Which conversations report.html shows as chats: the lowest-scored ones.

Pandas only, so the pipeline can pick the worst conversations chunk by chunk (keep the
running selection, concatenate the next chunk's conversations, select again) without
importing the report code.
"""

from __future__ import annotations

import pandas as pd

#: Problem counts that rank conversations when they have no score (or tie on it): more first.
PROBLEM_COLUMNS = ("unanswered_rounds", "slow_rounds", "short_replies", "product_answer_short", "missing_closing",
                   "pushy", "unhelpful", "rude", "overclaim")


def _numbers(df: pd.DataFrame, column: str) -> pd.Series:
    if column not in df.columns:
        return pd.Series(float("nan"), index=df.index, dtype="float64")
    values = df[column]
    if values.dtype == object or pd.api.types.is_string_dtype(values):  # "true"/"false" read back from a CSV
        lowered = values.astype("string").str.strip().str.lower()
        values = values.mask(lowered.isin(["true", "false"]), lowered.eq("true").astype("float64"))
    return pd.to_numeric(values, errors="coerce").astype("float64")


def worst_conversations(conversations: pd.DataFrame, n: int) -> pd.DataFrame:
    """The ``n`` lowest-scored conversations, lowest ``service_score`` first.

    Ties (and conversations without a score, which come last) are ordered by the number of
    problems (most first), then by ``conversation_id``; the sort is stable, so selecting
    again from a previous selection plus new rows gives the same result as selecting from
    all rows at once.  The returned rows keep all columns of ``conversations``.
    """
    if conversations.empty or n <= 0:
        return conversations.head(0)
    problems = sum(_numbers(conversations, c).fillna(0) for c in PROBLEM_COLUMNS)
    order = pd.DataFrame({
        "score": _numbers(conversations, "service_score"),
        "problems": problems,
        "cid": conversations["conversation_id"].astype("string") if "conversation_id" in conversations.columns
        else pd.Series("", index=conversations.index, dtype="string"),
    }, index=conversations.index)
    order = order.reset_index(drop=True).sort_values(
        ["score", "problems", "cid"], ascending=[True, False, True], na_position="last", kind="stable")
    return conversations.iloc[order.index[:n]]
