"""The assessment sheet (绩效考核表): several KPIs turned into the 绩效考核得分 payroll multiplies by.

A sheet is a TOML file per role (shipped examples in ``qa_scorer/data/sheets/``: presales,
aftersales, gold, supervisor; reference with a worked month in ``docs/assessment.md``).  Each
item reads one KPI and scores it with a curve:

* ``linear``     0 points at ``floor``, the full ``weight`` at ``target``, straight line between,
                 clamped (``better = "lower"`` for rates where less is better: target < floor);
* ``tiers``      fixed points per band (``{min = 300, points = 15}``: value >= 300; or
                 ``{max = 0.02, points = 5}``: value <= 0.02);
* ``pass_fail``  all or nothing against ``target`` (the basics: online hours, reply rate, speed).

Item types: ``score`` items share the 100 points (their weights must sum to 100), ``bonus``
items (激励项) add up to ``weight`` points, ``deduction`` items (扣分项: a high complaint rate,
a failed basic requirement) take up to ``weight`` points away.  The total is clamped to
``0 .. max_total`` by a visible adjustment line, so the itemised points always add up exactly.

KPIs come from the audit (``agents.csv``: service score, reply rate, response times, 接待量,
在线时长 estimated from reply times) and from a KPI file payroll supplies (conversion, 客单价,
refund/return/resolution/complaint/positive-rating rates, revised reviews), read with the same
header aliases, encodings and errors as the sales file (``qa_scorer.commission.read_table``).

Arithmetic is ``decimal.Decimal`` from the text of the files; each item's points are rounded
once, half up, to 0.01, and the total is the sum of the rounded points.  An agent whose KPIs are
missing gets the status ``missing_kpis`` and no total: never silently scored.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from importlib import resources
from pathlib import Path
from typing import Any

import pandas as pd

from qa_scorer.booleans import parse_bool
from qa_scorer.commission import (
    ROLE_ALIASES, ROLES, SCORES_HEADERS, SalesError, candidates_for, canonical_columns, flatten_settings, fmt_decimal,
    is_unassigned_name, norm_name, parse_number, read_table, sub_account_index, to_decimal,
)
from qa_scorer.headers import KPI_HEADERS, header_key
from qa_scorer.i18n import N_, _
from qa_scorer.safety import excel_safe

#: Points are rounded to this (half up), once per item.
POINT = Decimal("0.01")
TOTAL_WEIGHT = Decimal(100)
#: Shipped sheets (package data ``qa_scorer/data/sheets/<name>.toml``).
SHEETS = ("presales", "aftersales", "gold", "supervisor")
ITEM_TYPES = ("score", "bonus", "deduction")
CURVES = ("linear", "tiers", "pass_fail")
BETTER = ("higher", "lower")
ON_FAIL = ("deduct", "zero")


class SheetError(ValueError):
    """An assessment sheet is wrong; the message names the file, the key and the fix."""


class KpiError(SalesError):
    """A KPI (or agents) file cannot be used; the message names the file, line and column."""


@dataclass(frozen=True)
class Kpi:
    label: str                 # msgid, translated where shown
    unit: str                  # rate | s | h | money | count | number | points
    audit_column: str | None   # agents.csv column it comes from (None: not from the audit)
    kpi_column: str | None     # KPI-file column (None: not from the KPI file); wins over the audit
    description: str           # documentation (docs/assessment.md)


#: Every KPI a sheet item may read.
KPIS: dict[str, Kpi] = {
    "service_score": Kpi(N_("Service score"), "points", "service_score", None,
                         "the audit's service score 0-100 (agents.csv service_score)"),
    "reply_rate": Kpi(N_("Reply rate"), "rate", "reply_rate", None,
                      "消息回复率: counted buyer rounds answered by a human (agents.csv)"),
    "within_3min_rate": Kpi(N_("3-minute response rate"), "rate", "within_3min_rate", None,
                            "三分钟响应率 (agents.csv)"),
    "avg_response_s": Kpi(N_("Average response time"), "s", "avg_response_s", None,
                          "平均响应时间 in seconds (agents.csv)"),
    "first_response_avg_s": Kpi(N_("Average first response time"), "s", "first_response_avg_s", None,
                                "首次响应时间 in seconds (agents.csv)"),
    "buyers_served": Kpi(N_("Buyers served (接待量)"), "count", "conversations", "buyers_served",
                         "接待量: the KPI file's 接待人数, else the audit's conversations"),
    "online_hours": Kpi(N_("Online hours"), "h", "online_hours_est", "online_hours",
                        "在线时长: the KPI file's 在线时长, else estimated from reply times (online_hours_est)"),
    "conversion_rate": Kpi(N_("Inquiry conversion rate"), "rate", None, "conversion_rate",
                           "询单转化率: the KPI file's rate, else 成交人数 / 询单人数"),
    "aov": Kpi(N_("Average order value (客单价)"), "money", None, "aov", "客单价 (KPI file)"),
    "items_per_order": Kpi(N_("Items per order (件数)"), "number", None, "items_per_order",
                           "客单件数 (KPI file)"),
    "refund_rate": Kpi(N_("Refund rate"), "rate", None, "refund_rate", "退款率 (KPI file)"),
    "return_rate": Kpi(N_("Return rate"), "rate", None, "return_rate", "退货率 (KPI file)"),
    "resolution_rate": Kpi(N_("Resolution rate"), "rate", None, "resolution_rate", "解决率 (KPI file)"),
    "complaint_rate": Kpi(N_("Complaint rate"), "rate", None, "complaint_rate",
                          "投诉率: the KPI file's rate, else 投诉数 / 接待量"),
    "complaints": Kpi(N_("Complaints"), "count", None, "complaints", "投诉数 (KPI file)"),
    "positive_rate": Kpi(N_("Positive-rating rate"), "rate", None, "positive_rate", "好评率 (KPI file)"),
    "revised_reviews": Kpi(N_("Revised reviews"), "count", None, "revised_reviews",
                           "改评数: bad reviews the buyer revised (KPI file)"),
    "team_service_score": Kpi(N_("Team service score"), "points", None, None,
                              "mean service score of the audited agents of the supervisor's shop (店铺 of "
                              "店铺:子账号) who are not supervisors"),
}

_RATE_COLUMNS = ("conversion_rate", "refund_rate", "return_rate", "resolution_rate", "complaint_rate",
                 "positive_rate")
_COUNT_COLUMNS = ("inquiries", "buyers", "complaints", "revised_reviews", "buyers_served")
_NUMBER_COLUMNS = ("aov", "items_per_order", "online_hours")
KPI_VALUE_COLUMNS = (*_RATE_COLUMNS, *_COUNT_COLUMNS, *_NUMBER_COLUMNS)

#: agents.csv columns the assessment reads.
AUDIT_COLUMNS = tuple(dict.fromkeys(k.audit_column for k in KPIS.values() if k.audit_column))

#: Output columns.
SUMMARY_COLUMNS = [
    "status", "message", "period", "agent", "matched_agent", "role", "sheet", "source_line",
    "service_score", "score_points", "bonus_points", "deduction_points", "adjustment_points",
    "assessment_score", "missing", "formula",
]
ITEM_COLUMNS = [
    "period", "agent", "role", "sheet", "item", "label", "type", "kpi", "value", "value_source", "curve",
    "rule", "weight", "fraction", "passed", "points",
]
MISSING_COLUMNS = ["status", "agent", "period", "role", "source_line", "missing", "message"]
#: Statuses of agents that get no 绩效考核得分 and are listed in the ``missing`` sheet.
MISSING_STATUSES = ("missing_kpis", "not_in_scores", "ambiguous", "duplicate", "no_sheet")

TYPE_LABELS = {"score": N_("score item"), "bonus": N_("incentive"), "deduction": N_("deduction"),
               "adjustment": N_("adjustment")}
STATUS_LABELS = {
    "ok": N_("assessed"),
    "missing_kpis": N_("KPIs missing"),
    "not_in_scores": N_("not in the audit"),
    "ambiguous": N_("ambiguous name"),
    "duplicate": N_("duplicate row"),
    "no_sheet": N_("no sheet for the role"),
    "unassigned": N_("unassigned (not a person)"),
}
ROLE_LABELS = {"presales": N_("pre-sales"), "aftersales": N_("after-sales"), "gold": N_("gold agent (金牌)"),
               "supervisor": N_("supervisor")}
#: Where an item's value came from (items.value_source), for people.
SOURCE_LABELS = {
    "audit": N_("audit"),
    "kpis": N_("KPI file"),
    "estimate": N_("estimated from reply times"),
    "team": N_("team average"),
    "kpis: buyers / inquiries": N_("KPI file: buyers / inquiries"),
    "kpis: complaints / buyers_served": N_("KPI file: complaints / buyers served"),
}
ADJUSTMENT_LABELS = {
    "gate_zero": N_("Basic requirement failed: total set to 0"),
    "cap_adjustment": N_("Above the sheet's maximum: capped"),
    "floor_adjustment": N_("Below 0: raised to 0"),
}


# ---------------------------------------------------------------------------------------------
# The sheet
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Tier:
    threshold: Decimal   # ``min`` (value >= threshold) or ``max`` (value <= threshold)
    points: Decimal


@dataclass
class SheetItem:
    name: str
    kpi: str
    type: str = "score"
    weight: Decimal = Decimal(0)
    curve: str = "linear"
    better: str = "higher"
    floor: Decimal | None = None
    target: Decimal | None = None
    tiers: list[Tier] = field(default_factory=list)
    tier_key: str | None = None     # "min" | "max"
    on_fail: str = "deduct"
    label: str = ""
    note: str = ""

    def shown_label(self) -> str:
        return self.label or _(KPIS[self.kpi].label)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"kpi": self.kpi, "type": self.type, "weight": str(self.weight), "curve": self.curve}
        if self.curve != "tiers":
            d["better"] = self.better
        if self.floor is not None:
            d["floor"] = str(self.floor)
        if self.target is not None:
            d["target"] = str(self.target)
        if self.tiers:
            d["tiers"] = [{self.tier_key: str(t.threshold), "points": str(t.points)} for t in self.tiers]
        if self.curve == "pass_fail":
            d["on_fail"] = self.on_fail
        if self.label:
            d["label"] = self.label
        if self.note:
            d["note"] = self.note
        return d


@dataclass
class Sheet:
    name: str
    role: str
    description: str = ""
    source: str = ""
    max_total: Decimal = TOTAL_WEIGHT
    items: list[SheetItem] = field(default_factory=list)

    @property
    def kpis(self) -> list[str]:
        return list(dict.fromkeys(i.kpi for i in self.items))

    def kpi_file_kpis(self) -> list[str]:
        """KPIs that can only come from the KPI file."""
        return [k for k in self.kpis if KPIS[k].kpi_column and not KPIS[k].audit_column]

    def audit_only_kpis(self) -> list[str]:
        """KPIs that can only come from the audit (the agent must be in agents.csv)."""
        return [k for k in self.kpis if KPIS[k].audit_column and not KPIS[k].kpi_column]

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "role": self.role, "description": self.description, "source": self.source,
                "max_total": str(self.max_total), "items": {i.name: i.to_dict() for i in self.items}}


_TOP_KEYS = ("name", "role", "description", "max_total", "items")
_ITEM_KEYS = ("kpi", "type", "weight", "curve", "better", "floor", "target", "tiers", "on_fail", "label", "note")


def sheet_text(name: str) -> str:
    """The TOML text of a shipped sheet."""
    if name not in SHEETS:
        raise SheetError(_("unknown sheet {name}; shipped sheets: {allowed}").format(
            name=repr(name), allowed=", ".join(SHEETS)))
    return resources.files("qa_scorer").joinpath("data", "sheets", f"{name}.toml").read_text(encoding="utf-8")


def load_sheet(path_or_preset: str | Path) -> Sheet:
    """Load a sheet: a TOML file path, or the name of a shipped sheet (presales, aftersales, gold,
    supervisor).  Raises ``SheetError`` naming the file, the key and the fix."""
    p = Path(path_or_preset)
    if p.is_file():
        where = p.name
        try:
            text = p.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as exc:
            raise SheetError(_("{where}: cannot read the sheet ({reason}); save it as UTF-8").format(
                where=where, reason=exc)) from None
    elif str(path_or_preset) in SHEETS:
        where = f"{path_or_preset}.toml"
        text = sheet_text(str(path_or_preset))
    else:
        raise SheetError(_("{path}: sheet file not found; give a TOML file or one of the shipped sheets: "
                           "{allowed}").format(path=str(path_or_preset), allowed=", ".join(SHEETS)))
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SheetError(_("{where}: not valid TOML: {reason}").format(where=where, reason=exc)) from None
    return sheet_from_mapping(data, where=where)


def load_sheets(specs: list[str | Path] | str | Path) -> list[Sheet]:
    """Several sheets: paths or shipped names, each also a comma-separated list
    (``"presales,aftersales"``); one sheet per role."""
    if isinstance(specs, (str, Path)):
        specs = [specs]
    names: list[str | Path] = []
    for spec in specs:
        if Path(spec).is_file() or "," not in str(spec):
            names.append(spec)
        else:
            names.extend(part.strip() for part in str(spec).split(",") if part.strip())
    return _sheet_list([load_sheet(n) for n in names])


def sheet_from_mapping(data: dict[str, Any], *, where: str = "sheet") -> Sheet:
    """Build and check a sheet from a parsed TOML mapping (see ``load_sheet``)."""
    unknown = [k for k in data if k not in _TOP_KEYS]
    if unknown:
        raise SheetError(_("{where}: unknown key(s) {keys}; allowed: {allowed}").format(
            where=where, keys=", ".join(map(repr, unknown)), allowed=", ".join(_TOP_KEYS)))
    role_raw = data.get("role")
    role = ROLE_ALIASES.get(header_key(role_raw)) if isinstance(role_raw, str) else None
    if role is None:
        raise SheetError(_("{where}: role must be one of {allowed} (or 售前/售后/金牌/主管), got {value} — "
                           "set role = \"presales\" for example").format(
            where=where, allowed=", ".join(ROLES), value=repr(role_raw)))
    sheet = Sheet(name=str(data.get("name", role)), role=role, description=str(data.get("description", "")),
                  source=where)
    sheet.max_total = _number(data.get("max_total", 100), where, "max_total")
    if sheet.max_total <= 0:
        raise SheetError(_("{where}: max_total must be above 0 (100: the 绩效考核得分 is at most 100), "
                           "got {value}").format(where=where, value=fmt_decimal(sheet.max_total)))
    items = data.get("items")
    if not isinstance(items, dict) or not items:
        raise SheetError(_("{where}: [items] is missing or empty — add items such as [items.service] with "
                           "kpi = \"service_score\", weight = 40, floor = 60, target = 95").format(where=where))
    for name, spec in items.items():
        sheet.items.append(_item(name, spec, where))
    total = sum((i.weight for i in sheet.items if i.type == "score"), Decimal(0))
    if total != TOTAL_WEIGHT:
        parts = " + ".join(f"{i.name} {fmt_decimal(i.weight)}" for i in sheet.items if i.type == "score")
        raise SheetError(_("{where}: [items] weights of the score items sum to {total}, not 100 ({parts}) — "
                           "adjust the weights so they add up to 100").format(
            where=where, total=fmt_decimal(total), parts=parts or "-"))
    return sheet


def _item(name: str, spec: Any, where: str) -> SheetItem:
    key = f"[items.{name}]"
    if not isinstance(spec, dict):
        raise SheetError(_("{where}: {key} must be a table with kpi, weight and a curve").format(where=where, key=key))
    bad = [k for k in spec if k not in _ITEM_KEYS]
    if bad:
        raise SheetError(_("{where}: {key}: unknown key(s) {keys}; allowed: {allowed}").format(
            where=where, key=key, keys=", ".join(map(repr, bad)), allowed=", ".join(_ITEM_KEYS)))
    kpi = spec.get("kpi")
    if kpi not in KPIS:
        raise SheetError(_("{where}: {key} kpi: unknown KPI {kpi}; known KPIs: {known}").format(
            where=where, key=key, kpi=repr(kpi), known=", ".join(KPIS)))
    item = SheetItem(name=str(name), kpi=kpi)
    for attr, allowed in (("type", ITEM_TYPES), ("curve", CURVES), ("better", BETTER), ("on_fail", ON_FAIL)):
        if attr in spec:
            if spec[attr] not in allowed:
                raise SheetError(_("{where}: {key} {attr} must be one of {allowed}, got {value}").format(
                    where=where, key=key, attr=attr, allowed=", ".join(allowed), value=repr(spec[attr])))
            setattr(item, attr, spec[attr])
    for attr in ("label", "note"):
        if attr in spec:
            if not isinstance(spec[attr], str):
                raise SheetError(_("{where}: {key} {attr} must be text").format(where=where, key=key, attr=attr))
            setattr(item, attr, spec[attr])
    if "weight" not in spec:
        raise SheetError(_("{where}: {key} has no weight — add weight = the item's points (score items share "
                           "100)").format(where=where, key=key))
    item.weight = _number(spec["weight"], where, f"{key} weight")
    if item.weight <= 0:
        raise SheetError(_("{where}: {key} weight must be above 0, got {value} — remove the item instead").format(
            where=where, key=key, value=fmt_decimal(item.weight)))
    is_rate = KPIS[kpi].unit == "rate"

    def threshold(attr: str) -> Decimal:
        value = _number(spec[attr], where, f"{key} {attr}")
        if is_rate and value > 1:
            raise SheetError(_("{where}: {key} {attr} = {value}: {kpi} is a rate between 0 and 1 — write "
                               "0.95 for 95%").format(where=where, key=key, attr=attr, value=fmt_decimal(value),
                                                     kpi=kpi))
        return value

    def forbid(*attrs: str) -> None:
        given = [a for a in attrs if a in spec]
        if given:
            raise SheetError(_("{where}: {key} {attr} is not used with curve = {curve} — remove it").format(
                where=where, key=key, attr=given[0], curve=repr(item.curve)))

    if item.curve != "pass_fail":
        forbid("on_fail")
    if item.curve == "linear":
        forbid("tiers")
        for attr in ("floor", "target"):
            if attr not in spec:
                raise SheetError(_("{where}: {key} a linear item needs floor (0 points) and target (full "
                                   "points) — add {attr} = …").format(where=where, key=key, attr=attr))
        item.floor, item.target = threshold("floor"), threshold("target")
        if item.better == "higher" and item.target <= item.floor:
            raise SheetError(_("{where}: {key} target {target} is not above floor {floor} — for a "
                               "higher-is-better item the target must be above the floor: swap them, or set "
                               "better = \"lower\" if less is better").format(
                where=where, key=key, target=fmt_decimal(item.target), floor=fmt_decimal(item.floor)))
        if item.better == "lower" and item.target >= item.floor:
            raise SheetError(_("{where}: {key} target {target} is not below floor {floor} — for a "
                               "lower-is-better item (better = \"lower\") the target must be below the floor: "
                               "swap them").format(
                where=where, key=key, target=fmt_decimal(item.target), floor=fmt_decimal(item.floor)))
    elif item.curve == "pass_fail":
        forbid("tiers", "floor")
        if "target" not in spec:
            raise SheetError(_("{where}: {key} a pass_fail item needs target (the value to reach) — add "
                               "target = …").format(where=where, key=key))
        item.target = threshold("target")
    else:  # tiers
        forbid("floor", "target", "better")
        item.tiers, item.tier_key = _tiers(spec.get("tiers"), item, key, where, is_rate)
    return item


def _tiers(value: Any, item: SheetItem, key: str, where: str, is_rate: bool) -> tuple[list[Tier], str]:
    example = "tiers = [{min = 200, points = 10}, {min = 300, points = 20}]"
    if not isinstance(value, list) or not value:
        raise SheetError(_("{where}: {key} curve = \"tiers\" needs a list of tiers, e.g. {example}").format(
            where=where, key=key, example=example))
    tiers: list[Tier] = []
    kinds = set()
    for i, t in enumerate(value, 1):
        if not isinstance(t, dict) or "points" not in t or len(set(t) & {"min", "max"}) != 1 \
                or set(t) - {"min", "max", "points"}:
            raise SheetError(_("{where}: {key} tier #{n} must have points and one of min or max, e.g. "
                               "{example}").format(where=where, key=key, n=i, example=example))
        kind = "min" if "min" in t else "max"
        kinds.add(kind)
        limit = _number(t[kind], where, f"{key} tier #{i} {kind}")
        if is_rate and limit > 1:
            raise SheetError(_("{where}: {key} tier #{n} {kind} = {value}: {kpi} is a rate between 0 and 1 — "
                               "write 0.95 for 95%").format(where=where, key=key, n=i, kind=kind,
                                                           value=fmt_decimal(limit), kpi=item.kpi))
        points = _number(t["points"], where, f"{key} tier #{i} points")
        if points > item.weight:
            raise SheetError(_("{where}: {key} tier #{n} gives {points} points, more than the weight {weight} — "
                               "lower the points or raise the weight").format(
                where=where, key=key, n=i, points=fmt_decimal(points), weight=fmt_decimal(item.weight)))
        tiers.append(Tier(limit, points))
    if len(kinds) > 1:
        raise SheetError(_("{where}: {key} mixes min and max tiers — use min tiers (value at or above) or max "
                           "tiers (value at or below), not both").format(where=where, key=key))
    if any(b.threshold <= a.threshold for a, b in zip(tiers, tiers[1:])):
        raise SheetError(_("{where}: {key} tiers must be written in increasing order of their limits").format(
            where=where, key=key))
    if max(t.points for t in tiers) != item.weight:
        raise SheetError(_("{where}: {key} no tier gives the full weight {weight} — give one tier "
                           "points = {weight}, or set weight to the highest tier's points").format(
            where=where, key=key, weight=fmt_decimal(item.weight)))
    return tiers, kinds.pop()


def _number(value: Any, where: str, key: str) -> Decimal:
    """A non-negative Decimal from a TOML number (floats go through str: 0.95 stays 0.95)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise SheetError(_("{where}: {key} must be a number >= 0, got {value}").format(
            where=where, key=key, value=repr(value)))
    try:
        d = Decimal(str(value).strip())
    except InvalidOperation:
        d = Decimal("NaN")
    if not d.is_finite() or d < 0:
        raise SheetError(_("{where}: {key} must be a number >= 0, got {value}").format(
            where=where, key=key, value=repr(value)))
    return d


