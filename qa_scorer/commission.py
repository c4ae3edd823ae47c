"""Commission (提成) from each agent's period service score and the sales figures payroll supplies.

The scheme (TOML, shipped examples in ``qa_scorer/data/schemes/``; reference with worked
examples in ``docs/commission.md``) holds the formulas of the source documents:

* pre-sales   ``inquiry_sales × rate × score``               (rate fixed, or by conversion tier)
* after-sales ``returns × aov × rate × score``
* 金牌客服    ``(inquiry_sales × sales_rate + returns × aov × returns_rate) × score``
              (``gold_score_applies_to = "returns_only"``: only the second term is scored)
* supervisor  ``(team avg sales × sales_rate + team avg returns × aov × aftersales_rate) × dept avg score``

and, with ``mode = "two_part"``, the volume terms unscored plus ``quality_pool × score``; with
``mode = "salary"`` (an example salary table) ``base_pay + post_pay + performance_base × score``.

The score is the audit's service score, or — given an assessment (``qa_scorer.assessment``,
``score_source = "assessment"``) — the 绩效考核得分 of the agent's assessment sheet; every row
shows both and which one was used.

Money is ``decimal.Decimal`` throughout and rounded once, at the end, to the fen (0.01) with
ROUND_HALF_UP.  Every input figure, term, rate and the unrounded total stay in the output so
payroll can audit the arithmetic.  Agents in only one of the two files are reported with a
status, never dropped or paid zero.  An unassigned bucket (``店铺:(未分配)``, agents.csv
``unassigned`` true: the conversations nobody answered) is not a person: it gets the status
``unassigned`` and is never paid.
"""

from __future__ import annotations

import csv
import json
import dataclasses
import io
import tomllib
import unicodedata
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from importlib import resources
from pathlib import Path
from typing import Any

import pandas as pd

from qa_scorer.booleans import parse_bool
from qa_scorer.headers import SALES_HEADERS, header_key, match_headers
from qa_scorer.i18n import _
from qa_scorer.ingest.encoding import DecodeError, read_text
from qa_scorer.safety import excel_safe

FEN = Decimal("0.01")

ROLES = ("presales", "aftersales", "gold", "supervisor")
ROLE_ALIASES: dict[str, str] = {
    "presales": "presales", "pre-sales": "presales", "pre_sales": "presales", "售前": "presales",
    "售前客服": "presales",
    "aftersales": "aftersales", "after-sales": "aftersales", "after_sales": "aftersales", "售后": "aftersales",
    "售后客服": "aftersales",
    "gold": "gold", "金牌": "gold", "金牌客服": "gold",
    "supervisor": "supervisor", "主管": "supervisor", "客服主管": "supervisor",
}

# Sales-file columns: ``SALES_HEADERS`` (canonical name -> accepted headers), imported above from
# ``qa_scorer.headers``: ``audit`` uses the same table to recognise and skip a sales file.

#: Scores-file columns (the agents.csv of ``qa-scorer audit``, or a hand-made one).
SCORES_HEADERS: dict[str, tuple[str, ...]] = {
    "agent": ("agent", "客服"),
    "service_score": ("service_score", "score", "绩效得分", "得分"),
    # optional: agents.csv marks the shop's "(未分配)" rows (conversations nobody answered)
    "unassigned": ("unassigned", "未分配"),
}
#: Suffix of an unassigned bucket's name (qa_scorer.metrics.UNASSIGNED): "店铺:(未分配)" or "(未分配)".
UNASSIGNED_NAME = "(未分配)"
_MONEY_COLUMNS = ("inquiry_sales", "aov")
_COUNT_COLUMNS = ("inquiries", "buyers", "returns")

SCHEMES = ("default", "tiered", "two_part", "salary")
MODES = ("multiply", "two_part", "salary")
GOLD_SCORE_CHOICES = ("both", "returns_only")
#: Which score a scheme multiplies by: the audit's service score, or the 绩效考核得分 of an
#: assessment sheet (qa_scorer.assessment; docs/assessment.md).
SCORE_SOURCES = ("service", "assessment")
#: Keys of a role table in ``mode = "salary"``: 底薪, 岗位工资, 绩效基数.
SALARY_KEYS = ("base_pay", "post_pay", "performance_base")

#: Output columns of ``CommissionResult.rows`` (one row per agent), in order.
ROW_COLUMNS = [
    "status", "message", "period", "agent", "matched_agent", "role", "source_line",
    "inquiry_sales", "inquiries", "buyers", "conversion_rate", "returns", "aov", "returns_value",
    "service_score", "assessment_score", "score_source",
    "score", "score_scale", "score_fraction", "score_applies_to",
    "sales_base", "sales_rate", "sales_term", "returns_base", "returns_rate", "returns_term",
    "team_size", "team_scored", "quality_pool", "quality_part",
    "base_pay", "post_pay", "performance_base", "performance_pay",
    "commission_exact", "commission", "formula",
]
UNMATCHED_STATUSES = ("not_in_scores", "not_in_sales", "ambiguous")
#: Rows that are not a person: never paid, not counted as anyone unpaid (see CommissionResult.unpaid).
NOT_A_PERSON_STATUSES = ("unassigned",)
_MONEY_OUT = ("inquiry_sales", "aov", "returns_value", "sales_base", "sales_term", "returns_base",
              "returns_term", "quality_pool", "quality_part", "base_pay", "post_pay", "performance_base",
              "performance_pay", "commission_exact", "commission")


class SchemeError(ValueError):
    """A commission scheme file is wrong; the message names the key and the allowed values."""


class SalesError(ValueError):
    """A sales (or scores) file cannot be used; the message names the file, line and column."""


@dataclass(frozen=True)
class Tier:
    min_conversion: Decimal   # lower bound, inclusive (0.30 means 30% and above)
    rate: Decimal


