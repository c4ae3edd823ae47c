"""The assessment sheet (绩效考核表): curves, gates, the shipped role sheets, exact sums, invalid
sheets, missing agents, the KPI file and the ``qa-scorer assess`` command.

Every expected number is worked out by hand in the comment next to it; the month example of
docs/assessment.md is ``test_worked_month_presales`` (same numbers).
"""

from __future__ import annotations

import os
import random
import re
from decimal import Decimal
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from typer.testing import CliRunner

from qa_scorer import i18n
from qa_scorer.assessment import (
    KPIS, SHEETS, KpiError, SheetError, assess, load_sheet, load_sheets, read_agents, read_assessment, read_kpis,
    render_assessment_html, score_item, sheet_from_mapping, sheet_table, write_assessment,
)
from qa_scorer.cli import app
from qa_scorer.i18n import use_language

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs" / "assessment.md"
D = Decimal
runner = CliRunner()


@pytest.fixture(autouse=True)
def _no_language_leak():
    """A CLI call with --lang en exports QA_SCORER_LANG; remove it so later modules stay Chinese."""
    yield
    os.environ.pop("QA_SCORER_LANG", None)
    i18n.set_language(None)


# A hand-made month: agents.csv of the audit and the KPI file payroll supplies (GBK, Chinese
# headers; 阿杰 and 豆豆 named by their bare sub-account).
AGENTS_CSV = (
    "agent,conversations,service_score,reply_rate,within_3min_rate,avg_response_s,first_response_avg_s,"
    "online_hours_est,unassigned\n"
    "店A:小美,2111,88.7,0.962,0.93,41.5,30,151.25,False\n"
    "店A:阿杰,1240,91,0.97,0.95,45,30,170,False\n"
    "店A:豆豆,100,91.1,0.93,0.9,50,30,10,False\n"
    "店B:小王,50,50,0.5,0.5,200,100,20,False\n"
    "店A:(未分配),3,70,0,0,,,0,True\n"
)
KPIS_CSV = (
    "客服,岗位,周期,询单人数,成交人数,询单转化率,客单价,接待人数,退款率,退货率,解决率,投诉数,投诉率,好评率,改评数,在线时长,备注\n"
    "店A:小美,售前,2026-11,1520,741,,386.64,,6.2%,,,25,,,,,\n"
    "阿杰,售后,2026-11,,,,,,,6.5%,93.5%,,0.8%,97.2%,7,,\n"
    "豆豆,金牌,2026-11,,,53.12%,383.02,1890,7.4%,,95.1%,,1.1%,98.1%,,171,\n"
    "店A:老陈,主管,2026-11,,,44.3%,,,8.1%,,94.2%,,0.9%,97.6%,,,团队数据\n"
)


@pytest.fixture
def month(tmp_path):
    agents = tmp_path / "agents.csv"
    agents.write_text(AGENTS_CSV, encoding="utf-8-sig")
    kpis = tmp_path / "kpis.csv"
    kpis.write_bytes(KPIS_CSV.encode("gbk"))
    return agents, kpis


@pytest.fixture
def team(month):
    agents, kpis = month
    return assess(read_agents(agents), read_kpis(kpis), load_sheets(["presales", "aftersales", "gold", "supervisor"]))


def row(result, name):
    rows = result.rows[(result.rows["matched_agent"] == name) | (result.rows["agent"] == name)]
    assert len(rows) == 1, name
    return rows.iloc[0]


def points(result, name):
    items = result.items[(result.items["agent"] == name) & result.items["points"].notna()]
    return dict(zip(items["item"], items["points"]))


def item(**spec):
    """One item of a minimal valid sheet (a 100-point score item keeps the weights valid)."""
    data = {"role": "presales", "items": {"base": {"kpi": "service_score", "weight": 100, "floor": 0, "target": 100},
                                          "x": spec}}
    if spec.get("type", "score") == "score":
        data["items"]["base"]["weight"] = 100 - spec["weight"]
    return sheet_from_mapping(data, where="t.toml").items[1]


# --- curves ------------------------------------------------------------------------------------

def test_linear_higher_is_better_clamps_and_rounds_half_up():
    it = item(kpi="service_score", weight=35, floor=60, target=95)
    assert score_item(it, D(50))[1] == D("0.00")          # below the floor: clamped to 0
    assert score_item(it, D(60))[1] == D("0.00")
    assert score_item(it, D("77.5"))[1] == D("17.50")     # 17.5 / 35 = 0.5 -> 35 x 0.5
    assert score_item(it, D(95))[1] == D("35.00")
    assert score_item(it, D(100))[1] == D("35.00")        # above the target: clamped to the weight
    served = item(kpi="buyers_served", weight=12, floor=1000, target=2500)
    assert score_item(served, D(2111))[1] == D("8.89")    # 1111 / 1500 x 12 = 8.888 -> 8.89
    # 0.625 / 1500 x 12 = 0.005 exactly: half up gives 0.01 (banker's rounding would give 0.00)
    assert score_item(served, D("1000.625"))[1] == D("0.01")
    # 15 x 1 / 3000 = 0.005 exactly (the fraction 1/3000 = 0.000333… alone would round it to 0.00)
    thin = item(kpi="buyers_served", weight=15, floor=0, target=3000)
    assert score_item(thin, D(1))[1] == D("0.01")