# ---------------------------------------------------------------------------------------------
# Reading the KPI file and the agents table
# ---------------------------------------------------------------------------------------------

def parse_rate(raw: Any, *, path: Path, line: int, column: str) -> Decimal | None:
    """A rate cell: ``0.035``, ``3.5%`` (also ``3.5％``) -> Decimal 0.035; empty -> None.  A bare
    number above 1 is refused (is 35 meant as 35 % or as 0.35?)."""
    text = str(raw).strip()
    percent = text.endswith(("%", "％"))
    value = parse_number(text.rstrip("%％"), whole=False, path=path, line=line, column=column)
    if value is None:
        return None
    if percent:
        return value / 100
    if value > 1:
        raise KpiError(_("{path}: line {line}, column {column}: {value} is above 1 — write a rate as 0.35 or "
                         "35%").format(path=path, line=line, column=column, value=repr(str(raw))))
    return value


def read_kpis(path: str | Path) -> pd.DataFrame:
    """Read the KPI file payroll supplies (CSV/TSV in UTF-8 or GBK, or xlsx; Chinese or English
    headers, ``KPI_HEADERS``).

    Returns ``source_line, agent, role, period`` and every column of ``KPI_VALUE_COLUMNS`` (absent
    columns are empty) with values as ``Decimal`` or ``None``.  Rates may be written ``0.035`` or
    ``3.5%``.  Raises ``KpiError`` naming the file, line and column.
    """
    try:
        return _read_kpis(Path(path))
    except KpiError:
        raise
    except SalesError as exc:  # the shared readers' errors (file, line, column) as KPI-file errors
        raise KpiError(str(exc)) from None


