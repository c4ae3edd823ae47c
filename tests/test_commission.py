"""Commission schemes, sales/scores reading, matching and payroll output.

The worked examples are those of docs/commission.md; every expected amount below is worked out
by hand in the comment next to it.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from qa_scorer.commission import (
    SalesError, SchemeError, compute_commission, load_scheme, read_sales, read_scores,
    scheme_from_mapping, write_payroll,
)

DOCS = Path(__file__).resolve().parents[1] / "docs" / "commission.md"
SHOP = "优衣库官方旗舰店"
D = Decimal

SALES_CSV = (
    "客服,岗位,询单销售额,询单人数,成交人数,退换件数,平均客单价,周期\n"
    "小美,售前,\"120,000.00\",400,180,,,2024-05\n"
    "优衣库官方旗舰店：小丽,售后,,,,40,158.50,2024-05\n"
    "小刚,金牌,80000,300,100,25,120,2024-05\n"
    "老王,主管,,,,,,2024-05\n"
)


def scores_frame(**extra):
    names = {"小美": 95, "小丽": 88.5, "小刚": 92, **extra}
    return pd.DataFrame({"agent": [f"{SHOP}:{k}" for k in names], "service_score": list(names.values())})


@pytest.fixture
def sales_file(tmp_path):
    path = tmp_path / "sales.csv"
    path.write_text(SALES_CSV, encoding="utf-8")
    return path


def by_agent(result, name):
    rows = result.rows[result.rows["agent"] == name]
    assert len(rows) == 1, f"expected one row for {name}"
    return rows.iloc[0]


# --- worked examples (docs/commission.md) ------------------------------------------------------

def test_default_scheme_worked_examples(sales_file):
    result = compute_commission(scores_frame(), read_sales(sales_file), load_scheme())
    mei = by_agent(result, "小美")
    # 120000.00 x 0.005 x 95/100 = 570.00
    assert mei["status"] == "ok" and mei["matched_agent"] == f"{SHOP}:小美"
    assert mei["sales_term"] == D("600") and mei["commission"] == D("570.00")
    li = by_agent(result, f"{SHOP}：小丽")
    # 40 x 158.50 = 6340.00 x 0.008 = 50.72 x 0.885 = 44.8872 -> 44.89
    assert li["returns_value"] == D("6340") and li["commission_exact"] == D("44.8872")
    assert li["commission"] == D("44.89")
    gang = by_agent(result, "小刚")
    # (80000 x 0.006 + 25 x 120 x 0.008) x 0.92 = (480 + 24) x 0.92 = 463.68
    assert gang["sales_term"] == D("480") and gang["returns_term"] == D("24")
    assert gang["commission"] == D("463.68") and gang["score_applies_to"] == "all_terms"
    wang = by_agent(result, "老王")
    # team avg sales (120000 + 80000)/2 = 100000 x 0.006 = 600
    # team avg returns (6340 + 3000)/2 = 4670 x 0.008 = 37.36
    # dept score (95 + 88.5 + 92)/3 = 91.8333..; 637.36 x 0.918333.. = 585.30893.. -> 585.31
    assert wang["status"] == "ok" and wang["matched_agent"] is None
    assert wang["sales_base"] == D("100000") and wang["returns_base"] == D("4670")
    assert wang["team_size"] == 3 and wang["team_scored"] == 3
    assert wang["commission"] == D("585.31")
    assert result.total == D("570.00") + D("44.89") + D("463.68") + D("585.31")
    assert result.unmatched.empty


def test_gold_returns_only_reading(sales_file):
    scheme = scheme_from_mapping({"gold_score_applies_to": "returns_only"})
    gang = by_agent(compute_commission(scores_frame(), read_sales(sales_file), scheme), "小刚")
    # 80000 x 0.006 + 25 x 120 x 0.008 x 0.92 = 480 + 22.08 = 502.08
    assert gang["commission"] == D("502.08") and gang["score_applies_to"] == "returns_only"
    assert gang["formula"] == "80000 × 0.006 + 25 × 120 × 0.008 × 92/100 = 502.08"


def test_tiered_scheme_bands(tmp_path):
    path = tmp_path / "s.csv"
    path.write_text("agent,role,inquiry_sales,inquiries,buyers\n"
                    "小美,presales,120000,400,180\n"      # 45.0% -> 0.007
                    "小芳,presales,50000,200,60\n"        # 30.0% -> 0.005
                    "小兰,presales,50000,200,59\n",       # 29.5% -> 0.003
                    encoding="utf-8")
    result = compute_commission(scores_frame(小芳=90, 小兰=90), read_sales(path), load_scheme("tiered"))
    # 120000 x 0.007 x 0.95 = 798.00 ; 50000 x 0.005 x 0.90 = 225.00 ; 50000 x 0.003 x 0.90 = 135.00
    assert [by_agent(result, a)["sales_rate"] for a in ("小美", "小芳", "小兰")] == [D("0.007"), D("0.005"), D("0.003")]
    assert [by_agent(result, a)["commission"] for a in ("小美", "小芳", "小兰")] == [D("798.00"), D("225.00"),
                                                                                  D("135.00")]
    assert by_agent(result, "小芳")["conversion_rate"] == D("0.3")


def test_tiered_zero_inquiries_uses_lowest_tier_with_warning(tmp_path):
    path = tmp_path / "s.csv"
    path.write_text("agent,role,inquiry_sales,inquiries,buyers\n小美,presales,1000,0,0\n", encoding="utf-8")
    result = compute_commission(scores_frame(), read_sales(path), load_scheme("tiered"))
    # 1000 x 0.003 x 0.95 = 2.85
    assert by_agent(result, "小美")["commission"] == D("2.85")
    assert any("0 inquiries" in w for w in result.warnings)


def test_two_part_scheme(sales_file):
    result = compute_commission(scores_frame(), read_sales(sales_file), load_scheme("two_part"))
    # 小美 120000 x 0.004 + 800 x 0.95 = 480 + 760 = 1240.00
    # 小丽 6340 x 0.006 + 800 x 0.885 = 38.04 + 708 = 746.04
    # 小刚 80000 x 0.005 + 3000 x 0.006 + 1000 x 0.92 = 400 + 18 + 920 = 1338.00
    # 老王 100000 x 0.004 + 4670 x 0.006 + 1200 x 0.918333.. = 400 + 28.02 + 1102 = 1530.02
    expected = {"小美": "1240.00", f"{SHOP}：小丽": "746.04", "小刚": "1338.00", "老王": "1530.02"}
    for agent, amount in expected.items():
        assert by_agent(result, agent)["commission"] == D(amount), agent
    assert by_agent(result, "小美")["quality_part"] == D("760")


def test_docs_carry_the_tested_amounts():
    text = DOCS.read_text(encoding="utf-8")
    for amount in ("570.00", "44.89", "463.68", "502.08", "585.31", "798.00", "225.00", "135.00",
                   "1240.00", "746.04", "1338.00", "1530.02", "0.13", "6.01"):
        assert amount in text, f"docs/commission.md lost the worked-example amount {amount}"


# --- money arithmetic -------------------------------------------------------------------------

def test_half_up_rounding_at_the_fen(tmp_path):
    path = tmp_path / "s.csv"
    path.write_text("agent,role,returns,aov,inquiry_sales\n小丽,aftersales,1,15.625,\n"
                    "小美,presales,,,246913\n", encoding="utf-8")
    result = compute_commission(scores_frame(小丽=100, 小美=100), read_sales(path), load_scheme())
    # 1 x 15.625 x 0.008 = 0.125 -> 0.13 (banker's rounding would give 0.12)
    assert by_agent(result, "小丽")["commission"] == D("0.13")
    # 246913 x 0.005 = 1234.565 -> 1234.57
    assert by_agent(result, "小美")["commission"] == D("1234.57")


def test_rounded_once_not_per_term(tmp_path):
    path = tmp_path / "s.csv"
    path.write_text("agent,role,inquiry_sales,returns,aov\n小刚,gold,1000.75,3,0.1875\n", encoding="utf-8")
    scheme = scheme_from_mapping({"gold_score_applies_to": "returns_only"})
    gang = by_agent(compute_commission(scores_frame(小刚=100), read_sales(path), scheme), "小刚")
    # 1000.75 x 0.006 = 6.0045 and 3 x 0.1875 x 0.008 = 0.0045: each would round down (6.00 + 0.00),
    # the exact sum 6.009 rounds to 6.01
    assert gang["commission_exact"] == D("6.009")
    assert gang["commission"] == D("6.01")


def test_score_scale(tmp_path):
    path = tmp_path / "s.csv"
    path.write_text("agent,role,inquiry_sales\n小美,presales,10000\n", encoding="utf-8")
    scheme = scheme_from_mapping({"score_scale": 120})
    # 10000 x 0.005 x 95/120 = 39.5833.. -> 39.58
    assert by_agent(compute_commission(scores_frame(), read_sales(path), scheme), "小美")["commission"] == D("39.58")


# --- matching ---------------------------------------------------------------------------------

def test_unmatched_agents_reported_not_paid(sales_file):
    scores = scores_frame(小明=70)
    scores = scores[scores["agent"] != f"{SHOP}:小丽"]
    result = compute_commission(scores, read_sales(sales_file), load_scheme())
    li = by_agent(result, f"{SHOP}：小丽")
    assert li["status"] == "not_in_scores" and li["commission"] is None
    ming = by_agent(result, f"{SHOP}:小明")
    assert ming["status"] == "not_in_sales" and ming["commission"] is None and ming["score"] == D("70")
    assert set(result.unmatched["status"]) == {"not_in_scores", "not_in_sales"}
    assert len(result.unmatched) == 2
    assert any("小明" in w for w in result.warnings)


def test_ambiguous_sub_account(tmp_path):
    path = tmp_path / "s.csv"
    path.write_text("agent,role,inquiry_sales\n小美,presales,1000\n", encoding="utf-8")
    scores = pd.DataFrame({"agent": ["店A:小美", "店B：小美"], "service_score": [90, 80]})
    result = compute_commission(scores, read_sales(path), load_scheme())
    mei = by_agent(result, "小美")
    assert mei["status"] == "ambiguous" and "店A:小美" in mei["message"] and "店B：小美" in mei["message"]
    assert mei["commission"] is None
    assert set(result.unmatched["status"]) == {"ambiguous", "not_in_sales"}
    # the full name disambiguates; a wrong shop does not fall back to the sub-account
    path.write_text("agent,role,inquiry_sales\n店B:小美,presales,1000\n店C:小美,presales,1000\n", encoding="utf-8")
    result = compute_commission(scores, read_sales(path), load_scheme())
    assert by_agent(result, "店B:小美")["commission"] == D("4.00")   # 1000 x 0.005 x 0.80
    assert by_agent(result, "店C:小美")["status"] == "not_in_scores"


def test_duplicate_rows_are_not_paid_twice(tmp_path):
    path = tmp_path / "s.csv"
    path.write_text("agent,role,inquiry_sales\n小美,presales,1000\n优衣库官方旗舰店:小美,presales,1000\n",
                    encoding="utf-8")
    result = compute_commission(scores_frame(), read_sales(path), load_scheme())
    statuses = result.rows.loc[result.rows["agent"].isin(["小美", f"{SHOP}:小美"]), "status"]
    assert list(statuses) == ["duplicate", "duplicate"]
    assert "lines 2, 3" in result.rows.iloc[0]["message"]


def test_missing_input_and_missing_score(tmp_path):
    path = tmp_path / "s.csv"
    path.write_text("agent,role,inquiry_sales,returns,aov\n小美,presales,,,\n小丽,aftersales,,3,\n小刚,gold,100,1,1\n",
                    encoding="utf-8")
    scores = scores_frame()
    scores.loc[scores["agent"] == f"{SHOP}:小刚", "service_score"] = float("nan")
    result = compute_commission(scores, read_sales(path), load_scheme())
    assert by_agent(result, "小美")["status"] == "missing_input"
    assert "inquiry_sales" in by_agent(result, "小美")["message"]
    assert "aov" in by_agent(result, "小丽")["message"]
    assert by_agent(result, "小刚")["status"] == "no_score_value"
    assert (result.rows["commission"].isna()).all()


def test_supervisor_without_scored_team(tmp_path):
    path = tmp_path / "s.csv"
    path.write_text("agent,role,inquiry_sales\n老王,supervisor,\n小新,presales,500\n", encoding="utf-8")
    result = compute_commission(scores_frame(), read_sales(path), load_scheme())
    assert by_agent(result, "老王")["status"] == "no_team"


def test_supervisor_team_is_per_period(tmp_path):
    path = tmp_path / "s.csv"
    path.write_text("agent,role,inquiry_sales,returns,aov,period\n"
                    "小美,presales,1000,,,5月\n小刚,gold,3000,1,100,5月\n老王,supervisor,,,,5月\n"
                    "小美,presales,9000,,,6月\n老王,supervisor,,,,6月\n", encoding="utf-8")
    result = compute_commission(scores_frame(), read_sales(path), load_scheme())
    sup = result.rows[result.rows["agent"] == "老王"].set_index("period")
    # May: avg sales (1000 + 3000)/2 = 2000 x 0.006 = 12; returns 100 x 0.008 = 0.8; score (95+92)/2
    # = 93.5 -> 12.8 x 0.935 = 11.968 -> 11.97.  June: 9000 x 0.006 = 54, no after-sales rows, x 0.95 = 51.30
    assert sup.loc["5月", "commission"] == D("11.97")
    assert sup.loc["6月", "commission"] == D("51.30")
    assert any("periods" in w for w in result.warnings)
    assert any("no after-sales rows" in w for w in result.warnings)


# --- reading files ----------------------------------------------------------------------------

def test_read_sales_gbk_and_aliases(tmp_path):
    path = tmp_path / "gbk.csv"
    path.write_bytes(SALES_CSV.replace("小美,售前,", "小美,售前客服,").encode("gbk"))
    sales = read_sales(path)
    assert list(sales["role"]) == ["presales", "aftersales", "gold", "supervisor"]
    assert sales["inquiry_sales"].iloc[0] == D("120000.00")
    assert sales["aov"].iloc[1] == D("158.50")
    assert sales["returns"].iloc[0] is None
    assert list(sales["source_line"]) == [2, 3, 4, 5]


def test_read_sales_utf16_and_full_width_or_spaced_headers(tmp_path):
    # Excel's "Unicode text" (UTF-16 with BOM, tab-separated); headers typed with full-width letters
    # and spaces: the shared header rule (qa_scorer.headers.header_key) folds them.
    path = tmp_path / "sales.txt"
    path.write_bytes("ＡＧＥＮＴ\tRole\tInquiry Sales\n小美\t售前\t1000\n".encode("utf-16"))
    sales = read_sales(path)
    assert sales["agent"].tolist() == ["小美"] and sales["inquiry_sales"].iloc[0] == D(1000)


def test_read_sales_undecodable_file_says_how_to_save_it(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_bytes(b"\xef\xbb\xbfagent,role\n\xff\xfe\xfd,presales\n")  # UTF-8 BOM, then not UTF-8
    from qa_scorer.i18n import use_language

    with use_language("en"), pytest.raises(SalesError) as exc:
        read_sales(path)
    message = str(exc.value)
    assert "bad.csv" in message and "line 2 (byte offset 14) is not valid UTF-8" in message and "save it as UTF-8" in message
    assert "--encoding" not in message  # the commission command has no such option


def test_read_sales_xlsx_and_money_formats(tmp_path):
    path = tmp_path / "sales.xlsx"
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["Agent", "Role", "Inquiry_Sales", "Returns", "AOV", "备注"])
    ws.append(["小美", "pre-sales", "¥1,234.50", None, None, "x"])
    ws.append(["小丽", "售后", None, 3, 99.9, ""])
    wb.save(path)
    sales = read_sales(path)
    assert sales["inquiry_sales"].iloc[0] == D("1234.50")
    assert sales["returns"].iloc[1] == D(3) and sales["aov"].iloc[1] == D("99.9")
    assert sales.attrs["ignored_columns"] == ["备注"]
    assert sales["inquiries"].iloc[0] is None  # column absent -> empty


@pytest.mark.parametrize("content, needle", [
    ("agent,role,inquiry_sales\n小美,presales,12k\n", "line 2, column inquiry_sales: '12k' is not a number"),
    ("agent,role,returns\n小美,aftersales,2.5\n", "line 2, column returns: '2.5' must be a whole number"),
    ("agent,role,inquiry_sales\n小美,presales,-5\n", "must be a number >= 0"),
    ("agent,role\n小美,客服\n", "line 2, column role: unknown role '客服'; allowed: presales/售前"),
    ("name,role\n小美,售前\n", "missing column(s) agent: agent or 客服"),
    ("agent,客服,role\n小美,小美,售前\n", "both mean agent"),
    ("agent,role\n,售前\n", "line 2: the agent (客服) cell is empty"),
])
def test_read_sales_errors_name_line_and_column(tmp_path, content, needle):
    path = tmp_path / "bad.csv"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(SalesError) as exc:
        read_sales(path)
    assert needle in str(exc.value) and "bad.csv" in str(exc.value)


def test_read_scores_keeps_text_exact(tmp_path):
    path = tmp_path / "agents.csv"
    path.write_text("agent,conversations,service_score\n店:小美,3,88.8\n店:小丽,0,\n", encoding="utf-8-sig")
    scores = read_scores(path)
    assert scores["service_score"].iloc[0] == D("88.8")
    assert scores["service_score"].iloc[1] is None
    bad = tmp_path / "x.csv"
    bad.write_text("agent,total\n店:小美,1\n", encoding="utf-8")
    with pytest.raises(SalesError, match="needs columns agent and service_score"):
        read_scores(bad)


# --- schemes ----------------------------------------------------------------------------------

@pytest.mark.parametrize("data, needle", [
    ({"rates": 1}, "unknown key(s) 'rates'; allowed: name, description, mode"),
    ({"gold_score_applies_to": "sales"}, "gold_score_applies_to must be one of both, returns_only"),
    ({"mode": "split"}, "mode must be one of multiply, two_part"),
    ({"presales": {"rate": -0.1}}, "presales.rate must be a number >= 0"),
    ({"presales": {"rate": 0.005, "tiers": [{"min_conversion": 0, "rate": 0.003}]}}, "both rate and tiers"),
    ({"presales": {"tiers": [{"min_conversion": 0.3, "rate": 0.003}]}}, "must start at min_conversion = 0"),
    ({"presales": {"tiers": [{"min_conversion": 0, "rate": 0.003}, {"min_conversion": 45, "rate": 0.007}]}},
     "between 0 and 1"),
    ({"presales": {"quality_pool": 800}}, "quality_pool is only used with mode = \"two_part\""),
    ({"aftersales": {"sales_rate": 0.1}}, "unknown key(s) 'sales_rate' in [aftersales]; allowed: rate, quality_pool"),
    ({"supervisor": {"sales_roles": ["supervisor"]}}, "supervisor.sales_roles must be a non-empty list"),
    ({"score_scale": 0}, "score_scale must be > 0"),
])
def test_scheme_errors(data, needle):
    with pytest.raises(SchemeError) as exc:
        scheme_from_mapping(data, where="pay.toml")
    assert needle in str(exc.value)


def test_shipped_schemes_load_exact_rates(tmp_path):
    default = load_scheme()
    assert default.presales_rate == D("0.005") and default.gold_score_applies_to == "both"
    assert [t.rate for t in load_scheme("tiered").presales_tiers] == [D("0.003"), D("0.005"), D("0.007")]
    assert load_scheme("two_part").quality_pool["gold"] == D("1000")
    with pytest.raises(SchemeError, match="default, tiered, two_part"):
        load_scheme(tmp_path / "nope.toml")


# --- output -----------------------------------------------------------------------------------

def test_write_payroll_xlsx_sheets_numbers_and_formula_safety(tmp_path, sales_file):
    sales = read_sales(sales_file)
    sales.loc[0, "agent"] = "=HYPERLINK(\"http://x\")"
    scores = pd.concat([scores_frame(), pd.DataFrame({"agent": ["=HYPERLINK(\"http://x\")"], "service_score": [95]})])
    result = compute_commission(scores, sales, load_scheme())
    out = tmp_path / "payroll.xlsx"
    write_payroll(result, out)
    wb = openpyxl.load_workbook(out)
    assert wb.sheetnames == ["payroll", "unmatched", "warnings", "scheme"]
    ws = wb["payroll"]
    header = [c.value for c in ws[1]]
    col = {name: i for i, name in enumerate(header)}
    values = [[c.value for c in row] for row in ws.iter_rows(min_row=2)]
    first = values[0]
    assert first[col["agent"]].startswith("'=")               # neutralised, shown as text
    assert first[col["commission"]] == pytest.approx(570.0)   # a number payroll can sum
    assert isinstance(first[col["inquiry_sales"]], (int, float))
    # 小刚 row: the formula string shows the arithmetic
    gang = next(v for v in values if v[col["agent"]] == "小刚")
    assert gang[col["formula"]] == "(80000 × 0.006 + 25 × 120 × 0.008) × 92/100 = 463.68"
    # the scores-only agent (小美 under full name isn't matched -> not_in_sales) is listed
    unmatched = [[c.value for c in row] for row in wb["unmatched"].iter_rows(min_row=2)]
    assert any(r[0] == "not_in_sales" and r[1] == f"{SHOP}:小美" for r in unmatched)


def test_write_payroll_csv_exact_decimals(tmp_path, sales_file):
    result = compute_commission(scores_frame(小明=60), read_sales(sales_file), load_scheme())
    written = write_payroll(result, tmp_path / "payroll.csv")
    assert [p.name for p in written] == ["payroll.csv", "payroll.unmatched.csv"]
    raw = written[0].read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    back = pd.read_csv(written[0], dtype=str, keep_default_na=False, encoding="utf-8-sig")
    li = back[back["agent"] == f"{SHOP}：小丽"].iloc[0]
    assert li["commission_exact"] == "44.8872" and li["commission"] == "44.89"
    side = pd.read_csv(written[1], dtype=str, encoding="utf-8-sig")
    assert list(side["agent"]) == [f"{SHOP}:小明"]
    with pytest.raises(ValueError, match=r"\.xlsx or \.csv"):
        write_payroll(result, tmp_path / "payroll.txt")


def test_compute_accepts_a_hand_built_sales_frame():
    sales = pd.DataFrame({"agent": ["小美", "小丽"], "role": ["售前", "aftersales"],
                          "inquiry_sales": [10000.5, None], "returns": [None, 2], "aov": [None, "99.90"]})
    result = compute_commission(scores_frame(), sales, load_scheme())
    # 10000.5 x 0.005 x 0.95 = 47.502375 -> 47.50 ; 2 x 99.90 x 0.008 x 0.885 = 1.414584 -> 1.41
    assert by_agent(result, "小美")["commission"] == D("47.50")
    assert by_agent(result, "小丽")["commission"] == D("1.41")
    with pytest.raises(SalesError, match="unknown role 'boss'"):
        compute_commission(scores_frame(), sales.assign(role="boss"), load_scheme())


# --- unassigned buckets are not people (docs/commission.md "Unassigned buckets are not paid") ---

def test_unassigned_bucket_is_not_paid_and_not_in_the_total(tmp_path):
    from qa_scorer.i18n import use_language

    path = tmp_path / "sales.csv"
    path.write_text(SALES_CSV + "优衣库官方旗舰店：(未分配),售前,5000,10,1,,,2024-05\n", encoding="utf-8")
    scores = pd.DataFrame({
        "agent": [f"{SHOP}:小美", f"{SHOP}:小丽", f"{SHOP}:小刚", f"{SHOP}:(未分配)", "店B:（未分配）", "店C:值班"],
        "service_score": [95, 88.5, 92, 0, None, 80],
        # agents.csv marks the bucket; 店B's is recognised by its name, 店C:值班 is flagged by the column
        "unassigned": [False, False, False, True, "", "true"],
    })
    with use_language("en"):
        result = compute_commission(scores, read_sales(path), load_scheme())
    rows = result.rows
    bucket = by_agent(result, "优衣库官方旗舰店：(未分配)")
    assert bucket["status"] == "unassigned" and bucket["commission"] is None
    assert bucket["matched_agent"] == f"{SHOP}:(未分配)"
    assert bucket["message"].startswith("unassigned, not paid: ")
    assert by_agent(result, "店B:（未分配）")["status"] == "unassigned"
    assert by_agent(result, "店C:值班")["status"] == "unassigned"
    # the supervisor's team leaves the bucket out: (120000 + 80000)/2 = 100000 x 0.006 = 600;
    # (6340 + 3000)/2 = 4670 x 0.008 = 37.36; (95 + 88.5 + 92)/3 -> 585.31 as without it
    wang = by_agent(result, "老王")
    assert wang["team_size"] == 3 and wang["sales_base"] == D("100000") and wang["commission"] == D("585.31")
    # 570.00 + 44.89 + 463.68 + 585.31 = 1663.88: nothing for the buckets
    assert result.total == D("1663.88")
    assert list(rows["status"]).count("ok") == 4 and list(rows["status"]).count("unassigned") == 3
    assert result.unmatched.empty and result.unpaid.empty   # a bucket is nobody unpaid
    assert any(w.startswith("unassigned, not paid: '店B:（未分配）'") for w in result.warnings)
    # translated: Chinese by default
    zh = compute_commission(scores, read_sales(path), load_scheme())
    assert by_agent(zh, "店B:（未分配）")["message"].startswith("未分配，不发放：")


def test_read_scores_keeps_the_unassigned_column(tmp_path):
    path = tmp_path / "agents.csv"
    path.write_text("agent,service_score,unassigned\n店:小美,90,False\n店:(未分配),70,True\n", encoding="utf-8")
    scores = read_scores(path)
    assert scores["unassigned"].tolist() == [False, True]
    sales = tmp_path / "s.csv"
    sales.write_text("agent,role,inquiry_sales\n小美,presales,1000\n", encoding="utf-8")
    result = compute_commission(scores, read_sales(sales), load_scheme())
    assert by_agent(result, "店:(未分配)")["status"] == "unassigned"
    assert result.total == D("4.50")   # 1000 x 0.005 x 90/100
