"""Buyer signal: how dissatisfied / upset a buyer message reads, for sorting review work.

A QA lead reviews the conversations with the angriest buyers first.  This module scores each
buyer message ``buyer_upset`` in [0, 1] and says what fired (``buyer_signals``, e.g.
``"催促:人呢; 不满:太慢了"``).  **It never changes a score**: no rubric item, score or payroll
figure reads it (docs/metrics.md "Buyer signal").

Design (a documented weighted lexicon, no learned part):

* The lexicon is data: ``qa_scorer/data/buyer_signal.toml`` (or a file of the same form).  Each
  entry is a regular expression with a class (催促 chasing, 不满 complaint, 愤怒 anger, 否定
  satisfaction negated), a short name and a weight in [0, 1].
* A message's fired weights combine as ``1 - prod(1 - w)`` (a "noisy OR"): one signal of
  weight w gives w, two give more than either, and the result never exceeds 1.  Each entry
  counts once per message, however often it matches.
* Round context (optional ``round_id``; ``conversation_metrics`` passes the round of each
  buyer message): entries marked ``repeat`` (在吗, 有人吗) count only from the 2nd buyer message
  of a round (an opening 在吗 is a greeting, 在吗 after an unanswered question is chasing); the
  same text sent again in the round is chasing (催促:重复发送); a chasing message that is the
  2nd / 3rd-or-later buyer message of the round gets the ``repeat_weights`` on top
  (催促:未回复第2条 / 催促:未回复第3条+).  Every buyer message of a round is sent before the
  round's answer, so "2nd message of the round" = "2nd unanswered message".

Vectorised like ``qa_scorer.textstats``: the text work is done once per *distinct* text (one
regex pass finds the texts with any signal; only those are scanned to name the entries), and
the round context is numpy over the messages; there is no per-message Python loop.
"""

from __future__ import annotations

import functools
import re
import tomllib
import unicodedata
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from qa_scorer.textstats import CODE_PATTERN, distinct_texts

#: A message (a round, a conversation) with ``buyer_upset`` at least this counts as upset
#: (``conversations.buyer_upset_msgs``, the agents' ``buyer_upset_convs``).
UPSET_THRESHOLD = 0.5
#: Signal classes, in the order docs/metrics.md lists them.
CLASSES = ("催促", "不满", "愤怒", "否定")
#: Labels of the context signals (round position / resend).
RESEND_LABEL = "催促:重复发送"
REPEAT_LABELS = ("催促:未回复第2条", "催促:未回复第3条+")

_SIGNAL_KEYS = {"class", "name", "pattern", "weight", "chase", "repeat", "punct"}
_COUNTED = re.compile(r"[^\W_]")


@dataclass(frozen=True)
class Signal:
    """One lexicon entry (see buyer_signal.toml for the meaning of each field)."""

    cls: str
    name: str
    pattern: str
    weight: float
    chase: bool = False
    repeat: bool = False
    punct: bool = False

    @property
    def label(self) -> str:
        return f"{self.cls}:{self.name}"