def _read_kpis(p: Path) -> pd.DataFrame:
    df = read_table(p)
    mapping, ignored = canonical_columns(df, p, KPI_HEADERS)
    found = set(mapping.values())
    if "agent" not in found:
        raise KpiError(_("{path}: missing column agent ({headers}). Found: {found}").format(
            path=p, headers=" or ".join(KPI_HEADERS["agent"]), found=", ".join(map(str, df.columns[:-1]))))
    if not found & set(KPI_VALUE_COLUMNS):
        known = "; ".join(f"{c}: {'/'.join(KPI_HEADERS[c][1:] or KPI_HEADERS[c])}" for c in KPI_VALUE_COLUMNS)
        raise KpiError(_("{path}: no KPI column found; known columns: {known}. Found: {found}").format(
            path=p, known=known, found=", ".join(map(str, df.columns[:-1]))))
    df = df.rename(columns=mapping)
    out = pd.DataFrame({"source_line": df["source_line"].astype("int64")})
    out["agent"] = df["agent"].astype(str).str.strip()
    blank = out["agent"] == ""
    if blank.any():
        raise KpiError(_("{path}: line {line}: the agent (客服) cell is empty").format(
            path=p, line=int(out.loc[blank, "source_line"].iloc[0])))
    roles = []
    for raw, line in zip(df["role"] if "role" in df.columns else [""] * len(df), out["source_line"]):
        text = str(raw).strip()
        role = ROLE_ALIASES.get(header_key(text)) if text else ""
        if role is None:
            raise KpiError(_("{path}: line {line}, column role: unknown role {value}; allowed: presales/售前, "
                             "aftersales/售后, gold/金牌, supervisor/主管").format(path=p, line=int(line),
                                                                          value=repr(text)))
        roles.append(role)
    out["role"] = roles
    out["period"] = df["period"].astype(str).str.strip() if "period" in df.columns else ""
    for col in KPI_VALUE_COLUMNS:
        if col not in df.columns:
            out[col] = None
        elif col in _RATE_COLUMNS:
            out[col] = [parse_rate(v, path=p, line=int(line), column=col)
                        for v, line in zip(df[col], out["source_line"])]
        else:
            out[col] = [parse_number(v, whole=col in _COUNT_COLUMNS, path=p, line=int(line), column=col)
                        for v, line in zip(df[col], out["source_line"])]
        out[col] = out[col].astype(object)
    out.attrs["ignored_columns"] = ignored
    out.attrs["source"] = str(p)
    out.attrs["columns"] = sorted(found & set(KPI_VALUE_COLUMNS))
    return out


