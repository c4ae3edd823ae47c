"""Metric thresholds and platform presets.

One ``MetricSettings`` object carries every threshold the metrics stage uses.  It can be
loaded from the ``[metrics]`` table of a TOML settings/rubric file, overridden from CLI
options, and is written verbatim into ``run.json`` so every figure can be traced back to
the rule that produced it.
"""

from __future__ import annotations

import dataclasses
import datetime
import re
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

DEFAULT_PRODUCT_KEYWORDS = [
    # size / fit
    "尺码", "码数", "尺寸", "多大", "大小", "偏大", "偏小", "身高", "体重", "斤", "腰围", "胸围", "穿多大", "合身",
    "长度", "宽度", "高度", "多高", "多长", "多宽", "厚", "薄",
    # material / quality
    "材质", "面料", "成分", "质量", "质地", "纯棉", "真皮", "起球", "掉色", "褪色", "缩水", "透气",
    # colour / look ("图片" alone is not here: 我发的图片你看到了吗 asks nothing about the product)
    "颜色", "色差", "什么色", "款式", "实物", "和图片",
    # usage / function / specs ("使用" alone is not here: 可以使用优惠券吗 is a price question)
    "怎么用", "用法", "怎么使用", "使用方法", "能用", "可以用", "好用", "功能", "区别", "不同", "机洗", "水洗",
    "手洗", "防水", "保暖", "暖和", "甲醛", "安全", "味道", "怎么样", "岁", "宝宝", "孕妇", "效果", "适合", "适用", "规格", "参数", "型号", "容量", "功率", "续航",
    "保质期", "成分表", "配料", "过敏", "敏感肌", "肤质", "年龄", "几岁", "兼容", "重量", "多重",
    # stock
    "有货", "有没有货", "现货", "库存", "还有吗", "有吗", "断码",
]

DEFAULT_CLOSING_PHRASES = [
    "有问题随时联系", "有什么问题随时", "有问题随时", "随时联系", "随时咨询", "祝您生活愉快", "祝您购物愉快",
    "生活愉快", "购物愉快", "感谢您的支持", "感谢支持", "谢谢支持", "感谢您的光临", "欢迎再次光临", "欢迎下次光临",
    "欢迎再来", "期待您的再次光临", "记得联系我", "有需要时候记得联系", "再见", "拜拜", "祝您愉快", "祝您开心",
    "感谢惠顾", "期待再次为您服务",
]

#: Regexes (matched on the normalised text: NFKC, lower case, emoticons, punctuation and spaces
#: removed) that recognise a closing message (结束语) however it is worded.  They include the
#: source's own example "亲爱的您可以看下我们店铺内有没有您喜欢的商品，如果有什么问题请随时咨询我们…
#: 有需要时候记得联系我哦".  ``closing_phrases`` (plain phrases, e.g. the shop's quick phrases)
#: are matched as well.
DEFAULT_CLOSING_PATTERNS = [
    r"祝您?.{0,8}(愉快|开心|顺利|快乐|幸福|平安|好运)",
    r"(随时|欢迎).{0,4}(联系|咨询|找我|找我们|留言|来问|骚扰)",
    r"(如有|若有|有|还有|如果有|如果还有).{0,8}(问题|需要|疑问|需求).{0,12}(联系|咨询|找|留言|问我)",
    r"有需要.{0,4}(时候|的话|随时)?.{0,4}记得.{0,2}(联系|找)",
    r"记得.{0,4}(联系|找)(我|我们|客服)",
    r"(欢迎|期待).{0,4}(再次|下次|再来|光临|惠顾|您的到来)",
    r"(看下|看看|逛逛|看一下|逛一逛).{0,8}(店铺|本店|我们店|我家|小店).{0,12}(喜欢|需要|心仪)",
    r"(感谢|谢谢).{0,6}(支持|光临|惠顾|信任|耐心|理解|配合|咨询|关注|等待)",
    r"(再见|拜拜|晚安|回见)",
    r"(不打扰|不打搅)(您|你)?了",
]

