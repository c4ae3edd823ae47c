"""Header aliases: one way to map the many spellings of a column header to a canonical name.

Used with the chat-export table (``qa_scorer.ingest.columns.COLUMN_ALIASES``) and the sales
table (``SALES_HEADERS`` below, read by ``qa_scorer.commission`` and recognised by ``audit``
to skip a sales file with a hint).  Kept out of ``qa_scorer.ingest`` so that reading a sales
file does not import the chat readers.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

#: An alias table: canonical name -> accepted header spellings.
AliasTable = Mapping[str, Iterable[str]]

#: Sales-file columns: canonical name -> accepted headers (compared with ``header_key``).
SALES_HEADERS: dict[str, tuple[str, ...]] = {
    "agent": ("agent", "客服", "子账号", "客服账号", "客服名称"),
    "role": ("role", "岗位", "角色"),
    "inquiry_sales": ("inquiry_sales", "询单销售额"),
    "inquiries": ("inquiries", "询单人数"),
    "buyers": ("buyers", "成交人数", "询单成交人数"),
    "returns": ("returns", "退换件数", "退换货件数"),
    "aov": ("aov", "平均客单价", "客单价"),
    "period": ("period", "周期", "月份"),
}
#: The sales columns no chat export has: two of them make a file "a sales file".
SALES_ONLY_COLUMNS = ("inquiry_sales", "inquiries", "buyers", "returns", "aov")

#: KPI-file columns of ``qa-scorer assess --kpis`` (canonical name -> accepted headers).
KPI_HEADERS: dict[str, tuple[str, ...]] = {
    "agent": SALES_HEADERS["agent"],
    "role": SALES_HEADERS["role"],
    "period": SALES_HEADERS["period"],
    "conversion_rate": ("conversion_rate", "询单转化率", "转化率"),
    "inquiries": SALES_HEADERS["inquiries"],
    "buyers": SALES_HEADERS["buyers"],
    "aov": SALES_HEADERS["aov"],
    "items_per_order": ("items_per_order", "客单件数", "件数", "人均件数", "客件数"),
    "refund_rate": ("refund_rate", "退款率"),
    "return_rate": ("return_rate", "退货率", "退换货率"),
    "resolution_rate": ("resolution_rate", "解决率", "问题解决率"),
    "complaints": ("complaints", "投诉数", "投诉量", "投诉次数"),
    "complaint_rate": ("complaint_rate", "投诉率"),
    "positive_rate": ("positive_rate", "好评率"),
    "revised_reviews": ("revised_reviews", "改评数", "修改评价数", "中差评改好评数"),
    "online_hours": ("online_hours", "在线时长", "在线时长(小时)", "在线时长(h)"),
    "buyers_served": ("buyers_served", "接待人数", "接待量", "接待买家数"),
}
#: Columns only a KPI file has (what tells it apart from a chat export or a sales file).
KPI_ONLY_COLUMNS = ("conversion_rate", "items_per_order", "refund_rate", "return_rate", "resolution_rate",
                    "complaints", "complaint_rate", "positive_rate", "revised_reviews", "online_hours",
                    "buyers_served")

_IGNORED = re.compile(r"[\s_\-/]+")


def header_key(name: object) -> str:
    """What two spellings of a header must share to be the same header: NFKC (full-width
    ``ＡＯＶ`` = ``AOV``), no BOM, no whitespace, ``_``, ``-`` or ``/``, lower case."""
    text = unicodedata.normalize("NFKC", str(name)).replace("\ufeff", "")
    return _IGNORED.sub("", text).lower()


def alias_lookup(aliases: AliasTable) -> dict[str, str]:
    """``{header_key(spelling): canonical}`` for an alias table (the canonical name itself
    should be among its spellings)."""
    return {header_key(a): canon for canon, spellings in aliases.items() for a in spellings}


@dataclass
class HeaderMatch:
    mapped: dict[object, str] = field(default_factory=dict)   # original header -> canonical (first wins)
    ignored: list[object] = field(default_factory=list)       # headers matching nothing
    conflicts: list[tuple[object, object, str]] = field(default_factory=list)  # (kept, dropped, canonical)


def match_headers(headers: Iterable[object], aliases: AliasTable | Mapping[str, str],
                  explicit: Mapping[str, str] | None = None, *, skip: Iterable[object] = ()) -> HeaderMatch:
    """Map ``headers`` to canonical names with an alias table (or a ready ``alias_lookup``).

    ``explicit`` ({header: canonical}, e.g. from ``--columns``) wins over the aliases.  Each
    canonical name is given once: the first header that means it keeps it, later ones are
    listed in ``conflicts`` (callers decide whether that is an error).  ``skip``: headers
    left out of the result entirely (e.g. an added ``source_line``).
    """
    headers = list(headers)
    lookup = aliases if _is_lookup(aliases) else alias_lookup(aliases)
    explicit_keys = {header_key(k): v for k, v in (explicit or {}).items()}
    skip = set(skip)
    result = HeaderMatch()
    owner: dict[str, object] = {}

    def take(h, canon):
        if canon in owner:
            result.conflicts.append((owner[canon], h, canon))
        else:
            owner[canon] = h
            result.mapped[h] = canon

    # explicit mappings first, so they win over aliases
    if explicit_keys:
        for h in headers:
            canon = explicit_keys.get(header_key(h))
            if canon and h not in skip and canon not in owner:
                take(h, canon)
    for h in headers:
        if h in skip or h in result.mapped:
            continue
        canon = lookup.get(header_key(h))
        if canon is None:
            result.ignored.append(h)
        else:
            take(h, canon)
    return result


def _is_lookup(table) -> bool:
    return all(isinstance(v, str) for v in table.values())


def looks_like_sales_file(headers: Iterable[object]) -> bool:
    """Two or more sales-only columns (``SALES_ONLY_COLUMNS``): a commission sales file."""
    found = set(match_headers(headers, _SALES_LOOKUP).mapped.values())
    return len(found & set(SALES_ONLY_COLUMNS)) >= 2


def looks_like_kpi_file(headers: Iterable[object]) -> bool:
    """Two or more KPI-only columns (``KPI_ONLY_COLUMNS``): a KPI file for ``qa-scorer assess``."""
    found = set(match_headers(headers, _KPI_LOOKUP).mapped.values())
    return len(found & set(KPI_ONLY_COLUMNS)) >= 2


_SALES_LOOKUP = alias_lookup(SALES_HEADERS)
_KPI_LOOKUP = alias_lookup(KPI_HEADERS)
