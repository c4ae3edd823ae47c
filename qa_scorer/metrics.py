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

import re
import sys
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
from qa_scorer.buyer_signal import UPSET_THRESHOLD, score_buyer_messages
from qa_scorer.model_files import ModelError
from qa_scorer.settings import MetricSettings
from qa_scorer.textstats import (
    has_rich_media,
    is_acknowledgement,
    matches_phrases,
    text_stats,
)

#: Name of the row that collects conversations nobody can be held to (no human reply, no
#: sub-account auto-reply, no receiving account in the export): "<shop>:(未分配)", or
#: "(未分配)" when not even the shop is known.
UNASSIGNED = "(未分配)"
#: An account name of the 主账号:子账号 form (a sub-account; full-width colon seen too).
_SUB_ACCOUNT = r"^[^:：]+[:：].+$"

_NS = 1_000_000_000
_DAY_NS = 86_400 * _NS

#: Column order of the output tables (the schema's contract first, then what this stage adds).
ROUND_COLUMNS = [
    "conversation_id", "round_index", "agent", "customer_text", "started_at", "answered_at",
    "latency_s", "in_hours", "answered", "within_3min", "slow", "product_question",
    "product_answer_chars", "product_answer_short",
    # appended: the buyer, the latency used in averages (cap / unanswered rule applied) and
    # whether this is the conversation's first counted round (for first_response_avg_s);
    # the buyer's question type; whether the round is a trailing acknowledgement (好的谢谢 at
    # the end, unanswered); whether it counts in rates and unanswered_rounds (in service
    # hours and not an excluded trailing acknowledgement).
    "customer", "latency_for_avg_s", "first_counted", "question_type", "trailing_ack", "counted",
    # appended: buyer signal (qa_scorer.buyer_signal; sorting only, never scored): the highest
    # buyer_upset of the round's buyer messages and what fired in them.
    "buyer_upset_max", "buyer_signals",
]
REPLY_OUTPUT_COLUMNS = REPLY_COLUMNS + [
    "media_only", "context", "message_index", "source_file", "source_line",
    # appended: this message ends a round (it is the answer whose latency_s is filled), the shop;
    # the reply turn (consecutive messages of one agent within reply_turn_window_s) it belongs
    # to, numbered within the conversation, that turn's counted characters, whether this is the
    # turn's first message (short_reply is set on it) and whether it carries an image/card/link.
    "is_answer", "shop", "turn_index", "turn_chars", "turn_start", "rich_media",
]
CONVERSATION_OUTPUT_COLUMNS = CONVERSATION_COLUMNS + [
    "closing_due", "greeted", "agents", "transferred", "media_only_replies",
    # appended: rounds inside service hours, of them answered within the threshold, human
    # agent messages, auto-replies, the agent who sent the last human message (owns the
    # closing), the shop.
    "counted_rounds", "within_3min_rounds", "agent_replies", "auto_replies", "last_agent", "shop",
    # appended: how `agent` was found (agent | auto_reply | receiver | unassigned), the
    # buyer's unanswered trailing acknowledgements left out of the counted rounds, and the
    # counted rounds a human answered (numerator of the agent's reply_rate).
    "attribution", "trailing_acks", "answered_rounds",
    # appended: buyer signal (sorting only, never scored): highest buyer_upset, buyer messages
    # with buyer_upset >= 0.5, chasing buyer messages.
    "buyer_upset_max", "buyer_upset_msgs", "buyer_chasing",
]
AGENT_OUTPUT_COLUMNS = AGENT_COLUMNS + [
    "greeting_rate", "slow_receptions",
    # appended: counted rounds and those answered in time (the two halves of within_3min_rate),
    # conversations the agent sent at least one human reply in (transfers included), and
    # how many of the agent's conversations got any human reply (numerator of reply_rate).
    "counted_rounds", "within_3min_rounds", "conversations_joined", "replied_conversations",
    # appended: counted rounds answered by a human (numerator of reply_rate) and whether the
    # row is a shop's "(未分配)" row (conversations nobody can be held to).
    "answered_rounds", "unassigned",
    # appended: estimated online hours (在线时长) from the agent's human reply times
    # (online_hours_from_replies; docs/metrics.md "Online hours").
    "online_hours_est",
    # appended, last: conversations whose buyer_upset_max >= 0.5 (buyer signal; sorting only).
    "buyer_upset_convs",
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


#: Keyword rules for buyer question types, tried in this order (first match wins), on the
#: text with emoticons/placeholders removed and Latin folded to lower case.  The product rule
#: uses ``settings.product_keywords``.  Used when the learned detector is not installed.
_QUESTION_RULES: list[tuple[str, str]] = [
    ("aftersales", r"退货|退款|换货|退换|售后|退回|寄回|补发|破损|坏了|质量问题|少发|漏发|错发|发错|投诉|差评|维修|保修"
                   r"|开线|掉色了|起球了|不满意|运费险"),
    ("price", r"多少钱|价格|价钱|优惠|券|便宜|打折|折扣|满减|降价|包邮|赠品|送什么|红包|多少米|贵"),
    ("logistics", r"发货|快递|物流|几天到|多久到|能到|到货|运费|顺丰|中通|圆通|韵达|申通|邮政|派送|配送|单号|寄到"
                  r"|什么时候发|什么时候到|到吗|发出"),
    ("size", r"尺码|码数|什么码|几码|哪个码|多大码|\d+码|[smlx]+码|(?<![a-z])x{0,3}[sml](?![a-z])|穿多大|偏大|偏小"
             r"|身高|体重|\d+斤|腰围|胸围|肩宽|合身|尺寸|多大|大小|长度|宽度|高度|多高|多长|多宽|\dcm|厘米|米的床"),
    ("stock", r"有货|有没有货|现货|库存|还有吗|断码|缺货|补货|卖完|有没有.{0,6}[色款]|有.{1,6}[色款]吗"),
]
_CHITCHAT = r"^(在吗|在不在|在么|你好|您好|有人吗|有人在吗|hi|hello|亲|客服|哈喽|嗨)*$"


def _keyword_question_types(texts: pd.Series, settings: MetricSettings) -> np.ndarray:
    """Question type of each text by the keyword rules (per distinct text, vectorised)."""
    from qa_scorer.textstats import CODE_PATTERN, distinct_texts, is_acknowledgement

    out = np.full(len(texts), "other", dtype=object)
    if len(texts) == 0:
        return out
    codes, uniq = distinct_texts(texts)
    clean = uniq.str.replace(CODE_PATTERN, "", regex=True).str.normalize("NFKC").str.lower()
    kinds = np.full(len(uniq), "", dtype=object)
    product_kw = [w for w in settings.product_keywords if w]
    rules = _QUESTION_RULES + ([("product", "|".join(re.escape(w.lower()) for w in product_kw))] if product_kw else [])
    # one pass with every keyword finds the texts with any; only those go through the rules
    anyhit = np.flatnonzero(clean.str.contains("|".join(f"(?:{p})" for _, p in rules), regex=True
                                               ).to_numpy(dtype=bool))
    for kind, pattern in rules:
        todo = anyhit[kinds[anyhit] == ""]
        if len(todo) == 0:
            break
        kinds[todo[clean.iloc[todo].str.contains(pattern, regex=True).to_numpy(dtype=bool)]] = kind
    rest = np.flatnonzero(kinds == "")
    if len(rest):
        stripped = clean.iloc[rest].str.replace(r"[^\w]|_", "", regex=True)
        chit = (stripped.str.fullmatch(_CHITCHAT).to_numpy(dtype=bool)
                | is_acknowledgement(uniq.iloc[rest]).to_numpy(dtype=bool))
        kinds[rest[chit]] = "chitchat"
    kinds[kinds == ""] = "other"
    return kinds[codes]


def _question_model_available() -> bool:
    """Is the learned detector installed with a model file?  Checked without importing it (the
    import pulls in scikit-learn, seconds on a cold start)."""
    import importlib.util
    from importlib import resources
    from pathlib import Path

    if importlib.util.find_spec("qa_scorer.question_types") is None:
        return False
    import qa_scorer

    name = "question_types.skops"
    checkout = Path(qa_scorer.__file__).resolve().parent.parent / "models" / name
    return checkout.is_file() or resources.files("qa_scorer").joinpath("_models", name).is_file()


def _question_types(texts: pd.Series, settings: MetricSettings) -> np.ndarray:
    """The question type of each buyer message: the learned detector when installed (and
    ``settings.question_types == "auto"``), else the keyword rules.  Distinct texts only."""
    if len(texts) == 0:
        return np.zeros(0, dtype=object)
    codes, uniques = pd.factorize(texts.fillna("").astype(str))
    uniq = pd.Series(np.asarray(uniques, dtype=object), dtype=object)
    kinds = None
    if settings.question_types == "auto" and ("qa_scorer.question_types" in sys.modules
                                              or _question_model_available()):
        try:
            from qa_scorer.question_types import classify_questions

            kinds = classify_questions(uniq)
        except (ImportError, OSError, ModelError):  # no detector / model (yet): keyword rules
            kinds = None
    if kinds is not None:
        out = np.asarray(pd.Series(kinds).fillna("other").astype(str), dtype=object)
    else:
        out = _keyword_question_types(uniq, settings)
    return out[codes]


#: A round holds several buyer messages; its type is the first of these among its messages'
#: types: a product/size question anywhere in the round makes the round a product question
#: (the 15-character rule), and chitchat (在吗, 好的) only when nothing else was asked.
ROUND_TYPE_PRIORITY = ("size", "product", "stock", "aftersales", "price", "logistics", "other", "chitchat")


#: A complete yes/no or stock answer: "有的亲，现货", "没有了亲", "可以的", "不可以哦"…  Such an
#: answer to a product question is not "short" whatever its length (normalised text, start).
_COMPLETE_ANSWER = re.compile(
    r"^(?:亲+|您好|你好|在的)*(?:有的|有货|有现货|现货|有呢|有哦|有滴|有哒|有|没有了|没有|没货|无货|缺货|断货|卖完了|售罄|暂时没有"
    r"|可以的|可以|不可以|不行|能的|能|不能|是的|是|不是|会的|会|不会|不用|需要|不需要|一样的|一样|不一样)"
)


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

    # Trailing acknowledgement: the conversation's last round, unanswered, and every buyer
    # message in it is only an acknowledgement / thanks / emoticon (好的谢谢, 嗯嗯, [微笑]).
    # Unless settings.count_trailing_acks, it is left out of the counted rounds.
    r_last = np.r_[r_seg[1:] != r_seg[:-1], True] if n_rounds else np.zeros(0, bool)
    r_candidate = r_last & ~r_answered
    cand = np.flatnonzero(r_candidate[cust_gid])        # buyer messages of unanswered last rounds only
    cust_ack = is_acknowledgement(pd.Series(text[cust_pos[cand]], dtype=object)).to_numpy(dtype=bool)
    r_all_ack = np.bincount(cust_gid[cand[~cust_ack]], minlength=n_rounds) == 0
    r_trailing_ack = r_all_ack & r_candidate
    r_excluded_ack = r_trailing_ack & (not settings.count_trailing_acks)
    r_counted = r_in_hours & ~r_excluded_ack

    # Buyer signal (qa_scorer.buyer_signal): a sorting signal for review, never scored.
    buyer = score_buyer_messages(pd.Series(text[cust_pos], dtype=object), cust_gid)
    cust_upset = buyer["buyer_upset"].to_numpy(dtype=float)
    r_upset_max = np.zeros(n_rounds)
    r_buyer_signals = np.full(n_rounds, "", dtype=object)
    if n_rounds:   # every round starts with a buyer message; cust_gid is sorted
        r_upset_max = np.maximum.reduceat(cust_upset, np.flatnonzero(np.r_[True, cust_gid[1:] != cust_gid[:-1]]))
        fired = np.flatnonzero(buyer["buyer_signals"].to_numpy(dtype=object) != "")
        if len(fired):
            joined = _join_in_groups(buyer["buyer_signals"].to_numpy(dtype=object)[fired], cust_gid[fired], n_rounds, "; ")
            r_buyer_signals = joined

    # --- reply rows: text statistics -----------------------------------------------------
    reply_pos = np.flatnonzero(is_agent | is_auto)
    reply_text = text_column.take(order[reply_pos]).reset_index(drop=True)
    stats = text_stats(reply_text)
    reply_chars = stats["counted_chars"].to_numpy()
    reply_media = stats["media_only"].to_numpy()
    reply_closing = matches_phrases(reply_text, settings.closing_phrases, settings.closing_patterns).to_numpy()
    # Reply turns: consecutive human messages of one agent (no buyer message between) at most
    # reply_turn_window_s apart.  The 4-character rule judges the turn: "亲" + the answer 5 s
    # later is one reply.  A turn with an image / product card / link is never short; a bare
    # emoticon or sticker is.  short_reply is set on the turn's first message.
    ca_agent = ~ca_cust
    ca_sender = sender[ca_pos]
    ca_sent = sent[ca_pos]
    continues = np.r_[False, ca_agent[1:] & ca_agent[:-1] & (ca_sender[1:] == ca_sender[:-1])
                      & ((ca_sent[1:] - ca_sent[:-1]) <= settings.reply_turn_window_s * _NS)] & same_conv_as_prev
    turn_start = np.zeros(n, bool)
    turn_start[ca_pos] = ca_agent & ~continues
    turns_so_far = np.cumsum(turn_start)
    turn_gid = turns_so_far - 1
    turn_index = turns_so_far - (turns_so_far - turn_start)[seg_start][seg] - 1   # 0-based within conversation
    reply_human = is_agent[reply_pos]
    hum_turn = turn_gid[reply_pos[reply_human]]
    n_turns = int(turns_so_far[-1]) if n else 0
    turn_chars = np.bincount(hum_turn, weights=reply_chars[reply_human], minlength=n_turns).astype(np.int64)
    # images / cards / links: only looked for in the turns that are short by characters
    reply_rich = np.zeros(len(reply_pos), dtype=bool)
    look = np.flatnonzero(reply_human)
    look = look[turn_chars[hum_turn] < settings.min_reply_chars] if n_turns else look[:0]
    if len(look):
        reply_rich[look] = has_rich_media(reply_text.iloc[look]).to_numpy(dtype=bool)
    turn_rich = np.bincount(hum_turn, weights=reply_rich[reply_human], minlength=n_turns) > 0
    turn_short = (turn_chars < settings.min_reply_chars) & ~turn_rich
    reply_turn_start = turn_start[reply_pos] & reply_human
    reply_turn_gid = np.where(reply_human, turn_gid[reply_pos], 0)
    reply_short = reply_turn_start & turn_short[reply_turn_gid] if n_turns else np.zeros(len(reply_pos), bool)
    reply_turn_chars = np.where(reply_human, turn_chars[reply_turn_gid] if n_turns else 0, 0)
    reply_turn_index = np.where(reply_human, turn_index[reply_pos], 0)
    reply_round = round_index[reply_pos]
    reply_gid = round_gid[reply_pos]

    # Product questions: keyword in the round's customer text (placeholders such as [图片]
    # removed first); the full answer = every human agent message of the round.
    # Question type: per distinct buyer message, then the round's by ROUND_TYPE_PRIORITY.
    cust_series = pd.Series(text[cust_pos], dtype=object)
    msg_type = _question_types(cust_series, settings)
    prio = {k: i for i, k in enumerate(ROUND_TYPE_PRIORITY)}
    type_names = np.array(list(ROUND_TYPE_PRIORITY) + ["other"], dtype=object)
    msg_rank = pd.Series(msg_type, dtype=object).map(prio).fillna(len(ROUND_TYPE_PRIORITY) - 2).to_numpy(np.int64)
    r_rank = np.full(n_rounds, len(type_names) - 1, dtype=np.int64)
    np.minimum.at(r_rank, cust_gid, msg_rank)
    r_qtype = type_names[r_rank]
    r_product_q = np.isin(r_qtype, settings.product_question_types) if n_rounds else np.zeros(0, bool)
    in_round_human = reply_human & (reply_round >= 0)
    r_answer_chars = np.bincount(reply_gid[in_round_human], weights=reply_chars[in_round_human],
                                 minlength=n_rounds).astype(np.int64)
    # A complete yes/no or stock answer (有的亲，现货 / 没有了 / 可以的 / 不可以…) is fine at any length.
    r_complete = np.zeros(n_rounds, bool)
    check = np.flatnonzero(r_product_q & r_answered & (r_answer_chars < settings.product_answer_min_chars))
    if len(check):
        from qa_scorer.textstats import normalise_texts  # same normalisation as phrase matching
        answers = pd.Series(text[r_answer_pos[check]], dtype=object)
        r_complete[check] = normalise_texts(answers).str.contains(_COMPLETE_ANSWER, regex=True).to_numpy(dtype=bool)
    r_product_short = (r_product_q & r_answered & ~r_complete
                       & (r_answer_chars < settings.product_answer_min_chars))

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
    attribution = np.where(conv_agent != "", "agent", "").astype(object)

    def first_per_conv(values: np.ndarray, codes_sorted: np.ndarray, positions: np.ndarray) -> np.ndarray:
        out = np.full(n_conv, "", dtype=object)
        first, _ = _segment_first_last(seg[positions])
        out[seg[positions[first]]] = values[codes_sorted[positions[first]]]
        return out

    # Nobody replied: the sub-account whose auto-reply answered the buyer ...
    is_sub = pd.Series(sender_names, dtype=object).str.match(_SUB_ACCOUNT).to_numpy(dtype=bool)
    auto_pos = np.flatnonzero(is_auto)
    auto_pos = auto_pos[is_sub[sender[auto_pos]]]
    conv_auto = first_per_conv(sender_names, sender, auto_pos)
    use = (conv_agent == "") & (conv_auto != "")
    conv_agent[use], attribution[use] = conv_auto[use], "auto_reply"
    # ... else the receiving account named in the export (optional `receiver` column) ...
    if "receiver" in messages.columns:
        rec_in, rec_names = _codes(messages["receiver"])
        rec_names = np.array([r.strip() for r in rec_names], dtype=object)
        rec = rec_in[order]
        conv_rec = first_per_conv(rec_names, rec, np.flatnonzero(rec_names[rec] != ""))
        use = (conv_agent == "") & (conv_rec != "")
        conv_agent[use], attribution[use] = conv_rec[use], "receiver"

    cust_first, _ = _segment_first_last(seg[cust_pos])
    conv_customer = np.full(n_conv, "", dtype=object)
    conv_customer[seg[cust_pos[cust_first]]] = sender_names[sender[cust_pos[cust_first]]]

    shop_in, shop_names = _codes(messages["shop"])
    shop_col = shop_in[order]
    shop_pos = np.flatnonzero(shop_names[shop_col] != "")
    shop_first, _ = _segment_first_last(seg[shop_pos])
    conv_shop = np.full(n_conv, "", dtype=object)
    conv_shop[seg[shop_pos[shop_first]]] = shop_names[shop_col[shop_pos[shop_first]]]
    # ... else the shop's visible "(未分配)" row: nobody vanishes from the agents table.
    use = conv_agent == ""
    if use.any():
        conv_agent[use] = np.where(conv_shop[use] != "", conv_shop[use] + ":" + UNASSIGNED, UNASSIGNED)
        attribution[use] = "unassigned"

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
    counted_pos = np.flatnonzero(r_counted)
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
        greeted[has_human] = matches_phrases(first_texts, settings.greeting_phrases,
                                             settings.greeting_patterns).to_numpy()

    # --- per-conversation aggregates -------------------------------------------------------
    def per_conv(mask_rounds: np.ndarray) -> np.ndarray:
        return np.bincount(r_seg[mask_rounds], minlength=n_conv).astype(np.int64)

    rounds_all = np.bincount(r_seg, minlength=n_conv).astype(np.int64)
    counted_rounds = per_conv(r_counted)
    within_rounds = per_conv(r_counted & r_within)
    unanswered = per_conv(r_counted & ~r_answered)
    answered_rounds = per_conv(r_counted & r_answered)
    slow_rounds = per_conv(r_counted & r_slow)
    product_short = per_conv(r_product_short)
    trailing_acks = per_conv(r_in_hours & r_excluded_ack)
    conv_upset_max = np.zeros(n_conv)
    np.maximum.at(conv_upset_max, r_seg, r_upset_max)
    cust_seg = seg[cust_pos]
    conv_upset_msgs = np.bincount(cust_seg[cust_upset >= UPSET_THRESHOLD], minlength=n_conv).astype(np.int64)
    conv_chasing = np.bincount(cust_seg[buyer["buyer_chasing"].to_numpy(dtype=bool)], minlength=n_conv).astype(np.int64)

    avg_ok = r_counted & ~np.isnan(lat_for_avg)
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
        "rounds_outside_hours": rounds_all - per_conv(r_in_hours),
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
        "attribution": _strings(attribution),
        "trailing_acks": trailing_acks,
        "answered_rounds": answered_rounds,
        "buyer_upset_max": conv_upset_max,
        "buyer_upset_msgs": conv_upset_msgs,
        "buyer_chasing": conv_chasing,
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
        "question_type": _strings(r_qtype) if n_rounds else pd.array([], dtype="str"),
        "trailing_ack": r_trailing_ack,
        "counted": r_counted,
        "buyer_upset_max": r_upset_max,
        "buyer_signals": _strings(r_buyer_signals) if n_rounds else pd.array([], dtype="str"),
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
        "turn_index": pd.arrays.IntegerArray(reply_turn_index.astype(np.int64), ~reply_human),
        "turn_chars": pd.arrays.IntegerArray(reply_turn_chars.astype(np.int64), ~reply_human),
        "turn_start": reply_turn_start,
        "rich_media": reply_rich,
    })
    return MetricTables(replies=replies, rounds=rounds, conversations=conversations)