def test_linear_lower_is_better_refund_rate():
    it = item(kpi="refund_rate", weight=8, better="lower", floor=0.15, target=0.05)
    assert score_item(it, D("0.20"))[1] == D("0.00")      # worse than the floor
    assert score_item(it, D("0.10"))[1] == D("4.00")      # (0.10-0.15)/(0.05-0.15) = 0.5
    assert score_item(it, D("0.062"))[1] == D("7.04")     # -0.088 / -0.10 = 0.88 x 8
    assert score_item(it, D("0.05"))[1] == D("8.00")
    assert score_item(it, D("0.01"))[1] == D("8.00")      # better than the target: clamped


def test_tiers_min_and_max():
    aov = item(kpi="aov", weight=20, curve="tiers",
               tiers=[{"min": 200, "points": 10}, {"min": 300, "points": 15}, {"min": 400, "points": 20}])
    assert [score_item(aov, D(v))[1] for v in ("199.99", "200", "386.64", "400", "1000")] == \
        [D("0.00"), D("10.00"), D("15.00"), D("20.00"), D("20.00")]
    refund = item(kpi="refund_rate", weight=5, curve="tiers",
                  tiers=[{"max": 0.02, "points": 5}, {"max": 0.05, "points": 3}])
    # <= 2% -> 5; <= 5% -> 3; above -> 0
    assert [score_item(refund, D(v))[1] for v in ("0.01", "0.02", "0.03", "0.06")] == \
        [D("5.00"), D("5.00"), D("3.00"), D("0.00")]


def test_deductions_linear_and_tiers():
    lin = item(kpi="complaint_rate", type="deduction", weight=10, better="lower", floor=0.03, target=0.005)
    assert score_item(lin, D("0.005"))[1] == D("0.00")
    assert score_item(lin, D("0.0175"))[1] == D("-5.00")  # halfway: -10 x (1 - 0.5)
    assert score_item(lin, D("0.05"))[1] == D("-10.00")
    tiers = item(kpi="complaint_rate", type="deduction", weight=10, curve="tiers",
                 tiers=[{"min": 0.01, "points": 5}, {"min": 0.02, "points": 10}])
    assert [score_item(tiers, D(v))[1] for v in ("0.009", "0.01", "0.0199", "0.02")] == \
        [D("0.00"), D("-5.00"), D("-5.00"), D("-10.00")]


def test_pass_fail_gates():
    online = item(kpi="online_hours", type="deduction", curve="pass_fail", target=160, weight=5)
    assert score_item(online, D(160)) == (D(1), D("0.00"), True)            # at the target: passes
    assert score_item(online, D("159.99")) == (D(0), D("-5.00"), False)
    speed = item(kpi="avg_response_s", type="deduction", curve="pass_fail", better="lower", target=60, weight=5)
    assert score_item(speed, D(60))[2] is True and score_item(speed, D("60.1"))[1] == D("-5.00")
    earned = item(kpi="reply_rate", curve="pass_fail", target=0.95, weight=10)      # a score item: all or nothing
    assert score_item(earned, D("0.95"))[1] == D("10.00") and score_item(earned, D("0.9"))[1] == D("0.00")
    bonus = item(kpi="positive_rate", type="bonus", weight=3, floor=0.95, target=0.99)
    assert score_item(bonus, D("0.972"))[1] == D("1.65")                    # 0.022 / 0.04 = 0.55 x 3


def _one_agent_sheet(extra_items: dict, max_total=100):
    return sheet_from_mapping({"role": "presales", "max_total": max_total, "items": {
        "service": {"kpi": "service_score", "weight": 100, "floor": 0, "target": 100}, **extra_items}},
        where="t.toml")


def _agents(**values):
    base = {"agent": "店:小美", "service_score": 90, "reply_rate": 0.9, "avg_response_s": 30,
            "online_hours_est": 100, "conversations": 10}
    return pd.DataFrame([{**base, **values}])


def test_gate_on_fail_zero_sets_the_total_to_zero():
    sheet = _one_agent_sheet({"reply": {"kpi": "reply_rate", "type": "deduction", "curve": "pass_fail",
                                        "target": 0.95, "weight": 5, "on_fail": "zero"}})
    result = assess(_agents(), None, sheet)
    r = row(result, "店:小美")
    # service 90 / 100 x 100 = 90.00; reply 0.9 < 0.95: -5.00; the gate zeroes: -85.00 -> 0
    assert points(result, "店:小美") == {"service": D("90.00"), "reply": D("-5.00"), "gate_zero": D("-85.00")}
    assert r["assessment_score"] == D("0.00") and r["adjustment_points"] == D("-85.00")
    assert r["formula"] == "90.00 - 5.00 - 85.00 = 0.00"