@dataclass
class Scheme:
    name: str = "default"
    description: str = ""
    source: str = ""
    mode: str = "multiply"
    score_scale: Decimal = Decimal(100)
    gold_score_applies_to: str = "both"
    presales_rate: Decimal | None = Decimal("0.005")
    presales_tiers: list[Tier] = field(default_factory=list)
    aftersales_rate: Decimal = Decimal("0.008")
    gold_sales_rate: Decimal = Decimal("0.006")
    gold_returns_rate: Decimal = Decimal("0.008")
    supervisor_sales_rate: Decimal = Decimal("0.006")
    supervisor_aftersales_rate: Decimal = Decimal("0.008")
    supervisor_sales_roles: tuple[str, ...] = ("presales", "gold")
    supervisor_aftersales_roles: tuple[str, ...] = ("aftersales", "gold")
    quality_pool: dict[str, Decimal] = field(default_factory=lambda: {r: Decimal(0) for r in ROLES})
    score_source: str = "service"
    #: mode = "salary": role -> {"base_pay", "post_pay", "performance_base"} (Decimal)
    salary: dict[str, dict[str, Decimal]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name, "description": self.description, "source": self.source, "mode": self.mode,
            "score_source": self.score_source,
            "score_scale": str(self.score_scale), "gold_score_applies_to": self.gold_score_applies_to,
            "presales": {"rate": None if self.presales_rate is None else str(self.presales_rate),
                         "tiers": [{"min_conversion": str(t.min_conversion), "rate": str(t.rate)}
                                   for t in self.presales_tiers]},
            "aftersales": {"rate": str(self.aftersales_rate)},
            "gold": {"sales_rate": str(self.gold_sales_rate), "returns_rate": str(self.gold_returns_rate)},
            "supervisor": {"sales_rate": str(self.supervisor_sales_rate),
                           "aftersales_rate": str(self.supervisor_aftersales_rate),
                           "sales_roles": list(self.supervisor_sales_roles),
                           "aftersales_roles": list(self.supervisor_aftersales_roles)},
            "quality_pool": {k: str(v) for k, v in self.quality_pool.items()},
            **({"salary": {r: {k: str(v) for k, v in t.items()} for r, t in self.salary.items()}}
               if self.salary else {}),
        }


@dataclass
class CommissionResult:
    rows: pd.DataFrame                      # ROW_COLUMNS, one row per agent (paid or not, see status)
    unmatched: pd.DataFrame                 # agents in only one file, or ambiguous names
    warnings: list[str] = field(default_factory=list)
    scheme: Scheme | None = None

    @property
    def total(self) -> Decimal:
        """The sum paid: ``ok`` rows only (unassigned buckets and unmatched rows are not paid)."""
        paid = self.rows.loc[self.rows["status"] == "ok", "commission"]
        return sum(paid, Decimal(0))

    @property
    def unpaid(self) -> pd.DataFrame:
        """Rows of people who are not paid (every status but ``ok`` and ``unassigned``: an
        unassigned bucket is not a person, so it is nobody left unpaid)."""
        keep = ~self.rows["status"].isin(("ok", *NOT_A_PERSON_STATUSES))
        return self.rows.loc[keep].reset_index(drop=True)


# ---------------------------------------------------------------------------------------------
# Scheme
# ---------------------------------------------------------------------------------------------

_TOP = ("name", "description", "mode", "score_source", "score_scale", "gold_score_applies_to",
        "presales", "aftersales", "gold", "supervisor")
_ROLE_KEYS = {
    "presales": ("rate", "tiers", "quality_pool", *SALARY_KEYS),
    "aftersales": ("rate", "quality_pool", *SALARY_KEYS),
    "gold": ("sales_rate", "returns_rate", "quality_pool", *SALARY_KEYS),
    "supervisor": ("sales_rate", "aftersales_rate", "sales_roles", "aftersales_roles", "quality_pool", *SALARY_KEYS),
}


def load_scheme(path: str | Path | None = None) -> Scheme:
    """Load a scheme: a TOML file path, or the name of a shipped scheme (default, tiered, two_part)."""
    if path is None:
        path = "default"
    p = Path(path)
    if p.is_file():
        where = str(p)
        text = p.read_text(encoding="utf-8-sig")
    elif str(path) in SCHEMES:
        where = f"scheme:{path}"
        text = resources.files("qa_scorer").joinpath("data", "schemes", f"{path}.toml").read_text(encoding="utf-8")
    else:
        raise SchemeError(f"{path}: scheme file not found; give a TOML file or one of the shipped "
                          f"schemes: {', '.join(SCHEMES)}")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SchemeError(f"{where}: not valid TOML: {exc}") from None
    return scheme_from_mapping(data, where=where)


