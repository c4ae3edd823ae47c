"""Service-quality scores (0-100) from the per-conversation metrics, with an itemised breakdown.

A rubric is a TOML file (the documented default ships as ``qa_scorer/data/default_rubric.toml``;
``docs/rubric.md`` explains every key).  It says how many points each finding costs, caps per
item and per conversation, which classifier tags cost points at all (``deduct = false`` =
coached only), which findings fail a conversation outright, which good habits earn back points,
a list of Advertising-Law extreme words, the ``[metrics]`` thresholds, and how conversation
scores roll up into an agent's period score.

Arithmetic is done in integer tenths of a point, so the breakdown is exact: every row's
deductions minus bonuses (including the ``cap_adjustment``, ``bonus_ceiling`` and ``auto_fail``
adjustment items) add up to exactly ``100 - service_score``.

``score_conversations`` looks only at each conversation's own rows (it can run per chunk);
``score_agents`` aggregates from the scored conversations table.
"""

from __future__ import annotations

import dataclasses
import json
import re
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from qa_scorer.schema import TAGS
from qa_scorer.settings import MetricSettings, SettingsError, settings_from_mapping


class RubricError(ValueError):
    """A rubric file is wrong; the message names the file, the key and the allowed values."""


#: Presets shipped in package data: name -> resource path under ``qa_scorer/data``.
PRESETS: dict[str, str] = {
    "default": "default_rubric.toml",
    "presales": "rubrics/presales.toml",
    "aftersales": "rubrics/aftersales.toml",
}

#: Conversation-level count items: finding -> what is counted (points are per occurrence).
COUNT_ITEMS: dict[str, str] = {
    "slow_rounds": "rounds answered slower than metrics.slow_seconds (conversations.slow_rounds)",
    "unanswered_rounds": "buyer rounds never answered (conversations.unanswered_rounds)",
    "short_replies": "replies shorter than metrics.min_reply_chars (conversations.short_replies)",
    "product_answer_short": "answers to product questions shorter than metrics.product_answer_min_chars",
    "missing_closing": "no closing message although the buyer went silent (0 or 1)",
    "pushy": "replies the classifier tagged pushy (催单/施压)",
    "unhelpful": "replies the classifier tagged unhelpful (敷衍/推诿)",
    "rude": "replies the classifier tagged rude (态度差)",
    "overclaim": "replies the classifier tagged overclaim (夸大/绝对化)",
    "forbidden": "replies containing a word of [forbidden].words (广告法极限词)",
}
#: Conversation-level rate items: deduct when the rate is below ``target``.
RATE_ITEMS: dict[str, str] = {
    "within_3min_rate": "share of the conversation's rounds answered within metrics.within_seconds",
}
#: Bonus items: points given back (the score never exceeds 100).
BONUS_ITEMS: dict[str, str] = {
    "closing": "a human agent sent a closing message (replies.is_closing)",
    "greeting": "the agent greeted the buyer (conversations.greeted)",
    "fast_first_response": "first response within `within_s` seconds (conversations.first_response_s)",
}
#: Agent-level items, read from the agents table.
AGENT_RATE_ITEMS: dict[str, str] = {
    "within_3min_rate": "pooled 3-minute response rate of the period (agents.within_3min_rate)",
    "reply_rate": "share of buyers/rounds answered (agents.reply_rate)",
    "greeting_rate": "share of conversations with a greeting (agents.greeting_rate)",
}
AGENT_COUNT_ITEMS: dict[str, str] = {
    "slow_receptions": "buyer-days with metrics.slow_reception_count or more slow replies (agents.slow_receptions)",
}
AGENT_WEIGHTS = ("conversations", "rounds")

#: Items whose only evidence is a machine's: a model tag or a word-list hit.  Under the default
#: ``score.auto_fail_on_machine_evidence = false`` such an auto-fail item does not zero the
#: conversation: it sets ``needs_review`` and the score keeps its ordinary deductions, until a
#: person confirms the item (``confirmed_items``).  Metric items (slow, unanswered, ...) are
#: measured facts, not judgements: their auto-fail applies directly.
MACHINE_EVIDENCE_ITEMS: tuple[str, ...] = (*TAGS, "forbidden")
#: Chinese-first names shown to people in review_reasons.
ITEM_LABELS: dict[str, str] = {
    "pushy": "催单施压(pushy)", "unhelpful": "敷衍推诿(unhelpful)", "rude": "态度差(rude)",
    "overclaim": "夸大宣传(overclaim)", "forbidden": "广告法违禁用语(forbidden)",
}

# Conversation columns each count item reads (tags and forbidden fall back to the replies table).
_COUNT_COLUMNS = {
    "slow_rounds": "slow_rounds",
    "unanswered_rounds": "unanswered_rounds",
    "short_replies": "short_replies",
    "product_answer_short": "product_answer_short",
    "missing_closing": "missing_closing",
}

_TOP_KEYS = ("name", "description", "metrics", "score", "items", "bonus", "forbidden", "agent")
_COUNT_KEYS = ("points", "cap", "deduct", "auto_fail")
_RATE_KEYS = ("target", "points", "points_per_pct", "cap", "deduct")
_BONUS_KEYS = ("points", "within_s")
_SCORE_KEYS = ("max_deduction", "auto_fail_on_machine_evidence")
_FORBIDDEN_KEYS = ("lexicon", "words", "allow_phrases", "include_auto_replies")
_AGENT_KEYS = ("weight", "items")


@dataclass(frozen=True)
class CountItem:
    """``points`` per occurrence, at most ``cap`` per conversation (None = no cap)."""

    name: str
    points: float = 0.0
    cap: float | None = None
    deduct: bool = True        # False: reported as "coached", costs nothing
    auto_fail: bool = False    # any occurrence sets the conversation to 0


@dataclass(frozen=True)
class RateItem:
    """Below ``target``: ``points`` + ``points_per_pct`` x percentage points short, at most ``cap``."""

    name: str
    target: float = 0.0
    points: float = 0.0
    points_per_pct: float = 0.0
    cap: float | None = None
    deduct: bool = True


@dataclass(frozen=True)
class BonusItem:
    name: str
    points: float = 0.0
    within_s: int | None = None  # fast_first_response only