def test_total_is_capped_at_max_total_and_raised_to_zero():
    bonus = {"b": {"kpi": "positive_rate", "type": "bonus", "weight": 5, "floor": 0.9, "target": 1}}
    sheet = _one_agent_sheet(bonus)
    kpis = pd.DataFrame([{"agent": "店:小美", "positive_rate": "0.95"}])
    # service 99 -> 99.00; bonus (0.95 - 0.9)/0.1 = 0.5 x 5 = 2.50; 101.50 capped at 100: -1.50
    r = assess(_agents(service_score=99), kpis, sheet)
    assert points(r, "店:小美") == {"service": D("99.00"), "b": D("2.50"), "cap_adjustment": D("-1.50")}
    assert row(r, "店:小美")["assessment_score"] == D("100.00")
    # max_total 110: nothing capped, 101.50
    assert row(assess(_agents(service_score=99), kpis, _one_agent_sheet(bonus, max_total=110)),
               "店:小美")["assessment_score"] == D("101.50")
    ded = _one_agent_sheet({"c": {"kpi": "reply_rate", "type": "deduction", "curve": "pass_fail", "target": 0.95,
                                  "weight": 20}})
    # service 10 -> 10.00; reply fails: -20.00 -> -10.00, raised to 0 by +10.00
    r = assess(_agents(service_score=10), None, ded)
    assert points(r, "店:小美") == {"service": D("10.00"), "c": D("-20.00"), "floor_adjustment": D("10.00")}
    assert row(r, "店:小美")["assessment_score"] == D("0.00")


# --- the shipped sheets and their roles --------------------------------------------------------

def test_shipped_sheets_follow_the_sources_order_and_say_examples():
    weights = {name: {i.name: i.weight for i in load_sheet(name).items if i.type == "score"} for name in SHEETS}
    for name in SHEETS:
        assert sum(weights[name].values()) == 100
        text = (ROOT / "qa_scorer" / "data" / "sheets" / f"{name}.toml").read_text(encoding="utf-8")
        assert "EXAMPLE, NOT FROM THE SOURCES" in text
    pre = weights["presales"]   # service > conversion > 客单价 > 接待量 > refund (DOMAIN.md)
    assert pre["service"] > pre["conversion"] > pre["aov"] > pre["buyers_served"] > pre["refund"]
    after = weights["aftersales"]   # service = resolution, 接待量 lowest
    assert after["service"] == after["resolution"] > after["buyers_served"]
    kinds = {i.kpi: (i.type, i.curve) for i in load_sheet("presales").items}
    for basic in ("online_hours", "reply_rate", "avg_response_s"):       # pass/fail basics
        assert kinds[basic] == ("deduction", "pass_fail")
    assert kinds["complaint_rate"][0] == "deduction"
    assert {i.kpi for i in load_sheet("presales").items if i.type == "bonus"} == {"conversion_rate"}
    assert {i.kpi for i in load_sheet("aftersales").items if i.type == "bonus"} == \
        {"positive_rate", "return_rate", "revised_reviews"}
    assert [s.role for s in load_sheets("presales,aftersales,gold,supervisor")] == list(SHEETS)


def test_worked_month_presales(team):
    # docs/assessment.md "A month, by hand": 店A:小美 on the shipped presales sheet.
    r = row(team, "店A:小美")
    assert r["status"] == "ok" and r["sheet"] == "presales"
    assert points(team, "店A:小美") == {
        "service": D("28.70"),         # (88.7 - 60) / (95 - 60) = 0.82 x 35
        "conversion": D("25.00"),      # 741 / 1520 = 48.75% >= 45%: full 25
        "aov": D("15.00"),             # 386.64: tier >= 300
        "buyers_served": D("8.89"),    # audit conversations 2111: 1111 / 1500 x 12 = 8.888
        "refund": D("7.04"),           # 6.2%: 0.88 x 8
        "complaints": D("-5.00"),      # 25 / 2111 = 1.18% >= 1%
        "online_hours": D("-5.00"),    # estimate 151.25 h < 160
        "reply_rate": D("0.00"),       # 96.2% >= 95%
        "response_speed": D("0.00"),   # 41.5 s <= 60
        "conversion_bonus": D("1.25"),  # (48.75% - 45%) / 15% = 0.25 x 5
    }
    # 84.63 score items + 1.25 bonus - 10.00 deductions = 75.88
    assert (r["score_points"], r["bonus_points"], r["deduction_points"]) == (D("84.63"), D("1.25"), D("-10.00"))
    assert r["assessment_score"] == D("75.88") and r["service_score"] == D("88.7")
    assert r["formula"] == ("28.70 + 25.00 + 15.00 + 8.89 + 7.04 - 5.00 - 5.00 + 0.00 + 0.00 + 1.25 = 75.88")
    items = team.items.set_index("item").loc[lambda d: d["agent"] == "店A:小美"]
    assert items.loc["conversion", "value_source"] == "kpis: buyers / inquiries"
    assert items.loc["complaints", "value_source"] == "kpis: complaints / buyers_served"
    assert items.loc["online_hours", "value_source"] == "estimate"
    assert items.loc["buyers_served", "value_source"] == "audit"
    docs = DOCS.read_text(encoding="utf-8")
    for figure in ("28.70", "8.89", "7.04", "1.25", "75.88", "455.28", "4258.80"):
        assert figure in docs