def scheme_from_mapping(data: dict[str, Any], *, where: str = "scheme") -> Scheme:
    unknown = [k for k in data if k not in _TOP]
    if unknown:
        raise SchemeError(f"{where}: unknown key(s) {', '.join(map(repr, unknown))}; allowed: {', '.join(_TOP)}")
    s = Scheme(source=where)
    s.name = str(data.get("name", "unnamed"))
    s.description = str(data.get("description", ""))
    s.mode = data.get("mode", "multiply")
    if s.mode not in MODES:
        raise SchemeError(f"{where}: mode must be one of {', '.join(MODES)}, got {s.mode!r}")
    s.score_source = data.get("score_source", "service")
    if s.score_source not in SCORE_SOURCES:
        raise SchemeError(_("{where}: score_source must be one of {allowed}, got {value}").format(
            where=where, allowed=", ".join(SCORE_SOURCES), value=repr(s.score_source)))
    s.score_scale = _dec(data.get("score_scale", 100), where, "score_scale")
    if s.score_scale <= 0:
        raise SchemeError(f"{where}: score_scale must be > 0 (100 means a score of 95 pays 95%), got {s.score_scale}")
    s.gold_score_applies_to = data.get("gold_score_applies_to", "both")
    if s.gold_score_applies_to not in GOLD_SCORE_CHOICES:
        raise SchemeError(f"{where}: gold_score_applies_to must be one of {', '.join(GOLD_SCORE_CHOICES)}, "
                          f"got {s.gold_score_applies_to!r}")
    tables = {}
    for role in ROLES:
        t = data.get(role, {})
        if not isinstance(t, dict):
            raise SchemeError(f"{where}: {role} must be a table ([{role}]), got {t!r}")
        bad = [k for k in t if k not in _ROLE_KEYS[role]]
        if bad:
            raise SchemeError(f"{where}: unknown key(s) {', '.join(map(repr, bad))} in [{role}]; "
                              f"allowed: {', '.join(_ROLE_KEYS[role])}")
        tables[role] = t
        pool = _dec(t.get("quality_pool", 0), where, f"{role}.quality_pool")
        if pool and s.mode != "two_part":
            raise SchemeError(f"{where}: {role}.quality_pool is only used with mode = \"two_part\" "
                              f"(this scheme has mode = {s.mode!r})")
        s.quality_pool[role] = pool
        given = [k for k in SALARY_KEYS if k in t]
        if s.mode == "salary":
            missing = [k for k in SALARY_KEYS if k not in t]
            if missing:
                raise SchemeError(_("{where}: mode = \"salary\" needs {keys} in [{role}]; write 0 for a part "
                                    "the role does not have").format(where=where, keys=", ".join(missing), role=role))
            s.salary[role] = {k: _dec(t[k], where, f"{role}.{k}") for k in SALARY_KEYS}
        elif given:
            raise SchemeError(_("{where}: {role}.{key} is only used with mode = \"salary\" (this scheme has "
                                "mode = {mode})").format(where=where, role=role, key=given[0], mode=repr(s.mode)))

    pre = tables["presales"]
    if "tiers" in pre:
        if "rate" in pre:
            raise SchemeError(f"{where}: [presales] has both rate and tiers; give one of them")
        s.presales_rate = None
        s.presales_tiers = _tiers(pre["tiers"], where)
    else:
        s.presales_rate = _dec(pre.get("rate", "0.005"), where, "presales.rate")
    s.aftersales_rate = _dec(tables["aftersales"].get("rate", "0.008"), where, "aftersales.rate")
    s.gold_sales_rate = _dec(tables["gold"].get("sales_rate", "0.006"), where, "gold.sales_rate")
    s.gold_returns_rate = _dec(tables["gold"].get("returns_rate", "0.008"), where, "gold.returns_rate")
    sup = tables["supervisor"]
    s.supervisor_sales_rate = _dec(sup.get("sales_rate", "0.006"), where, "supervisor.sales_rate")
    s.supervisor_aftersales_rate = _dec(sup.get("aftersales_rate", "0.008"), where, "supervisor.aftersales_rate")
    for key, default in (("sales_roles", ("presales", "gold")), ("aftersales_roles", ("aftersales", "gold"))):
        roles = sup.get(key, list(default))
        allowed = ("presales", "aftersales", "gold")
        if not isinstance(roles, list) or not roles or any(r not in allowed for r in roles):
            raise SchemeError(f"{where}: supervisor.{key} must be a non-empty list drawn from "
                              f"{', '.join(allowed)}, got {roles!r}")
        setattr(s, f"supervisor_{key}", tuple(roles))
    return s


def _dec(value, where: str, key: str) -> Decimal:
    """A non-negative Decimal from a TOML number or numeric string (floats go through str, so 0.005
    stays exactly 0.005)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise SchemeError(f"{where}: {key} must be a number >= 0, got {value!r}")
    try:
        d = Decimal(str(value).strip())
    except InvalidOperation:
        raise SchemeError(f"{where}: {key} must be a number >= 0, got {value!r}") from None
    if not d.is_finite() or d < 0:
        raise SchemeError(f"{where}: {key} must be a number >= 0, got {value!r}")
    return d


def _tiers(value, where: str) -> list[Tier]:
    example = "[[presales.tiers]] min_conversion = 0.0  rate = 0.003"
    if not isinstance(value, list) or not value:
        raise SchemeError(f"{where}: presales.tiers must be a list of tables, e.g. {example}")
    tiers = []
    for i, t in enumerate(value, 1):
        if not isinstance(t, dict) or set(t) != {"min_conversion", "rate"}:
            raise SchemeError(f"{where}: presales.tiers #{i} must have exactly the keys min_conversion and rate, "
                              f"got {t!r}")
        low = _dec(t["min_conversion"], where, f"presales.tiers #{i}.min_conversion")
        if low > 1:
            raise SchemeError(f"{where}: presales.tiers #{i}.min_conversion is a rate between 0 and 1 "
                              f"(0.30 = 30%), got {low}")
        tiers.append(Tier(low, _dec(t["rate"], where, f"presales.tiers #{i}.rate")))
    if tiers[0].min_conversion != 0:
        raise SchemeError(f"{where}: the first presales tier must start at min_conversion = 0 "
                          "so every conversion rate has a tier")
    if any(b.min_conversion <= a.min_conversion for a, b in zip(tiers, tiers[1:])):
        raise SchemeError(f"{where}: presales.tiers must be in increasing min_conversion order")
    return tiers


def scheme_text(name: str = "default") -> str:
    if name not in SCHEMES:
        raise SchemeError(f"unknown scheme {name!r}; allowed: {', '.join(SCHEMES)}")
    return resources.files("qa_scorer").joinpath("data", "schemes", f"{name}.toml").read_text(encoding="utf-8")


# ---------------------------------------------------------------------------------------------
# Reading the sales and scores files
# ---------------------------------------------------------------------------------------------

def read_table_text(path: Path) -> str:
    try:
        return read_text(path)[0]
    except DecodeError as exc:
        raise SalesError(f"{path}: {exc.reason}; save it as UTF-8 (CSV UTF-8 in Excel)") from None


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a CSV/TSV (UTF-8 with or without BOM, GBK/GB18030 or UTF-16: ``ingest.encoding``) or
    xlsx file as text cells.

    Adds ``source_line`` (the 1-based line/row of each record, header = 1)."""
    p = Path(path)
    if not p.is_file():
        raise SalesError(f"{p}: file not found")
    if p.suffix.lower() in (".xlsx", ".xlsm"):
        try:
            df = pd.read_excel(p, dtype=str, keep_default_na=False, engine="openpyxl")
        except Exception as exc:  # openpyxl raises many kinds for broken files
            raise SalesError(f"{p}: cannot read the workbook ({exc})") from None
    elif p.suffix.lower() == ".xls":
        raise SalesError(f"{p}: old .xls workbooks are not supported; save it as .xlsx or CSV")
    else:
        text = read_table_text(p)
        first = text.split("\n", 1)[0]
        sep = max(("\t", ",", ";"), key=first.count)
        try:
            df = pd.read_csv(io.StringIO(text), sep=sep, dtype=str, keep_default_na=False,
                             skip_blank_lines=True, quoting=csv.QUOTE_MINIMAL)
        except pd.errors.ParserError as exc:
            raise SalesError(f"{p}: not a readable CSV file ({exc})") from None
    df.columns = [str(c).strip() for c in df.columns]
    df["source_line"] = range(2, len(df) + 2)
    return df