# --------------------------------------------------------------------------- agents


def online_hours_from_replies(agent_codes: np.ndarray, sent_at: pd.Series, n_agents: int,
                              gap_minutes: int) -> np.ndarray:
    """Estimated online hours (在线时长) per agent code from the times of the agent's human replies.

    Method (docs/metrics.md "Online hours"): sort each agent's reply times, take the gaps
    between consecutive replies, keep the gaps of at most ``gap_minutes`` minutes (a longer
    silence counts as offline) and sum them.  A lone reply adds nothing, so the figure is a
    lower bound of the time the agent was at work.  Vectorised: one sort by (agent, time) and
    one ``np.bincount``.
    """
    if len(agent_codes) == 0:
        return np.zeros(n_agents, dtype=float)
    times = pd.to_datetime(pd.Series(sent_at).reset_index(drop=True))
    if isinstance(times.dtype, pd.DatetimeTZDtype):
        times = times.dt.tz_localize(None)
    ns = times.to_numpy(dtype="datetime64[ns]")
    valid = ~np.isnat(ns)
    codes = np.asarray(agent_codes, dtype=np.int64)[valid]
    ns = ns[valid].view(np.int64)
    order = np.lexsort((ns, codes))
    codes, ns = codes[order], ns[order]
    gaps = np.diff(ns)
    same = codes[1:] == codes[:-1]
    keep = same & (gaps <= np.int64(gap_minutes) * 60 * 1_000_000_000)
    seconds = np.bincount(codes[1:][keep], weights=gaps[keep] / 1e9, minlength=n_agents)
    return np.round(seconds / 3600.0, 4)  # 0.0001 h = 0.36 s: nothing a payroll clerk sees is lost