def test_aftersales_gold_and_supervisor_sheets(team):
    # 阿杰 (售后): service (91-60)/35 x 40 = 35.428 -> 35.43; resolution (93.5%-80%)/18% = 0.75 x 40
    # = 30.00; 接待量 (audit 1240 - 500)/1000 x 20 = 14.80; complaints 0.8% < 1%: 0; online
    # (estimate 170) passes; positive (97.2%-95%)/4% = 0.55 x 3 = 1.65; return (6.5%-10%)/(3%-10%)
    # = 0.5 x 3 = 1.50; 7 revised reviews >= 6: 4.  80.23 + 7.15 = 87.38
    assert row(team, "店A:阿杰")["assessment_score"] == D("87.38")
    assert points(team, "店A:阿杰")["service"] == D("35.43")
    assert points(team, "店A:阿杰")["return_rate"] == D("1.50")
    # 豆豆 (金牌): service 31.1/35 x 30 = 26.657 -> 26.66; conversion 53.12% -> 20; resolution
    # 15.1/18 x 20 = 16.78; aov 383.02 -> 8; 接待量 (KPI 1890 wins over the audit's 100)
    # 1090/1200 x 10 = 9.08; refund 7.4% -> 0.76 x 10 = 7.60  (= 88.12); complaints 1.1% -5;
    # reply 93% < 95% -5; online 171 (KPI wins over the estimate 10) passes; conversion bonus
    # 8.12/15 x 3 = 1.624 -> 1.62; positive 3.1/4 x 2 = 1.55.  88.12 - 10 + 3.17 = 81.29
    dou = row(team, "店A:豆豆")
    assert (dou["agent"], dou["role"], dou["assessment_score"]) == ("豆豆", "gold", D("81.29"))
    assert points(team, "店A:豆豆")["buyers_served"] == D("9.08")
    # 老陈 (主管, not in the audit): team service score = mean of 店A's people, not 店B's and not
    # the (未分配) bucket: (88.7 + 91 + 91.1) / 3 = 90.2666…; (90.2666… - 70)/25 x 40 = 32.4266 ->
    # 32.43; conversion 0.972 x 20 = 19.44; resolution 14.2/18 x 20 = 15.78; refund 0.69 x 10 =
    # 6.90; positive 0.65 x 10 = 6.50; complaints 0.9%: 0.  Total 81.05
    chen = row(team, "店A:老陈")
    assert chen["assessment_score"] == D("81.05") and chen["service_score"] is None
    assert points(team, "店A:老陈")["team_service"] == D("32.43")


def test_itemised_points_sum_exactly(team):
    ok = team.rows[team.rows["status"] == "ok"]
    assert len(ok) == 4
    for _i, r in ok.iterrows():
        name = r["matched_agent"] or r["agent"]   # 老陈 (主管) is not in the audit
        assert sum(points(team, name).values(), D(0)) == r["assessment_score"]
        assert r["score_points"] + r["bonus_points"] + r["deduction_points"] + r["adjustment_points"] == \
            r["assessment_score"]
        table = sheet_table(team, name)
        assert table["points"].iloc[-1] == f"{r['assessment_score']:.2f}"
        assert sum(D(p) for p in table["points"].iloc[:-1]) == r["assessment_score"]


def test_random_values_always_sum_exactly():
    rng = random.Random(17)
    sheet = load_sheet("presales")
    rows, kpis = [], []
    for i in range(200):
        name = f"店:a{i}"
        rows.append({"agent": name, "service_score": round(rng.uniform(0, 100), 1),
                     "reply_rate": rng.random(), "avg_response_s": rng.uniform(5, 200),
                     "online_hours_est": rng.uniform(0, 250), "conversations": rng.randint(0, 4000)})
        kpis.append({"agent": name, "conversion_rate": f"{rng.uniform(0, 80):.2f}%", "aov": f"{rng.uniform(50, 600):.2f}",
                     "refund_rate": f"{rng.random() / 3:.4f}", "complaint_rate": f"{rng.random() / 20:.4f}"})
    result = assess(pd.DataFrame(rows), pd.DataFrame(kpis), sheet)
    assert (result.rows["status"] == "ok").all()
    sums = result.items.groupby("agent")["points"].apply(lambda s: sum(s, D(0)))
    for _i, r in result.rows.iterrows():
        assert sums[r["agent"]] == r["assessment_score"]
        assert D(0) <= r["assessment_score"] <= D(100)


# --- invalid sheets ----------------------------------------------------------------------------

def _write_sheet(tmp_path, text, name="bad.toml"):
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def _broken(tmp_path, old, new):
    text = (ROOT / "qa_scorer" / "data" / "sheets" / "presales.toml").read_text(encoding="utf-8")
    assert old in text
    return _write_sheet(tmp_path, text.replace(old, new, 1), "presales.toml")