def _agents_aliases() -> dict[str, tuple[str, ...]]:
    """agents.csv columns: the English name, the SCORES_HEADERS aliases and the Chinese label of
    the column dictionary (so a sheet exported from audit.xlsx reads too)."""
    from qa_scorer.i18n import use_language
    from qa_scorer.report.columns import column_label

    aliases: dict[str, tuple[str, ...]] = {"agent": SCORES_HEADERS["agent"],
                                           "service_score": SCORES_HEADERS["service_score"],
                                           "unassigned": SCORES_HEADERS["unassigned"]}
    with use_language("zh"):
        for col in AUDIT_COLUMNS:
            aliases[col] = tuple(dict.fromkeys((*aliases.get(col, (col,)), column_label(col))))
    return aliases


def read_agents(path: str | Path) -> pd.DataFrame:
    """Read an ``agents.csv`` (or xlsx) of ``qa-scorer audit``: ``agent`` and the audit KPI columns
    (``AUDIT_COLUMNS``) as ``Decimal`` or ``None``, ``unassigned`` as bool."""
    p = Path(path)
    df = read_table(p)
    mapping, _ignored = canonical_columns(df, p, _agents_aliases())
    if not {"agent", "service_score"} <= set(mapping.values()):
        raise KpiError(_("{path}: a scores file needs columns agent and service_score (the agents.csv written "
                         "by qa-scorer audit); found: {found}").format(path=p, found=", ".join(df.columns[:-1])))
    df = df.rename(columns=mapping)
    out = pd.DataFrame({"agent": df["agent"].astype(str).str.strip(), "source_line": df["source_line"]})
    for col in AUDIT_COLUMNS:
        if col in df.columns:
            out[col] = [_parse_audit(v, p, int(line), col) for v, line in zip(df[col], df["source_line"])]
        else:
            out[col] = None
        out[col] = out[col].astype(object)
    out["unassigned"] = [parse_bool(v) is True for v in df["unassigned"]] if "unassigned" in df.columns else False
    return out


def _parse_audit(value: Any, path: Path, line: int, column: str) -> Decimal | None:
    text = str(value).strip()
    if text.lower() in ("", "nan", "none", "<na>"):
        return None
    return parse_number(text, whole=False, path=path, line=line, column=column)


def _audit_value(value: Any) -> Decimal | None:
    """A number of an agents DataFrame (float, int, text or Decimal) as a finite Decimal or None."""
    if isinstance(value, float):
        return None if value != value else Decimal(repr(value))
    d = to_decimal(value)
    return d if d is not None and d.is_finite() else None


def _rate_value(value: Any) -> Decimal | None:
    if isinstance(value, str) and value.strip().endswith(("%", "％")):
        d = _audit_value(value.strip().rstrip("%％"))
        return None if d is None else d / 100
    return _audit_value(value)


def _agents_table(agents_df: pd.DataFrame) -> pd.DataFrame:
    """Any agents table (``read_agents``, ``AuditResult.agents``, a hand-made frame) as
    ``agent, unassigned`` + ``AUDIT_COLUMNS`` with Decimal/None values."""
    if "agent" not in agents_df.columns:
        raise KpiError(_("agents table needs an agent column (the agents.csv written by qa-scorer audit)"))
    out = pd.DataFrame({"agent": agents_df["agent"].astype(str).str.strip()})
    for col in AUDIT_COLUMNS:
        source = agents_df[col] if col in agents_df.columns else [None] * len(agents_df)
        out[col] = pd.Series([_audit_value(v) for v in source], index=out.index, dtype=object)
    flags = agents_df["unassigned"] if "unassigned" in agents_df.columns else [False] * len(agents_df)
    out["unassigned"] = [parse_bool(v) is True for v in flags]
    return out.reset_index(drop=True)