#: Regexes (normalised text, as above) that recognise a greeting in the agent's first reply.
DEFAULT_GREETING_PATTERNS = [
    r"^(亲|您好|你好|哈喽|嗨|hi|hello|亲爱的|宝子|小主|亲亲)",
    r"欢迎(光临|来到|进店|咨询)",
    r"很高兴(为您|为你|给您)?服务",
    r"(有什么|有啥|什么)(可以|能|需要)?(帮|为|给)(您|你)",
    r"(请问|您好).{0,4}(有什么|需要)",
    r"(早上|上午|中午|下午|晚上)好",
    r"我是.{0,10}(客服|小二|顾问)",
    r"^在(的|呢|哦|哈|呀|滴)",
]

#: Buyer question types (qa_scorer.question_types categories).
QUESTION_TYPES = ("product", "size", "stock", "price", "logistics", "aftersales", "chitchat", "other")

DEFAULT_GREETING_PHRASES = [
    "您好", "你好", "亲", "在的", "欢迎光临", "欢迎来到", "很高兴为您服务", "有什么可以帮您", "有什么可以帮到您",
    "hi", "hello", "早上好", "下午好", "晚上好",
]


def _hms_to_seconds(value: str | int | datetime.time) -> int:
    """'08:00', '23:59:59' or '24:00' (or a TOML time such as 08:00:00) -> seconds since midnight."""
    if isinstance(value, datetime.time):
        return value.hour * 3600 + value.minute * 60 + value.second
    if isinstance(value, int) and not isinstance(value, bool):
        if not 0 <= value <= 86400:
            raise ValueError(f"time of day in seconds must be between 0 and 86400, got {value!r}")
        return value
    parts = str(value).strip().split(":")
    if not 2 <= len(parts) <= 3 or not all(p.isdigit() for p in parts):
        raise ValueError(f"time of day must look like HH:MM or HH:MM:SS, got {value!r}")
    h, m = int(parts[0]), int(parts[1])
    s = int(parts[2]) if len(parts) == 3 else 0
    total = h * 3600 + m * 60 + s
    if not (0 <= total <= 86400 and m < 60 and s < 60):
        raise ValueError(f"time of day out of range: {value!r}")
    return total


