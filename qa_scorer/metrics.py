"""Service metrics: rounds (首问首答), response times, short replies, closings, per agent.

Two public functions (definitions with worked examples: docs/metrics.md):

* ``conversation_metrics(messages, settings, data_end=None) -> MetricTables`` looks only inside
  each conversation.  It can run on any chunk of the messages table that holds whole
  conversations; concatenating the chunk results gives the same tables as one run, provided
  every chunk gets the same ``data_end`` (the latest ``sent_at`` of the whole input).
* ``agent_metrics(replies, rounds, conversations, settings) -> agents`` aggregates only from
  those three tables, never from messages.

Everything is vectorised with numpy over the messages sorted by conversation and time: a
conversation is a contiguous segment, so "first/last in the conversation" is a comparison with
the neighbouring row and per-conversation sums are ``np.bincount`` over the segment number.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from qa_scorer.schema import (
    AGENT_COLUMNS,
    CONVERSATION_COLUMNS,
    HUMAN_AGENT_ROLE,
    REPLY_COLUMNS,
    TAGS,
    check_messages,
)
from qa_scorer.settings import MetricSettings
from qa_scorer.textstats import contains_any, text_stats

_NS = 1_000_000_000
_DAY_NS = 86_400 * _NS

#: Column order of the output tables (the schema's contract first, then what this stage adds).
ROUND_COLUMNS = [
    "conversation_id", "round_index", "agent", "customer_text", "started_at", "answered_at",
    "latency_s", "in_hours", "answered", "within_3min", "slow", "product_question",
    "product_answer_chars", "product_answer_short",
    # appended: the buyer, the latency used in averages (cap / unanswered rule applied) and
    # whether this is the conversation's first counted round (for first_response_avg_s).
    "customer", "latency_for_avg_s", "first_counted",
]
REPLY_OUTPUT_COLUMNS = REPLY_COLUMNS + [
    "media_only", "context", "message_index", "source_file", "source_line",
    # appended: this message ends a round (it is the answer whose latency_s is filled), the shop.
    "is_answer", "shop",
]
CONVERSATION_OUTPUT_COLUMNS = CONVERSATION_COLUMNS + [
    "closing_due", "greeted", "agents", "transferred", "media_only_replies",
    # appended: rounds inside service hours, of them answered within the threshold, human
    # agent messages, auto-replies, the agent who sent the last human message (owns the
    # closing), the shop.
    "counted_rounds", "within_3min_rounds", "agent_replies", "auto_replies", "last_agent", "shop",
]
AGENT_OUTPUT_COLUMNS = AGENT_COLUMNS + [
    "greeting_rate", "slow_receptions",
    # appended: counted rounds and those answered in time (the two halves of within_3min_rate),
    # conversations the agent sent at least one human reply in (transfers included), and
    # how many of the agent's conversations got any human reply (numerator of reply_rate).
    "counted_rounds", "within_3min_rounds", "conversations_joined", "replied_conversations",
]


@dataclass
class MetricTables:
    """The per-conversation outputs of :func:`conversation_metrics`."""

    replies: pd.DataFrame
    rounds: pd.DataFrame
    conversations: pd.DataFrame


# --------------------------------------------------------------------------- helpers


def _sent_at_ns(sent_at: pd.Series) -> np.ndarray:
    """sent_at as int64 nanoseconds of local wall-clock time (tz-aware input keeps its wall time)."""
    if isinstance(sent_at.dtype, pd.DatetimeTZDtype):
        sent_at = sent_at.dt.tz_localize(None)
    values = sent_at.to_numpy(dtype="datetime64[ns]")
    if np.isnat(values).any():
        first = int(np.flatnonzero(np.isnat(values))[0])
        raise ValueError(f"messages.sent_at is empty at row {first}; the ingest stage must reject such rows")
    return values.view(np.int64)


def _message_index(messages: pd.DataFrame) -> np.ndarray:
    """The key that joins a reply back to its message.

    The row label when the index is integer and unique (the default RangeIndex: the row
    position; a chunk cut with ``iloc``/``read_csv(chunksize=)``/Dask keeps the labels of
    the full table, so chunked and whole runs agree), else the row position.
    """
    index = messages.index
    if pd.api.types.is_integer_dtype(index.dtype) and index.is_unique:
        return np.asarray(index, dtype=np.int64)
    return np.arange(len(messages), dtype=np.int64)


def _segment_first_last(seg: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For rows sorted by segment: is the row the first / last of its segment."""
    if len(seg) == 0:
        return np.zeros(0, bool), np.zeros(0, bool)
    change = seg[1:] != seg[:-1]
    return np.r_[True, change], np.r_[change, True]


