"""Readers, encodings, role inference, segmentation and rejects on small hand-written inputs."""

import json

import pandas as pd
import pytest

from qa_scorer.ingest import IngestOptions, read_paths
from qa_scorer.schema import MESSAGE_COLUMNS, OPTIONAL_MESSAGE_COLUMNS, check_messages


@pytest.fixture(autouse=True)
def _english_messages():
    """Reasons and errors are asserted in English (the source strings of the catalog)."""
    from qa_scorer.i18n import use_language
    with use_language("en"):
        yield

# One conversation of a buyer with two agents of one shop; written once, exported four ways below.
ROWS = [
    ("2026-11-20 10:10:15", "tb_小王", "在吗？这件外套有M码吗"),
    ("2026-11-20 10:10:40", "柚子旗舰店:小美", "在的呢亲~\n有M码的哦"),
    ("2026-11-20 10:11:05", "tb_小王", "好的，那我拍了"),
    ("2026-11-20 10:11:30", "柚子旗舰店:小美", "[自动回复]亲，稍后回复您"),
    ("2026-11-20 10:12:00", "柚子旗舰店:小美", "好的亲，感谢您的支持，有问题随时联系"),
    # 40 minutes later: a new conversation with the same buyer (gap > 30 min)
    ("2026-11-20 10:52:00", "tb_小王", "发货了吗"),
    ("2026-11-20 10:52:30", "柚子旗舰店:阿杰", "今天下午发出哦"),
]


def _csv(rows, header="sent_at,sender,text", sep=","):
    lines = [header]
    for ts, sender, text in rows:
        t = text.replace('"', '""')
        lines.append(f'{ts}{sep}{sender}{sep}"{t}"')
    return "\n".join(lines) + "\n"


def _comparable(messages):
    return messages.drop(columns=["source_file", "source_line"]).reset_index(drop=True)


def test_csv_columns_roles_and_schema(write):
    path = write("a.csv", _csv(ROWS))
    res = read_paths([path])
    m = res.messages
    check_messages(m)
    # the optional receiver column is always written (docs/formats.md), "" without such a header
    assert list(m.columns) == MESSAGE_COLUMNS + OPTIONAL_MESSAGE_COLUMNS == MESSAGE_COLUMNS + ["receiver"]
    assert set(m["receiver"]) == {""}
    assert len(m) == 7 and res.rejected.empty
    # auto-reply prefix turns an agent message into role auto
    assert m["role"].tolist() == ["customer", "agent", "customer", "auto", "agent", "customer", "agent"]
    assert m.loc[1, "text"] == "在的呢亲~\n有M码的哦"
    # multi-line field: row 3 starts on line 3, the next row on line 5 (the quoted field spans 2 lines)
    assert m["source_line"].tolist() == [2, 3, 5, 6, 7, 8, 9]
    assert set(m["shop"]) == {"柚子旗舰店"}


def test_segmentation_by_gap_and_agent_per_conversation(write):
    res = read_paths([write("a.csv", _csv(ROWS))])
    m = res.messages
    convs = m.groupby("conversation_id", sort=False)
    assert convs.ngroups == 2  # 10:12:00 -> 10:52:00 is 40 min > 30 min
    first, second = [g for _, g in convs]
    assert len(first) == 5 and len(second) == 2
    assert first["conversation_id"].iat[0] == "柚子旗舰店|tb_小王|20261120-101015"
    assert set(first["agent"]) == {"柚子旗舰店:小美"} and set(second["agent"]) == {"柚子旗舰店:阿杰"}
    # with a 60-minute gap the two become one conversation
    res = read_paths([write("b.csv", _csv(ROWS))], IngestOptions(session_gap_s=3600))
    assert res.messages["conversation_id"].nunique() == 1


def test_explicit_conversation_ids_and_sort_keeps_file_order_for_ties(write):
    text = ("会话ID,发送时间,发送人,角色,消息内容\n"
            "c2,2026-11-20 09:00:05,店:a,客服,second\n"
            "c2,2026-11-20 09:00:00,buyer,买家,first\n"
            "c2,2026-11-20 09:00:05,店:a,客服,third (same second; later in file)\n"
            "c1,2026-11-20 08:00:00,buyer2,顾客,earlier conversation\n")
    m = read_paths([write("ids.csv", text)]).messages
    assert m["conversation_id"].tolist() == ["c1", "c2", "c2", "c2"]
    assert m["text"].tolist()[1:] == ["first", "second", "third (same second; later in file)"]
    assert m["role"].tolist() == ["customer", "customer", "agent", "agent"]


def test_gbk_csv_with_chinese_headers(write):
    text = _csv(ROWS, header="时间,发送方,内容").replace("\n", "\r\n")
    path = write("win.csv", text, encoding="gbk")
    res = read_paths([path])
    assert res.files[0].encoding == "gb18030"
    assert res.messages["text"].iloc[0] == "在吗？这件外套有M码吗"
    assert len(res.messages) == 7