@dataclass
class Rubric:
    """A validated rubric.  ``to_dict()`` is what ``run.json`` records."""

    name: str = "unnamed"
    description: str = ""
    source: str = ""
    metrics: MetricSettings = field(default_factory=MetricSettings)
    items: dict[str, CountItem | RateItem] = field(default_factory=dict)
    bonuses: dict[str, BonusItem] = field(default_factory=dict)
    max_deduction: float = 100.0
    auto_fail_on_machine_evidence: bool = False
    forbidden_words: list[str] = field(default_factory=list)
    allow_phrases: list[str] = field(default_factory=list)
    forbidden_include_auto: bool = True
    use_claim_lexicon: bool = True     # [forbidden].lexicon: the shipped Advertising-Law lexicon
    agent_weight: str = "conversations"
    agent_items: dict[str, CountItem | RateItem] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "source": self.source,
            "metrics": self.metrics.to_dict(),
            "score": {"max_deduction": self.max_deduction,
                      "auto_fail_on_machine_evidence": self.auto_fail_on_machine_evidence},
            "items": {k: _item_dict(v) for k, v in self.items.items()},
            "bonus": {k: _item_dict(v) for k, v in self.bonuses.items()},
            "forbidden": {
                "lexicon": self.use_claim_lexicon,
                "words": list(self.forbidden_words),
                "allow_phrases": list(self.allow_phrases),
                "include_auto_replies": self.forbidden_include_auto,
            },
            "agent": {"weight": self.agent_weight,
                      "items": {k: _item_dict(v) for k, v in self.agent_items.items()}},
        }

    @property
    def coached_only(self) -> list[str]:
        """Items that are reported but cost no points (``deduct = false``)."""
        return [k for k, v in self.items.items() if not v.deduct]

    @property
    def auto_fail_items(self) -> list[str]:
        return [k for k, v in self.items.items() if isinstance(v, CountItem) and v.auto_fail]


def _item_dict(item) -> dict[str, Any]:
    d = dataclasses.asdict(item)
    d.pop("name")
    return {k: v for k, v in d.items() if v is not None}


# ---------------------------------------------------------------------------------------------
# Loading and validation
# ---------------------------------------------------------------------------------------------

def preset_text(preset: str = "default") -> str:
    """The documented TOML text of a shipped preset (what ``rubric init`` writes)."""
    if preset not in PRESETS:
        raise RubricError(f"unknown rubric preset {preset!r}; allowed: {', '.join(PRESETS)}")
    return resources.files("qa_scorer").joinpath("data", *PRESETS[preset].split("/")).read_text(encoding="utf-8")


def load_rubric(path: str | Path | None = None, *, preset: str | None = None) -> Rubric:
    """Load and validate a rubric: ``path`` (a TOML file), else the shipped ``preset`` (default: "default").

    Raises ``RubricError`` naming the file, the key and the allowed values.
    """
    if path is not None:
        p = Path(path)
        where = str(p)
        try:
            text = p.read_text(encoding="utf-8-sig")
        except FileNotFoundError:
            raise RubricError(f"{p}: rubric file not found (create one with `qa-scorer rubric init {p}`)") from None
        except UnicodeDecodeError as exc:
            raise RubricError(f"{p}: rubric must be UTF-8 text ({exc})") from None
    else:
        preset = preset or "default"
        text = preset_text(preset)
        where = f"preset:{preset}"
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RubricError(f"{where}: not valid TOML: {exc}") from None
    return rubric_from_mapping(data, where=where)


def write_default_rubric(path: str | Path, *, preset: str = "default", force: bool = False) -> Path:
    """Write a shipped preset (with its comments) to ``path``; refuses to overwrite unless ``force``."""
    p = Path(path)
    if p.exists() and not force:
        raise FileExistsError(f"{p} already exists; pass --force to overwrite it")
    text = preset_text(preset)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text, encoding="utf-8")
    return p


def rubric_from_mapping(data: dict[str, Any], *, where: str = "rubric") -> Rubric:
    """Validate a parsed rubric mapping (see docs/rubric.md for every key)."""
    _check_keys(data, _TOP_KEYS, where, "top level")
    rubric = Rubric(source=where)
    rubric.name = _string(data.get("name", "unnamed"), where, "name")
    rubric.description = _string(data.get("description", ""), where, "description")

    metrics = _table(data.get("metrics", {}), where, "metrics")
    try:
        rubric.metrics = settings_from_mapping(metrics, where=f"{where}: metrics")
    except SettingsError as exc:
        raise RubricError(str(exc)) from None
    except TypeError as exc:  # a wrong type that validate() trips over (e.g. a string where a number goes)
        raise RubricError(f"{where}: metrics: wrong value type ({exc})") from None

    score = _table(data.get("score", {}), where, "score")
    _check_keys(score, _SCORE_KEYS, where, "[score]")
    rubric.max_deduction = _number(score.get("max_deduction", 100), where, "score.max_deduction", maximum=100)
    rubric.auto_fail_on_machine_evidence = _bool(score.get("auto_fail_on_machine_evidence", False), where,
                                                 "score.auto_fail_on_machine_evidence")

    items = _table(data.get("items", {}), where, "items")
    allowed_items = (*COUNT_ITEMS, *RATE_ITEMS)
    for name, spec in items.items():
        if name not in allowed_items:
            hint = f" (classifier tags are: {', '.join(TAGS)})"
            raise RubricError(f"{where}: unknown item {name!r} in [items]; allowed: {', '.join(allowed_items)}{hint}")
    for name in COUNT_ITEMS:
        rubric.items[name] = _count_item(items.get(name, {}), name, where, f"items.{name}")
    for name in RATE_ITEMS:
        rubric.items[name] = _rate_item(items.get(name, {}), name, where, f"items.{name}")

    bonus = _table(data.get("bonus", {}), where, "bonus")
    for name in bonus:
        if name not in BONUS_ITEMS:
            raise RubricError(f"{where}: unknown bonus {name!r} in [bonus]; allowed: {', '.join(BONUS_ITEMS)}")
    for name in BONUS_ITEMS:
        rubric.bonuses[name] = _bonus_item(bonus.get(name, {}), name, where)

    forbidden = _table(data.get("forbidden", {}), where, "forbidden")
    _check_keys(forbidden, _FORBIDDEN_KEYS, where, "[forbidden]")
    rubric.use_claim_lexicon = _bool(forbidden.get("lexicon", True), where, "forbidden.lexicon")
    rubric.forbidden_words = _word_list(forbidden.get("words", []), where, "forbidden.words")
    rubric.allow_phrases = _word_list(forbidden.get("allow_phrases", []), where, "forbidden.allow_phrases")
    rubric.forbidden_include_auto = _bool(forbidden.get("include_auto_replies", True), where,
                                          "forbidden.include_auto_replies")

    agent = _table(data.get("agent", {}), where, "agent")
    _check_keys(agent, _AGENT_KEYS, where, "[agent]")
    weight = agent.get("weight", "conversations")
    if weight not in AGENT_WEIGHTS:
        raise RubricError(f"{where}: agent.weight must be one of {', '.join(AGENT_WEIGHTS)}, got {weight!r}")
    rubric.agent_weight = weight
    agent_items = _table(agent.get("items", {}), where, "agent.items")
    allowed_agent = (*AGENT_RATE_ITEMS, *AGENT_COUNT_ITEMS)
    for name in agent_items:
        if name not in allowed_agent:
            raise RubricError(f"{where}: unknown agent item {name!r} in [agent.items]; "
                              f"allowed: {', '.join(allowed_agent)}")
    for name in AGENT_RATE_ITEMS:
        rubric.agent_items[name] = _rate_item(agent_items.get(name, {}), name, where, f"agent.items.{name}")
    for name in AGENT_COUNT_ITEMS:
        item = _count_item(agent_items.get(name, {}), name, where, f"agent.items.{name}")
        if item.auto_fail:
            raise RubricError(f"{where}: agent.items.{name}.auto_fail is not supported at agent level; "
                              "allowed keys: points, cap, deduct")
        rubric.agent_items[name] = item
    return rubric


