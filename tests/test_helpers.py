"""The shared helpers: encoding detection, spreadsheet formula guarding, header aliases, yes/no
values and the emoticon rule.  Each is defined once and used by ingest, commission, the
pipeline's CSVs and the classifier; these tests pin the one behaviour."""

from __future__ import annotations

import codecs

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from qa_scorer.booleans import bool_column, bool_series, parse_bool, parse_bool_series
from qa_scorer.headers import SALES_HEADERS, header_key, looks_like_sales_file, match_headers
from qa_scorer.ingest.encoding import DecodeError, decode_bytes, read_text, sniff_file_encoding
from qa_scorer.safety import FORMULA_START, FORMULA_START_REGEX, arrow_csv_safe, excel_safe, excel_safe_value
from qa_scorer.textstats import EMOTICON_PATTERN, EMOTICON_RE

TEXT = "发送时间,昵称,消息内容\n2026-11-20 10:00:00,小美,亲，在的\n"


# --------------------------------------------------------------------------- encoding

@pytest.mark.parametrize(
    "data, expected_encoding",
    [
        (TEXT.encode("utf-8"), "utf-8"),
        (codecs.BOM_UTF8 + TEXT.encode("utf-8"), "utf-8-sig"),
        (TEXT.encode("gbk"), "gb18030"),            # GBK bytes: read as GB18030, its superset
        (TEXT.encode("utf-16"), "utf-16"),          # Excel "Unicode text": BOM + UTF-16-LE
    ],
)
def test_decode_bytes_detects_and_returns_text_without_bom(data, expected_encoding):
    text, used = decode_bytes(data)
    assert (text, used) == (TEXT, expected_encoding)


def test_decode_bytes_explicit_encoding_and_errors_name_the_line():
    from qa_scorer.i18n import use_language

    with use_language("en"):
        _check_decode_errors()


def _check_decode_errors():
    assert decode_bytes(TEXT.encode("gbk"), "gbk") == (TEXT, "gbk")
    with pytest.raises(DecodeError, match="line 2 are not valid utf-8") as info:
        decode_bytes(b"sent_at,text\n" + "在的".encode("gbk"), "utf-8")
    assert "--encoding" in info.value.hint and "--encoding" not in info.value.reason
    with pytest.raises(DecodeError, match="unknown encoding"):
        decode_bytes(b"abc", "no-such-codec")
    with pytest.raises(DecodeError, match="UTF-8 BOM but line 2"):
        decode_bytes(codecs.BOM_UTF8 + "a\n".encode() + TEXT.encode("gbk"))
    with pytest.raises(DecodeError, match="UTF-16 BOM"):  # odd byte count: not UTF-16
        decode_bytes(codecs.BOM_UTF16_LE + b"a\x00b")


def test_sniff_file_encoding_allows_a_character_cut_by_the_sample(tmp_path):
    big = "你好，在的亲\n" * 50
    for enc, expected in (("utf-8", "utf-8"), ("gbk", "gb18030")):
        path = tmp_path / f"{enc}.csv"
        data = big.encode(enc)
        path.write_bytes(data)
        assert sniff_file_encoding(path, 1 << 20) == expected  # whole file
        cut = 7 if enc == "utf-8" else 5  # in the middle of the 3rd (UTF-8) / 3rd (GBK) character
        assert data[:cut].decode(enc, errors="ignore") != data[:cut].decode(enc, errors="replace")
        assert sniff_file_encoding(path, cut) == expected
    bom = tmp_path / "bom.csv"
    bom.write_bytes(codecs.BOM_UTF8 + big.encode("utf-8"))
    assert sniff_file_encoding(bom, 100) == "utf-8-sig"


def test_read_text_and_the_streaming_sniff_agree_with_decode_bytes(tmp_path):
    path = tmp_path / "g.csv"
    path.write_bytes(TEXT.encode("gbk"))
    assert read_text(path) == (TEXT, "gb18030")
    assert sniff_file_encoding(path) == "gb18030"
    from qa_scorer.ingest.readers import FileReadError, sniff_encoding
    assert sniff_encoding(path) == "gb18030"
    bad = tmp_path / "bad.csv"
    bad.write_bytes(codecs.BOM_UTF8 + b"\xff\xfe\xfd" * 10)
    with pytest.raises(FileReadError, match="UTF-8 BOM"):
        sniff_encoding(bad)


# --------------------------------------------------------------------------- spreadsheet formulas

# The same cells through both guards; expectations written out by hand.
CELLS = ["=1+1", "+8613800000000", "-3", "@SUM(A1)", "\t=cmd", "\r=cmd", "好的亲", "a=b", "", "'=x", None]
GUARDED = ["'=1+1", "'+8613800000000", "'-3", "'@SUM(A1)", "'\t=cmd", "'\r=cmd", "好的亲", "a=b", "", "'=x", None]


def test_formula_regex_is_the_tuple():
    import re
    assert [bool(re.match(FORMULA_START_REGEX, c)) for c in FORMULA_START] == [True] * 6
    assert FORMULA_START == ("=", "+", "-", "@", "\t", "\r")


def test_excel_safe_on_pandas():
    df = pd.DataFrame({"text": CELLS, "n": range(len(CELLS))})
    out = excel_safe(df)
    got = [None if v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v)) else v for v in out["text"]]
    assert got == GUARDED
    assert out["n"].tolist() == list(range(len(CELLS)))      # numbers are never touched
    assert df["text"].tolist()[0] == "=1+1"                   # a copy: the input is unchanged
    assert [excel_safe_value(c) for c in CELLS] == GUARDED
    assert excel_safe_value(-3) == -3


