"""Header aliases: map the many ways exports name a column to the canonical names."""

from __future__ import annotations

import re

#: canonical name -> accepted header spellings (compared after lower-casing and removing spaces/underscores)
COLUMN_ALIASES: dict[str, list[str]] = {
    "conversation_id": ["conversation_id", "conversation", "session_id", "session", "chat_id", "会话id", "会话编号",
                        "会话", "对话id", "对话编号", "会话号"],
    "sent_at": ["sent_at", "time", "timestamp", "datetime", "date_time", "created_at", "发送时间", "时间", "消息时间",
                "聊天时间"],
    "sender": ["sender", "from", "speaker", "nick", "nickname", "发送人", "发送方", "发送者", "昵称", "发言人", "发信人"],
    "role": ["role", "sender_role", "speaker_role", "角色", "身份", "发送人角色", "发送方角色"],
    "text": ["text", "content", "message", "msg", "body", "消息内容", "内容", "聊天内容", "消息", "文本"],
    # Who the message was sent to / which buyer the chat is with: used to segment exports without ids.
    "buyer": ["buyer", "customer", "receiver", "to", "买家", "顾客", "客户", "接收人", "接收方", "消息对象", "买家昵称"],
}

REQUIRED = ("sent_at", "sender", "text")


def _norm(name: object) -> str:
    return re.sub(r"[\s_\-]+", "", str(name).replace("\ufeff", "")).lower()


_LOOKUP = {_norm(alias): canon for canon, aliases in COLUMN_ALIASES.items() for alias in aliases}


def parse_column_mapping(spec: str | None) -> dict[str, str]:
    """``"聊天内容=text,发消息的人=sender"`` -> {"聊天内容": "text", ...}; canonical names are validated."""
    if not spec:
        return {}
    mapping: dict[str, str] = {}
    for part in spec.split(","):
        part = part.strip()
        if not part:
            continue
        if "=" not in part:
            raise ValueError(f"--columns: {part!r} should look like HEADER=canonical_name")
        src, dst = (x.strip() for x in part.split("=", 1))
        if dst not in COLUMN_ALIASES:
            raise ValueError(f"--columns: unknown target {dst!r}; allowed: {', '.join(COLUMN_ALIASES)}")
        mapping[src] = dst
    return mapping


def map_headers(headers: list[object], explicit: dict[str, str] | None = None) -> dict[object, str]:
    """Return {original header: canonical name} for the headers we recognise (first match wins)."""
    explicit = explicit or {}
    explicit_norm = {_norm(k): v for k, v in explicit.items()}
    result: dict[object, str] = {}
    taken: set[str] = set()
    # explicit mappings first, so they win over aliases
    for h in headers:
        canon = explicit_norm.get(_norm(h))
        if canon and canon not in taken:
            result[h] = canon
            taken.add(canon)
    for h in headers:
        if h in result:
            continue
        canon = _LOOKUP.get(_norm(h))
        if canon and canon not in taken:
            result[h] = canon
            taken.add(canon)
    return result


def missing_required(mapped: dict[object, str]) -> list[str]:
    have = set(mapped.values())
    return [c for c in REQUIRED if c not in have]


#: Headers of a commission sales file: lets audit skip it with a hint instead of failing.
SALES_HEADERS = {"inquirysales", "询单销售额", "aov", "平均客单价", "returns", "退换件数"}


def looks_like_sales_file(headers: list[object]) -> bool:
    return len({_norm(h) for h in headers} & SALES_HEADERS) >= 2