# ---------------------------------------------------------------------------------------------
# Scoring
# ---------------------------------------------------------------------------------------------

@dataclass
class AssessmentResult:
    rows: pd.DataFrame          # SUMMARY_COLUMNS (+ <item>_value / <item>_points), one row per agent
    items: pd.DataFrame         # ITEM_COLUMNS, one row per agent and item (and adjustment)
    missing: pd.DataFrame       # MISSING_COLUMNS: agents without a 绩效考核得分 and why
    warnings: list[str] = field(default_factory=list)
    sheets: list[Sheet] = field(default_factory=list)

    @property
    def assessed(self) -> pd.DataFrame:
        return self.rows.loc[self.rows["status"] == "ok"].reset_index(drop=True)


def _q(value: Decimal) -> Decimal:
    return value.quantize(POINT, rounding=ROUND_HALF_UP) + 0  # + 0: no "-0.00"


def score_item(item: SheetItem, value: Decimal) -> tuple[Decimal, Decimal, bool | None]:
    """(fraction 0..1 of the item earned, points, passed) of one item for one value.

    ``score``/``bonus``: points = weight × fraction; ``deduction``: points = −weight × (1 − fraction)
    (tiers: the tier's points, negative for a deduction).  Rounded once, half up, to 0.01.
    """
    passed = None
    if item.curve == "linear":
        # weight × (v − floor) first, then one division: a result that ends in 5 at the third
        # decimal is exact (0.005 -> 0.01), not 0.00499… from a rounded fraction
        earned = item.weight * (value - item.floor) / (item.target - item.floor)
        earned = min(max(earned, Decimal(0)), item.weight)
        fraction = earned / item.weight
    elif item.curve == "pass_fail":
        passed = value >= item.target if item.better == "higher" else value <= item.target
        earned = item.weight if passed else Decimal(0)
        fraction = Decimal(1) if passed else Decimal(0)
    else:
        if item.tier_key == "min":
            hit = [t for t in item.tiers if value >= t.threshold]
            tier = hit[-1] if hit else None
        else:
            hit = [t for t in item.tiers if value <= t.threshold]
            tier = hit[0] if hit else None
        if item.type == "deduction":  # a tier's points are what it deducts
            lost = tier.points if tier else Decimal(0)
            return 1 - lost / item.weight, _q(-lost), passed
        earned = tier.points if tier else Decimal(0)
        fraction = earned / item.weight
    if item.type == "deduction":
        return fraction, _q(earned - item.weight), passed
    return fraction, _q(earned), passed


def rule_text(item: SheetItem) -> str:
    """The item's rule for people: 'linear 60 → 95', 'pass if ≥ 160', '≥ 300: 15; ≥ 200: 10'."""
    show = (lambda v: fmt_value(item.kpi, v))
    if item.curve == "linear":
        return _("linear: {floor} = 0, {target} = full").format(floor=show(item.floor), target=show(item.target))
    if item.curve == "pass_fail":
        sign = "≥" if item.better == "higher" else "≤"
        text = _("pass if {sign} {target}").format(sign=sign, target=show(item.target))
        if item.on_fail == "zero":
            text += _("; a fail sets the total to 0")
        return text
    sign = "≥" if item.tier_key == "min" else "≤"
    minus = "-" if item.type == "deduction" else ""
    return "; ".join(f"{sign} {show(t.threshold)}: {minus}{fmt_decimal(t.points)}" for t in item.tiers)


def fmt_value(kpi: str, value: Decimal | None) -> str:
    """A KPI value for people: rates as percentages (0.035 -> 3.5%), others as plain decimals."""
    if value is None:
        return "–"
    value = Decimal(value)
    rate = kpi in KPIS and KPIS[kpi].unit == "rate"
    if rate:
        value = value * 100
    if value.as_tuple().exponent < -2:  # shown with at most 2 decimals; the files keep the exact value
        value = value.quantize(POINT, rounding=ROUND_HALF_UP)
    return fmt_decimal(value) + ("%" if rate else "")


def _sheet_list(sheets) -> list[Sheet]:
    if isinstance(sheets, Sheet):
        sheets = [sheets]
    sheets = list(sheets)
    if not sheets:
        raise SheetError(_("no assessment sheet given: use --sheet presales (or a TOML file)"))
    seen: dict[str, str] = {}
    for s in sheets:
        if s.role in seen:
            raise SheetError(_("{first} and {second} are both sheets for the role {role}; give one sheet per "
                               "role").format(first=seen[s.role], second=s.source or s.name, role=s.role))
        seen[s.role] = s.source or s.name
    return sheets


def assess(agents_df: pd.DataFrame, kpis_df: pd.DataFrame | None, sheets: Sheet | list[Sheet], *,
           period: str | None = None) -> AssessmentResult:
    """Score every agent on the sheet of their role.

    ``agents_df``: the audit's agents table (``read_agents`` or ``AuditResult.agents``).
    ``kpis_df``: the KPI file (``read_kpis``), or None when the sheets read only audit KPIs.
    ``sheets``: one sheet (every agent is assessed on it unless the KPI file gives another
    role), or one per role (the KPI file's 岗位 column picks the sheet).  ``period``: keep the
    KPI rows of this period (needed when the KPI file holds several).

    Matching agents (as ``qa-scorer commission``): a KPI-file name with a shop prefix must equal an
    audited agent's full name; a bare sub-account matches the one audited agent with it.
    """
    sheets = _sheet_list(sheets)
    by_role = {s.role: s for s in sheets}
    default_role = sheets[0].role if len(sheets) == 1 else None
    warnings: list[str] = []
    agents = _agents_table(agents_df)
    kpis = _kpi_rows(kpis_df, sheets, period, warnings)
    in_file = sorted({p for p in kpis["period"] if p})
    period = period or (in_file[0] if len(in_file) == 1 else None)  # the KPI file's one period

    keys: dict[str, int] = {}
    for i, name in enumerate(agents["agent"]):
        key = norm_name(name)
        if key in keys:
            warnings.append(_("agents: {agent} appears more than once; the first row is used").format(
                agent=repr(name)))
            continue
        keys[key] = i
    by_sub = sub_account_index(keys)

    records: list[dict[str, Any]] = []
    unclear: set[int] = set()  # audited agents a KPI row names ambiguously
    for row in kpis.itertuples(index=False):
        rec = _record(row.agent, row.period or (period or ""), row.role or default_role, int(row.source_line))
        rec["kpi_row"] = row._asdict()
        found = candidates_for(row.agent, keys, by_sub)
        if is_unassigned_name(row.agent) or (len(found) == 1 and agents.at[keys[found[0]], "unassigned"]):
            rec["status"] = "unassigned"
            rec["message"] = _("{agent} collects the conversations nobody answered (未分配); it is not a person "
                               "and is not assessed").format(agent=repr(row.agent))
        elif len(found) == 1:
            rec["audit"] = keys[found[0]]
            rec["matched_agent"] = agents.at[keys[found[0]], "agent"]
        elif len(found) > 1:
            unclear.update(keys[k] for k in found)
            rec["status"] = "ambiguous"
            rec["message"] = _("sub-account {agent} exists in several shops: {names}; write the full 店铺:子账号 "
                               "name in the KPI file").format(
                agent=repr(row.agent), names=", ".join(agents.at[keys[k], "agent"] for k in found))
        records.append(rec)

    seen: dict[tuple, list[dict]] = {}
    for rec in records:
        if rec["status"] == "ok":
            ident = rec["matched_agent"] or norm_name(rec["agent"])
            seen.setdefault((ident, rec["period"]), []).append(rec)
    for (ident, per), recs in seen.items():
        if len(recs) > 1:
            lines = ", ".join(str(r["source_line"]) for r in recs)
            for r in recs:
                r["status"] = "duplicate"
                r["message"] = _("{agent} has {n} rows in the KPI file for period {period} (lines {lines}); keep "
                                 "one").format(agent=repr(ident), n=len(recs), period=repr(per), lines=lines)

    matched = {r["audit"] for r in records if r["audit"] is not None}
    for i in sorted(set(keys.values()) - matched):
        name = agents.at[i, "agent"]
        rec = _record(name, period or "", default_role, None)
        rec["audit"], rec["matched_agent"] = i, name
        if agents.at[i, "unassigned"] or is_unassigned_name(name):
            rec["status"] = "unassigned"
            rec["message"] = _("{agent} collects the conversations nobody answered (未分配); it is not a person "
                               "and is not assessed").format(agent=repr(name))
        elif i in unclear:
            rec["status"], rec["missing"] = "missing_kpis", "kpis"
            rec["service_score"] = agents.at[i, "service_score"]
            rec["message"] = _("{agent}: a KPI row names its sub-account ambiguously; write the full 店铺:子账号 "
                               "name there").format(agent=repr(name))
        records.append(rec)

    team_scores = _team_scores(records, agents, by_role)
    for rec in records:
        if rec["status"] == "ok":
            _assess_record(rec, agents, by_role, team_scores.get(_shop(rec["matched_agent"] or rec["agent"])),
                           kpis_df is not None)

    records.sort(key=lambda r: (r["status"] == "unassigned", str(r["matched_agent"] or r["agent"])))
    item_names = list(dict.fromkeys(i.name for s in sheets for i in s.items))
    rows = pd.DataFrame([{c: r.get(c) for c in SUMMARY_COLUMNS} for r in records], columns=SUMMARY_COLUMNS,
                        dtype=object)
    for name in item_names:
        rows[f"{name}_value"] = [r["item_values"].get(name) for r in records]
        rows[f"{name}_points"] = [r["item_points"].get(name) for r in records]
    items = pd.DataFrame([it for r in records for it in r["items"]], columns=ITEM_COLUMNS, dtype=object)
    missing = rows.loc[rows["status"].isin(MISSING_STATUSES), MISSING_COLUMNS].reset_index(drop=True)
    for rec in records:
        if rec["status"] != "ok":
            where = (_(" (KPI file line {line})").format(line=rec["source_line"])
                     if rec["source_line"] is not None else "")
            warnings.append(f"{rec['status']}: {rec['message']}{where}")
    return AssessmentResult(rows=rows, items=items, missing=missing, warnings=warnings, sheets=sheets)