@dataclass(frozen=True)
class Lexicon:
    """The weighted lexicon and the round-context weights."""

    signals: tuple[Signal, ...]
    positive: str = ""
    repeat_weights: tuple[float, float] = (0.25, 0.5)
    resend_weight: float = 0.3
    resend_min_chars: int = 2
    source: str = "buyer_signal.toml"
    _combined: re.Pattern = field(init=False, repr=False, compare=False)
    _positive: re.Pattern | None = field(init=False, repr=False, compare=False)
    _keys: re.Pattern | None = field(init=False, repr=False, compare=False)
    _key_entries: dict = field(init=False, repr=False, compare=False)
    _unkeyed: frozenset = field(init=False, repr=False, compare=False)
    _finders: dict = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        # One alternation, one named group per entry, in file order: at each position the
        # first listed entry that matches wins (so specific entries go first).
        object.__setattr__(self, "_combined", _alternation(self.signals, range(len(self.signals))))
        object.__setattr__(self, "_positive", re.compile(self.positive) if self.positive else None)
        object.__setattr__(self, "_finders", {})
        # Prefilter: the literal strings one of which every match of an entry contains.
        keys: dict[str, set[int]] = {}
        unkeyed = []
        for i, s in enumerate(self.signals):
            found = necessary_literals(s.pattern)
            if found is None:
                unkeyed.append(i)
            else:
                for key in found:
                    keys.setdefault(key, set()).add(i)
        object.__setattr__(self, "_unkeyed", frozenset(unkeyed))
        # a key found at a position implies every shorter key that is its prefix is there too
        closure = {k: frozenset().union(*(keys[k2] for k2 in keys if k.startswith(k2))) for k in keys}
        object.__setattr__(self, "_key_entries", closure)
        object.__setattr__(self, "_keys", re.compile(_trie_pattern(keys)) if keys else None)

    def _entries_in(self, text: str) -> frozenset[int]:
        """The entries that can match ``text``: those with one of their keys in it (+ unkeyed)."""
        found = set(self._unkeyed)
        search = self._keys.search if self._keys is not None else None
        pos = 0
        while search is not None:
            # one key per start position (the trie regex matches the longest, whose prefix
            # closure covers the shorter ones); restarting one character later finds
            # overlapping keys too
            m = search(text, pos)
            if m is None:
                break
            found |= self._key_entries[m.group()]
            pos = m.start() + 1
        return frozenset(found)

    def _finder(self, entries: frozenset[int]):
        """finditer of the alternation restricted to ``entries`` (same order, same groups):
        entries whose keys are absent cannot match, so the matches are those of the full one."""
        if len(entries) == len(self.signals):
            return self._combined.finditer
        finder = self._finders.get(entries)
        if finder is None:
            finder = self._finders[entries] = _alternation(self.signals, entries).finditer
        return finder


def _trie_pattern(keys) -> str:
    """One regex for many literal keys, factored as a trie (差评|差劲 -> 差(?:评|劲)): the regex
    engine then skips to the characters a key can start with and tries each next character
    once, instead of trying hundreds of alternatives at every position.  Greedy, so at a
    position it matches the longest key there."""
    trie: dict = {}
    for key in keys:
        node = trie
        for ch in key:
            node = node.setdefault(ch, {})
        node[""] = {}

    def build(node: dict) -> str:
        alts = [re.escape(ch) + build(node[ch]) for ch in sorted(k for k in node if k)]
        if not alts:
            return ""
        body = alts[0] if len(alts) == 1 else "(?:" + "|".join(alts) + ")"
        return f"(?:{body})?" if "" in node else body

    return build(trie)


def _alternation(signals, indices) -> re.Pattern:
    parts = [f"(?P<s{i}>{signals[i].pattern})" for i in sorted(indices)]
    return re.compile("|".join(parts) or "(?!)")


# --------------------------------------------------------------------------- literal keys

try:  # the regex parser of the standard library (re._parser since 3.11)
    from re import _parser as _sre_parse
    from re import _constants as _sre_c
except ImportError:  # pragma: no cover
    import sre_constants as _sre_c
    import sre_parse as _sre_parse

_MAX_KEYS = 256


def necessary_literals(pattern: str) -> set[str] | None:
    r"""Literal strings such that every match of ``pattern`` starts with one of them (after
    zero-width look-arounds and anchors), or None when the pattern gives none (then the entry
    is tried on every text).  Used only to skip texts quickly: "差评" for ``(?<!不)差评``,
    "!!!" for ``!{3,}``, 在吗/在不在/在么/在嘛 for ``(?:在吗|在不在|在么|在嘛)[^\w]*...``.
    """
    try:
        parsed = _sre_parse.parse(pattern)
    except Exception:  # noqa: BLE001 - any trouble: no keys, the entry is simply always tried
        return None
    prefixes, _ = _prefixes(list(parsed))
    if prefixes is None or "" in prefixes:
        return None
    return prefixes


def _prefixes(items) -> tuple[set[str] | None, bool]:
    """(set S, complete): every match of the item sequence starts with some s in S; complete =
    every match IS some s in S.  (None, False) when nothing can be said."""
    current, complete = {""}, True
    for op, av in items:
        if not complete:
            break
        part, part_complete = _item(op, av)
        if part is None:
            return (current if current != {""} else None), False
        joined = {a + b for a in current for b in part}
        if len(joined) > _MAX_KEYS:
            return (current if current != {""} else None), False
        current, complete = joined, part_complete
    return current, complete