def test_utf8_bom_and_tsv(write):
    text = "\ufeff" + _csv(ROWS, header="time\tsender\tcontent", sep="\t")
    res = read_paths([write("a.tsv", text)])
    assert res.files[0].reader == "tsv"
    assert len(res.messages) == 7 and res.messages["sender"].iloc[0] == "tb_小王"


def test_full_width_colon_agent(write):
    text = "sent_at,sender,text\n2026-11-20 10:00:00,买家甲,有货吗\n2026-11-20 10:00:20,柚子旗舰店：七七,有的亲\n"
    m = read_paths([write("fw.csv", text)]).messages
    assert m["role"].tolist() == ["customer", "agent"]
    assert m["sender"].iloc[1] == "柚子旗舰店:七七"  # one spelling per agent account
    assert m["agent"].iloc[0] == "柚子旗舰店:七七" and m["shop"].iloc[0] == "柚子旗舰店"


def test_agents_option_marks_plain_names_as_agents(write):
    text = "sent_at,sender,text\n2026-11-20 10:00:00,buyer1,在吗\n2026-11-20 10:00:20,小美,在的亲\n"
    path = write("plain.csv", text)
    assert read_paths([path]).messages["role"].tolist() == ["customer", "customer"]
    m = read_paths([path], IngestOptions(agents={"小美"})).messages
    assert m["role"].tolist() == ["customer", "agent"]


def test_column_mapping_option(write):
    text = "聊天时间点,发消息的人,聊天内容\n2026-11-20 10:00:00,buyer1,在吗\n"
    path = write("odd.csv", text)
    res = read_paths([path])
    assert res.files[0].error and "--columns" in res.files[0].error
    res = read_paths([path], IngestOptions(columns={"聊天时间点": "sent_at", "发消息的人": "sender",
                                                    "聊天内容": "text"}))
    assert res.files[0].error is None and res.messages["text"].tolist() == ["在吗"]


def test_json_and_jsonl(write):
    records = [{"conversation_id": "c9", "sent_at": ts, "sender": s, "content": t} for ts, s, t in ROWS[:3]]
    res = read_paths([write("a.json", json.dumps(records, ensure_ascii=False))])
    assert res.messages["text"].tolist() == [r["content"] for r in records]
    assert res.messages["source_line"].tolist() == [1, 2, 3]  # element index + 1
    lines = [json.dumps(r, ensure_ascii=False) for r in records]
    lines.insert(1, "{not json")
    res = read_paths([write("a.jsonl", "\n".join(lines))])
    assert len(res.messages) == 3
    assert res.rejected[["source_line"]].values.ravel().tolist() == [2]
    assert "invalid JSON" in res.rejected["reason"].iloc[0]


def test_chatlog_three_header_styles_multiline_and_separators(write):
    text = (
        "聊天记录导出\n"                              # line 1: outside any message -> rejected
        "消息对象:tb_小王\n"
        "tb_小王 (2026-11-20 10:10:15):\n"
        "在吗？\n"
        "\n"
        "柚子旗舰店：小美 (2026-11-20 10:10:40):\n"
        "在的呢亲~\n"
        "有M码的哦\n"
        "\n"
        "----------------\n"
        "momo酱 2026-11-20 11:00:00\n"
        "这个会起球吗\n"
        "2026-11-20 11:00:30 柚子旗舰店:阿杰\n"
        "不会的亲，面料是精梳棉\n"
    )
    res = read_paths([write("log.txt", text)])
    m = res.messages
    assert res.files[0].reader == "chatlog"
    assert m["sender"].tolist() == ["tb_小王", "柚子旗舰店:小美", "momo酱", "柚子旗舰店:阿杰"]
    assert m["text"].tolist()[1] == "在的呢亲~\n有M码的哦"
    assert m["source_line"].tolist() == [3, 6, 11, 13]
    assert m["conversation_id"].nunique() == 2
    assert res.rejected["source_line"].tolist() == [1]
    assert "outside any message" in res.rejected["reason"].iloc[0]


def test_bad_rows_are_rejected_with_file_line_reason(write):
    text = ("sent_at,sender,text\n"
            "2026-11-20 10:00:00,buyer,ok\n"
            "2026-13-45 10:00:00,buyer,bad date\n"
            "2026-11-20 10:01:00,,no sender\n"
            "2026-11-20 10:02:00,店:a,\"unterminated, extra\",field\n")
    path = write("bad.csv", text)
    res = read_paths([path])
    assert res.messages["text"].tolist() == ["ok"]
    rej = res.rejected.sort_values("source_line")
    assert rej["source_line"].tolist() == [3, 4, 5]
    assert rej["reason"].str.contains("bad timestamp").tolist() == [True, False, False]
    assert rej["reason"].iloc[1] == "empty sender"
    assert "expected 3 fields" in rej["reason"].iloc[2]
    assert set(rej["source_file"]) == {str(path)}
    assert res.files[0].rejected == 3 and res.files[0].rows == 1