@pytest.mark.parametrize("old,new,expected", [
    ("weight = 35 ", "weight = 30 ",
     r"presales\.toml: \[items\] weights of the score items sum to 95, not 100 \(service 30 \+ conversion 25 "
     r"\+ aov 20 \+ buyers_served 12 \+ refund 8\) — adjust the weights so they add up to 100"),
    ('kpi = "conversion_rate"\nweight = 25', 'kpi = "conversions"\nweight = 25',
     r"presales\.toml: \[items\.conversion\] kpi: unknown KPI 'conversions'; known KPIs: service_score, .*revised_reviews"),
    ("floor = 60 ", "floor = 99 ",
     r"presales\.toml: \[items\.service\] target 95 is not above floor 99 — .* swap them, or set better = \"lower\""),
    ("floor = 0.15 ", "floor = 0.01 ",
     r"presales\.toml: \[items\.refund\] target 0\.05 is not below floor 0\.01 — .*swap them"),
    ("{ min = 400, points = 20 }", "{ min = 400, points = 18 }",
     r"presales\.toml: \[items\.aov\] no tier gives the full weight 20"),
    ("{ min = 300, points = 15 }", "{ max = 300, points = 15 }",
     r"presales\.toml: \[items\.aov\] mixes min and max tiers"),
    ("target = 0.95 ", "target = 95 ", r"\[items\.reply_rate\] target = 95: reply_rate is a rate between 0 and 1 — "
                                       r"write 0\.95 for 95%"),
    ('role = "presales"', 'role = "manager"', r"presales\.toml: role must be one of presales, aftersales, gold, "
                                              r"supervisor"),
    ("weight = 12 ", "weight = 12\nfloors = 3\n", r"\[items\.buyers_served\]: unknown key\(s\) 'floors'; allowed: kpi"),
    ('target = 160 ', 'target = 160\non_fail = "never"\n', r"\[items\.online_hours\] on_fail must be one of deduct, zero"),
    ('kpi = "aov"\n', 'kpi = "aov"\non_fail = "zero"\n', r"\[items\.aov\] on_fail is not used with curve = 'tiers'"),
    ("weight = 8 ", "weight = -8 ", r"\[items\.refund\] weight must be a number >= 0, got -8"),
])
def test_invalid_sheets_name_file_key_and_fix(tmp_path, old, new, expected):
    path = _broken(tmp_path, old, new)
    with use_language("en"), pytest.raises(SheetError) as exc:
        load_sheet(path)
    assert re.search(expected, str(exc.value)), str(exc.value)


def test_sheet_file_errors(tmp_path):
    with use_language("en"):
        with pytest.raises(SheetError, match="nosuch.toml: sheet file not found; .*presales, aftersales, gold"):
            load_sheet(tmp_path / "nosuch.toml")
        with pytest.raises(SheetError, match="x.toml: not valid TOML"):
            load_sheet(_write_sheet(tmp_path, "role = \n", "x.toml"))
        with pytest.raises(SheetError, match=r"\[items\] is missing or empty"):
            load_sheet(_write_sheet(tmp_path, 'role = "售前"\n', "y.toml"))
        with pytest.raises(SheetError, match="both sheets for the role presales"):
            load_sheets(["presales", "presales"])


# --- missing agents and matching ---------------------------------------------------------------

def test_missing_agents_are_reported_not_scored(team):
    wang = row(team, "店B:小王")    # in the audit, not in the KPI file, several sheets: role unknown
    assert wang["status"] == "missing_kpis" and wang["assessment_score"] is None
    bucket = row(team, "店A:(未分配)")
    assert bucket["status"] == "unassigned"
    assert team.missing["agent"].tolist() == ["店B:小王"]
    # the warning was written when the fixture ran, in the default language (Chinese)
    assert any("'店B:小王' 不在考核数据文件中" in w for w in team.warnings)


def test_one_sheet_agent_missing_from_the_kpi_file(month):
    agents, kpis = month
    result = assess(read_agents(agents), read_kpis(kpis), load_sheet("presales"))
    wang = row(result, "店B:小王")   # presales is the only sheet, so its role is known; its KPIs are not
    assert wang["status"] == "missing_kpis" and wang["assessment_score"] is None
    assert wang["missing"] == "conversion_rate|aov|refund_rate|complaint_rate"
    # the KPIs the audit has are still shown, without a total
    assert points(result, "店B:小王") == {"service": D("0.00"), "buyers_served": D("0.00"), "online_hours": D("-5.00"),
                                         "reply_rate": D("-5.00"), "response_speed": D("-5.00")}
    # KPI rows of other roles have no sheet: not scored, reported
    assert row(result, "店A:阿杰")["status"] == "no_sheet"
    assert set(result.missing["status"]) == {"missing_kpis", "no_sheet"}
    assert row(result, "店A:小美")["assessment_score"] == D("75.88")


def test_empty_kpi_cell_and_kpi_row_without_audit(tmp_path, month):
    agents, _kpis = month
    kpis = tmp_path / "k.csv"
    kpis.write_text("客服,询单转化率,客单价,退款率,投诉率\n店A:小美,40%,300,,1%\n店A:新人,30%,300,5%,0%\n", encoding="utf-8")
    with use_language("en"):
        result = assess(read_agents(agents), read_kpis(kpis), load_sheet("presales"))
        mei = row(result, "店A:小美")
        assert mei["status"] == "missing_kpis" and mei["missing"] == "refund_rate"
        assert "has no value for refund_rate" in mei["message"]
        new = row(result, "店A:新人")
        assert new["status"] == "not_in_scores" and "not in the audit" in new["message"]
        assert new["source_line"] == 3