def _item(op, av) -> tuple[set[str] | None, bool]:
    c = _sre_c
    if op is c.LITERAL:
        return {chr(av)}, True
    if op in (c.AT, c.ASSERT, c.ASSERT_NOT):
        return {""}, True                       # zero width
    if op is c.IN:
        chars = set()
        for kind, value in av:
            if kind is c.LITERAL:
                chars.add(chr(value))
            elif kind is c.RANGE and value[1] - value[0] < 16:
                chars.update(chr(x) for x in range(value[0], value[1] + 1))
            else:                               # negation, categories, wide ranges
                return None, False
        return chars, True
    if op is c.SUBPATTERN:
        return _prefixes(list(av[-1]))
    if op is c.BRANCH:
        out, complete = set(), True
        for alt in av[1]:
            part, part_complete = _prefixes(list(alt))
            if part is None:
                return None, False
            out |= part
            complete &= part_complete
        return out, complete
    if op in (c.MAX_REPEAT, c.MIN_REPEAT):
        low, high, sub = av
        part, part_complete = _prefixes(list(sub))
        if part is None:
            return None, False
        if part_complete and high <= 3:         # x?, x{1,3}: every count spelled out
            out = set()
            for count in range(low, high + 1):
                words = {""}
                for _ in range(count):
                    words = {a + b for a in words for b in part}
                out |= words
            return (out, True) if len(out) <= _MAX_KEYS else (None, False)
        if low == 0:
            return None, False
        words = {""}
        for _ in range(min(low, 3)):
            words = {a + b for a in words for b in part}
        return (words, False) if len(words) <= _MAX_KEYS else (None, False)
    return None, False


def _bad(where: str, message: str) -> ValueError:
    return ValueError(f"{where}: {message}")


def parse_lexicon(data: dict, where: str = "buyer_signal.toml") -> Lexicon:
    """A :class:`Lexicon` from the parsed TOML mapping; every error names the entry."""
    unknown = set(data) - {"signal", "positive", "context"}
    if unknown:
        raise _bad(where, f"unknown keys {sorted(unknown)}; allowed: signal, positive, context")
    signals = []
    for i, entry in enumerate(data.get("signal", [])):
        at = f"{where}: [[signal]] #{i + 1} ({entry.get('name', '?')})"
        extra = set(entry) - _SIGNAL_KEYS
        if extra:
            raise ValueError(f"{at}: unknown keys {sorted(extra)}; allowed: {sorted(_SIGNAL_KEYS)}")
        for key in ("class", "name", "pattern", "weight"):
            if key not in entry:
                raise ValueError(f"{at}: missing {key!r}")
        if entry["class"] not in CLASSES:
            raise ValueError(f"{at}: class must be one of {CLASSES}, not {entry['class']!r}")
        weight = float(entry["weight"])
        if not 0.0 <= weight <= 1.0:
            raise ValueError(f"{at}: weight must be in [0, 1], not {weight}")
        try:
            compiled = re.compile(entry["pattern"])
        except re.error as exc:
            raise ValueError(f"{at}: bad regular expression: {exc}") from None
        if compiled.groups:
            raise ValueError(f"{at}: use non-capturing groups (?:...) only")
        signals.append(Signal(entry["class"], str(entry["name"]), entry["pattern"], weight,
                              bool(entry.get("chase", False)), bool(entry.get("repeat", False)),
                              bool(entry.get("punct", False))))
    positive = data.get("positive", {}).get("pattern", "")
    try:
        re.compile(positive)
    except re.error as exc:
        raise _bad(where, f"[positive] pattern: {exc}") from None
    context = data.get("context", {})
    repeat = tuple(float(w) for w in context.get("repeat_weights", (0.25, 0.5)))
    if len(repeat) != 2 or not all(0.0 <= w <= 1.0 for w in repeat):
        raise _bad(where, "[context] repeat_weights must be two weights in [0, 1] (2nd, 3rd+ message)")
    resend = float(context.get("resend_weight", 0.3))
    if not 0.0 <= resend <= 1.0:
        raise _bad(where, "[context] resend_weight must be in [0, 1]")
    return Lexicon(tuple(signals), positive, repeat, resend, int(context.get("resend_min_chars", 2)), where)