def test_arrow_csv_safe_on_arrow_same_cells_and_timestamps_to_seconds():
    ts = pd.Series(pd.to_datetime(["2026-11-20 10:00:00.750"] * len(CELLS)))
    table = pa.table({
        "text": pa.array(CELLS, type=pa.string()),
        "large": pa.array(CELLS, type=pa.large_string()),
        "n": pa.array(range(len(CELLS)), type=pa.int64()),
        "sent_at": pa.array(ts),
    })
    out = arrow_csv_safe(table)
    assert out.column("text").to_pylist() == GUARDED
    assert out.column("large").to_pylist() == GUARDED
    assert out.column("n").to_pylist() == list(range(len(CELLS)))
    assert out.schema.field("sent_at").type == pa.timestamp("s")
    assert str(out.column("sent_at")[0].as_py()) == "2026-11-20 10:00:00"
    assert table.column("text").to_pylist()[0] == "=1+1"      # the input table is unchanged


def test_arrow_csv_safe_leaves_safe_tables_alone():
    table = pa.table({"text": ["好的", "a-b"], "n": [1, 2]})
    assert arrow_csv_safe(table).equals(table)


# --------------------------------------------------------------------------- header aliases

def test_header_key_folds_case_width_spaces_and_separators():
    assert {header_key(h) for h in ("inquiry_sales", "Inquiry Sales", "INQUIRY-SALES", "ｉｎｑｕｉｒｙ＿ｓａｌｅｓ",
                                     "\ufeffinquiry/sales")} == {"inquirysales"}


def test_match_headers_first_wins_conflicts_listed_explicit_first():
    aliases = {"agent": ("agent", "客服"), "text": ("text", "内容")}
    m = match_headers(["客服", "Agent", "备注", "source_line"], aliases, skip=["source_line"])
    assert m.mapped == {"客服": "agent"}
    assert m.conflicts == [("客服", "Agent", "agent")]
    assert m.ignored == ["备注"]
    m = match_headers(["内容", "聊天内容"], aliases, {"聊天内容": "text"})
    assert m.mapped == {"聊天内容": "text"} and m.conflicts == [("聊天内容", "内容", "text")]


def test_one_sales_headers_table_for_commission_and_audit():
    from qa_scorer import commission
    from qa_scorer.ingest import columns
    assert commission.SALES_HEADERS is SALES_HEADERS
    assert not hasattr(columns, "SALES_HEADERS")
    assert looks_like_sales_file(["客服", "岗位", "询单销售额", "平均客单价"])
    assert looks_like_sales_file(["agent", "role", "Inquiry Sales", "客单价"])   # any alias of the table
    assert not looks_like_sales_file(["发送时间", "昵称", "消息内容", "客单价"])  # one sales column is not enough


# --------------------------------------------------------------------------- yes/no

@pytest.mark.parametrize(
    "value, expected",
    [(True, True), (False, False), (1, True), (0, False), (1.0, True), (0.0, False), (np.int64(2), True),
     (np.bool_(False), False), ("1", True), ("1.0", True), (" TRUE ", True), ("yes", True), ("Y", True),
     ("是", True), ("0", False), ("false", False), ("No", False), ("否", False),
     ("", None), ("maybe", None), (None, None), (float("nan"), None), (pd.NA, None)],
)
def test_parse_bool(value, expected):
    assert parse_bool(value) is expected


def test_bool_series_every_storage_of_a_flag():
    assert bool_series(pd.Series([True, False, None], dtype=object)).tolist() == [True, False, False]
    assert bool_series(pd.Series([1, 0, 2])).tolist() == [True, False, True]
    assert bool_series(pd.Series([1.0, np.nan, 0.0])).tolist() == [True, False, False]
    assert bool_series(pd.Series(["True", "false", "1.0", "是", "", None, "x"])).tolist() == \
        [True, False, True, True, False, False, False]
    assert bool_series(pd.Series([True, pd.NA], dtype="boolean")).tolist() == [True, False]
    assert bool_series(pd.Series(["yes"], dtype="string")).dtype == bool


def test_parse_bool_series_keeps_unknown_cells_visible():
    out = parse_bool_series(pd.Series(["1", "0", "maybe", None, "是"]))
    assert str(out.dtype) == "boolean"
    assert out.tolist() == [True, False, pd.NA, pd.NA, True]
    assert parse_bool_series(pd.Series([1.0, np.nan, 0.0])).tolist() == [True, pd.NA, False]


def test_bool_column_missing_is_all_false():
    df = pd.DataFrame({"is_auto": ["1", "0"]})
    assert bool_column(df, "is_auto").tolist() == [True, False]
    assert bool_column(df, "is_closing").tolist() == [False, False]


# --------------------------------------------------------------------------- emoticons

@pytest.mark.parametrize("code", ["[微笑]", "[玫瑰]", "[爱心]", "[OK]", "[不好意思]", "[图片]", "[商品卡片]",
                                  "[一二三四五六]", "/:068", "/:^_^", "/:girl", "/:rose", "/:,@-D"])
def test_emoticon_re_matches_codes(code):
    assert EMOTICON_RE.fullmatch(code)


@pytest.mark.parametrize("text", ["[新品七折优惠中]", "[限时优惠活动进行中]", "[ 微笑 ]", "【微笑】"])
def test_emoticon_re_leaves_text(text):
    assert EMOTICON_RE.search(text) is None


def test_emoticon_pattern_is_the_compiled_regex():
    assert EMOTICON_RE.pattern == EMOTICON_PATTERN
