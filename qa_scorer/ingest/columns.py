"""Header aliases of chat exports: map the many ways exports name a column to the canonical names
(the mechanism, shared with the sales file, is ``qa_scorer.headers``)."""

from __future__ import annotations

from qa_scorer.headers import alias_lookup, header_key, looks_like_kpi_file, looks_like_sales_file, match_headers
from qa_scorer.i18n import _

__all__ = ["COLUMN_ALIASES", "REQUIRED", "parse_column_mapping", "map_headers", "missing_required",
           "looks_like_sales_file", "looks_like_kpi_file", "header_key", "mapping_conflicts", "missing_columns_hint"]

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
    "buyer": ["buyer", "customer", "to", "买家", "顾客", "客户", "接收人", "接收方", "消息对象", "买家昵称"],
    # The shop-side account that received the buyer (optional; names the account of a conversation
    # nobody answered: docs/metrics.md "Attribution").  Not the buyer: a receiver is the shop side.
    "receiver": ["receiver", "assignee", "接待客服", "接待人", "接待账号"],
}

REQUIRED = ("sent_at", "sender", "text")


_LOOKUP = alias_lookup(COLUMN_ALIASES)


def parse_column_mapping(spec: str | None) -> dict[str, str]:
    """``"聊天内容=text,发消息的人=sender"`` -> {"聊天内容": "text", ...}; canonical names are validated."""
    if not spec:
        return {}
    mapping: dict[str, str] = {}
    by_key: dict[str, str] = {}      # header_key(header) -> header as written
    by_target: dict[str, str] = {}   # canonical -> header
    for part in spec.split(","):
        part = part.strip()
        if not part:
            continue
        if "=" not in part:
            raise ValueError(_("--columns: {part} should look like HEADER=canonical_name").format(part=repr(part)))
        src, dst = (x.strip() for x in part.split("=", 1))
        if dst not in COLUMN_ALIASES:
            raise ValueError(_("--columns: unknown target {target}; allowed: {allowed}").format(
                target=repr(dst), allowed=", ".join(COLUMN_ALIASES)))
        key = header_key(src)
        if key in by_key and mapping[by_key[key]] != dst:
            raise ValueError(_("--columns maps header {header} to both {first} and {second}; one header can "
                               "be one column only").format(header=repr(src), first=mapping[by_key[key]], second=dst))
        if dst in by_target and header_key(by_target[dst]) != key:
            raise ValueError(_("--columns maps both {first} and {second} to {target}; choose one").format(
                first=repr(by_target[dst]), second=repr(src), target=dst))
        by_key[key], by_target[dst] = src, src
        mapping[src] = dst
    return mapping


def map_headers(headers: list[object], explicit: dict[str, str] | None = None) -> dict[object, str]:
    """Return {original header: canonical name} for the headers we recognise (first match wins)."""
    return match_headers(headers, _LOOKUP, explicit).mapped


def missing_required(mapped: dict[object, str]) -> list[str]:
    have = set(mapped.values())
    return [c for c in REQUIRED if c not in have]


def mapping_conflicts(headers: list[object], explicit: dict[str, str] | None) -> list[str]:
    """Problems of an explicit mapping (``--columns``) with this file's headers: a header mapped
    to one canonical column that is already recognised as another one (following such a mapping
    would, e.g., audit conversation ids as message text).  Empty when there is none."""
    if not explicit:
        return []
    problems = []
    for header in headers:
        wanted = next((dst for src, dst in explicit.items() if header_key(src) == header_key(header)), None)
        auto = _LOOKUP.get(header_key(header))
        if wanted and auto and auto != wanted:
            problems.append(_("--columns maps {header} to {wanted}, but that header is already the {auto} "
                              "column; map another header to {wanted}").format(
                                  header=repr(str(header)), wanted=wanted, auto=auto))
    return problems


def missing_columns_hint(headers: list[object], mapped: dict[object, str], missing: list[str]) -> str:
    """What to do about missing required columns: candidates from this file's own *unmapped*
    headers only, and which headers are already in use."""
    used = ", ".join(f"{h}\u2192{c}" for h, c in mapped.items()) or _("none")
    free = [str(h) for h in headers if h not in mapped and str(h).strip()]
    if not free:
        return _("every header is already mapped ({used}); the file has no {missing} column").format(
            used=used, missing=" / ".join(missing))
    example = ",".join(f"{h}={c}" for h, c in zip(free, missing))
    return _("headers already mapped: {used}; unmapped headers: {free}; if one of those is the {missing} "
             "column, map it, e.g. --columns \"{example}\"").format(
                 used=used, free=", ".join(free[:12]), missing=" / ".join(missing), example=example)