@functools.lru_cache(maxsize=8)
def _load_cached(path: str | None) -> Lexicon:
    if path is None:
        text = resources.files("qa_scorer").joinpath("data", "buyer_signal.toml").read_text(encoding="utf-8")
        where = "buyer_signal.toml"
    else:
        text = Path(path).read_text(encoding="utf-8")
        where = str(path)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{where}: {exc}") from None
    return parse_lexicon(data, where)


def load_lexicon(path: str | Path | None = None) -> Lexicon:
    """The shipped lexicon (``qa_scorer/data/buyer_signal.toml``) or the one at ``path`` (cached)."""
    return _load_cached(None if path is None else str(path))


def normalise_for_signals(uniq: pd.Series) -> pd.Series:
    """What the lexicon is matched against: NFKC (！？ -> !?, … -> ...), lower case, no whitespace.

    Punctuation and emoticon codes are kept: ``!!!`` and ``[怒]`` are signals.
    """
    # per distinct text: one Python call chain is faster than three pandas passes
    return pd.Series(["".join(unicodedata.normalize("NFKC", t).lower().split()) for t in uniq.to_numpy(dtype=object)],
                     index=uniq.index, dtype=object)


@dataclass
class _Distinct:
    """Per distinct text: the fixed part, the repeat-only part and whether a resend counts."""

    keep_fixed: np.ndarray      # prod(1 - w) of the entries that always count
    keep_repeat: np.ndarray     # prod(1 - w) of the repeat-only entries (2nd+ message of a round)
    chase_fixed: np.ndarray
    chase_repeat: np.ndarray
    sig_fixed: np.ndarray       # "; "-joined labels
    sig_repeat: np.ndarray


def _score_distinct(uniq: pd.Series, lexicon: Lexicon) -> _Distinct:
    n = len(uniq)
    out = _Distinct(np.ones(n), np.ones(n), np.zeros(n, bool), np.zeros(n, bool),
                    np.full(n, "", dtype=object), np.full(n, "", dtype=object))
    if n == 0:
        return out
    norm = normalise_for_signals(uniq)
    # One pass of a plain alternation of literal keys (fast: the regex engine skips to the
    # characters a key can start with) finds the few texts that can carry a signal.
    if lexicon._unkeyed or lexicon._keys is None:
        hit = np.arange(n)
    else:
        search = lexicon._keys.search
        values = norm.to_numpy(dtype=object)
        hit = np.flatnonzero(np.fromiter((search(t) is not None for t in values), dtype=bool, count=n))
    if len(hit) == 0:
        return out
    values = norm.to_numpy(dtype=object)
    signals = lexicon.signals
    positive = lexicon._positive
    # Per distinct text that has a key (a small share of the texts): name the entries, with
    # the alternation restricted to the entries whose keys the text contains.
    for i in hit:
        text = values[i]
        entries = lexicon._entries_in(text)
        if not entries:
            continue
        fired = dict.fromkeys(int(m.lastgroup[1:]) for m in lexicon._finder(entries)(text))
        if not fired:
            continue
        damp = positive is not None and positive.search(text) is not None
        keep_f = keep_r = 1.0
        labels_f, labels_r = [], []
        for k in fired:
            s = signals[k]
            if s.punct and damp:
                continue
            if s.repeat:
                keep_r *= 1.0 - s.weight
                labels_r.append(s.label)
                out.chase_repeat[i] |= s.chase
            else:
                keep_f *= 1.0 - s.weight
                labels_f.append(s.label)
                out.chase_fixed[i] |= s.chase
        out.keep_fixed[i], out.keep_repeat[i] = keep_f, keep_r
        out.sig_fixed[i], out.sig_repeat[i] = "; ".join(labels_f), "; ".join(labels_r)
    return out