def agent_metrics(replies: pd.DataFrame, rounds: pd.DataFrame, conversations: pd.DataFrame,
                  settings: MetricSettings | None = None) -> pd.DataFrame:
    """One row per agent (sorted by name), aggregated only from the three per-conversation tables.

    Attribution (docs/metrics.md "Transfers"): round figures go to ``rounds.agent`` (who
    answered, see conversation_metrics); reply figures (short replies, tags) to the sender of
    the human reply; conversations, reply_rate and greeting_rate to ``conversations.agent``
    (the first agent); a missing closing to ``conversations.last_agent`` (who should have
    closed).  Rates are pooled (sum of numerators / sum of denominators), never averages of
    per-conversation rates.  ``reply_rate`` (消息回复率) = counted rounds answered by a human /
    counted rounds.  Every conversation has an agent (docs/metrics.md "Attribution"): the
    shop's ``(未分配)`` row collects those nobody can be held to (``unassigned`` true).
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

    # counted = in service hours and not an excluded trailing acknowledgement (older tables
    # without the column: in service hours)
    in_hours = rounds["counted" if "counted" in rounds.columns else "in_hours"].to_numpy(dtype=bool)
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
        "answered_rounds": count(round_agent, in_hours & answered),
        "greeted": count(conv_agent, conversations["greeted"].to_numpy(dtype=bool)),
        # buyer signal (sorting only); older tables without the column: 0
        "buyer_upset_convs": count(conv_agent, conversations["buyer_upset_max"].to_numpy(dtype=float) >= UPSET_THRESHOLD)
        if "buyer_upset_max" in conversations.columns else np.zeros(n_names, dtype=np.int64),
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
    # 消息回复率: counted buyer rounds answered by a human / counted buyer rounds.
    out["reply_rate"] = ratio("answered_rounds", "counted_rounds")
    out["greeting_rate"] = ratio("greeted", "replied_conversations")

    out["online_hours_est"] = online_hours_from_replies(
        reply_agent, replies["sent_at"][human], n_names, settings.online_gap_minutes)

    out["unassigned"] = out["agent"].str.endswith(UNASSIGNED).to_numpy(dtype=bool)
    out = out[out["agent"] != ""].sort_values("agent", kind="stable")
    return out[AGENT_OUTPUT_COLUMNS + present_tags].reset_index(drop=True)