def test_missing_audit_value_is_missing_not_zero():
    # an agent with no answered round has no average response time (NaN in agents.csv)
    sheet = _one_agent_sheet({"speed": {"kpi": "avg_response_s", "type": "deduction", "curve": "pass_fail",
                                        "better": "lower", "target": 60, "weight": 5}})
    result = assess(_agents(avg_response_s=float("nan")), None, sheet)
    r = row(result, "店:小美")
    assert (r["status"], r["missing"], r["assessment_score"]) == ("missing_kpis", "avg_response_s", None)
    assert points(result, "店:小美") == {"service": D("90.00")}


def test_ambiguous_duplicate_and_periods(tmp_path):
    agents = pd.DataFrame({"agent": ["店A:小美", "店B:小美", "店A:阿杰"], "service_score": [90, 80, 70],
                           "reply_rate": 1, "avg_response_s": 10, "online_hours_est": 200, "conversations": 10})
    kpis = tmp_path / "k.csv"
    kpis.write_text("客服,周期,询单转化率,客单价,退款率,投诉率\n小美,2026-11,40%,300,5%,0\n"
                    "阿杰,2026-11,40%,300,5%,0\n店A:阿杰,2026-11,40%,300,5%,0\n阿杰,2026-10,40%,300,5%,0\n",
                    encoding="utf-8")
    table = read_kpis(kpis)
    with use_language("en"):
        with pytest.raises(KpiError, match="several periods \\(2026-10, 2026-11\\); choose one with --period"):
            assess(agents, table, load_sheet("presales"))
        result = assess(agents, table, load_sheet("presales"), period="2026-11")
        assert row(result, "小美")["status"] == "ambiguous"
        dups = result.rows[result.rows["status"] == "duplicate"]
        assert dups["source_line"].tolist() == [3, 4] and "lines 3, 4" in dups["message"].iloc[0]
        # nobody is silently scored: both 小美 of the audit lack a usable KPI row, and are told why
        both = result.rows.loc[result.rows["agent"].isin(["店A:小美", "店B:小美"])]
        assert set(both["status"]) == {"missing_kpis"} and both["assessment_score"].isna().all()
        assert all("names its sub-account ambiguously" in m for m in both["message"])
        assert set(both["period"]) == {"2026-11"}
        with pytest.raises(KpiError, match="no row for period '2026-12'"):
            assess(agents, table, load_sheet("presales"), period="2026-12")
        with pytest.raises(KpiError, match="give --kpis FILE"):
            assess(agents, None, load_sheet("presales"))


# --- the KPI file ------------------------------------------------------------------------------

def test_kpi_file_gbk_with_chinese_headers(month):
    _agents_path, kpis = month
    table = read_kpis(kpis)
    assert table.attrs["ignored_columns"] == ["备注"]
    mei = table.iloc[0]
    assert (mei["agent"], mei["role"], mei["period"]) == ("店A:小美", "presales", "2026-11")
    assert mei["refund_rate"] == D("0.062") and mei["inquiries"] == D(1520) and mei["conversion_rate"] is None
    assert table.iloc[2]["conversion_rate"] == D("0.5312") and table.iloc[2]["online_hours"] == D(171)


def test_kpi_file_xlsx(tmp_path):
    path = tmp_path / "kpis.xlsx"
    pd.DataFrame({"子账号": ["店A:小美"], "岗位": ["售前"], "询单转化率": [0.4875], "客单价": ["¥386.64"],
                  "退款率": ["6.2%"], "投诉率": ["0.4％"], "在线时长(小时)": [176]}).to_excel(path, index=False)
    table = read_kpis(path)
    mei = table.iloc[0]
    assert (mei["conversion_rate"], mei["aov"], mei["refund_rate"]) == (D("0.4875"), D("386.64"), D("0.062"))
    assert mei["complaint_rate"] == D("0.004") and mei["online_hours"] == D(176)
    agents = pd.DataFrame([{"agent": "店A:小美", "service_score": 95, "reply_rate": 1, "avg_response_s": 20,
                            "online_hours_est": 3, "conversations": 2500}])
    result = assess(agents, table, load_sheet("presales"))
    # 35 + 25 + 15 + 12 + 7.04 (refund 0.88 x 8) + 1.25 (bonus) = 95.29; online 176 (KPI, not 3) passes
    assert row(result, "店A:小美")["assessment_score"] == D("95.29")


@pytest.mark.parametrize("text,expected", [
    ("客服,退款率\n小美,35\n", r"k\.csv: line 2, column refund_rate: '35' is above 1 — write a rate as 0\.35 or 35%"),
    ("客服,客单价\n小美,12k\n", r"k\.csv: line 2, column aov: '12k' is not a number"),
    ("客服,改评数\n小美,2.5\n", r"k\.csv: line 2, column revised_reviews: '2\.5' must be a whole number"),
    ("姓名,退款率\n小美,0.1\n", r"k\.csv: missing column agent"),
    ("客服,备注\n小美,x\n", r"k\.csv: no KPI column found; known columns: conversion_rate: 询单转化率/转化率"),
    ("客服,岗位,退款率\n小美,经理,0.1\n", r"k\.csv: line 2, column role: unknown role '经理'"),
    ("客服,退款率\n,0.1\n", r"k\.csv: line 2: the agent \(客服\) cell is empty"),
])
def test_kpi_file_errors_name_file_line_and_column(tmp_path, text, expected):
    path = tmp_path / "k.csv"
    path.write_text(text, encoding="utf-8")
    with use_language("en"), pytest.raises(KpiError) as exc:
        read_kpis(path)
    assert re.search(expected, str(exc.value)), str(exc.value)