def test_unreadable_file_reported_and_batch_continues(write, tmp_path):
    good = write("d/good.csv", _csv(ROWS[:2]))
    write("d/garbage.csv", b"\x81\xff\xfe\x00\x9f" * 50)
    write("d/nohead.csv", "foo,bar\n1,2\n")
    write("d/notes.md", "not an export")
    res = read_paths([tmp_path / "d", tmp_path / "missing.csv"])
    errors = {f.path.split("/")[-1]: f.error for f in res.files if f.error}
    assert set(errors) == {"garbage.csv", "nohead.csv", "missing.csv"}
    assert "no usable column" in errors["nohead.csv"]
    assert "no such file" in errors["missing.csv"]
    assert len(res.messages) == 2 and set(res.messages["source_file"]) == {str(good)}


def test_sales_file_is_skipped_not_failed(write):
    res = read_paths([write("sales.csv", "agent,role,inquiry_sales,aov\n小美,presales,1000,50\n")])
    assert res.files[0].error is None and "sales file" in res.files[0].skipped


def test_sales_file_with_other_aliases_is_skipped_too(write):
    # the same SALES_HEADERS table as `qa-scorer commission` reads: 客单价 and 退换货件数 are aliases
    res = read_paths([write("sales2.csv", "客服,岗位,客单价,退换货件数\n小美,售后,99,3\n", encoding="gbk")])
    assert res.files[0].error is None and "sales file" in res.files[0].skipped


def test_full_width_and_spaced_chat_headers(write):
    text = "Sent At,ＳＥＮＤＥＲ,Text\n2026-11-20 10:00:00,tb_小王,在吗\n"
    res = read_paths([write("fw.csv", text)])
    assert res.messages["text"].tolist() == ["在吗"]


def test_unknown_role_value_is_rejected(write):
    text = "sent_at,sender,role,text\n2026-11-20 10:00:00,x,外星人,hi\n2026-11-20 10:00:01,y,,hi\n"
    res = read_paths([write("r.csv", text)])
    assert res.messages["sender"].tolist() == ["y"]
    assert "unknown role" in res.rejected["reason"].iloc[0]


def test_xlsx_reader(tmp_path):
    df = pd.DataFrame({"会话编号": ["x1", "x1"], "发送时间": pd.to_datetime(["2026-11-20 10:00:00", "2026-11-20 10:00:30"]),
                       "发送人": ["buyer", "店:小美"], "角色": ["买家", "客服"], "消息内容": ["有货吗", "有的亲"]})
    path = tmp_path / "a.xlsx"
    df.to_excel(path, index=False)
    m = read_paths([path]).messages
    assert m["role"].tolist() == ["customer", "agent"]
    assert m["sent_at"].iloc[1] == pd.Timestamp("2026-11-20 10:00:30")
    assert m["source_line"].tolist() == [2, 3]


def test_same_conversations_in_four_formats_give_identical_tables(write):
    csv_path = write("f/a.csv", _csv(ROWS))
    gbk_path = write("g/a.csv", _csv(ROWS, header="发送时间,昵称,消息内容"), encoding="gbk")
    jsonl_path = write("h/a.jsonl", "\n".join(json.dumps({"time": t, "sender": s, "text": x}, ensure_ascii=False)
                                              for t, s, x in ROWS))
    log = []
    for i, (t, s, x) in enumerate(ROWS):
        log.append(f"{s} ({t}):")
        log.extend(x.split("\n"))
        log.append("")
    log_path = write("i/a.txt", "\n".join(log))
    tables = [_comparable(read_paths([p]).messages) for p in (csv_path, gbk_path, jsonl_path, log_path)]
    for other in tables[1:]:
        pd.testing.assert_frame_equal(tables[0], other)
    assert len(tables[0]) == 7


@pytest.mark.parametrize("value,expected", [
    ("2026-11-20 10:00:00", "2026-11-20 10:00:00"),
    ("2026/11/20 10:00:00", "2026-11-20 10:00:00"),
    ("2026-11-20T10:00:00", "2026-11-20 10:00:00"),
    ("1763604000", "2025-11-20 10:00:00"),  # Unix seconds, shown in China time (UTC+8)
])
def test_timestamp_formats(value, expected):
    from qa_scorer.ingest import parse_timestamps
    assert parse_timestamps(pd.Series([value]))[0] == pd.Timestamp(expected)