def canonical_columns(df: pd.DataFrame, path: Path, headers: dict[str, tuple[str, ...]]) -> tuple[dict, list]:
    match = match_headers(df.columns, headers, skip=["source_line"])
    if match.conflicts:
        kept, dropped, canon = match.conflicts[0]
        raise SalesError(f"{path}: columns {kept!r} and {dropped!r} both mean {canon}; keep one of them")
    return match.mapped, match.ignored


def parse_number(raw: str, *, whole: bool, path: Path, line: int, column: str) -> Decimal | None:
    text = unicodedata.normalize("NFKC", str(raw)).strip()
    for junk in (",", "¥", "￥", "元", " "):
        text = text.replace(junk, "")
    if text == "":
        return None
    try:
        d = Decimal(text)
    except InvalidOperation:
        raise SalesError(f"{path}: line {line}, column {column}: {raw!r} is not a number") from None
    if not d.is_finite() or d < 0:
        raise SalesError(f"{path}: line {line}, column {column}: {raw!r} must be a number >= 0")
    if whole:
        if d != d.to_integral_value():
            raise SalesError(f"{path}: line {line}, column {column}: {raw!r} must be a whole number")
        return Decimal(int(d))
    return d


def read_sales(path: str | Path) -> pd.DataFrame:
    """Read payroll's sales file into canonical columns.

    Returns columns ``source_line, agent, role, period, inquiry_sales, inquiries, buyers, returns,
    aov`` with money/count cells as ``Decimal`` or ``None`` (empty cell).  Role names are mapped to
    presales/aftersales/gold/supervisor.  Raises ``SalesError`` naming file, line and column.
    ``attrs["ignored_columns"]`` lists headers that were not recognised.
    """
    p = Path(path)
    df = read_table(p)
    mapping, ignored = canonical_columns(df, p, SALES_HEADERS)
    missing = [c for c in ("agent", "role") if c not in mapping.values()]
    if missing:
        want = "; ".join(f"{c}: {' or '.join(SALES_HEADERS[c])}" for c in missing)
        raise SalesError(f"{p}: missing column(s) {want}. Found: {', '.join(map(str, df.columns[:-1]))}")
    df = df.rename(columns=mapping)
    out = pd.DataFrame({"source_line": df["source_line"].astype("int64")})
    out["agent"] = df["agent"].astype(str).str.strip()
    blank = out["agent"] == ""
    if blank.any():
        raise SalesError(f"{p}: line {int(out.loc[blank, 'source_line'].iloc[0])}: the agent (客服) cell is empty")
    roles = df["role"].astype(str).map(lambda r: ROLE_ALIASES.get(header_key(r)))
    bad = roles.isna()
    if bad.any():
        i = bad.to_numpy().nonzero()[0][0]
        raise SalesError(f"{p}: line {int(out['source_line'].iloc[i])}, column role: unknown role "
                         f"{df['role'].iloc[i]!r}; allowed: presales/售前, aftersales/售后, gold/金牌, supervisor/主管")
    out["role"] = roles.astype(str)
    out["period"] = df["period"].astype(str).str.strip() if "period" in df.columns else ""
    for col in (*_MONEY_COLUMNS, *_COUNT_COLUMNS):
        if col in df.columns:
            out[col] = [
                parse_number(v, whole=col in _COUNT_COLUMNS, path=p, line=int(line), column=col)
                for v, line in zip(df[col], out["source_line"])
            ]
        else:
            out[col] = None
        out[col] = out[col].astype(object)
    out = out[["source_line", "agent", "role", "period", "inquiry_sales", "inquiries", "buyers", "returns", "aov"]]
    out.attrs["ignored_columns"] = ignored
    out.attrs["source"] = str(p)
    return out


def read_scores(path: str | Path) -> pd.DataFrame:
    """Read an ``agents.csv`` (or xlsx) from ``qa-scorer audit``: columns ``agent`` and
    ``service_score`` (``score``/``绩效得分`` also accepted); scores as text-exact ``Decimal``."""
    p = Path(path)
    df = read_table(p)
    mapping, _ignored = canonical_columns(df, p, SCORES_HEADERS)
    if not {"agent", "service_score"} <= set(mapping.values()):
        raise SalesError(f"{p}: a scores file needs columns agent and service_score "
                         f"(the agents.csv written by `qa-scorer audit`); found: {', '.join(df.columns[:-1])}")
    df = df.rename(columns=mapping)
    out = pd.DataFrame({"agent": df["agent"].astype(str).str.strip(), "source_line": df["source_line"]})
    out["service_score"] = [
        parse_number(v, whole=False, path=p, line=int(line), column="service_score")
        if str(v).strip().lower() not in ("nan", "") else None
        for v, line in zip(df["service_score"], df["source_line"])
    ]
    out["service_score"] = out["service_score"].astype(object)
    if "unassigned" in df.columns:
        out["unassigned"] = [parse_bool(v) is True for v in df["unassigned"]]
    return out


# ---------------------------------------------------------------------------------------------
# Computing
# ---------------------------------------------------------------------------------------------

def norm_name(name: str) -> str:
    return str(name).strip().replace("：", ":")


def is_unassigned_name(name: str) -> bool:
    """``店铺:(未分配)`` / ``(未分配)`` (full-width brackets too): the bucket of conversations nobody
    answered, not a person."""
    text = norm_name(name).replace("（", "(").replace("）", ")")
    return text == UNASSIGNED_NAME or text.endswith(":" + UNASSIGNED_NAME)