# --- online hours (在线时长) estimated at audit time -------------------------------------------

def _chat(rows):
    from qa_scorer.schema import MESSAGE_COLUMNS

    out = [(cid, pd.Timestamp(f"2026-03-02 {t}"), who, role, text, "chat.csv", i + 2, "店", "")
           for i, (cid, t, who, role, text) in enumerate(rows)]
    df = pd.DataFrame(out, columns=MESSAGE_COLUMNS)
    df["sent_at"] = df["sent_at"].astype("datetime64[ns]")
    return df


def test_online_hours_estimate_from_reply_times():
    from qa_scorer.metrics import agent_metrics, conversation_metrics
    from qa_scorer.settings import MetricSettings

    mei, wang = "店:小美", "店:小王"
    messages = _chat([
        ("c1", "09:00:00", "tb_1", "customer", "在吗"),
        ("c1", "09:00:00", mei, "agent", "在的呢亲"),
        ("c1", "09:10:00", mei, "agent", "还有什么可以帮您"),      # +600 s
        ("c2", "09:45:00", "tb_2", "customer", "有货吗"),
        ("c2", "09:50:00", mei, "agent", "有货的亲"),              # gap 40 min > 30: offline, not counted
        ("c2", "09:55:00", mei, "auto", "[自动回复]稍等"),           # auto-replies are not the agent's activity
        ("c2", "09:55:00", mei, "agent", "尺码标准的"),             # +300 s
        ("c3", "10:00:00", "tb_3", "customer", "发什么快递"),
        ("c3", "10:00:00", mei, "agent", "默认中通哦亲"),            # +300 s (another conversation: same agent)
        ("c4", "10:00:00", "tb_4", "customer", "你好"),
        ("c4", "10:30:00", wang, "agent", "您好亲"),                # a lone reply: 0
    ])
    settings = MetricSettings(question_types="keywords")
    t = conversation_metrics(messages, settings)
    agents = agent_metrics(t.replies, t.rounds, t.conversations, settings).set_index("agent")
    # 小美: 600 + 300 + 300 = 1200 s = 0.3333 h (4 decimals); 小王: 0
    assert agents.loc[mei, "online_hours_est"] == pytest.approx(0.3333)
    assert agents.loc[wang, "online_hours_est"] == 0
    # with 45-minute gaps the 40-minute gap counts too: 1200 + 2400 = 3600 s = 1 h
    wide = MetricSettings(question_types="keywords", online_gap_minutes=45)
    t = conversation_metrics(messages, wide)
    assert agent_metrics(t.replies, t.rounds, t.conversations, wide).set_index("agent").loc[
        mei, "online_hours_est"] == 1.0
    # the order of the reply rows does not matter (chunks are concatenated in any order)
    shuffled = t.replies.sample(frac=1.0, random_state=1)
    assert agent_metrics(shuffled, t.rounds, t.conversations, wide).set_index("agent").loc[
        mei, "online_hours_est"] == 1.0


def test_online_gap_setting_is_validated():
    from qa_scorer.settings import SettingsError, settings_from_mapping

    assert settings_from_mapping({"online_gap_minutes": 20}).online_gap_minutes == 20
    with pytest.raises(SettingsError, match="online_gap_minutes must be a whole number >= 0"):
        settings_from_mapping({"online_gap_minutes": -1})


def test_online_hours_is_vectorised_on_many_replies():
    import time

    import numpy as np

    from qa_scorer.metrics import online_hours_from_replies

    n = 500_000
    rng = np.random.default_rng(0)
    codes = rng.integers(0, 50, n)
    times = pd.Series(pd.Timestamp("2026-11-01") + pd.to_timedelta(np.sort(rng.integers(0, 30 * 86400, n)), unit="s"))
    start = time.perf_counter()
    hours = online_hours_from_replies(codes, times, 50, 30)
    assert time.perf_counter() - start < 5
    assert len(hours) == 50 and (hours > 0).all()


# --- output ------------------------------------------------------------------------------------

def test_write_and_read_back_xlsx_csv_and_html(tmp_path, team):
    written = write_assessment(team, tmp_path / "assessment.xlsx")
    assert [p.name for p in written] == ["assessment.xlsx", "assessment.html"]
    wb = openpyxl.load_workbook(written[0])
    assert wb.sheetnames == ["assessment", "items", "missing", "warnings", "sheets"]
    back = read_assessment(written[0]).set_index("agent")
    assert back.loc["店A:豆豆", "assessment_score"] == D("81.29")   # the matched full name
    assert back.loc["店B:小王", "assessment_score"] is None and back.loc["店B:小王", "status"] == "missing_kpis"
    csv = write_assessment(team, tmp_path / "a.csv", html=False)
    assert [p.name for p in csv] == ["a.csv", "a.items.csv", "a.missing.csv"]
    assert read_assessment(csv[0]).set_index("agent").loc["店A:小美", "assessment_score"] == D("75.88")
    html = written[1].read_text(encoding="utf-8")
    assert "75.88" in html and "店A:小美" in html and "Content-Security-Policy" in html


