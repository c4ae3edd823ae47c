"""Sinks: what consumes the scored chunks of an audit, one chunk at a time.

The driver hands every sink each chunk in input order (``add(chunk, scored)``) and then asks it
for what it kept.  Sinks keep memory bounded by what they are for:

- ``CsvAppender`` / ``TableFiles``: messages.csv, replies.csv, rounds.csv appended chunk by chunk;
- ``AgentFacts``: the conversations table plus per-reply and per-round facts (without texts
  unless ``keep_full``) for the agent table, the charts and the result object;
- ``WorstConversations``: the full rows of the ``n`` lowest-scored conversations so far, which
  report.html renders as chats;
- ``WorkbookRows``: at most ``max_rows`` replies, flagged ones first, for audit.xlsx.

``write_table`` is the one CSV writer of the project's outputs (UTF-8 with BOM so Excel shows
Chinese, formula-like cells neutralised).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from qa_scorer.i18n import _
from qa_scorer.report.selection import worst_conversations
from qa_scorer.safety import arrow_csv_safe
from qa_scorer.schema import TAGS

__all__ = ["write_table", "CsvAppender", "TableFiles", "AgentFacts", "WorstConversations", "WorkbookRows",
           "flagged_replies", "workbook_selection"]


def write_table(df: pd.DataFrame, path: Path) -> Path:
    """CSV, UTF-8 with BOM: Excel on Windows then shows Chinese instead of mojibake.

    Written with Arrow's CSV writer (about 10x faster than ``DataFrame.to_csv`` on a million
    rows); timestamps to the second, booleans as true/false, missing values empty, formula-like
    text neutralised (``safety.arrow_csv_safe``)."""
    CsvAppender(path).write(df)
    return path


class CsvAppender:
    """Appends chunk after chunk to one CSV (UTF-8 BOM + header once, Arrow writer)."""

    def __init__(self, path: Path):
        self.path, self.columns, self.rows = Path(path), None, 0

    def write(self, df: pd.DataFrame) -> None:
        import pyarrow as pa
        import pyarrow.csv as pacsv

        first = self.columns is None
        if first:
            self.columns = list(df.columns)
        else:
            df = df.reindex(columns=self.columns)
        try:
            table = pa.Table.from_pandas(df, preserve_index=False)
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError):  # mixed-type object column: as text
            table = pa.Table.from_pandas(df.astype({c: "string" for c in df.columns if df[c].dtype == object}),
                                         preserve_index=False)
        table = arrow_csv_safe(table)
        with open(self.path, "wb" if first else "ab") as fh:
            if first:
                fh.write(b"\xef\xbb\xbf")
            pacsv.write_csv(table, fh, pacsv.WriteOptions(include_header=first))
        self.rows += len(df)


class TableFiles:
    """messages.csv, replies.csv and rounds.csv, appended as chunks are scored."""

    names = ("messages", "replies", "rounds")

    def __init__(self, out_dir: Path):
        self.files = {name: CsvAppender(Path(out_dir) / f"{name}.csv") for name in self.names}

    def add(self, chunk: pd.DataFrame, scored) -> None:
        self.files["messages"].write(chunk)
        self.files["replies"].write(scored.replies)
        self.files["rounds"].write(scored.rounds)

    def finish(self, empty_chunk: pd.DataFrame, empty_scored) -> list[Path]:
        """Files of an audit with no chunk at all still get their header (same columns as usual)."""
        if self.files["messages"].columns is None:
            self.add(empty_chunk, empty_scored)
        return [f.path for f in self.files.values()]


#: Columns a large audit does not keep in memory for every reply/round (all are in the CSVs).
SLIM_REPLY_DROP = ("text", "context", "tag_words", "forbidden_words", "source_file", "shop")
SLIM_ROUND_DROP = ("customer_text",)


def _concat(parts: list[pd.DataFrame]) -> pd.DataFrame:
    parts = [p for p in parts if p is not None]
    if not parts:
        return pd.DataFrame()
    return pd.concat(parts, ignore_index=len(parts) > 1) if len(parts) > 1 else parts[0]


class AgentFacts:
    """The per-conversation tables the agent table and the result need; texts only if ``keep_full``."""

    def __init__(self, keep_full: bool):
        self.keep_full = keep_full
        self.messages: list[pd.DataFrame] = []
        self.replies: list[pd.DataFrame] = []
        self.rounds: list[pd.DataFrame] = []
        self.conversations: list[pd.DataFrame] = []
        self.n_messages = 0
        self.roles: dict[str, int] = {}
        self.period: list = [None, None]

    def add(self, chunk: pd.DataFrame, scored) -> None:
        self.n_messages += len(chunk)
        for role, count in chunk["role"].value_counts().items():
            self.roles[str(role)] = self.roles.get(str(role), 0) + int(count)
        if len(chunk):
            lo, hi = chunk["sent_at"].min(), chunk["sent_at"].max()
            self.period = [lo if self.period[0] is None else min(self.period[0], lo),
                           hi if self.period[1] is None else max(self.period[1], hi)]
        replies, rounds = scored.replies, scored.rounds
        if self.keep_full:
            self.messages.append(chunk)
        else:
            replies = replies.drop(columns=[c for c in SLIM_REPLY_DROP if c in replies.columns])
            rounds = rounds.drop(columns=[c for c in SLIM_ROUND_DROP if c in rounds.columns])
        self.replies.append(replies)
        self.rounds.append(rounds)
        self.conversations.append(scored.conversations)

    def tables(self) -> dict[str, pd.DataFrame | None]:
        def whole(parts):
            out = _concat(parts)
            return out.reset_index(drop=True) if len(parts) > 1 else out

        return {"messages": whole(self.messages) if self.keep_full else None, "replies": whole(self.replies),
                "rounds": whole(self.rounds), "conversations": whole(self.conversations)}


class WorstConversations:
    """Full rows (messages, replies, rounds) of the ``n`` lowest-scored conversations seen so far."""

    def __init__(self, n: int):
        self.n = n
        self.worst: pd.DataFrame | None = None
        self.kept: dict[str, list[pd.DataFrame]] = {"messages": [], "replies": [], "rounds": []}

    def add(self, chunk: pd.DataFrame, scored) -> None:
        pool = scored.conversations if self.worst is None else pd.concat([self.worst, scored.conversations])
        self.worst = worst_conversations(pool, self.n)
        ids = set(self.worst["conversation_id"].astype(str))
        for name, table in (("messages", chunk), ("replies", scored.replies), ("rounds", scored.rounds)):
            self.kept[name] = [t[t["conversation_id"].isin(ids)] for t in (*self.kept[name], table)]

    def tables(self) -> dict[str, pd.DataFrame]:
        return {name: _concat(parts) for name, parts in self.kept.items()}


def flagged_replies(replies: pd.DataFrame) -> pd.Series:
    """Replies a QA lead wants to see first: tagged, forbidden words, short."""
    flags = pd.Series(False, index=replies.index)
    for col in (*TAGS, "forbidden", "short_reply"):
        if col in replies.columns:
            flags |= replies[col].fillna(0).astype(bool)
    return flags


class WorkbookRows:
    """At most ``max_rows`` replies for audit.xlsx, flagged ones first."""

    def __init__(self, max_rows: int):
        self.max_rows = max_rows
        self.replies: pd.DataFrame | None = None
        self.total = 0

    def add(self, chunk: pd.DataFrame, scored) -> None:
        self.total += len(scored.replies)
        pool = scored.replies if self.replies is None else pd.concat([self.replies, scored.replies], ignore_index=True)
        flagged = flagged_replies(pool)
        self.replies = pd.concat([pool[flagged], pool[~flagged]]).head(self.max_rows) if len(pool) > self.max_rows \
            else pool


def workbook_selection(conversations: pd.DataFrame, replies: pd.DataFrame, rejected: pd.DataFrame,
                       max_rows: int, *, total_replies: int | None = None) -> tuple[dict, list[str]]:
    """Rows for audit.xlsx.  Up to ``max_rows`` a sheet holds its whole table; beyond that a
    workbook nobody can scroll is slow to write, so it holds the rows worth reading first - the
    lowest-scored conversations, the flagged replies - and says so.  The CSVs hold everything."""
    notes: list[str] = []
    convs = conversations
    if len(conversations) > max_rows and "service_score" in conversations.columns:
        convs = conversations.sort_values("service_score", kind="stable").head(max_rows)
        notes.append(_("conversations sheet: the {n} lowest-scored of {total} conversations; all are in "
                       "conversations.csv").format(n=f"{max_rows:,}", total=f"{len(conversations):,}"))
    reps = replies
    total = total_replies if total_replies is not None else len(replies)
    if total > max_rows:
        flagged = flagged_replies(replies)
        reps = pd.concat([replies[flagged], replies[~flagged]]).head(max_rows)
        notes.append(_("replies sheet: {n} of {total} replies, flagged ones first; all are in replies.csv").format(
            n=f"{len(reps):,}", total=f"{total:,}"))
    return {"conversations": convs, "replies": reps, "rejected": rejected}, notes