def test_blank_lines_keep_line_numbers_right(write):
    # Arrow's fast reader skips blank lines; the reader must notice and count them anyway.
    text = ("sent_at,sender,text\n2026-11-20 10:00:00,buyer,在吗\n\n"
            "2026-11-20 10:00:20,店:小美,\"在的\n亲\"\n\n2026-11-20 10:01:00,buyer,好的\n")
    m = read_paths([write("blank.csv", text)]).messages
    assert m["source_line"].tolist() == [2, 4, 7]
    assert m["text"].tolist() == ["在吗", "在的\n亲", "好的"]


# --- the receiving account (接待客服): docs/formats.md, docs/metrics.md "Attribution" ------------

@pytest.mark.parametrize("header", ["接待客服", "接待人", "接待账号", "receiver", "assignee", "Assignee"])
def test_receiver_header_aliases(write, header):
    text = (f"会话ID,发送时间,发送人,消息内容,{header}\n"
            "c1,2026-11-20 10:00:00,tb_阿花,在吗,柚子家居旗舰店：小王\n"
            "c1,2026-11-20 10:00:40,tb_阿花,人呢,柚子家居旗舰店：小王\n"
            "c2,2026-11-20 11:00:00,tb_大熊,有货吗,\n"
            "c2,2026-11-20 11:00:20,柚子家居旗舰店:小美,有的亲,柚子家居旗舰店:小美\n")
    m = read_paths([write("r.csv", text)]).messages
    check_messages(m)
    assert list(m.columns) == MESSAGE_COLUMNS + ["receiver"]
    # one spelling per account, as for agents (full-width colon -> ASCII); an empty cell stays ""
    assert m["receiver"].tolist() == ["柚子家居旗舰店:小王"] * 2 + ["", "柚子家居旗舰店:小美"]
    # c1 has no agent-side message: its shop comes from the receiver's 店铺:子账号 name; no agent
    assert m["shop"].tolist() == ["柚子家居旗舰店"] * 4
    assert m["agent"].tolist() == ["", "", "柚子家居旗舰店:小美", "柚子家居旗舰店:小美"]


def test_receiver_is_not_the_buyer(write):
    """"receiver" used to be read as the buyer column; a receiver is the shop side."""
    from qa_scorer.ingest.columns import COLUMN_ALIASES, map_headers

    assert "receiver" not in COLUMN_ALIASES["buyer"]
    assert map_headers(["receiver", "买家"]) == {"receiver": "receiver", "买家": "buyer"}
    assert map_headers(["接待客服", "buyer"]) == {"接待客服": "receiver", "buyer": "buyer"}
    # no conversation id: segmentation still goes by the buyer column, not by the receiver
    text = ("sent_at,sender,text,buyer,receiver\n"
            "2026-11-20 10:00:00,tb_a,在吗,tb_a,店:小王\n"
            "2026-11-20 10:00:05,tb_b,在吗,tb_b,店:小王\n"
            "2026-11-20 10:00:30,店:小王,在的,tb_a,店:小王\n")
    m = read_paths([write("seg.csv", text)]).messages
    assert m["conversation_id"].nunique() == 2
    assert set(m["receiver"]) == {"店:小王"}


def test_receiver_mapped_with_columns_option(write):
    text = ("time,from,msg,值班\n2026-11-20 10:00:00,tb_a,在吗,店:阿杰\n")
    m = read_paths([write("x.csv", text)], IngestOptions(columns={"值班": "receiver"})).messages
    assert m["receiver"].tolist() == ["店:阿杰"] and m["shop"].tolist() == ["店"]


def test_receiver_column_in_stream_chunks(write):
    """Stream reading: every chunk has the column, whether its file has a receiver header or not."""
    from qa_scorer.ingest import ChunkedInput

    a = write("a.csv", "conversation_id,sent_at,sender,text\n" + "".join(
        f"x{i},2026-11-20 10:0{i}:00,tb_{i},在吗\nx{i},2026-11-20 10:0{i}:30,柚子旗舰店:小美,在的\n" for i in range(4)))
    b = write("b.csv", "conversation_id,sent_at,sender,text,接待客服\n"
                       "z1,2026-11-21 09:00:00,tb_z,在吗,柚子旗舰店:阿杰\n")
    source = ChunkedInput([a, b], IngestOptions(), chunk_rows=3, read="stream")
    chunks = list(source)
    assert len(chunks) >= 2
    for chunk in chunks:
        assert list(chunk.columns) == MESSAGE_COLUMNS + ["receiver"]
    whole = pd.concat(chunks)
    assert whole.loc[whole["conversation_id"] == "z1", "receiver"].tolist() == ["柚子旗舰店:阿杰"]
    assert set(whole.loc[whole["conversation_id"] != "z1", "receiver"]) == {""}