def _resendable(uniq: pd.Series, lexicon: Lexicon) -> np.ndarray:
    """Enough content (letters, digits, CJK; emoticon codes such as [图片] removed) for a text
    sent again in the same round to mean chasing."""
    stripped = uniq.str.replace(CODE_PATTERN, "", regex=True)
    return (stripped.str.count(_COUNTED) >= lexicon.resend_min_chars).to_numpy(dtype=bool)


def _join(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Element-wise "a; b" of two object arrays of strings, skipping empty parts."""
    both = (a != "") & (b != "")
    return np.where(both, a + "; " + b, a + b)


def score_buyer_messages(texts: pd.Series, round_id=None, lexicon: Lexicon | None = None) -> pd.DataFrame:
    """``buyer_upset`` (float in [0, 1]), ``buyer_signals`` (str) and ``buyer_chasing`` (bool)
    of each buyer message, on the index of ``texts``.

    ``round_id`` (optional, one integer per message): the round each message belongs to, the
    messages of a round consecutive and in time order.  Without it every message is scored as
    the first of its round (no repeat-only entries, no resend, no repeat weight).

    >>> score_buyer_messages(pd.Series(["请问有货吗", "人呢？？？", "太慢了，我要投诉"]))["buyer_upset"].tolist()
    [0.0, 0.64, 0.88]
    """
    lexicon = lexicon or load_lexicon()
    n = len(texts)
    if n == 0:
        return pd.DataFrame({"buyer_upset": pd.Series([], dtype="float64"),
                             "buyer_signals": pd.Series([], dtype=object),
                             "buyer_chasing": pd.Series([], dtype=bool)}, index=texts.index)
    codes, uniq = distinct_texts(texts)
    d = _score_distinct(uniq, lexicon)

    if round_id is None:
        position = np.ones(n, dtype=np.int64)
        resend = np.zeros(n, bool)
    else:
        rid = np.asarray(round_id)
        if len(rid) != n:
            raise ValueError("round_id must have one value per text")
        first = np.r_[True, rid[1:] != rid[:-1]]
        starts = np.flatnonzero(first)
        position = np.arange(n) - starts[np.cumsum(first) - 1] + 1      # 1-based within the round
        # the same text again in the same round (an earlier copy exists): chasing
        resend = pd.DataFrame({"r": rid, "c": codes}).duplicated().to_numpy()
        if resend.any():   # only the texts sent again are checked for content
            again = np.unique(codes[resend])
            ok = np.zeros(len(uniq), bool)
            ok[again] = _resendable(uniq.iloc[again], lexicon)
            resend = resend & ok[codes]
    later = position >= 2

    chasing = d.chase_fixed[codes] | (d.chase_repeat[codes] & later) | resend
    w2, w3 = lexicon.repeat_weights
    repeat_w = np.where(chasing & (position == 2), w2, np.where(chasing & (position >= 3), w3, 0.0))
    keep = (d.keep_fixed[codes] * np.where(later, d.keep_repeat[codes], 1.0)
            * np.where(resend, 1.0 - lexicon.resend_weight, 1.0) * (1.0 - repeat_w))
    upset = np.round(1.0 - keep, 4) + 0.0   # + 0.0: no -0.0

    signals = np.full(n, "", dtype=object)
    rows = np.flatnonzero(keep < 1.0)
    if len(rows):
        c = codes[rows]
        s = _join(d.sig_fixed[c], np.where(later[rows], d.sig_repeat[c], ""))
        s = _join(s, np.where(resend[rows], RESEND_LABEL, ""))
        rep = np.where(repeat_w[rows] == 0, "", np.where(position[rows] == 2, REPEAT_LABELS[0], REPEAT_LABELS[1]))
        signals[rows] = _join(s, rep.astype(object))
    return pd.DataFrame({"buyer_upset": upset, "buyer_signals": signals, "buyer_chasing": chasing},
                        index=texts.index)


def buyer_upset(texts: pd.Series, round_id=None, lexicon: Lexicon | None = None) -> pd.Series:
    """Just the ``buyer_upset`` column of :func:`score_buyer_messages`."""
    return score_buyer_messages(texts, round_id, lexicon)["buyer_upset"].rename(texts.name)