def _unassigned_message(name: str) -> str:
    return _("unassigned, not paid: {agent} collects the conversations nobody answered (未分配); "
             "it is not a person").format(agent=repr(str(name)))


def sub_account(name: str) -> str:
    return name.split(":", 1)[1].strip() if ":" in name else name


def to_decimal(v) -> Decimal | None:
    if v is None or isinstance(v, Decimal):
        return v
    try:
        if pd.isna(v):
            return None
    except (TypeError, ValueError):
        pass
    try:
        return Decimal(str(v).strip())
    except InvalidOperation:
        return None


def fmt_decimal(d: Decimal | None) -> str:
    """Exact plain text of a Decimal, without exponent or trailing fractional zeros."""
    if d is None:
        return ""
    text = format(d, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def _fmt_short(d: Decimal | None) -> str:
    """For the human-readable formula: long non-terminating quotients (team averages) cut to 6
    decimals with an ellipsis; the exact values stay in their own columns."""
    if d is None:
        return ""
    if d.as_tuple().exponent < -6 and d != d.quantize(Decimal("0.000001")):
        return fmt_decimal(d.quantize(Decimal("0.000001"), rounding=ROUND_HALF_UP)) + "…"
    return fmt_decimal(d)


def _mean(values: list[Decimal]) -> Decimal | None:
    return sum(values, Decimal(0)) / len(values) if values else None


def candidates_for(name: str, keys, by_sub: dict[str, list[str]]) -> list[str]:
    """The keys (``norm_name`` of full names) a written name matches: a full name (``店铺:小美``,
    either colon) only itself; a bare sub-account (``小美``) every key with that sub-account
    (``by_sub``: sub-account -> keys).  One candidate is a match, several are ambiguous."""
    key = norm_name(name)
    if key in keys:
        return [key]
    return [] if ":" in key else list(by_sub.get(key, []))


def sub_account_index(keys) -> dict[str, list[str]]:
    """``{sub-account: [keys]}`` for ``candidates_for``."""
    by_sub: dict[str, list[str]] = {}
    for key in keys:
        by_sub.setdefault(sub_account(key), []).append(key)
    return by_sub


def compute_commission(scores_df: pd.DataFrame, sales_df: pd.DataFrame, scheme: Scheme,
                       assessment: pd.DataFrame | None = None) -> CommissionResult:
    """Match sales rows to scored agents and compute each agent's commission.

    Matching: a sales name with a shop prefix (``店铺:小美`` or ``店铺：小美``) must equal a scored
    agent's full name; a bare sub-account (``小美``) matches the one scored agent with that
    sub-account, and is reported ``ambiguous`` when several shops have it.  Supervisors need no
    score of their own (they are paid on the department's average).

    ``assessment`` (columns ``agent``, ``assessment_score``, optional ``status``: the summary of
    ``qa_scorer.assessment.assess`` or ``read_assessment``) switches the score to the
    绩效考核得分; a scheme with ``score_source = "assessment"`` requires it.  Every row shows both
    ``service_score`` and ``assessment_score`` and, in ``score_source``, which one was used.
    """
    warnings: list[str] = []
    use_assessment = assessment is not None
    if scheme.score_source == "assessment" and not use_assessment:
        raise SchemeError(_("{where}: score_source = \"assessment\" needs an assessment: give --assessment FILE "
                            "(from qa-scorer assess) or --sheet SHEET with --kpis FILE").format(where=scheme.source
                                                                                             or scheme.name))
    if use_assessment and scheme.score_source != "assessment":
        scheme = dataclasses.replace(scheme, score_source="assessment")  # the scheme sheet says what was used
    assessed = _assessment_index(assessment) if use_assessment else {}
    assessed_sub = sub_account_index(assessed)
    score_col = "service_score" if "service_score" in scores_df.columns else "score"
    if "agent" not in scores_df.columns or score_col not in scores_df.columns:
        raise SalesError("scores table needs columns agent and service_score")
    scores: dict[str, Decimal | None] = {}
    display: dict[str, str] = {}
    unassigned: set[str] = set()  # keys of unassigned buckets: not people, never paid
    flags = (scores_df["unassigned"].map(lambda v: parse_bool(v) is True) if "unassigned" in scores_df.columns
             else pd.Series(False, index=scores_df.index))
    for name, value, bucket in zip(scores_df["agent"], scores_df[score_col], flags):
        key = norm_name(name)
        if key in scores:
            warnings.append(f"scores: agent {name!r} appears more than once; the first score is used")
            continue
        scores[key] = to_decimal(value)
        display[key] = str(name)
        if bucket or is_unassigned_name(key):
            unassigned.add(key)
    by_sub = sub_account_index(scores)

    sales = _canonical_sales(sales_df)
    records: list[dict[str, Any]] = []
    for row in sales.itertuples(index=False):
        rec = {c: None for c in ROW_COLUMNS}
        rec.update(status="ok", message="", period=row.period, agent=row.agent, role=row.role,
                   source_line=row.source_line)
        for col in (*_MONEY_COLUMNS, *_COUNT_COLUMNS):
            rec[col] = to_decimal(getattr(row, col))
        key = norm_name(row.agent)
        candidates = candidates_for(row.agent, scores, by_sub)
        if is_unassigned_name(key) or (len(candidates) == 1 and candidates[0] in unassigned):
            rec["status"], rec["message"] = "unassigned", _unassigned_message(row.agent)
            if len(candidates) == 1:
                rec["matched_agent"], rec["score"] = display[candidates[0]], scores[candidates[0]]
        elif len(candidates) == 1:
            rec["matched_agent"] = display[candidates[0]]
            rec["score"] = scores[candidates[0]]
        elif len(candidates) > 1:
            rec["status"] = "ambiguous"
            rec["message"] = (f"sub-account {row.agent!r} exists in several shops: "
                              f"{', '.join(display[c] for c in candidates)}; write the full 店铺:子账号 name")
        elif row.role != "supervisor":
            rec["status"] = "not_in_scores"
            rec["message"] = f"{row.agent!r} has no score in the scores file"
        records.append(rec)

    # The same agent twice in one period would be paid twice: pay neither and say so.
    seen: dict[tuple, list[int]] = {}
    for i, rec in enumerate(records):
        if rec["status"] == "unassigned":  # never paid anyway
            continue
        ident = rec["matched_agent"] or norm_name(rec["agent"])
        seen.setdefault((ident, rec["period"]), []).append(i)
    for (ident, period), idx in seen.items():
        if len(idx) > 1:
            lines = ", ".join(str(records[i]["source_line"]) for i in idx)
            for i in idx:
                records[i]["status"] = "duplicate"
                records[i]["message"] = f"{ident!r} has {len(idx)} sales rows for period {period!r} (lines {lines})"

    periods = sorted({rec["period"] for rec in records})
    if len(periods) > 1:
        warnings.append(f"the sales file has {len(periods)} periods ({', '.join(periods)}) but the scores file "
                        "holds one score per agent; that score is used for every period")

    for rec in records:
        _choose_score(rec, scheme, use_assessment, assessed, assessed_sub)
    teams = {p: _team_figures([r for r in records if r["period"] == p], scheme) for p in periods}
    for rec in records:
        if rec["status"] == "ok":
            _compute_row(rec, scheme, teams[rec["period"]], warnings)

    matched = {r["matched_agent"] for r in records if r["matched_agent"]}
    ambiguous_names = {display[c] for r in records if r["status"] == "ambiguous"
                       for c in by_sub.get(norm_name(r["agent"]), [])}
    for key, name in display.items():
        if name not in matched:
            rec = {c: None for c in ROW_COLUMNS}
            if key in unassigned:
                rec.update(status="unassigned", message=_unassigned_message(name),
                           period="", agent=name, matched_agent=name, score=scores[key])
                _choose_score(rec, scheme, use_assessment, assessed, assessed_sub)
                records.append(rec)
                continue
            note = " (a sales row names its sub-account ambiguously)" if name in ambiguous_names else ""
            rec.update(status="not_in_sales", message=f"{name!r} is in the scores file but has no sales row{note}",
                       period="", agent=name, matched_agent=name, score=scores[key])
            _choose_score(rec, scheme, use_assessment, assessed, assessed_sub)
            records.append(rec)

    for rec in records:
        if rec["status"] != "ok":
            where = f" (sales line {rec['source_line']})" if rec["source_line"] is not None else ""
            # the unassigned message starts with its translated status already
            status = "" if rec["status"] == "unassigned" else f"{rec['status']}: "
            warnings.append(f"{status}{rec['message']}{where}")
    rows = pd.DataFrame(records, columns=ROW_COLUMNS, dtype=object)
    unmatched = rows.loc[rows["status"].isin(UNMATCHED_STATUSES),
                         ["status", "agent", "period", "role", "source_line", "score", "message"]].reset_index(drop=True)
    return CommissionResult(rows=rows, unmatched=unmatched, warnings=warnings, scheme=scheme)


def _assessment_index(assessment: pd.DataFrame) -> dict[str, tuple[Decimal | None, str]]:
    """``{norm_name(agent): (assessment_score, status)}`` of an assessment summary table."""
    if "agent" not in assessment.columns or "assessment_score" not in assessment.columns:
        raise SalesError(_("the assessment needs columns agent and assessment_score (the file written by "
                           "qa-scorer assess)"))
    statuses = assessment["status"] if "status" in assessment.columns else pd.Series("ok", index=assessment.index)
    names = assessment["agent"]
    if "matched_agent" in assessment.columns:  # the audited full name the assessment matched
        names = assessment["matched_agent"].where(assessment["matched_agent"].notna(), names)
    out: dict[str, tuple[Decimal | None, str]] = {}
    for name, value, status in zip(names, assessment["assessment_score"], statuses):
        key = norm_name(name)
        status = "ok" if status is None or (isinstance(status, float) and status != status) else str(status)
        if key in out and out[key][1] == "ok":
            continue  # the first usable row wins (a second one is a duplicate the assessment reported)
        out[key] = (to_decimal(value) if status == "ok" else None, status)
    return out


def _choose_score(rec: dict, scheme: Scheme, use_assessment: bool, assessed: dict, assessed_sub: dict) -> None:
    """Fill service_score / assessment_score / score_source and set ``score`` to the one the
    scheme multiplies by.  A person without a usable 绩效考核得分 is not paid (``no_assessment``)."""
    rec["service_score"] = rec["score"]
    rec["score_source"] = "assessment" if use_assessment else "service"
    if not use_assessment:
        return
    name = rec["matched_agent"] or rec["agent"]
    found = candidates_for(name, assessed, assessed_sub)
    entry = assessed[found[0]] if len(found) == 1 else None
    rec["assessment_score"] = entry[0] if entry else None
    rec["score"] = rec["assessment_score"]
    if rec["status"] != "ok":
        return
    if rec["role"] == "supervisor" and scheme.mode != "salary":
        return  # paid on the team's average score; their own sheet is not used
    if entry is None or entry[0] is None:
        rec["status"] = "no_assessment"
        if entry is None:
            rec["message"] = _("{agent} has no row in the assessment").format(agent=repr(str(name)))
        else:
            rec["message"] = _("{agent} has no 绩效考核得分 in the assessment (status {status})").format(
                agent=repr(str(name)), status=entry[1])


def _canonical_sales(sales_df: pd.DataFrame) -> pd.DataFrame:
    """Accept a hand-built sales DataFrame too: missing optional columns become empty, role names
    are mapped (售前 -> presales), numbers become Decimal."""
    if "agent" not in sales_df.columns or "role" not in sales_df.columns:
        raise SalesError("sales table needs columns agent and role")
    sales = sales_df.reset_index(drop=True).copy()
    roles = sales["role"].astype(str).map(lambda r: ROLE_ALIASES.get(header_key(r)))
    if roles.isna().any():
        bad = sales.loc[roles.isna(), "role"].iloc[0]
        raise SalesError(f"sales table: unknown role {bad!r}; allowed: {', '.join(ROLES)} (or 售前/售后/金牌/主管)")
    sales["role"] = roles.astype(str)
    sales["period"] = sales["period"].fillna("").astype(str) if "period" in sales.columns else ""
    if "source_line" not in sales.columns:
        sales["source_line"] = None
    for col in (*_MONEY_COLUMNS, *_COUNT_COLUMNS):
        sales[col] = sales[col].map(to_decimal).astype(object) if col in sales.columns else None
    return sales


def _team_figures(period_rows: list[dict], scheme: Scheme) -> dict[str, Any]:
    """Supervisor inputs for one period: the other (non-supervisor) rows of the sales file."""
    team = [r for r in period_rows if r["role"] != "supervisor" and r["status"] not in ("duplicate", "unassigned")]
    sales = [r["inquiry_sales"] for r in team
             if r["role"] in scheme.supervisor_sales_roles and r["inquiry_sales"] is not None]
    returns = [r["returns"] * r["aov"] for r in team
               if r["role"] in scheme.supervisor_aftersales_roles and r["returns"] is not None and r["aov"] is not None]
    scored = [r["score"] for r in team if r["score"] is not None and r["status"] == "ok"]
    return {"size": len(team), "scored": len(scored), "avg_sales": _mean(sales) or Decimal(0),
            "avg_returns_value": _mean(returns) or Decimal(0), "avg_score": _mean(scored),
            "n_sales": len(sales), "n_returns": len(returns)}


def _compute_row(rec: dict, scheme: Scheme, team: dict, warnings: list[str]) -> None:
    role = rec["role"]
    salary = scheme.mode == "salary"
    need = {"presales": ["inquiry_sales"], "aftersales": ["returns", "aov"],
            "gold": ["inquiry_sales", "returns", "aov"], "supervisor": []}[role]
    if salary:
        need = []  # base + post pay + 绩效基数 × score: no sales figure is used
    elif role == "presales" and scheme.presales_tiers:
        need += ["inquiries", "buyers"]
    missing = [c for c in need if rec[c] is None]
    if missing:
        rec["status"] = "missing_input"
        rec["message"] = f"role {role} needs {', '.join(missing)} but the cell is empty"
        return
    if rec["inquiries"] is not None and rec["buyers"] is not None and rec["inquiries"] > 0:
        rec["conversion_rate"] = rec["buyers"] / rec["inquiries"]
        if rec["buyers"] > rec["inquiries"]:
            warnings.append(f"{rec['agent']}: buyers ({rec['buyers']}) > inquiries ({rec['inquiries']}), "
                            f"conversion above 100% (sales line {rec['source_line']})")
    if rec["returns"] is not None and rec["aov"] is not None:
        rec["returns_value"] = rec["returns"] * rec["aov"]

    if role == "supervisor" and not salary:
        if team["avg_score"] is None:
            rec["status"] = "no_team"
            rec["message"] = "no team member of this period has a score, so there is no department average score"
            return
        score = team["avg_score"]
        rec["score_source"] = f"team_avg_{rec['score_source'] or 'service'}"
        rec["team_size"], rec["team_scored"] = team["size"], team["scored"]
        if team["n_sales"] == 0 or team["n_returns"] == 0:
            warnings.append(f"{rec['agent']}: the team has no {'sales' if team['n_sales'] == 0 else 'after-sales'} "
                            "rows this period; that supervisor term is 0")
    else:
        score = rec["score"]
        if score is None:
            rec["status"] = "no_score_value"
            if rec["matched_agent"] is None:  # a supervisor paid a salary needs a score of their own
                rec["message"] = _("{agent} has no score of their own; mode = \"salary\" pays 绩效基数 × "
                                   "the person's own score").format(agent=repr(str(rec["agent"])))
            else:
                rec["message"] = (f"{rec['matched_agent']!r} is in the scores file without a score "
                                  "(no scored conversations)")
            return
    if score > scheme.score_scale:
        warnings.append(f"{rec['agent']}: score {score} is above score_scale {scheme.score_scale}")
    fraction = score / scheme.score_scale
    rec["score"] = score
    rec["score_scale"] = scheme.score_scale
    rec["score_fraction"] = fraction
    two_part = scheme.mode == "two_part"
    f_txt = f"{_fmt_short(score)}/{fmt_decimal(scheme.score_scale)}"
    if salary:
        pay = scheme.salary[role]
        rec.update(base_pay=pay["base_pay"], post_pay=pay["post_pay"], performance_base=pay["performance_base"],
                   performance_pay=pay["performance_base"] * fraction, score_applies_to="performance_base")
        exact = pay["base_pay"] + pay["post_pay"] + rec["performance_pay"]
        rec["commission_exact"] = exact
        rec["commission"] = exact.quantize(FEN, rounding=ROUND_HALF_UP)  # the one and only rounding
        rec["formula"] = (f"{fmt_decimal(pay['base_pay'])} + {fmt_decimal(pay['post_pay'])} + "
                          f"{fmt_decimal(pay['performance_base'])} × {f_txt} = {rec['commission']}")
        return

    sales_base = returns_base = None
    sales_rate = returns_rate = None
    if role == "presales":
        sales_base = rec["inquiry_sales"]
        if scheme.presales_tiers:
            if rec["conversion_rate"] is None:
                warnings.append(f"{rec['agent']}: 0 inquiries, so no conversion rate; the lowest tier is used "
                                f"(sales line {rec['source_line']})")
                sales_rate = scheme.presales_tiers[0].rate
            else:
                sales_rate = [t.rate for t in scheme.presales_tiers if rec["conversion_rate"] >= t.min_conversion][-1]
        else:
            sales_rate = scheme.presales_rate
    elif role == "aftersales":
        returns_base, returns_rate = rec["returns_value"], scheme.aftersales_rate
    elif role == "gold":
        sales_base, sales_rate = rec["inquiry_sales"], scheme.gold_sales_rate
        returns_base, returns_rate = rec["returns_value"], scheme.gold_returns_rate
    else:
        sales_base, sales_rate = team["avg_sales"], scheme.supervisor_sales_rate
        returns_base, returns_rate = team["avg_returns_value"], scheme.supervisor_aftersales_rate

    sales_term = sales_base * sales_rate if sales_base is not None else None
    returns_term = returns_base * returns_rate if returns_base is not None else None
    rec.update(sales_base=sales_base, sales_rate=sales_rate, sales_term=sales_term,
               returns_base=returns_base, returns_rate=returns_rate, returns_term=returns_term)
    terms = [t for t in (sales_term, returns_term) if t is not None]
    volume = sum(terms, Decimal(0))
    parts_txt = []
    if sales_term is not None:
        parts_txt.append(f"{_fmt_short(sales_base)} × {fmt_decimal(sales_rate)}")
    if returns_term is not None:
        base_txt = (f"{fmt_decimal(rec['returns'])} × {fmt_decimal(rec['aov'])}" if role in ("aftersales", "gold")
                    else _fmt_short(returns_base))
        parts_txt.append(f"{base_txt} × {fmt_decimal(returns_rate)}")

    if two_part:
        pool = scheme.quality_pool[role]
        rec["quality_pool"] = pool
        rec["quality_part"] = pool * fraction
        rec["score_applies_to"] = "quality_pool"
        exact = volume + rec["quality_part"]
        formula = " + ".join(parts_txt + [f"{fmt_decimal(pool)} × {f_txt}"])
    elif role == "gold" and scheme.gold_score_applies_to == "returns_only":
        rec["score_applies_to"] = "returns_only"
        exact = sales_term + returns_term * fraction
        formula = f"{parts_txt[0]} + {parts_txt[1]} × {f_txt}"
    else:
        rec["score_applies_to"] = "all_terms"
        exact = volume * fraction
        inner = " + ".join(parts_txt)
        formula = f"({inner}) × {f_txt}" if len(parts_txt) > 1 else f"{inner} × {f_txt}"
    rec["commission_exact"] = exact
    rec["commission"] = exact.quantize(FEN, rounding=ROUND_HALF_UP)  # the one and only rounding
    rec["formula"] = f"{formula} = {rec['commission']}"


# ---------------------------------------------------------------------------------------------
# Output
# ---------------------------------------------------------------------------------------------

def _for_sheet(df: pd.DataFrame) -> pd.DataFrame:
    """Decimals -> floats (numeric cells), whole counts -> Int64, text neutralised for spreadsheets."""
    out = df.copy()
    for col in out.columns:
        values = out[col]
        if values.map(lambda v: isinstance(v, Decimal)).any():
            if col in _COUNT_COLUMNS or col in ("team_size", "team_scored", "source_line"):
                out[col] = pd.array([None if v is None else int(v) for v in values], dtype="Int64")
            else:
                out[col] = pd.to_numeric(values.map(lambda v: float(v) if isinstance(v, Decimal) else None),
                                         errors="coerce")
        elif col in ("team_size", "team_scored", "source_line"):
            out[col] = pd.array([None if v is None or v != v else int(v) for v in values], dtype="Int64")
    return excel_safe(out)


def write_payroll(result: CommissionResult, path: str | Path) -> list[Path]:
    """Write the payroll table: ``.xlsx`` (sheets payroll, unmatched, warnings, scheme) or ``.csv``
    (plus ``<name>.unmatched.csv``).  Returns the files written."""
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix not in (".xlsx", ".csv"):
        raise ValueError(f"{p}: the payroll output must end in .xlsx or .csv")
    p.parent.mkdir(parents=True, exist_ok=True)
    rows = _for_sheet(result.rows)
    unmatched = _for_sheet(result.unmatched)
    if suffix == ".csv":
        # CSV keeps the exact Decimal text (str(Decimal)), with a BOM so Excel shows Chinese.
        exact_rows = result.rows.map(lambda v: fmt_decimal(v) if isinstance(v, Decimal) else v)
        exact_rows["commission"] = result.rows["commission"].map(lambda v: "" if v is None else str(v))
        exact_rows = excel_safe(exact_rows)
        exact_rows.to_csv(p, index=False, encoding="utf-8-sig")
        side = p.with_name(p.stem + ".unmatched.csv")
        excel_safe(result.unmatched.map(lambda v: fmt_decimal(v) if isinstance(v, Decimal) else v)).to_csv(
            side, index=False, encoding="utf-8-sig")
        return [p, side]
    scheme_rows = pd.DataFrame(flatten_settings(result.scheme.to_dict() if result.scheme else {}), columns=["key", "value"])
    warnings = pd.DataFrame({"warning": result.warnings})
    with pd.ExcelWriter(p, engine="xlsxwriter") as writer:
        book = writer.book
        money = book.add_format({"num_format": "#,##0.00"})
        exact = book.add_format({"num_format": "0.00########"})
        rate = book.add_format({"num_format": "0.0####"})
        for sheet, frame in (("payroll", rows), ("unmatched", unmatched), ("warnings", excel_safe(warnings)),
                             ("scheme", excel_safe(scheme_rows))):
            frame.to_excel(writer, sheet_name=sheet, index=False)
            ws = writer.sheets[sheet]
            ws.freeze_panes(1, 0)
            for i, col in enumerate(frame.columns):
                fmt = None
                if col == "commission":
                    fmt = money
                elif col in _MONEY_OUT:
                    fmt = exact
                elif col in ("sales_rate", "returns_rate", "conversion_rate", "score_fraction"):
                    fmt = rate
                width = 40 if col in ("message", "formula", "warning", "value") else max(10, len(str(col)) + 2)
                ws.set_column(i, i, width, fmt)
    return [p]


def flatten_settings(d: dict, prefix: str = "") -> list[tuple[str, str]]:
    """A nested settings dict (a scheme, a sheet) as ("a.b.c", value text) rows for a spreadsheet;
    lists as JSON."""
    out = []
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.extend(flatten_settings(v, key + "."))
        elif isinstance(v, list):
            out.append((key, json.dumps(v, ensure_ascii=False, default=str)))
        else:
            out.append((key, str(v)))
    return out