def _check_keys(table: dict, allowed, where: str, what: str) -> None:
    unknown = [k for k in table if k not in allowed]
    if unknown:
        raise RubricError(f"{where}: unknown key(s) {', '.join(map(repr, unknown))} in {what}; "
                          f"allowed: {', '.join(allowed)}")


def _table(value, where: str, key: str) -> dict:
    if not isinstance(value, dict):
        raise RubricError(f"{where}: {key} must be a table ([{key}]), got {type(value).__name__}")
    for k, v in value.items():
        if key in ("items", "bonus", "agent.items") and not isinstance(v, dict):
            raise RubricError(f"{where}: {key}.{k} must be a table ([{key}.{k}]) with keys, got {v!r}")
    return value


def _number(value, where: str, key: str, *, maximum: float | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise RubricError(f"{where}: {key} must be a number >= 0, got {value!r}")
    if value < 0 or value != value:
        raise RubricError(f"{where}: {key} must be a number >= 0 (deductions and bonuses are written "
                          f"as positive points), got {value!r}")
    if maximum is not None and value > maximum:
        raise RubricError(f"{where}: {key} must be between 0 and {maximum:g}, got {value!r}")
    return float(value)


def _bool(value, where: str, key: str) -> bool:
    if not isinstance(value, bool):
        raise RubricError(f"{where}: {key} must be true or false, got {value!r}")
    return value


def _string(value, where: str, key: str) -> str:
    if not isinstance(value, str):
        raise RubricError(f"{where}: {key} must be a string, got {value!r}")
    return value


def _word_list(value, where: str, key: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(w, str) and w.strip() for w in value):
        raise RubricError(f'{where}: {key} must be a list of non-empty strings, e.g. ["全网最低", "国家级"]')
    bad = [w for w in value if "|" in w]
    if bad:
        raise RubricError(f"{where}: {key}: words may not contain '|' (it separates hits in forbidden_words): {bad}")
    return list(dict.fromkeys(w.strip() for w in value))


def _count_item(spec: dict, name: str, where: str, key: str) -> CountItem:
    _check_keys(spec, _COUNT_KEYS, where, f"[{key}]")
    cap = spec.get("cap")
    item = CountItem(
        name=name,
        points=_number(spec.get("points", 0), where, f"{key}.points", maximum=100),
        cap=None if cap is None else _number(cap, where, f"{key}.cap", maximum=100),
        deduct=_bool(spec.get("deduct", True), where, f"{key}.deduct"),
        auto_fail=_bool(spec.get("auto_fail", False), where, f"{key}.auto_fail"),
    )
    if item.auto_fail and not item.deduct:
        raise RubricError(f"{where}: {key}: auto_fail = true contradicts deduct = false "
                          "(coached-only items cannot fail a conversation); set one of them differently")
    return item


def _rate_item(spec: dict, name: str, where: str, key: str) -> RateItem:
    _check_keys(spec, _RATE_KEYS, where, f"[{key}]")
    cap = spec.get("cap")
    return RateItem(
        name=name,
        target=_number(spec.get("target", 0), where, f"{key}.target (a rate between 0 and 1)", maximum=1),
        points=_number(spec.get("points", 0), where, f"{key}.points", maximum=100),
        points_per_pct=_number(spec.get("points_per_pct", 0), where, f"{key}.points_per_pct", maximum=100),
        cap=None if cap is None else _number(cap, where, f"{key}.cap", maximum=100),
        deduct=_bool(spec.get("deduct", True), where, f"{key}.deduct"),
    )


def _bonus_item(spec: dict, name: str, where: str) -> BonusItem:
    key = f"bonus.{name}"
    allowed = _BONUS_KEYS if name == "fast_first_response" else ("points",)
    _check_keys(spec, allowed, where, f"[{key}]")
    within = spec.get("within_s")
    if within is not None and (isinstance(within, bool) or not isinstance(within, int) or within < 0):
        raise RubricError(f"{where}: {key}.within_s must be a whole number of seconds >= 0, got {within!r}")
    points = _number(spec.get("points", 0), where, f"{key}.points", maximum=100)
    if name == "fast_first_response" and points > 0 and within is None:
        raise RubricError(f"{where}: {key}.within_s is required when {key}.points > 0 (e.g. within_s = 30)")
    return BonusItem(name=name, points=points, within_s=within)


# ---------------------------------------------------------------------------------------------
# Forbidden words
# ---------------------------------------------------------------------------------------------

def _normalise_text(s: pd.Series) -> pd.Series:
    # NFKC folds full-width forms (１００％ -> 100%), lower() folds Latin case.
    return s.fillna("").astype(str).str.normalize("NFKC").str.lower()


@dataclass(frozen=True)
class ClaimWord:
    """One word of the claim lexicon: where it comes from and how it is matched."""

    word: str                      # as written in the lexicon / rubric
    category: str                  # extreme | absolute | medical | shop
    label: str = ""                # Chinese name of the category, shown to people
    article: str = ""              # the law article (or "see the law")
    prefix: bool = False           # matches the start of a longer word (最 -> 最好的)
    exempt_after: str | None = None  # regex on the text right after the word: not a claim
    exempt_before: str | None = None  # regex on the (up to 6) characters before the word: not a claim


#: Category of words a shop adds with [forbidden].words.
SHOP_CATEGORY = ("shop", "店铺禁用词", "the shop's rubric ([forbidden].words)")


def load_claim_lexicon(path: str | Path | None = None) -> list[ClaimWord]:
    """The shipped Advertising-Law lexicon (``qa_scorer/data/ad_law_lexicon.toml``) or ``path``."""
    if path is None:
        text = resources.files("qa_scorer").joinpath("data", "ad_law_lexicon.toml").read_text(encoding="utf-8")
        where = "ad_law_lexicon.toml"
    else:
        text, where = Path(path).read_text(encoding="utf-8"), str(path)
    data = tomllib.loads(text)
    cats = data.get("categories", {})
    out = []
    for i, entry in enumerate(data.get("words", [])):
        cat = entry.get("category")
        if cat not in cats or not isinstance(entry.get("word"), str) or not entry["word"].strip():
            raise RubricError(f"{where}: words[{i}] needs a non-empty word and a category among {', '.join(cats)}")
        for key in ("exempt_after", "exempt_before"):
            if entry.get(key) is not None:
                try:
                    re.compile(entry[key])
                except re.error as exc:
                    raise RubricError(f"{where}: words[{i}].{key} is not a valid regex ({exc})") from None
        out.append(ClaimWord(entry["word"].strip(), cat, cats[cat].get("label", cat), cats[cat].get("article", ""),
                             bool(entry.get("prefix", False)), entry.get("exempt_after"), entry.get("exempt_before")))
    return out


_NEGATION = re.compile(r"(不|没|无法|并非|未|别)")
_SERVICE = re.compile(r"(帮|给|为|替|跟|保障|保护|让)(您|你)")


class _ClaimMatcher:
    """Finds lexicon words used as claims (see ad_law_lexicon.toml for the rules).

    Built once per (lexicon, allow phrases); ``hits(text)`` works on one *distinct* folded text."""

    def __init__(self, entries: list[ClaimWord]):
        self.entries: dict[str, ClaimWord] = {}
        for e in entries:
            self.entries.setdefault(_fold(e.word), e)
        self.any_word = re.compile("|".join(re.escape(w) for w in sorted(self.entries, key=len, reverse=True)))
        self.exempt = {w: re.compile(e.exempt_after) for w, e in self.entries.items() if e.exempt_after}
        self.exempt_before = {w: re.compile(e.exempt_before) for w, e in self.entries.items() if e.exempt_before}
        self.word_re = {w: re.compile(re.escape(w)) for w in self.entries}
        self._tokenizer = None

    def tokenizer(self):
        if self._tokenizer is None:
            import logging

            import jieba

            jieba.setLogLevel(logging.WARNING)
            tok = jieba.Tokenizer()
            for w in self.entries:
                tok.add_word(w, freq=200_000)
            for w in ("第一时间", "第一次", "最近", "最后", "最终", "最快", "最好"):  # keep these whole
                tok.add_word(w, freq=200_000)
            self._tokenizer = tok
        return self._tokenizer

    def hits(self, text: str) -> list[tuple[str, ClaimWord]]:
        present = [w for w in self.entries if w in text]  # a substring test is far cheaper than a regex
        if not present:
            return []
        tokens = self.tokenizer().lcut(text, HMM=False)
        starts, ends, pos = {}, set(), 0
        for k, t in enumerate(tokens):
            starts[pos] = k
            pos += len(t)
            ends.add(pos)
        found = []
        for w in present:
            e = self.entries[w]
            for m in self.word_re[w].finditer(text):
                i, j = m.start(), m.end()
                if i not in starts:
                    continue  # inside another word
                shown = w
                if e.prefix:
                    tok = tokens[starts[i]]
                    if tok == w and starts[i] + 1 < len(tokens):  # 最 + 舒服
                        tok = tok + tokens[starts[i] + 1]
                    shown = tok[:8]
                elif len(w) <= 2 and j not in ends:
                    continue  # 万能胶 is not 万能
                if w in self.exempt and self.exempt[w].search(text[j:]):
                    continue  # 第一时间, 最近, 100%纯棉 ...
                if w in self.exempt_before and self.exempt_before[w].search(text[max(0, i - 6):i]):
                    continue  # 尽最大努力, 音量调到最大 ...
                if _NEGATION.search(text[max(0, i - 4):i]):
                    continue  # 不能保证100%, 不是最低价
                if e.category == "absolute" and _SERVICE.search(text[max(0, i - 4):j + 4]):
                    continue  # 我绝对帮您处理好
                found.append((i, j, shown, e))
        # leftmost-longest: a hit inside an earlier, longer hit is the same claim
        found.sort(key=lambda h: (h[0], -(h[1] - h[0])))
        kept, end = [], -1
        for i, j, shown, e in found:
            if i >= end:
                kept.append((shown, e))
                end = j
        return kept


_MATCHERS: dict[tuple, _ClaimMatcher] = {}


def _fold(text: str) -> str:
    return _normalise_text(pd.Series([text])).iloc[0]


def claim_entries(rubric: "Rubric") -> list[ClaimWord]:
    """The lexicon the rubric uses: the shipped one (unless ``[forbidden].lexicon = false``) plus
    the shop's ``[forbidden].words``."""
    entries = list(load_claim_lexicon()) if rubric.use_claim_lexicon else []
    cat, label, article = SHOP_CATEGORY
    entries += [ClaimWord(w, cat, label, article) for w in rubric.forbidden_words]
    return entries


def _matcher(rubric: "Rubric") -> _ClaimMatcher | None:
    key = (rubric.use_claim_lexicon, tuple(rubric.forbidden_words))
    if key not in _MATCHERS:
        entries = claim_entries(rubric)
        _MATCHERS[key] = _ClaimMatcher(entries) if entries else None
    return _MATCHERS[key]


def flag_forbidden(replies: pd.DataFrame, rubric: Rubric) -> pd.DataFrame:
    """Add ``forbidden_words`` ("|"-joined hits, "" if none), ``forbidden_categories`` (the
    category of each hit, same order) and ``forbidden`` (0/1) to the replies.

    Words are the Advertising-Law lexicon (``ad_law_lexicon.toml``) plus the rubric's
    ``[forbidden].words``, matched as *claims*: after NFKC + lower-case folding, at jieba word
    boundaries, skipping negations (不是最低价), service promises (我绝对帮您处理好), ordinals and
    time words (第一时间, 最近, 最快明天发货) and composition labels (100%纯棉); ``allow_phrases``
    are blanked out first.  One regex pass over the distinct texts finds the candidates; only
    those are segmented (per distinct text, not per reply).
    """
    if "text" not in replies.columns:
        raise ValueError("replies table has no 'text' column; flag_forbidden needs the reply texts")
    out = replies.copy()
    norm = _normalise_text(out["text"])
    for phrase in rubric.allow_phrases:
        norm = norm.str.replace(_fold(phrase), "\x00", regex=False)
    words = np.full(len(out), "", dtype=object)  # positional: the replies index may repeat labels
    cats = np.full(len(out), "", dtype=object)
    matcher = _matcher(rubric)
    if matcher is not None and len(out):
        codes, uniq = pd.factorize(norm)
        uniq = pd.Series(np.asarray(uniq, dtype=object), dtype=object)
        cand = np.flatnonzero(uniq.str.contains(matcher.any_word, regex=True).to_numpy(dtype=bool))
        u_words = np.full(len(uniq), "", dtype=object)
        u_cats = np.full(len(uniq), "", dtype=object)
        for k in cand:
            hits = matcher.hits(uniq.iloc[k])
            u_words[k] = "|".join(h[0].replace("|", "") for h in hits)
            u_cats[k] = "|".join(h[1].category for h in hits)
        words, cats = u_words[codes], u_cats[codes]
    words = pd.Series(words, index=out.index, dtype=object)
    cats = pd.Series(cats, index=out.index, dtype=object)
    if not rubric.forbidden_include_auto and "is_auto" in out.columns:
        auto = _as_bool(out["is_auto"]).to_numpy()
        words, cats = words.where(~auto, ""), cats.where(~auto, "")
    out["forbidden_words"] = words.astype(str)
    out["forbidden_categories"] = cats.astype(str)
    out["forbidden"] = (words != "").astype("int64")
    return out


# ---------------------------------------------------------------------------------------------
# Conversation scores
# ---------------------------------------------------------------------------------------------

def _as_bool(s: pd.Series) -> pd.Series:
    """Booleans from bool/0-1/"True"/"False" columns (CSV round trips), NaN -> False."""
    from qa_scorer.booleans import bool_series  # the one yes/no parser

    return bool_series(s)


def _as_count(s: pd.Series) -> pd.Series:
    """Counts from numeric, bool or text ("3", "True") columns; missing -> 0."""
    if pd.api.types.is_bool_dtype(s):
        return s.fillna(False).astype(float)
    if pd.api.types.is_numeric_dtype(s):
        return pd.to_numeric(s, errors="coerce").fillna(0).astype(float)
    text = s.astype("string").str.strip().str.lower().replace({"true": "1", "false": "0"})
    return pd.to_numeric(text, errors="coerce").fillna(0).astype(float)


def _tenths(values) -> np.ndarray:
    """Round points half up to 0.1 and return integer tenths (rounding first to 6 places drops
    float noise such as 2.5 * 0.1 * 10 = 2.4999999)."""
    arr = np.asarray(values, dtype=float)
    return np.floor(np.round(arr * 10, 6) + 0.5).astype("int64")


def _cap_tenths(value: float | None) -> int | None:
    return None if value is None else int(_tenths([value])[0])


class _ItemsJson:
    """Builds the per-row ``score_items`` JSON lists.  Work is proportional to the non-zero items
    (most rows have a few), not rows x items; the final join is one pass over the rows."""

    def __init__(self, n: int):
        self.parts: list[list[str]] = [[] for _ in range(n)]

    def add(self, show, item: str, kind: str, *, tenths=None, count=None, value=None, extra=None) -> None:
        rows = np.flatnonzero(np.asarray(show, dtype=bool)).tolist()
        if not rows:
            return
        t = None if tenths is None else np.broadcast_to(np.asarray(tenths), (len(self.parts),)).tolist()
        c = None if count is None else np.broadcast_to(np.asarray(count, dtype=float), (len(self.parts),)).tolist()
        v = None if value is None else np.round(np.asarray(value, dtype=float), 4).tolist()
        head = f'{{"item":"{item}","kind":"{kind}"'
        for i in rows:
            text = head
            if c is not None:
                text += f',"count":{_num(c[i])}'
            if v is not None:
                text += f',"value":{_num(v[i])}'
            if extra is not None:
                text += "," + extra[i]
            text += f',"points":{t[i] / 10:.1f}}}'
            self.parts[i].append(text)

    def result(self, index) -> pd.Series:
        return pd.Series(["[" + ",".join(p) + "]" for p in self.parts], index=index, dtype="str")


def _require(df: pd.DataFrame, column: str, table: str, why: str) -> pd.Series:
    if column not in df.columns:
        raise ValueError(f"{table} table has no {column!r} column, needed by {why}; "
                         f"either supply it or set that item's points to 0 in the rubric")
    return df[column]


def _reply_facts(conv_ids: pd.Series, replies: pd.DataFrame, rubric: Rubric) -> pd.DataFrame:
    """Per-conversation sums from the replies of these conversations only (chunk-safe)."""
    cols = ["forbidden", "closing_sent", *TAGS]
    if replies is None or len(replies) == 0 or "conversation_id" not in replies.columns:
        return pd.DataFrame(0, index=pd.Index(conv_ids.unique()), columns=cols).astype("int64")
    rep = replies
    if "forbidden" not in rep.columns:
        # flag only this chunk's replies (the caller may pass a bigger replies table)
        rep = flag_forbidden(rep[rep["conversation_id"].isin(conv_ids)], rubric)
    is_auto = _as_bool(rep["is_auto"]) if "is_auto" in rep.columns else pd.Series(False, index=rep.index)
    facts = pd.DataFrame({"conversation_id": rep["conversation_id"],
                          "forbidden": _as_count(rep["forbidden"]).gt(0).astype("int64")})
    closing = _as_bool(rep["is_closing"]) if "is_closing" in rep.columns else pd.Series(False, index=rep.index)
    facts["closing_sent"] = (closing & ~is_auto).astype("int64")
    for tag in TAGS:
        facts[tag] = _as_count(rep[tag]).gt(0).astype("int64") if tag in rep.columns else 0
    return facts.groupby("conversation_id", sort=False)[cols].sum()


def _confirmed_sets(conv: pd.DataFrame, confirmed_items) -> list[set[str]]:
    """Per conversation row: the items a person confirmed, from the ``confirmed_items`` column
    ("rude|forbidden") and/or the ``confirmed_items`` argument ({conversation_id: ["rude"]})."""
    n = len(conv)
    sets: list[set[str]] = [set() for _ in range(n)]
    if "confirmed_items" in conv.columns:
        col = conv["confirmed_items"].fillna("").astype(str).to_numpy()
        for i in np.flatnonzero(col != ""):
            sets[i] |= {x.strip() for x in re.split(r"[|,，、\s]+", col[i]) if x.strip()}
    if confirmed_items:
        ids = conv["conversation_id"].astype(str).to_numpy()
        wanted = {str(k): v for k, v in dict(confirmed_items).items()}
        for i in np.flatnonzero(pd.Series(ids).isin(list(wanted)).to_numpy()):
            v = wanted[ids[i]]
            sets[i] |= {v} if isinstance(v, str) else set(v)
    return sets


def _review_words(conv_ids: pd.Series, replies: pd.DataFrame) -> dict[str, str]:
    """conversation_id -> the forbidden words hit in it ("全网最低、根治"), for review_reasons."""
    if replies is None or "forbidden_words" not in replies.columns or len(replies) == 0:
        return {}
    rep = replies.loc[replies["conversation_id"].isin(conv_ids), ["conversation_id", "forbidden_words"]]
    rep = rep[rep["forbidden_words"].fillna("").astype(str) != ""]
    if rep.empty:
        return {}
    words = rep.assign(w=rep["forbidden_words"].astype(str).str.split("|")).explode("w")
    return words.groupby("conversation_id", sort=False)["w"].agg(lambda w: "、".join(dict.fromkeys(w))).to_dict()


def score_conversations(conversations: pd.DataFrame, replies: pd.DataFrame, rubric: Rubric, *,
                        confirmed_items=None) -> pd.DataFrame:
    """Score each conversation 0-100.

    Auto-fail items backed only by machine evidence (classifier tags, forbidden-word hits;
    ``MACHINE_EVIDENCE_ITEMS``) do not zero a conversation unless a person confirmed them (the
    ``confirmed_items`` column, "rude|forbidden", or the ``confirmed_items`` argument,
    ``{conversation_id: ["rude"]}``) or the rubric sets ``score.auto_fail_on_machine_evidence``.
    Unconfirmed, they set ``needs_review`` (bool) and ``review_reasons`` (e.g.
    "机器标记：态度差(rude)，需人工确认") and the score keeps its ordinary deductions.

    Adds ``ded_<item>`` (points deducted per rubric item, plus ``ded_cap_adjustment``,
    ``ded_bonus_ceiling`` and ``ded_auto_fail``), ``bonus_<item>``, ``service_score``,
    ``auto_failed``, ``auto_fail_reason`` and ``score_items`` (JSON list of the non-zero items,
    each ``{"item", "kind", "count"|"value", "points"}`` where ``points`` > 0 is taken off and
    < 0 is given back; the points sum to exactly 100 - service_score).

    Tag counts come from the conversations table when it has them, else from the replies,
    else 0 (classifier off).  ``forbidden`` comes from the replies (flagged here if needed).
    """
    if "conversation_id" not in conversations.columns:
        raise ValueError("conversations table has no 'conversation_id' column")
    conv = conversations.copy()
    n = len(conv)
    if (replies is not None and len(replies) and "forbidden" not in replies.columns
            and {"conversation_id", "text"} <= set(replies.columns)):
        # flag only this chunk's replies (the caller may pass a bigger replies table)
        replies = flag_forbidden(replies[replies["conversation_id"].isin(conv["conversation_id"])], rubric)
    facts = _reply_facts(conv["conversation_id"], replies, rubric)
    facts = facts.reindex(conv["conversation_id"].to_numpy()).fillna(0)

    def from_facts(col: str) -> np.ndarray:
        return facts[col].to_numpy(dtype=float)

    counts: dict[str, np.ndarray] = {}
    for name, item in rubric.items.items():
        if not isinstance(item, CountItem):
            continue
        active = item.points > 0 or item.auto_fail
        if name in _COUNT_COLUMNS:
            col = _COUNT_COLUMNS[name]
            if active:
                _require(conv, col, "conversations", f"items.{name}")
            counts[name] = _as_count(conv[col]).to_numpy() if col in conv.columns else np.zeros(n)
        elif name in TAGS:
            counts[name] = _as_count(conv[name]).to_numpy() if name in conv.columns else from_facts(name)
        else:  # forbidden
            counts[name] = from_facts("forbidden")

    ded: dict[str, np.ndarray] = {}
    coached: dict[str, np.ndarray] = {}
    values: dict[str, np.ndarray] = {}
    for name, item in rubric.items.items():
        if isinstance(item, CountItem):
            t = _tenths(counts[name] * item.points)
            cap = _cap_tenths(item.cap)
            if cap is not None:
                t = np.minimum(t, cap)
            if not item.deduct:
                coached[name] = counts[name]
                t = np.zeros(n, dtype="int64")
            ded[name] = t
        else:
            active = item.deduct and (item.points > 0 or item.points_per_pct > 0)
            rate_col = _require(conv, name, "conversations", f"items.{name}") if active else conv.get(name)
            rate = (pd.to_numeric(rate_col, errors="coerce").to_numpy(dtype=float)
                    if rate_col is not None else np.full(n, np.nan))
            values[name] = rate
            ded[name] = _rate_deduction(rate, item) if active else np.zeros(n, dtype="int64")

    bonus: dict[str, np.ndarray] = {}
    for name, b in rubric.bonuses.items():
        pts = int(_tenths([b.points])[0])
        if pts == 0:
            bonus[name] = np.zeros(n, dtype="int64")
            continue
        if name == "closing":
            earned = from_facts("closing_sent") > 0
        elif name == "greeting":
            earned = _as_bool(_require(conv, "greeted", "conversations", "bonus.greeting")).to_numpy()
        else:  # fast_first_response
            first = pd.to_numeric(_require(conv, "first_response_s", "conversations", "bonus.fast_first_response"),
                                  errors="coerce").to_numpy(dtype=float)
            earned = np.nan_to_num(first, nan=np.inf) <= b.within_s
        bonus[name] = np.where(earned, pts, 0).astype("int64")

    total = np.sum(list(ded.values()), axis=0) if ded else np.zeros(n, dtype="int64")
    max_ded = int(_tenths([rubric.max_deduction])[0])
    cap_adjustment = -np.maximum(total - max_ded, 0)  # points given back above the per-conversation cap
    bonus_total = np.sum(list(bonus.values()), axis=0) if bonus else np.zeros(n, dtype="int64")
    running = 1000 - total - cap_adjustment + bonus_total
    bonus_ceiling = np.maximum(running - 1000, 0)     # bonuses never lift a score above 100
    running = running - bonus_ceiling

    fail_reason = pd.Series("", index=range(n), dtype=object)
    review = pd.Series("", index=range(n), dtype=object)
    failed = np.zeros(n, dtype=bool)
    confirmed = _confirmed_sets(conv, confirmed_items) if rubric.auto_fail_items else [set()] * n
    any_confirmed = any(confirmed)
    words = None
    for name in rubric.auto_fail_items:
        is_confirmed = (np.array([name in c for c in confirmed], dtype=bool) if any_confirmed
                        else np.zeros(n, dtype=bool))
        hit = counts[name] > 0
        if name in MACHINE_EVIDENCE_ITEMS and not rubric.auto_fail_on_machine_evidence:
            pending = hit & ~is_confirmed
            if pending.any():
                label = ITEM_LABELS.get(name, name)
                if name == "forbidden":
                    if words is None:
                        words = _review_words(conv["conversation_id"], replies)
                    found = conv["conversation_id"].map(words).astype(object).fillna("").to_numpy(dtype=object)
                    text = np.where(found != "", label + "：" + found.astype(str), label)
                else:
                    text = np.full(n, label, dtype=object)
                review = review.where(~pending, review + "、" + pd.Series(text, index=review.index))
            hit = is_confirmed  # only a person's confirmation fails the conversation
        else:
            hit = hit | is_confirmed
        failed |= hit
        fail_reason = fail_reason.where(~hit, fail_reason + "|" + name)
    fail_reason = fail_reason.str.lstrip("|")
    needs_review = (review != "").to_numpy(dtype=bool) & ~failed
    review_reasons = np.where(needs_review, "机器标记：" + review.str.lstrip("、").astype(str) + "，需人工确认", "")
    auto_fail = np.where(failed, running, 0).astype("int64")
    score = running - auto_fail

    # --- columns -----------------------------------------------------------------------------
    for name, t in ded.items():
        conv[f"ded_{name}"] = t / 10
    conv["ded_cap_adjustment"] = cap_adjustment / 10
    for name, t in bonus.items():
        conv[f"bonus_{name}"] = t / 10
    conv["ded_bonus_ceiling"] = bonus_ceiling / 10
    conv["ded_auto_fail"] = auto_fail / 10
    conv["auto_failed"] = failed
    conv["auto_fail_reason"] = pd.Series(fail_reason.to_numpy(), index=conv.index, dtype="str")
    conv["needs_review"] = needs_review
    conv["review_reasons"] = pd.Series(review_reasons, index=conv.index, dtype="str")
    conv["service_score"] = score / 10

    # --- score_items JSON (points > 0 taken off, < 0 given back) ----------------------------
    js = _ItemsJson(n)
    for name, item in rubric.items.items():
        if isinstance(item, CountItem):
            js.add(ded[name] != 0, name, "deduction", tenths=ded[name], count=counts[name])
            if name in coached:
                js.add(coached[name] > 0, name, "coached", tenths=0, count=counts[name])
        else:
            js.add(ded[name] != 0, name, "deduction", tenths=ded[name], value=values[name])
    js.add(cap_adjustment != 0, "cap_adjustment", "adjustment", tenths=cap_adjustment)
    for name, t in bonus.items():
        js.add(t != 0, name, "bonus", tenths=-t, count=1)
    js.add(bonus_ceiling != 0, "bonus_ceiling", "adjustment", tenths=bonus_ceiling)
    reasons = [f'"reason":{json.dumps(r, ensure_ascii=False)}' if r else "" for r in fail_reason.tolist()]
    js.add(failed, "auto_fail", "adjustment", tenths=auto_fail, extra=reasons)
    conv["score_items"] = js.result(conv.index)
    return conv


def _num(x) -> str:
    """JSON number text for a count/rate (NaN -> null; whole floats without '.0')."""
    if x is None or x != x:
        return "null"
    f = float(x)
    return str(int(f)) if f.is_integer() else repr(f)


def _rate_deduction(rate: np.ndarray, item: RateItem) -> np.ndarray:
    """``points`` + ``points_per_pct`` x percentage points below target, capped; NaN rate -> 0."""
    below = np.nan_to_num(rate, nan=np.inf) < item.target
    shortfall_pct = np.round((item.target - np.nan_to_num(rate, nan=item.target)) * 100, 6)
    raw = np.where(below, item.points + item.points_per_pct * shortfall_pct, 0.0)
    t = _tenths(raw)
    cap = _cap_tenths(item.cap)
    return np.minimum(t, cap) if cap is not None else t


# ---------------------------------------------------------------------------------------------
# Agent scores
# ---------------------------------------------------------------------------------------------

def score_agents(agents: pd.DataFrame, conversations: pd.DataFrame, rubric: Rubric) -> pd.DataFrame:
    """The agent's period score = aggregate of its conversation scores - agent-level items, floor 0.

    A conversation belongs to ``conversations.agent`` (the serving agent).  ``agent.weight =
    "conversations"`` takes the plain mean; ``"rounds"`` weights each conversation by its rounds
    (an agent whose conversations have no rounds at all falls back to the plain mean).  The mean
    is rounded half up to 0.1 before agent items are deducted.

    Adds ``conversations_scored``, ``auto_failed_conversations``, ``conversation_score_mean``,
    ``agent_ded_<item>``, ``agent_ded_floor_adjustment``, ``service_score`` (NaN when the agent
    has no scored conversation) and ``score_items`` (JSON; points sum to 100 - service_score).
    """
    if "service_score" not in conversations.columns:
        raise ValueError("conversations have no 'service_score'; run score_conversations first")
    out = agents.copy()
    n = len(out)
    conv_t = pd.Series(_tenths(pd.to_numeric(conversations["service_score"], errors="coerce").fillna(0)),
                       index=conversations.index)
    valid = pd.to_numeric(conversations["service_score"], errors="coerce").notna()
    if rubric.agent_weight == "rounds":
        weight = pd.to_numeric(_require(conversations, "rounds", "conversations", "agent.weight = \"rounds\""),
                               errors="coerce").fillna(0).clip(lower=0)
    else:
        weight = pd.Series(1.0, index=conversations.index)
    frame = pd.DataFrame({
        "agent": conversations["agent"].astype(str),
        "t": conv_t.astype(float),
        "w": weight.astype(float),
        "one": 1.0,
        "failed": _as_bool(conversations["auto_failed"]).astype(int) if "auto_failed" in conversations.columns else 0,
        "review": _as_bool(conversations["needs_review"]).astype(int) if "needs_review" in conversations.columns else 0,
    })[valid.to_numpy()]
    frame["wt"] = frame["t"] * frame["w"]
    frame["one_t"] = frame["t"]
    g = frame.groupby("agent", sort=False)[["wt", "w", "one_t", "one", "failed", "review"]].sum()
    weighted = (g["wt"] / g["w"]).where(g["w"] > 0, g["one_t"] / g["one"])
    keys = out["agent"].astype(str)
    n_conv = keys.map(g["one"]).fillna(0).astype("int64").to_numpy()
    has = n_conv > 0
    mean_t = np.where(has, _tenths(np.nan_to_num(keys.map(weighted).to_numpy(dtype=float) / 10)), 0)

    ded: dict[str, np.ndarray] = {}
    values: dict[str, np.ndarray] = {}
    for name, item in rubric.agent_items.items():
        if isinstance(item, RateItem):
            active = item.deduct and (item.points > 0 or item.points_per_pct > 0)
            col = _require(out, name, "agents", f"agent.items.{name}") if active else out.get(name)
            rate = pd.to_numeric(col, errors="coerce").to_numpy(dtype=float) if col is not None else np.full(n, np.nan)
            values[name] = rate
            ded[name] = _rate_deduction(rate, item) if active else np.zeros(n, dtype="int64")
        else:
            active = item.deduct and item.points > 0
            col = _require(out, name, "agents", f"agent.items.{name}") if active else out.get(name)
            cnt = _as_count(col).to_numpy() if col is not None else np.zeros(n)
            values[name] = cnt
            t = _tenths(cnt * item.points) if active else np.zeros(n, dtype="int64")
            cap = _cap_tenths(item.cap)
            ded[name] = np.minimum(t, cap) if cap is not None else t
    total = np.sum(list(ded.values()), axis=0) if ded else np.zeros(n, dtype="int64")
    floor_adjustment = -np.maximum(total - mean_t, 0)  # the score stops at 0
    score_t = mean_t - total - floor_adjustment

    out["conversations_scored"] = n_conv
    out["auto_failed_conversations"] = keys.map(g["failed"]).fillna(0).astype("int64").to_numpy()
    # conversations whose machine-only auto-fail evidence waits for a person (see score_conversations)
    out["needs_review"] = keys.map(g["review"]).fillna(0).astype("int64").to_numpy()
    out["conversation_score_mean"] = np.where(has, mean_t / 10, np.nan)
    for name, t in ded.items():
        out[f"agent_ded_{name}"] = t / 10
    out["agent_ded_floor_adjustment"] = floor_adjustment / 10
    out["service_score"] = np.where(has, score_t / 10, np.nan)

    js = _ItemsJson(n)
    js.add(has, "conversation_scores", "conversations", tenths=1000 - mean_t, count=n_conv,
           extra=[f'"value":{t / 10:.1f}' for t in mean_t.tolist()])
    for name, item in rubric.agent_items.items():
        kwargs = {"value": values[name]} if isinstance(item, RateItem) else {"count": values[name]}
        js.add(ded[name] != 0, name, "agent_deduction", tenths=ded[name], **kwargs)
    js.add(floor_adjustment != 0, "floor_adjustment", "adjustment", tenths=floor_adjustment)
    items_json = js.result(out.index)
    out["score_items"] = items_json.where(has, "[]")
    return out


def summarize(rubric: Rubric) -> list[str]:
    """Human-readable lines describing a rubric (``qa-scorer rubric check``)."""
    lines = [f"rubric {rubric.name!r} ({rubric.source})"]
    if rubric.description:
        lines.append(f"  {rubric.description}")
    m = rubric.metrics
    lines.append(f"metrics: service hours {m.service_start}-{m.service_end}, within {m.within_seconds}s, "
                 f"slow > {m.slow_seconds}s, short < {m.min_reply_chars} chars, product answers < "
                 f"{m.product_answer_min_chars} chars, closing due after {m.closing_silence_s}s"
                 + (f", platform {m.platform}" if m.platform else ""))
    lines.append(f"per-conversation deduction cap: {rubric.max_deduction:g} points")
    lines.append("conversation items:")
    not_scored = []
    for name, item in rubric.items.items():
        if isinstance(item, CountItem):
            if item.points == 0 and not item.auto_fail:
                not_scored.append(name)
                continue
            cap = f", cap {item.cap:g}" if item.cap is not None else ""
            flags = (" [coached only]" if not item.deduct else "") + (" [AUTO-FAIL]" if item.auto_fail else "")
            lines.append(f"  {name}: {item.points:g} per occurrence{cap}{flags}")
        else:
            if item.points == 0 and item.points_per_pct == 0:
                not_scored.append(name)
                continue
            cap = f", cap {item.cap:g}" if item.cap is not None else ""
            flags = " [coached only]" if not item.deduct else ""
            lines.append(f"  {name}: below {item.target:g} -> {item.points:g} + {item.points_per_pct:g} "
                         f"per percentage point{cap}{flags}")
    if not_scored:
        lines.append(f"  not scored: {', '.join(not_scored)}")
    bonuses = [f"{k} +{b.points:g}" + (f" (within {b.within_s}s)" if b.within_s is not None else "")
               for k, b in rubric.bonuses.items() if b.points > 0]
    lines.append(f"bonuses (score never above 100): {', '.join(bonuses) or 'none'}")
    lines.append(f"auto-fail: {', '.join(rubric.auto_fail_items) or 'none'}"
                 + ("" if not set(rubric.auto_fail_items) & set(MACHINE_EVIDENCE_ITEMS) else
                    " (machine evidence fails at once: auto_fail_on_machine_evidence = true)"
                    if rubric.auto_fail_on_machine_evidence else
                    " (tags / word hits only mark needs_review until a person confirms them)"))
    lines.append(f"coached only: {', '.join(rubric.coached_only) or 'none'}")
    n_lex = len(load_claim_lexicon()) if rubric.use_claim_lexicon else 0
    lines.append(f"forbidden claims: {'Advertising-Law lexicon (' + str(n_lex) + ' words) + ' if n_lex else ''}"
                 f"{len(rubric.forbidden_words)} shop words"
                 + (f": {', '.join(rubric.forbidden_words[:12])}" if rubric.forbidden_words else "")
                 + (" ..." if len(rubric.forbidden_words) > 12 else ""))
    lines.append(f"agent score: mean of conversation scores (weight: {rubric.agent_weight}), minus:")
    agent_lines = []
    for name, item in rubric.agent_items.items():
        if isinstance(item, RateItem) and item.deduct and (item.points or item.points_per_pct):
            agent_lines.append(f"  {name}: below {item.target:g} -> {item.points:g} + {item.points_per_pct:g} "
                               f"per percentage point" + (f", cap {item.cap:g}" if item.cap is not None else ""))
        elif isinstance(item, CountItem) and item.deduct and item.points:
            agent_lines.append(f"  {name}: {item.points:g} each" + (f", cap {item.cap:g}" if item.cap is not None else ""))
    lines.extend(agent_lines or ["  nothing"])
    return lines