def _record(agent: str, period: str, role: str | None, line: int | None) -> dict[str, Any]:
    rec: dict[str, Any] = {c: None for c in SUMMARY_COLUMNS}
    rec.update(status="ok", message="", agent=str(agent), period=period, role=role, source_line=line,
               audit=None, kpi_row=None, items=[], item_values={}, item_points={})
    return rec


def _kpi_rows(kpis_df: pd.DataFrame | None, sheets: list[Sheet], period: str | None,
              warnings: list[str]) -> pd.DataFrame:
    """The KPI file's rows of the period, canonical (an absent file: no rows)."""
    needed = sorted({k for s in sheets for k in s.kpi_file_kpis()})
    if kpis_df is None:
        if needed:
            raise KpiError(_("the sheet needs values from a KPI file ({kpis}): give --kpis FILE").format(
                kpis=", ".join(needed)))
        return pd.DataFrame(columns=["source_line", "agent", "role", "period", *KPI_VALUE_COLUMNS])
    kpis = kpis_df.reset_index(drop=True).copy()
    if "agent" not in kpis.columns:
        raise KpiError(_("KPI table needs an agent column"))
    for col in ("role", "period"):
        kpis[col] = kpis[col].fillna("").astype(str) if col in kpis.columns else ""
    kpis["role"] = [ROLE_ALIASES.get(header_key(r), r) if r else "" for r in kpis["role"]]
    if "source_line" not in kpis.columns:
        kpis["source_line"] = range(2, len(kpis) + 2)
    for col in KPI_VALUE_COLUMNS:
        if col not in kpis.columns:
            kpis[col] = None
        elif col in _RATE_COLUMNS:  # a hand-made table may hold "3.5%" text
            kpis[col] = [_rate_value(v) for v in kpis[col]]
        else:
            kpis[col] = kpis[col].map(_audit_value)
        kpis[col] = kpis[col].astype(object)
    where = kpis_df.attrs.get("source", "KPI file")
    periods = sorted({p for p in kpis["period"] if p})
    if period:
        keep = (kpis["period"] == period) | (kpis["period"] == "")
        if periods and not keep.any():
            raise KpiError(_("{where}: no row for period {period}; the file has {periods}").format(
                where=where, period=repr(period), periods=", ".join(periods)))
        kpis = kpis.loc[keep].reset_index(drop=True)
    elif len(periods) > 1:
        raise KpiError(_("{where}: the KPI file has several periods ({periods}); choose one with --period").format(
            where=where, periods=", ".join(periods)))
    present = set(kpis_df.attrs.get("columns", [c for c in KPI_VALUE_COLUMNS if kpis[c].notna().any()]))
    derivable = {"conversion_rate": {"inquiries", "buyers"}, "complaint_rate": {"complaints"}}
    absent = [k for k in needed if KPIS[k].kpi_column not in present and not derivable.get(k, {None}) <= present]
    if absent:
        warnings.append(_("the KPI file has no column for {kpis}: every agent needing it is missing KPIs").format(
            kpis=", ".join(absent)))
    return kpis


def _shop(name: str) -> str:
    key = norm_name(name)
    return key.split(":", 1)[0] if ":" in key else ""


def _team_scores(records: list[dict], agents: pd.DataFrame, by_role: dict[str, Sheet]) -> dict[str, Decimal]:
    """team_service_score per shop: the mean service score of the shop's audited people who are
    not supervisors (key "": every shop, for a supervisor named without a shop)."""
    if not any("team_service_score" in s.kpis for s in by_role.values()):
        return {}
    groups: dict[str, list[Decimal]] = {}
    for r in records:
        if r["audit"] is None or r["status"] != "ok" or r["role"] == "supervisor":
            continue
        score = agents.at[r["audit"], "service_score"]
        if score is not None:
            for shop in {"", _shop(agents.at[r["audit"], "agent"])}:
                groups.setdefault(shop, []).append(score)
    return {shop: sum(v, Decimal(0)) / len(v) for shop, v in groups.items()}


def _values(rec: dict, agents: pd.DataFrame, team_score: Decimal | None) -> dict[str, tuple[Decimal | None, str]]:
    """{kpi: (value, where it came from)} for one agent."""
    audit = agents.loc[rec["audit"]] if rec["audit"] is not None else None
    kpi = rec["kpi_row"] or {}
    out: dict[str, tuple[Decimal | None, str]] = {}
    for name, info in KPIS.items():
        value, source = None, ""
        if info.kpi_column and kpi.get(info.kpi_column) is not None:
            value, source = kpi[info.kpi_column], "kpis"
        elif info.audit_column and audit is not None and audit[info.audit_column] is not None:
            value = audit[info.audit_column]
            source = "estimate" if info.audit_column == "online_hours_est" else "audit"
        out[name] = (value, source)
    if out["conversion_rate"][0] is None and kpi.get("inquiries") and kpi.get("buyers") is not None:
        out["conversion_rate"] = (kpi["buyers"] / kpi["inquiries"], "kpis: buyers / inquiries")
    served = out["buyers_served"][0]
    if out["complaint_rate"][0] is None and kpi.get("complaints") is not None and served:
        out["complaint_rate"] = (kpi["complaints"] / served, "kpis: complaints / buyers_served")
    out["team_service_score"] = (team_score, "team") if team_score is not None else (None, "")
    return out