def _codes(column: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """(int codes, distinct values as an object array) of a text column; missing -> "".

    Factorizing the pandas column directly (arrow strings hash fast) and converting only the
    distinct values to Python objects is much cheaper than converting the whole column.
    """
    if not (pd.api.types.is_string_dtype(column.dtype) or pd.api.types.is_object_dtype(column.dtype)):
        column = column.astype(str)
    column = column.fillna("")
    codes, uniques = pd.factorize(column)
    return codes.astype(np.int64), np.asarray(uniques, dtype=object).astype(str).astype(object)


def _strings(values: np.ndarray, rows: np.ndarray | None = None, fill_missing: bool = False):
    """A pandas string array of ``values[rows]``, built by converting the (few) distinct values
    once and taking from them: converting half a million Python strings one by one into an
    arrow column is the slowest part of building the output tables.  ``rows`` = -1 -> "" when
    ``fill_missing``."""
    strings = pd.array(np.asarray(values, dtype=object), dtype="str")
    if rows is None:
        return strings
    if fill_missing:
        return strings.take(rows, allow_fill=True, fill_value="")
    return strings.take(rows)


def _take_names(column: pd.Series, rows: np.ndarray):
    codes, names = _codes(column)
    return _strings(names, codes[rows])


def _join_in_groups(values: np.ndarray, group: np.ndarray, n_groups: int, sep: str) -> np.ndarray:
    """values joined with ``sep`` per group; ``group`` is sorted, values keep their order.

    One vectorised string concatenation per position-in-group (1st, 2nd, ...), not one Python
    call per group: chats have ~10^5 rounds with several buyer messages.
    """
    out = np.full(n_groups, "", dtype=object)
    if len(values) == 0:
        return out
    first, _ = _segment_first_last(group)
    starts = np.flatnonzero(first)
    pos = np.arange(len(group)) - starts[np.cumsum(first) - 1]
    out[group[first]] = values[first]
    rest = np.flatnonzero(pos > 0)
    if len(rest):
        rest = rest[np.argsort(pos[rest], kind="stable")]
        rest_pos = pos[rest]
        bounds = np.searchsorted(rest_pos, np.arange(1, int(rest_pos[-1]) + 2))
        for j in range(len(bounds) - 1):
            rows = rest[bounds[j]:bounds[j + 1]]
            targets = group[rows]
            out[targets] = out[targets] + sep + values[rows]
    return out


def _to_datetime(ns: np.ndarray, valid: np.ndarray | None = None) -> np.ndarray:
    out = ns.astype("datetime64[ns]")
    if valid is not None:
        out = out.copy()
        out[~valid] = np.datetime64("NaT")
    return out


def _empty_tables(settings: MetricSettings) -> MetricTables:
    """Empty tables with exactly the dtypes of a real run (so an empty chunk concatenates
    cleanly): computed from one dummy conversation and cut to zero rows."""
    dummy = pd.DataFrame({
        "conversation_id": ["-"], "sent_at": pd.to_datetime(["2000-01-01 12:00:00"]).astype("datetime64[ns]"),
        "sender": ["-"], "role": ["customer"], "text": [""], "source_file": [""],
        "source_line": np.array([0], dtype=np.int64), "shop": [""], "agent": [""],
    })
    tables = conversation_metrics(dummy, settings)
    return MetricTables(*(t.iloc[0:0].reset_index(drop=True)
                          for t in (tables.replies, tables.rounds, tables.conversations)))


# --------------------------------------------------------------------------- conversations


def conversation_metrics(messages: pd.DataFrame, settings: MetricSettings | None = None,
                         data_end=None) -> MetricTables:
    """Rounds, replies and per-conversation figures of a canonical messages table.

    ``data_end`` is the end of the data (default: the latest ``sent_at`` in ``messages``); a
    closing message is only "due" once ``closing_silence_s`` of buyer silence fits before it.
    Chunked runs must pass the global value so every chunk judges closings alike.
    """
    settings = (settings or MetricSettings()).validate()
    check_messages(messages)
    n = len(messages)
    if n == 0:
        return _empty_tables(settings)
    if messages["conversation_id"].isna().any():
        first = int(np.flatnonzero(messages["conversation_id"].isna().to_numpy())[0])
        raise ValueError(f"messages.conversation_id is empty at row {first}; every message needs a conversation")

    sent_in = _sent_at_ns(messages["sent_at"])
    if data_end is None:
        data_end_ns = int(sent_in.max())
    else:
        data_end_ts = pd.Timestamp(data_end)
        if data_end_ts.tzinfo is not None:
            data_end_ts = data_end_ts.tz_localize(None)
        data_end_ns = int(data_end_ts.as_unit("ns").value)

    # Conversation codes in order of first appearance; sort stably by (conversation, time) so
    # ties keep the input (file) order.  Skipped when the ingest order already holds.
    conv_in, conv_names = _codes(messages["conversation_id"])
    sorted_already = bool(np.all((np.diff(conv_in) > 0) | ((np.diff(conv_in) == 0) & (np.diff(sent_in) >= 0))))
    order = np.arange(n) if sorted_already else np.lexsort((np.arange(n), sent_in, conv_in))

    conv = conv_in[order]
    sent = sent_in[order]
    role = messages["role"]
    is_cust = (role == "customer").to_numpy(dtype=bool)[order]
    is_agent = (role == HUMAN_AGENT_ROLE).to_numpy(dtype=bool)[order]
    is_auto = (role == "auto").to_numpy(dtype=bool)[order]
    sender_in, sender_names = _codes(messages["sender"])
    sender = sender_in[order]
    text_column = messages["text"].fillna("")
    if not isinstance(text_column.dtype, pd.StringDtype):  # object column: make every value a str
        text_column = text_column.astype(str)
    text = text_column.to_numpy(dtype=object)[order]
    msg_index = _message_index(messages)[order]

    # --- conversations as contiguous segments -------------------------------------------
    first_row, last_row = _segment_first_last(conv)
    seg = np.cumsum(first_row) - 1
    n_conv = int(seg[-1]) + 1
    seg_start = np.flatnonzero(first_row)
    seg_end = np.flatnonzero(last_row)

    # --- rounds ----------------------------------------------------------------------------
    # Only customer and human-agent messages shape rounds: auto-replies and system messages
    # never end a round.  In that subsequence a customer message whose predecessor (same
    # conversation) is not a customer message starts a round; an agent message whose
    # predecessor is a customer message answers it.
    ca_pos = np.flatnonzero(is_cust | is_agent)
    ca_cust = is_cust[ca_pos]
    ca_seg = seg[ca_pos]
    same_conv_as_prev = np.r_[False, ca_seg[1:] == ca_seg[:-1]]
    prev_is_cust = np.r_[False, ca_cust[:-1]] & same_conv_as_prev
    round_start = np.zeros(n, bool)
    round_start[ca_pos] = ca_cust & ~prev_is_cust
    is_answer = np.zeros(n, bool)
    is_answer[ca_pos] = ~ca_cust & prev_is_cust

    started_so_far = np.cumsum(round_start)                   # rounds started up to this row (all convs)
    before_conv = (started_so_far - round_start)[seg_start]   # ... before the conversation began
    local_count = started_so_far - before_conv[seg]
    round_index = local_count - 1                              # -1: before the first round
    round_gid = started_so_far - 1                             # global round number (valid if round_index >= 0)

    start_pos = np.flatnonzero(round_start)
    n_rounds = len(start_pos)
    r_seg = seg[start_pos]
    r_start_ns = sent[start_pos]
    answer_pos = np.flatnonzero(is_answer)
    r_answer_pos = np.full(n_rounds, -1, dtype=np.int64)
    r_answer_pos[round_gid[answer_pos]] = answer_pos
    r_answered = r_answer_pos >= 0
    r_answer_ns = np.where(r_answered, sent[np.maximum(r_answer_pos, 0)], 0)
    r_latency = np.where(r_answered, (r_answer_ns - r_start_ns) / _NS, np.nan)

    time_of_day = np.mod(r_start_ns, _DAY_NS) / _NS
    r_in_hours = (time_of_day >= settings.service_start_s) & (time_of_day < settings.service_end_s)
    r_within = r_answered & (r_latency <= settings.within_seconds)
    r_slow = r_answered & (r_latency > settings.slow_seconds)

    lat_for_avg = r_latency.copy()
    if settings.latency_cap_s is not None:
        lat_for_avg = np.minimum(lat_for_avg, float(settings.latency_cap_s))
    if settings.unanswered_latency_s is not None:
        lat_for_avg = np.where(r_answered, lat_for_avg, float(settings.unanswered_latency_s))

    # The round's customer text: its customer messages joined with "\n".
    cust_pos = np.flatnonzero(is_cust)
    cust_gid = round_gid[cust_pos]
    r_text = _join_in_groups(text[cust_pos], cust_gid, n_rounds, "\n")

    # --- reply rows: text statistics -----------------------------------------------------
    reply_pos = np.flatnonzero(is_agent | is_auto)
    reply_text = text_column.take(order[reply_pos]).reset_index(drop=True)
    stats = text_stats(reply_text)
    reply_chars = stats["counted_chars"].to_numpy()
    reply_media = stats["media_only"].to_numpy()
    reply_closing = contains_any(reply_text, settings.closing_phrases).to_numpy()
    reply_human = is_agent[reply_pos]
    reply_short = reply_human & ~reply_media & (reply_chars < settings.min_reply_chars)
    reply_round = round_index[reply_pos]
    reply_gid = round_gid[reply_pos]

    # Product questions: keyword in the round's customer text (placeholders such as [图片]
    # removed first); the full answer = every human agent message of the round.
    r_product_q = contains_any(pd.Series(r_text, dtype=object), settings.product_keywords,
                               ignore_codes=True).to_numpy()
    in_round_human = reply_human & (reply_round >= 0)
    r_answer_chars = np.bincount(reply_gid[in_round_human], weights=reply_chars[in_round_human],
                                 minlength=n_rounds).astype(np.int64)
    r_product_short = r_product_q & r_answered & (r_answer_chars < settings.product_answer_min_chars)

    # --- who: conversation agent, customer, agents list ----------------------------------
    hum_pos = np.flatnonzero(is_agent)
    hum_seg = seg[hum_pos]
    hum_first, hum_last = _segment_first_last(hum_seg)
    first_hum_pos = np.full(n_conv, -1, dtype=np.int64)
    first_hum_pos[hum_seg[hum_first]] = hum_pos[hum_first]
    last_hum_pos = np.full(n_conv, -1, dtype=np.int64)
    last_hum_pos[hum_seg[hum_last]] = hum_pos[hum_last]
    has_human = first_hum_pos >= 0

    first_sender = np.where(has_human, sender_names[sender[np.maximum(first_hum_pos, 0)]], "").astype(object)
    last_agent = np.where(has_human, sender_names[sender[np.maximum(last_hum_pos, 0)]], "").astype(object)

    # Conversation agent: first non-empty `agent` column value (set by ingest), else the first
    # human agent sender, else "".
    agent_in, agent_names = _codes(messages["agent"])
    agent_col = agent_in[order]
    agent_col_pos = np.flatnonzero(agent_names[agent_col] != "")
    ac_first, _ = _segment_first_last(seg[agent_col_pos])
    conv_agent = first_sender.copy()
    conv_agent[seg[agent_col_pos[ac_first]]] = agent_names[agent_col[agent_col_pos[ac_first]]]

    cust_first, _ = _segment_first_last(seg[cust_pos])
    conv_customer = np.full(n_conv, "", dtype=object)
    conv_customer[seg[cust_pos[cust_first]]] = sender_names[sender[cust_pos[cust_first]]]

    shop_in, shop_names = _codes(messages["shop"])
    shop_col = shop_in[order]
    shop_pos = np.flatnonzero(shop_names[shop_col] != "")
    shop_first, _ = _segment_first_last(seg[shop_pos])
    conv_shop = np.full(n_conv, "", dtype=object)
    conv_shop[seg[shop_pos[shop_first]]] = shop_names[shop_col[shop_pos[shop_first]]]

    # Distinct human agents per conversation, in order of their first message.
    pairs = pd.DataFrame({"seg": hum_seg, "sender": sender[hum_pos]}).drop_duplicates()
    agents_per_conv = np.bincount(pairs["seg"].to_numpy(), minlength=n_conv)
    transferred = agents_per_conv > 1
    conv_agents = _join_in_groups(sender_names[pairs["sender"].to_numpy()], pairs["seg"].to_numpy(), n_conv, "|")

    # Round agent: the answering agent; unanswered -> the conversation's last human agent
    # (nobody can have replied after an unanswered round), else the conversation agent.
    fallback_agent = np.where(last_agent != "", last_agent, conv_agent)
    r_agent = np.where(r_answered, sender_names[sender[np.maximum(r_answer_pos, 0)]], fallback_agent[r_seg]).astype(object)

    # First counted round of each conversation (for first_response_s).
    counted_pos = np.flatnonzero(r_in_hours)
    cr_first, _ = _segment_first_last(r_seg[counted_pos])
    r_first_counted = np.zeros(n_rounds, bool)
    r_first_counted[counted_pos[cr_first]] = True

    # --- closing -----------------------------------------------------------------------------
    # The "tail" = messages after the buyer's last message.  A human agent message there means
    # the conversation ends on the agent's side (else it ends unanswered, or has no agent).
    last_cust_pos = np.full(n_conv, -1, dtype=np.int64)
    _, cust_last = _segment_first_last(seg[cust_pos])
    last_cust_pos[seg[cust_pos[cust_last]]] = cust_pos[cust_last]
    ends_with_agent = has_human & (last_hum_pos > last_cust_pos)
    closing_hum = reply_closing & reply_human
    closing_pos = reply_pos[closing_hum]
    _, cl_last = _segment_first_last(seg[closing_pos])
    last_closing_pos = np.full(n_conv, -1, dtype=np.int64)
    last_closing_pos[seg[closing_pos[cl_last]]] = closing_pos[cl_last]
    closed = ends_with_agent & (last_closing_pos > last_cust_pos)
    silence_ns = data_end_ns - sent[np.maximum(last_hum_pos, 0)]
    closing_due = ends_with_agent & (silence_ns >= settings.closing_silence_s * _NS)
    missing_closing = closing_due & ~closed

    greeted = np.zeros(n_conv, bool)
    if has_human.any():
        first_texts = pd.Series(text[first_hum_pos[has_human]], dtype=object)
        greeted[has_human] = contains_any(first_texts, settings.greeting_phrases).to_numpy()

    # --- per-conversation aggregates -------------------------------------------------------
    def per_conv(mask_rounds: np.ndarray) -> np.ndarray:
        return np.bincount(r_seg[mask_rounds], minlength=n_conv).astype(np.int64)

    rounds_all = np.bincount(r_seg, minlength=n_conv).astype(np.int64)
    counted_rounds = per_conv(r_in_hours)
    within_rounds = per_conv(r_in_hours & r_within)
    unanswered = per_conv(r_in_hours & ~r_answered)
    slow_rounds = per_conv(r_in_hours & r_slow)
    product_short = per_conv(r_product_short)

    avg_ok = r_in_hours & ~np.isnan(lat_for_avg)
    avg_sum = np.bincount(r_seg[avg_ok], weights=lat_for_avg[avg_ok], minlength=n_conv)
    avg_n = np.bincount(r_seg[avg_ok], minlength=n_conv)
    with np.errstate(invalid="ignore", divide="ignore"):
        avg_response = np.where(avg_n > 0, avg_sum / np.maximum(avg_n, 1), np.nan)
        within_rate = np.where(counted_rounds > 0, within_rounds / np.maximum(counted_rounds, 1), np.nan)
    first_response = np.full(n_conv, np.nan)
    first_response[r_seg[r_first_counted]] = r_latency[r_first_counted]

    reply_seg = seg[reply_pos]
    short_replies = np.bincount(reply_seg[reply_short], minlength=n_conv).astype(np.int64)
    media_replies = np.bincount(reply_seg[reply_media & reply_human], minlength=n_conv).astype(np.int64)
    agent_replies = np.bincount(reply_seg[reply_human], minlength=n_conv).astype(np.int64)
    auto_replies = np.bincount(reply_seg[~reply_human], minlength=n_conv).astype(np.int64)

    conv_id = np.asarray(conv_names, dtype=object)[conv[seg_start]]

    conversations = pd.DataFrame({
        "conversation_id": _strings(conv_id),
        "agent": _strings(conv_agent),
        "customer": _strings(conv_customer),
        "started_at": _to_datetime(sent[seg_start]),
        "ended_at": _to_datetime(sent[seg_end]),
        "messages": (seg_end - seg_start + 1).astype(np.int64),
        "rounds": rounds_all,
        "rounds_outside_hours": rounds_all - counted_rounds,
        "unanswered_rounds": unanswered,
        "first_response_s": first_response,
        "avg_response_s": avg_response,
        "within_3min_rate": within_rate,
        "slow_rounds": slow_rounds,
        "short_replies": short_replies,
        "product_answer_short": product_short,
        "missing_closing": missing_closing,
        "closing_due": closing_due,
        "greeted": greeted,
        "agents": conv_agents,
        "transferred": transferred,
        "media_only_replies": media_replies,
        "counted_rounds": counted_rounds,
        "within_3min_rounds": within_rounds,
        "agent_replies": agent_replies,
        "auto_replies": auto_replies,
        "last_agent": last_agent,
        "shop": conv_shop,
    })

    rounds = pd.DataFrame({
        "conversation_id": _strings(conv_id, r_seg),
        "round_index": round_index[start_pos].astype(np.int64),
        "agent": _strings(r_agent),
        "customer_text": _strings(r_text),
        "started_at": _to_datetime(r_start_ns),
        "answered_at": _to_datetime(r_answer_ns, r_answered),
        "latency_s": r_latency,
        "in_hours": r_in_hours,
        "answered": r_answered,
        "within_3min": r_within,
        "slow": r_slow,
        "product_question": r_product_q,
        "product_answer_chars": r_answer_chars,
        "product_answer_short": r_product_short,
        "customer": _strings(conv_customer, r_seg),
        "latency_for_avg_s": lat_for_avg,
        "first_counted": r_first_counted,
    })

    has_round = reply_round >= 0
    safe_gid = np.maximum(reply_gid, 0)
    reply_is_answer = is_answer[reply_pos]
    source_line = messages["source_line"].to_numpy()[order][reply_pos]
    replies = pd.DataFrame({
        "conversation_id": _strings(conv_id, reply_seg),
        "agent": _strings(sender_names, sender[reply_pos]),
        "sent_at": _to_datetime(sent[reply_pos]),
        "text": reply_text.array,
        "counted_chars": reply_chars.astype(np.int64),
        "is_auto": ~reply_human,
        "round_index": pd.arrays.IntegerArray(np.where(has_round, reply_round, 0).astype(np.int64), ~has_round),
        "latency_s": np.where(reply_is_answer, r_latency[safe_gid], np.nan) if n_rounds else np.full(len(reply_pos), np.nan),
        "short_reply": reply_short,
        "is_closing": reply_closing,
        "media_only": reply_media,
        "context": _strings(r_text, np.where(has_round, reply_gid, -1), fill_missing=True),
        "message_index": msg_index[reply_pos],
        "source_file": _take_names(messages["source_file"], order[reply_pos]),
        "source_line": source_line,
        "is_answer": reply_is_answer,
        "shop": _strings(shop_names, shop_col[reply_pos]),
    })
    return MetricTables(replies=replies, rounds=rounds, conversations=conversations)


# --------------------------------------------------------------------------- agents


def agent_metrics(replies: pd.DataFrame, rounds: pd.DataFrame, conversations: pd.DataFrame,
                  settings: MetricSettings | None = None) -> pd.DataFrame:
    """One row per agent (sorted by name), aggregated only from the three per-conversation tables.

    Attribution (docs/metrics.md "Transfers"): round figures go to ``rounds.agent`` (who
    answered, see conversation_metrics); reply figures (short replies, tags) to the sender of
    the human reply; conversations, reply_rate and greeting_rate to ``conversations.agent``
    (the first agent); a missing closing to ``conversations.last_agent`` (who should have
    closed).  Rates are pooled (sum of numerators / sum of denominators), never averages of
    per-conversation rates.  Rows with no agent name (conversations nobody was assigned to
    and nobody answered) are left out: they stay visible in the conversations table.
    """
    settings = (settings or MetricSettings()).validate()
    human = ~replies["is_auto"].to_numpy(dtype=bool)

    # One code space for every agent name in the three tables.
    name_columns = [rounds["agent"], replies["agent"][human], conversations["agent"], conversations["last_agent"]]
    sizes = [len(c) for c in name_columns]
    all_codes, names = _codes(pd.concat(name_columns, ignore_index=True))
    round_agent, reply_agent, conv_agent, last_agent = np.split(all_codes, np.cumsum(sizes)[:-1])
    n_names = len(names)

    def count(codes: np.ndarray, mask=None, weights=None) -> np.ndarray:
        if mask is not None:
            codes = codes[mask]
            weights = None if weights is None else weights[mask]
        out = np.bincount(codes, weights=weights, minlength=n_names)
        return out if weights is not None else out.astype(np.int64)

    in_hours = rounds["in_hours"].to_numpy(dtype=bool)
    answered = rounds["answered"].to_numpy(dtype=bool)
    slow = rounds["slow"].to_numpy(dtype=bool)
    lat_avg = rounds["latency_for_avg_s"].to_numpy(dtype=float)
    has_avg = in_hours & ~np.isnan(lat_avg)

    # first_response_avg_s: the conversations' first counted rounds answered by the agent,
    # capped like every average (an unanswered first round has no first-response time).
    first = rounds["first_counted"].to_numpy(dtype=bool) & answered
    first_lat = rounds["latency_s"].to_numpy(dtype=float)
    if settings.latency_cap_s is not None:
        first_lat = np.minimum(first_lat, float(settings.latency_cap_s))

    out = pd.DataFrame({
        "agent": names,
        "conversations": count(conv_agent),
        "rounds": count(round_agent),
        "unanswered_rounds": count(round_agent, in_hours & ~answered),
        "first_response_sum": count(round_agent, first, np.nan_to_num(first_lat)),
        "first_response_n": count(round_agent, first),
        "avg_response_sum": count(round_agent, has_avg, np.nan_to_num(lat_avg)),
        "avg_response_n": count(round_agent, has_avg),
        "counted_rounds": count(round_agent, in_hours),
        "within_3min_rounds": count(round_agent, in_hours & rounds["within_3min"].to_numpy(dtype=bool)),
        "slow_rounds": count(round_agent, in_hours & slow),
        "short_replies": count(reply_agent, replies["short_reply"].to_numpy(dtype=bool)[human]),
        "product_answer_short": count(round_agent, rounds["product_answer_short"].to_numpy(dtype=bool)),
        "missing_closings": count(last_agent, conversations["missing_closing"].to_numpy(dtype=bool)),
        "replied_conversations": count(conv_agent, conversations["agent_replies"].to_numpy() > 0),
        "greeted": count(conv_agent, conversations["greeted"].to_numpy(dtype=bool)),
    })

    # Conversations the agent sent at least one human reply in (transfers included).
    reply_conv, conv_names = _codes(replies["conversation_id"][human])
    pair_keys = pd.unique(reply_agent * max(len(conv_names), 1) + reply_conv)  # one int key per (agent, conversation)
    out["conversations_joined"] = count(pair_keys // max(len(conv_names), 1))

    # 快麦-style slow receptions: buyer-days with >= slow_reception_count slow counted rounds.
    slow_rows = in_hours & slow
    if slow_rows.any():
        buyers, buyer_names = _codes(rounds["customer"][slow_rows])
        days = pd.to_datetime(rounds["started_at"][slow_rows]).to_numpy(dtype="datetime64[D]").astype(np.int64)
        days -= days.min()
        n_days = int(days.max()) + 1
        # one int key per (agent, buyer, day); agent = key // (buyers * days)
        keys = (round_agent[slow_rows] * len(buyer_names) + buyers) * n_days + days
        key_codes, distinct_keys = pd.factorize(keys)
        per_key = np.bincount(key_codes)
        key_agent = np.asarray(distinct_keys) // (len(buyer_names) * n_days)
        out["slow_receptions"] = count(key_agent, per_key >= settings.slow_reception_count)
    else:
        out["slow_receptions"] = np.zeros(n_names, dtype=np.int64)

    # Classifier tags, when the replies carry them: counted on the sender's human replies.
    present_tags = [t for t in TAGS if t in replies.columns]
    for tag in present_tags:
        flagged = replies[tag].fillna(False).to_numpy(dtype=bool)[human]
        out[tag] = count(reply_agent, flagged)

    def ratio(num: str, den: str) -> np.ndarray:
        d = out[den].to_numpy(dtype=float)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(d > 0, out[num].to_numpy(dtype=float) / np.where(d > 0, d, 1.0), np.nan)

    out["first_response_avg_s"] = ratio("first_response_sum", "first_response_n")
    out["avg_response_s"] = ratio("avg_response_sum", "avg_response_n")
    out["within_3min_rate"] = ratio("within_3min_rounds", "counted_rounds")
    out["reply_rate"] = ratio("replied_conversations", "conversations")
    out["greeting_rate"] = ratio("greeted", "replied_conversations")

    out = out[out["agent"] != ""].sort_values("agent", kind="stable")
    return out[AGENT_OUTPUT_COLUMNS + present_tags].reset_index(drop=True)