def test_html_escapes_agent_names_and_sheet_table():
    agents = _agents(agent="店:<script>alert(1)</script>")
    result = assess(agents, None, _one_agent_sheet({}))
    html = render_assessment_html(result)
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    with use_language("en"):
        table = sheet_table(result, "<script>alert(1)</script>")
        assert table.columns.tolist() == ["item", "type", "value", "source", "rule", "weight", "points"]
        assert table.iloc[0].tolist() == ["Service score", "score item", "90", "audit", "linear: 0 = 0, 100 = full",
                                          "100", "90.00"]
        assert table.iloc[-1]["points"] == "90.00"
    assert sheet_table(result, "nobody").empty


# --- the command -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def sample_audit(tmp_path_factory, chinese_for_module):
    from qa_scorer.pipeline import AuditOptions, audit

    out = tmp_path_factory.mktemp("assess") / "qa-report"
    audit([str(ROOT / "sample_transcripts")], AuditOptions(out_dir=out, html=False, xlsx=False, tags=False))
    return out


def test_assess_command_on_the_sample_audit(sample_audit, tmp_path):
    out = tmp_path / "assessment.xlsx"
    args = ["--lang", "en", "assess", "--scores", str(sample_audit / "agents.csv"), "--kpis",
            str(ROOT / "sample_transcripts" / "kpis_2026-11.csv"), "--sheet", "presales,aftersales",
            "--sheet", "gold", "--sheet", "supervisor", "--out", str(out)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "sheets presales, aftersales, gold, supervisor: 5 of 12 agents assessed" in result.output
    assert "柚子家居旗舰店:糖糖 (not_in_scores)" in result.output        # sales but no chats
    assert "小熊母婴专营店:乐乐 (missing_kpis)" in result.output          # another shop: no KPI row
    assert "assessment.html" in result.output
    back = read_assessment(out).set_index("agent")
    for name in ("柚子家居旗舰店:小美", "柚子家居旗舰店:七七", "柚子家居旗舰店:阿杰", "柚子家居旗舰店:豆豆",
                 "柚子家居旗舰店:老陈"):
        assert back.loc[name, "status"] == "ok" and back.loc[name, "assessment_score"] is not None
    items = pd.read_excel(out, sheet_name="items")
    summary = pd.read_excel(out, sheet_name="assessment").set_index("agent")
    for name, group in items.groupby("agent"):
        assert round(group["points"].sum(), 2) == round(summary.loc[name, "assessment_score"], 2)
    jie = items[(items["agent"] == "柚子家居旗舰店:阿杰") & (items["item"] == "online_hours")].iloc[0]
    assert jie["value_source"] == "estimate"       # 在线时长 left empty in the KPI file: the estimate
    strict = runner.invoke(app, [*args, "--strict"])
    assert strict.exit_code == 1


def test_assess_command_errors(sample_audit, tmp_path):
    scores = str(sample_audit / "agents.csv")
    kpis = str(ROOT / "sample_transcripts" / "kpis_2026-11.csv")
    bad = _broken(tmp_path, "weight = 35 ", "weight = 30 ")
    result = runner.invoke(app, ["--lang", "en", "assess", "--scores", scores, "--kpis", kpis, "--sheet", str(bad),
                                 "--out", str(tmp_path / "a.xlsx")])
    assert result.exit_code == 2
    assert "presales.toml: [items] weights of the score items sum to 95, not 100" in result.output
    assert "adjust the weights" in result.output
    both = runner.invoke(app, ["--lang", "en", "assess", "--scores", scores, "--db", "sqlite://", "--sheet",
                               "presales", "--out", str(tmp_path / "a.xlsx")])
    assert both.exit_code == 2 and "give either --scores" in both.output
    nokpis = runner.invoke(app, ["--lang", "en", "assess", "--scores", scores, "--sheet", "presales",
                                 "--out", str(tmp_path / "a.xlsx")])
    assert nokpis.exit_code == 2 and "give --kpis FILE" in nokpis.output
    badout = runner.invoke(app, ["--lang", "en", "assess", "--scores", scores, "--kpis", kpis, "--sheet",
                                 "presales", "--out", str(tmp_path / "a.txt")])
    assert badout.exit_code == 2 and "must end in .xlsx or .csv" in badout.output
    # --lang en above exported QA_SCORER_LANG; drop it (not with monkeypatch, which would restore it afterwards)
    os.environ.pop("QA_SCORER_LANG", None)
    chinese = runner.invoke(app, ["assess", "--scores", scores, "--kpis", kpis, "--sheet", "nosuch",
                                  "--out", str(tmp_path / "a.xlsx")])
    assert chinese.exit_code == 2 and "错误：" in chinese.output
    helped = runner.invoke(app, ["assess", "--help"], terminal_width=200)
    assert helped.exit_code == 0 and "Example:" in helped.output and "qa-scorer assess" in helped.output


def test_every_kpi_is_documented():
    docs = DOCS.read_text(encoding="utf-8")
    for name in KPIS:
        assert f"`{name}`" in docs, name
    for name in SHEETS:
        assert f"`{name}`" in docs