def _assess_record(rec: dict, agents: pd.DataFrame, by_role: dict[str, Sheet], team_score: Decimal | None,
                   have_kpi_file: bool) -> None:
    role = rec["role"]
    if rec["audit"] is not None:
        rec["service_score"] = agents.at[rec["audit"], "service_score"]
    if role is None:
        rec["status"] = "missing_kpis"
        rec["missing"] = "role"
        rec["message"] = _("{agent} is not in the KPI file, so its role (and sheet) is unknown; add a row with "
                           "its 岗位").format(agent=repr(rec["agent"]))
        return
    if role not in by_role:
        rec["status"] = "no_sheet"
        rec["message"] = _("role {role} has no sheet: add --sheet {role} (or a TOML sheet with role = "
                           "\"{role}\")").format(role=role)
        return
    sheet = by_role[role]
    rec["sheet"] = sheet.name
    if rec["audit"] is None and sheet.audit_only_kpis():
        rec["status"] = "not_in_scores"
        rec["message"] = _("{agent} is in the KPI file but not in the audit (agents.csv), and sheet {sheet} "
                           "needs {kpis} from it").format(agent=repr(rec["agent"]), sheet=sheet.name,
                                                          kpis=", ".join(sheet.audit_only_kpis()))
        return
    values = _values(rec, agents, team_score)
    missing: list[str] = []
    sums = {"score": Decimal(0), "bonus": Decimal(0), "deduction": Decimal(0)}
    zeroed = []
    for item in sheet.items:
        value, source = values[item.kpi]
        line = {"period": rec["period"], "agent": rec["matched_agent"] or rec["agent"], "role": role,
                "sheet": sheet.name, "item": item.name, "label": item.shown_label(), "type": item.type,
                "kpi": item.kpi, "value": value, "value_source": source, "curve": item.curve,
                "rule": rule_text(item), "weight": item.weight, "fraction": None, "passed": None, "points": None}
        rec["item_values"][item.name] = value
        if value is None:
            if item.kpi not in missing:
                missing.append(item.kpi)
        else:
            fraction, points, passed = score_item(item, value)
            line.update(fraction=fraction, passed=passed, points=points)
            rec["item_points"][item.name] = points
            sums[item.type] += points
            if passed is False and item.on_fail == "zero":
                zeroed.append(item.name)
        rec["items"].append(line)
    if missing:
        rec["status"] = "missing_kpis"
        rec["missing"] = "|".join(missing)
        in_file = rec["kpi_row"] is not None or not have_kpi_file
        if not in_file and any(KPIS[k].kpi_column for k in missing):
            rec["message"] = _("{agent} is not in the KPI file; sheet {sheet} needs {kpis} — add a row for "
                               "the agent").format(agent=repr(rec["agent"]), sheet=sheet.name,
                                                   kpis=", ".join(missing))
        else:
            rec["message"] = _("{agent} has no value for {kpis}; fill the cells (no total without them)").format(
                agent=repr(rec["agent"]), kpis=", ".join(missing))
        return
    total = sums["score"] + sums["bonus"] + sums["deduction"]
    adjustment, adj_name = Decimal(0), None
    if zeroed:
        adjustment, adj_name = -total, "gate_zero"
    elif total > sheet.max_total:
        adjustment, adj_name = sheet.max_total - total, "cap_adjustment"
    elif total < 0:
        adjustment, adj_name = -total, "floor_adjustment"
    if adj_name:
        rec["items"].append({"period": rec["period"], "agent": rec["matched_agent"] or rec["agent"], "role": role,
                             "sheet": sheet.name, "item": adj_name, "label": _(ADJUSTMENT_LABELS[adj_name]),
                             "type": "adjustment", "kpi": None, "value": None, "value_source": "",
                             "curve": None, "rule": {"gate_zero": ", ".join(zeroed), "floor_adjustment": "0",
                                                     "cap_adjustment": fmt_decimal(sheet.max_total)}[adj_name],
                             "weight": None, "fraction": None, "passed": None, "points": adjustment})
    rec["score_points"], rec["bonus_points"] = sums["score"], sums["bonus"]
    rec["deduction_points"], rec["adjustment_points"] = sums["deduction"], adjustment
    rec["assessment_score"] = total + adjustment
    rec["formula"] = points_formula([it["points"] for it in rec["items"] if it["points"] is not None],
                                    rec["assessment_score"])


def points_formula(points: list[Decimal], total: Decimal) -> str:
    """'32.50 + 25.00 - 5.00 = 52.50': every item's points (0.01) and the total they sum to."""
    text = ""
    for i, p in enumerate(points):
        shown = f"{abs(p):.2f}"
        text += (f"-{shown}" if p < 0 else shown) if i == 0 else (f" - {shown}" if p < 0 else f" + {shown}")
    return f"{text or '0.00'} = {total:.2f}"


# ---------------------------------------------------------------------------------------------
# Output
# ---------------------------------------------------------------------------------------------

def sheet_table(result: AssessmentResult, agent: str) -> pd.DataFrame:
    """One agent's itemised sheet for people (the report page, a dashboard): columns item, type,
    value, rule, weight, points, with a last row for the total (绩效考核得分).  ``agent`` with or
    without the ``店铺:`` prefix.  Empty when the agent is not in the result."""
    rows = result.rows
    names = rows["matched_agent"].where(rows["matched_agent"].notna(), rows["agent"]).astype(str)
    found = candidates_for(agent, {norm_name(n): n for n in names}, sub_account_index(map(norm_name, names)))
    columns = ["item", "type", "value", "source", "rule", "weight", "points"]
    if len(found) != 1:
        return pd.DataFrame(columns=columns)
    full = next(n for n in names if norm_name(n) == found[0])
    items = result.items.loc[result.items["agent"].astype(str) == full].reset_index(drop=True)
    defined = {(s.name, i.name): i for s in result.sheets for i in s.items}
    records = []
    for it in items.to_dict("records"):
        spec = defined.get((it["sheet"], it["item"]))  # labels and rules in the current language
        label = spec.shown_label() if spec else _(ADJUSTMENT_LABELS.get(it["item"], str(it["label"])))
        source = it["value_source"]
        records.append({
            "item": label, "type": _(TYPE_LABELS[it["type"]]),
            "value": fmt_value(it["kpi"], it["value"]) if it["kpi"] else "",
            "source": _(SOURCE_LABELS[source]) if source in SOURCE_LABELS else (source or ""),
            "rule": rule_text(spec) if spec else (it["rule"] or ""),
            "weight": fmt_decimal(it["weight"]) if it["weight"] is not None else "",
            "points": f"{it['points']:.2f}" if it["points"] is not None else "–",
        })
    total = rows.loc[names == full].iloc[0]["assessment_score"]
    records.append({"item": _("Assessment score (绩效考核得分)"), "type": "", "value": "", "source": "", "rule": "",
                    "weight": "", "points": f"{total:.2f}" if total is not None else "–"})
    return pd.DataFrame(records, columns=columns)