@dataclass
class MetricSettings:
    """Every threshold of the metrics stage (defaults: docs/metrics.md)."""

    platform: str | None = None
    service_start: str = "08:00"       # rounds starting before this are outside service hours
    service_end: str = "24:00"         # exclusive end; "24:00" = midnight
    within_seconds: int = 180          # within_3min_rate threshold
    slow_seconds: int = 120            # 2-minute rule: slower answers are slow_rounds
    min_reply_chars: int = 4           # short_reply: fewer counted characters than this
    product_answer_min_chars: int = 15 # product_answer_short: fewer than this
    closing_silence_s: int = 300       # buyer silence before a closing message is due
    slow_reception_count: int = 3      # slow_receptions: this many slow replies in a buyer-day
    latency_cap_s: int | None = None   # cap each round's latency (Taobao: 600) for averages
    unanswered_latency_s: int | None = None  # count unanswered rounds as this latency in averages (Taobao: 600)
    session_gap_s: int = 1800          # ingest: new conversation after this much silence
    product_keywords: list[str] = field(default_factory=lambda: list(DEFAULT_PRODUCT_KEYWORDS))
    closing_phrases: list[str] = field(default_factory=lambda: list(DEFAULT_CLOSING_PHRASES))
    greeting_phrases: list[str] = field(default_factory=lambda: list(DEFAULT_GREETING_PHRASES))
    closing_patterns: list[str] = field(default_factory=lambda: list(DEFAULT_CLOSING_PATTERNS))
    greeting_patterns: list[str] = field(default_factory=lambda: list(DEFAULT_GREETING_PATTERNS))
    # A buyer's last round that is only an acknowledgement (好的谢谢, 嗯嗯, [微笑]) and gets no
    # reply: false = not an unanswered round, left out of counted rounds; true = counted as an
    # unanswered round (the taobao preset: its published rule counts every never-answered round).
    count_trailing_acks: bool = False
    # Consecutive messages of one agent at most this many seconds apart form one reply turn
    # for the 4-character rule ("亲" + the answer 5 s later is one reply).
    reply_turn_window_s: int = 10
    # The 15-character rule applies to rounds whose question type is one of these.
    product_question_types: list[str] = field(default_factory=lambda: ["product", "size"])
    # Buyer question types: "auto" = the learned detector (qa_scorer.question_types) when it is
    # installed, else the keyword rules; "keywords" = always the keyword rules (reproducible).
    question_types: str = "auto"
    # 在线时长 estimate (agents.online_hours_est, docs/metrics.md "Online hours"): the gaps between
    # an agent's consecutive human replies that are at most this many minutes are summed; longer
    # gaps count as offline.
    online_gap_minutes: int = 30

    @property
    def service_start_s(self) -> int:
        return _hms_to_seconds(self.service_start)

    @property
    def service_end_s(self) -> int:
        return _hms_to_seconds(self.service_end)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def validate(self, where: str = "metrics") -> "MetricSettings":
        """Check every value; raise SettingsError naming ``<where>.<key>`` and what is allowed."""
        for name in ("service_start", "service_end"):
            value = getattr(self, name)
            if isinstance(value, datetime.time):  # TOML local time (service_start = 08:00:00)
                value = value.strftime("%H:%M:%S")
                setattr(self, name, value)
            try:
                _hms_to_seconds(value)
            except (ValueError, TypeError) as exc:
                raise SettingsError(f"{where}.{name}: {exc}") from None
        if self.service_start_s >= self.service_end_s:
            raise SettingsError(
                f"{where}.service_start ({self.service_start}) must be earlier than "
                f"{where}.service_end ({self.service_end}); service hours cannot wrap past midnight"
            )
        for name in ("within_seconds", "slow_seconds", "min_reply_chars", "product_answer_min_chars",
                     "closing_silence_s", "slow_reception_count", "session_gap_s", "reply_turn_window_s",
                     "online_gap_minutes"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < 0:
                raise SettingsError(f"{where}.{name} must be a whole number >= 0, got {v!r}")
        for name in ("latency_cap_s", "unanswered_latency_s"):
            v = getattr(self, name)
            if v is not None and (not isinstance(v, int) or isinstance(v, bool) or v < 0):
                raise SettingsError(f"{where}.{name} must be a whole number >= 0 or absent, got {v!r}")
        if not isinstance(self.count_trailing_acks, bool):
            raise SettingsError(f"{where}.count_trailing_acks must be true or false, got {self.count_trailing_acks!r}")
        for name in ("closing_patterns", "greeting_patterns"):
            v = getattr(self, name)
            if not isinstance(v, (list, tuple)) or not all(isinstance(p, str) for p in v):
                raise SettingsError(f"{where}.{name} must be a list of regular expressions (strings), got {v!r}")
            for p in v:
                try:
                    re.compile(p)
                except re.error as exc:
                    raise SettingsError(f"{where}.{name}: {p!r} is not a valid regular expression ({exc})") from None
            setattr(self, name, list(v))
        v = self.product_question_types
        if not isinstance(v, (list, tuple)) or not all(t in QUESTION_TYPES for t in v):
            raise SettingsError(f"{where}.product_question_types must be a list drawn from "
                                f"{', '.join(QUESTION_TYPES)}; got {v!r}")
        self.product_question_types = list(v)
        if self.question_types not in ("auto", "keywords"):
            raise SettingsError(f"{where}.question_types must be \"auto\" or \"keywords\", got {self.question_types!r}")
        for name in ("product_keywords", "closing_phrases", "greeting_phrases"):
            v = getattr(self, name)
            if not isinstance(v, (list, tuple)) or not all(isinstance(p, str) and p.strip() for p in v):
                raise SettingsError(
                    f"{where}.{name} must be a list of non-empty strings, e.g. [\"尺码\", \"材质\"]; got {v!r}"
                )
            setattr(self, name, list(v))
        if self.platform is not None and self.platform not in PLATFORM_PRESETS:
            raise SettingsError(
                f"{where}.platform: unknown platform {self.platform!r}; allowed: {', '.join(PLATFORM_PRESETS)}"
            )
        return self


class SettingsError(ValueError):
    """A settings/rubric value is wrong; the message names the key and the allowed values."""


#: Published platform rules (see docs/metrics.md for sources and dates).
#: Every preset sets the same keys (_PRESET_KEYS), so applying one preset after another
#: never leaves a value of the first behind (e.g. Taobao's 600 s cap under Douyin).
PLATFORM_PRESETS: dict[str, dict[str, Any]] = {
    # Taobao/Aliwangwang 3-minute response rate, 08:00-24:00; average human response time caps a round
    # at 600 s and counts a round unanswered that day as 600 s.
    # Its published rule counts every never-answered round as not within 3 minutes and names no
    # exception, so a buyer's last unanswered 好的谢谢 counts too (count_trailing_acks).
    "taobao": {"service_start": "08:00", "service_end": "24:00", "latency_cap_s": 600, "unanswered_latency_s": 600,
               "count_trailing_acks": True},
    # Douyin Feige: 08:00:00-22:59:59 (end exclusive 23:00:00).
    "douyin": {"service_start": "08:00", "service_end": "23:00", "latency_cap_s": None, "unanswered_latency_s": None,
               "count_trailing_acks": False},
    # Kuaishou: 3-minute reply rate over 08:00-23:00, human service only.
    "kuaishou": {"service_start": "08:00", "service_end": "23:00", "latency_cap_s": None, "unanswered_latency_s": None,
               "count_trailing_acks": False},
    # Pinduoduo: 08:00-23:00.
    "pdd": {"service_start": "08:00", "service_end": "23:00", "latency_cap_s": None, "unanswered_latency_s": None,
               "count_trailing_acks": False},
}
_PRESET_KEYS = ("service_start", "service_end", "latency_cap_s", "unanswered_latency_s", "count_trailing_acks")

_FIELD_NAMES = {f.name for f in fields(MetricSettings)}


def settings_from_mapping(data: dict[str, Any], *, base: MetricSettings | None = None,
                          where: str = "metrics") -> MetricSettings:
    """Build settings from a ``[metrics]`` mapping; unknown keys are an error naming the key."""
    unknown = sorted(set(data) - _FIELD_NAMES)
    if unknown:
        raise SettingsError(
            f"{where}: unknown key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(_FIELD_NAMES))}"
        )
    settings = dataclasses.replace(base or MetricSettings())
    # The preset is applied only when this mapping names a platform: re-applying the base's
    # preset here would silently undo values an earlier layer (the TOML file) set on purpose.
    if "platform" in data and data["platform"] is not None:
        platform = data["platform"]
        if not isinstance(platform, str) or platform not in PLATFORM_PRESETS:
            raise SettingsError(
                f"{where}.platform: unknown platform {platform!r}; allowed: {', '.join(PLATFORM_PRESETS)}"
            )
        for k, v in PLATFORM_PRESETS[platform].items():
            setattr(settings, k, v)
        settings.platform = platform
    for k, v in data.items():
        if k != "platform":
            setattr(settings, k, v)
    return settings.validate(where)


def load_settings(path: str | Path | None = None, *, platform: str | None = None,
                  overrides: dict[str, Any] | None = None, base: MetricSettings | None = None) -> MetricSettings:
    """Layers, later wins: ``base`` (defaults, or the rubric's [metrics]) <- [metrics] table of ``path``
    <- ``platform`` preset named on the command line <- explicit overrides (CLI options)."""
    settings = dataclasses.replace(base) if base is not None else MetricSettings()
    if path is not None:
        p = Path(path)
        if not p.is_file():
            raise SettingsError(f"{p}: settings file not found (give the path of a TOML file with a [metrics] table)")
        try:
            data = tomllib.loads(p.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise SettingsError(f"{p}: not valid TOML: {exc}") from None
        table = data.get("metrics", {})
        if not isinstance(table, dict):
            raise SettingsError(f"{p}: 'metrics' must be a table ([metrics]), got {type(table).__name__}")
        settings = settings_from_mapping(table, base=settings, where=f"{p}: metrics")
    if platform:
        settings = settings_from_mapping({"platform": platform}, base=settings)
    if overrides:
        settings = settings_from_mapping({k: v for k, v in overrides.items() if v is not None}, base=settings)
    return settings.validate()
