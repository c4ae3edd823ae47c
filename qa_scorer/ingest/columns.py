"""Header aliases of chat exports: map the many ways exports name a column to the canonical names
(the mechanism, shared with the sales file, is ``qa_scorer.headers``)."""

from __future__ import annotations

from qa_scorer.headers import alias_lookup, header_key, looks_like_sales_file, match_headers

__all__ = ["COLUMN_ALIASES", "REQUIRED", "parse_column_mapping", "map_headers", "missing_required",
           "looks_like_sales_file", "header_key"]

#: canonical name -> accepted header spellings (compared with ``qa_scorer.headers.header_key``)
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


_LOOKUP = alias_lookup(COLUMN_ALIASES)


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
    return match_headers(headers, _LOOKUP, explicit).mapped


def missing_required(mapped: dict[object, str]) -> list[str]:
    have = set(mapped.values())
    return [c for c in REQUIRED if c not in have]