def _for_sheet(df: pd.DataFrame) -> pd.DataFrame:
    """Decimals -> floats (numeric cells), text neutralised for spreadsheets."""
    out = df.copy()
    for col in out.columns:
        values = out[col]
        if values.map(lambda v: isinstance(v, Decimal)).any():
            out[col] = pd.to_numeric(values.map(lambda v: float(v) if isinstance(v, Decimal) else None),
                                     errors="coerce")
        elif col == "source_line":
            out[col] = pd.array([None if v is None or v != v else int(v) for v in values], dtype="Int64")
    return excel_safe(out)


def _exact_text(df: pd.DataFrame) -> pd.DataFrame:
    return excel_safe(df.map(lambda v: fmt_decimal(v) if isinstance(v, Decimal) else v))


def write_assessment(result: AssessmentResult, path: str | Path, *, html: bool = True) -> list[Path]:
    """Write the assessment: ``.xlsx`` (sheets assessment, items, missing, warnings, sheets) or
    ``.csv`` (plus ``<name>.items.csv`` and ``<name>.missing.csv``), and with ``html`` the page
    ``<name>.html`` beside it.  Returns the files written."""
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix not in (".xlsx", ".csv"):
        raise ValueError(_("{path}: the assessment output must end in .xlsx or .csv").format(path=p))
    p.parent.mkdir(parents=True, exist_ok=True)
    written = [p]
    if suffix == ".csv":
        _exact_text(result.rows).to_csv(p, index=False, encoding="utf-8-sig")
        for name, frame in (("items", result.items), ("missing", result.missing)):
            side = p.with_name(f"{p.stem}.{name}.csv")
            _exact_text(frame).to_csv(side, index=False, encoding="utf-8-sig")
            written.append(side)
    else:
        sheet_rows = [(s.name, key, value) for s in result.sheets
                      for key, value in flatten_settings(s.to_dict())]
        frames = (("assessment", _for_sheet(result.rows)), ("items", _for_sheet(result.items)),
                  ("missing", _for_sheet(result.missing)),
                  ("warnings", excel_safe(pd.DataFrame({"warning": result.warnings}))),
                  ("sheets", excel_safe(pd.DataFrame(sheet_rows, columns=["sheet", "key", "value"]))))
        with pd.ExcelWriter(p, engine="xlsxwriter") as writer:
            points = writer.book.add_format({"num_format": "0.00"})
            for name, frame in frames:
                frame.to_excel(writer, sheet_name=name, index=False)
                ws = writer.sheets[name]
                ws.freeze_panes(1, 0)
                for i, col in enumerate(frame.columns):
                    fmt = points if (col.endswith("_points") or col in ("points", "assessment_score")) else None
                    width = 40 if col in ("message", "formula", "warning", "value", "rule") else max(10, len(col) + 2)
                    ws.set_column(i, i, width, fmt)
    if html:
        written.append(write_assessment_html(result, p.with_suffix(".html")))
    return written





def render_assessment_html(result: AssessmentResult) -> str:
    """The assessment page: each agent's itemised sheet (Jinja2, autoescape)."""
    from qa_scorer.i18n import get_language
    from qa_scorer.report.common import render_template

    people = []
    records = result.rows.to_dict("records")  # (iterrows would turn None into NaN)
    records.sort(key=lambda r: r["status"] != "ok")  # the assessed first, then who was not and why
    for row in records:
        if row["status"] == "unassigned":
            continue
        name = row["matched_agent"] if row["matched_agent"] is not None else row["agent"]
        table = sheet_table(result, str(name)) if row["status"] in ("ok", "missing_kpis") else None
        if table is not None and len(table) <= 1:  # no item line: nothing to show but the reason
            table = None
        people.append({
            "name": str(name), "role": _(ROLE_LABELS[row["role"]]) if row["role"] in ROLE_LABELS else "",
            "sheet": row["sheet"] or "", "status": row["status"], "status_label": _(STATUS_LABELS[row["status"]]),
            "message": row["message"] or "",
            "service_score": fmt_decimal(row["service_score"]) if row["service_score"] is not None else "–",
            "total": f"{row['assessment_score']:.2f}" if row["assessment_score"] is not None else "–",
            "formula": row["formula"] or "",
            "rows": [] if table is None else table.to_dict("records"),
        })
    sheets = [{"name": s.name, "role": _(ROLE_LABELS[s.role]), "description": s.description,
               "max_total": fmt_decimal(s.max_total)} for s in result.sheets]
    ok = int((result.rows["status"] == "ok").sum())
    text = {
        "title": _("Assessment sheet (绩效考核表)"),
        "summary": _("{ok} of {n} agents assessed").format(ok=ok, n=int((result.rows["status"] != "unassigned").sum())),
        "sheets": _("Sheets"), "max_total": _("maximum total"),
        "role": _("Role"), "sheet": _("Sheet"), "status": _("Status"), "service": _("Service score"),
        "total": _("Assessment score (绩效考核得分)"), "item": _("Item"), "type": _("Kind"), "value": _("Value"),
        "source": _("Source"), "rule": _("Rule"), "weight": _("Weight"), "points": _("Points"),
        "formula": _("Sum"), "none": _("No agent was assessed."),
        "examples": _("The shipped sheets' weights follow the source documents' order; their targets, floors, "
                      "tiers and points are examples — set the shop's own."),
    }
    return render_template("assessment.html.j2", lang="zh-CN" if get_language() == "zh" else "en",
                           text=text, sheets=sheets, people=people)


def write_assessment_html(result: AssessmentResult, path: str | Path) -> Path:
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render_assessment_html(result), encoding="utf-8")
    return out


def read_assessment(path: str | Path) -> pd.DataFrame:
    """Read the summary written by ``write_assessment`` (xlsx sheet ``assessment`` or the CSV):
    columns ``agent`` (the matched full name where there is one), ``status`` and
    ``assessment_score`` (Decimal or None), for ``compute_commission(..., assessment=)``."""
    p = Path(path)
    if p.suffix.lower() in (".xlsx", ".xlsm"):
        try:
            df = pd.read_excel(p, sheet_name="assessment", dtype=str, keep_default_na=False, engine="openpyxl")
        except ValueError:
            df = read_table(p)  # a hand-made workbook: its first sheet
        except Exception as exc:  # openpyxl raises many kinds for broken files
            raise KpiError(_("{path}: cannot read the workbook ({reason})").format(path=p, reason=exc)) from None
        df["source_line"] = range(2, len(df) + 2)
    else:
        df = read_table(p)
    headers = {"agent": ("agent", "客服"), "matched_agent": ("matched_agent",), "status": ("status", "状态"),
               "assessment_score": ("assessment_score", "绩效考核得分", "考核得分")}
    mapping, _ignored = canonical_columns(df, p, headers)
    if not {"agent", "assessment_score"} <= set(mapping.values()):
        raise KpiError(_("{path}: an assessment needs columns agent and assessment_score (the file written by "
                         "qa-scorer assess); found: {found}").format(path=p, found=", ".join(map(str, df.columns[:-1]))))
    df = df.rename(columns=mapping)
    names = df["agent"].astype(str).str.strip()
    if "matched_agent" in df.columns:
        matched = df["matched_agent"].astype(str).str.strip()
        names = matched.where(~matched.isin(("", "nan", "None")), names)
    status = df["status"].astype(str).str.strip() if "status" in df.columns else pd.Series("ok", index=df.index)
    scores = [None if str(v).strip() in ("", "nan", "None") else
              parse_number(v, whole=False, path=p, line=int(line), column="assessment_score")
              for v, line in zip(df["assessment_score"], df["source_line"])]
    return pd.DataFrame({"agent": names, "status": status.replace("", "ok"),
                         "assessment_score": pd.Series(scores, dtype=object)})
