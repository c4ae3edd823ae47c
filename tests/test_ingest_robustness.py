"""Nothing lost, nothing misleading: every input row is accepted, rejected with its line and reason,
or counted once as a duplicate - in every read mode - and the messages about bad input are exact.

Each test states the accounting it expects (rows_read == rows + rejected + duplicates)."""

from __future__ import annotations

import codecs
from pathlib import Path

import pandas as pd
import pytest

from qa_scorer.ingest import ChunkedInput, IngestOptions, parse_column_mapping, printable, read_paths

HEADER = "conversation_id,sent_at,sender,text"


@pytest.fixture(autouse=True)
def _english_messages():
    from qa_scorer.i18n import use_language
    with use_language("en"):
        yield


def _rows(n: int, *, bad: int | None = None, where: str = "text", sep: str = ",") -> str:
    """``n`` data rows (line = row + 1); row ``bad`` has an opening quote that is never closed."""
    lines = [HEADER.replace(",", sep)]
    for i in range(1, n + 1):
        conv, ts = f"C{(i - 1) // 10:03d}", f"2026-11-20 {10 + i // 3600:02d}:{(i // 60) % 60:02d}:{i % 60:02d}"
        sender = "店:小美" if i % 2 == 0 else f"buyer{(i - 1) // 10}"
        text = f"第{i}条消息"
        if i == bad and where == "text":
            text = '"open quote ' + text
        if i == bad and where == "sender":
            sender = '"' + sender
        lines.append(sep.join([conv, ts, sender, text]))
    return "\n".join(lines) + "\n"


def _read(paths, read: str = "whole", chunk_rows: int | None = None, **opts):
    """(messages, rejected, files) through read_paths ("whole") or the stream reader."""
    options = IngestOptions(**opts)
    if read == "whole":
        res = read_paths(paths, options)
        return res.messages, res.rejected, res.files
    source = ChunkedInput(paths, options, chunk_rows=chunk_rows or 100, read="stream")
    chunks = list(source)
    messages = pd.concat(chunks, ignore_index=True) if chunks else pd.DataFrame(columns=["text"])
    return messages, source.rejected, source.files


def _accounted(files) -> None:
    for f in files:
        if f.error is None and f.skipped is None:
            assert f.rows_read == f.rows + f.rejected + f.duplicates, vars(f)


# --------------------------------------------------------------------------- 1. unclosed quotes

@pytest.mark.parametrize("read", ["whole", "stream"])
@pytest.mark.parametrize("encoding", ["utf-8", "gb18030"])
@pytest.mark.parametrize("where", ["text", "sender"])
def test_one_unclosed_quote_costs_one_row_not_the_rest_of_the_file(write, read, encoding, where):
    path = write(f"q_{where}.csv", _rows(1000, bad=501, where=where), encoding=encoding)
    messages, rejected, files = _read([path], read)
    f = files[0]
    assert (f.rows_read, f.rows, f.rejected, f.duplicates) == (1000, 999, 1, 0)
    _accounted(files)
    assert rejected["source_line"].tolist() == [502]
    assert rejected["reason"].iloc[0].startswith("unclosed quote starting at line 502")
    assert rejected["source_file"].iloc[0] == str(path)
    assert len(messages) == 999 and messages["text"].str.len().max() < 20  # no 27,000-character message
    assert "第1000条消息" in set(messages["text"])


def test_the_issue_reproduction(write):
    path = write("q.csv", 'conversation_id,sent_at,sender,text\nA,2026-11-20 10:00:00,b,"open quote\n'
                          'A,2026-11-20 10:00:05,店:小美,hi\nA,2026-11-20 10:00:10,b,ok\n')
    res = read_paths([path])
    assert res.messages["text"].tolist() == ["hi", "ok"]
    assert res.rejected[["source_line", "reason"]].values.tolist() == [
        [2, "unclosed quote starting at line 2; the lines after it were read as rows"]]
    assert res.rejected["raw"].iloc[0] == 'A,2026-11-20 10:00:00,b,"open quote'
    f = res.files[0]
    assert (f.rows_read, f.rows, f.rejected, f.duplicates) == (3, 2, 1, 0)


def test_legit_multiline_messages_and_quoted_commas_are_kept(write):
    text = (HEADER + "\n"
            'A,2026-11-20 10:00:00,buyer,"在吗\n这件有M码吗, 黑色的"\n'
            'A,2026-11-20 10:00:10,店:小美,"有的亲\n""M码""还有3件"\n'
            "A,2026-11-20 10:00:20,buyer,好的\n")
    res = read_paths([write("ok.csv", text)])
    assert res.rejected.empty
    assert res.messages["text"].tolist() == ["在吗\n这件有M码吗, 黑色的", '有的亲\n"M码"还有3件', "好的"]
    assert res.messages["source_line"].tolist() == [2, 4, 6]
    _accounted(res.files)


def test_an_unclosed_quote_on_the_last_row_swallowing_plain_lines_is_rejected(write):
    text = HEADER + "\nA,2026-11-20 10:00:00,buyer,hi\nA,2026-11-20 10:00:05,店:小美,\"never closed\nsome\nlines\n"
    res = read_paths([write("tail.csv", text)])
    f = res.files[0]
    assert res.messages["text"].tolist() == ["hi"]
    assert res.rejected["source_line"].tolist()[0] == 3
    assert res.rejected["reason"].iloc[0].startswith("unclosed quote starting at line 3")
    # the lines after it were read again as rows: each is a wrong-field-count reject, none is lost
    assert res.rejected["source_line"].tolist() == [3, 4, 5]
    assert (f.rows_read, f.rows, f.rejected) == (4, 1, 3)


# --------------------------------------------------------------------------- 2. chat-log header styles

def test_chatlog_bracketed_and_time_only_headers_are_messages_not_merged(write):
    text = ("2026-11-20\n"
            "【2026-11-20 10:00:20】tb_a：\n"
            "在吗\n"
            "【2026-11-20 10:00:40】柚子旗舰店:小美：\n"
            "在的亲\n"
            "tb_小王 10:12:00\n"
            "这件有M码吗\n"
            "柚子旗舰店:小美 (10:12:30):\n"
            "有的\n"
            "[2026-11-20 10:13:00] tb_小王:\n"
            "好的\n")
    res = read_paths([write("log.txt", text)])
    m = res.messages.sort_values("source_line")
    assert res.files[0].reader == "chatlog"
    assert m["sender"].tolist() == ["tb_a", "柚子旗舰店:小美", "tb_小王", "柚子旗舰店:小美", "tb_小王"]
    assert m["text"].tolist() == ["在吗", "在的亲", "这件有M码吗", "有的", "好的"]
    assert m["sent_at"].dt.strftime("%H:%M:%S").tolist() == ["10:00:20", "10:00:40", "10:12:00", "10:12:30",
                                                              "10:13:00"]
    assert res.rejected.empty
    _accounted(res.files)


def test_chatlog_header_attempts_that_are_not_headers_are_rejected_never_merged(write):
    text = ("tb_a (2026-11-20 10:00:00):\n"
            "在吗\n"
            "2026-11-20 10:00:20\n"                 # a date-time without a sender
            "还有货吗\n"                             # belongs to no message now: rejected too
            "tb_a (2026-11-20 10:01:00):\n"
            "[10:01] 看一下\n"                       # a bracketed time that is no header we read
            "tb_b 10:02:00\n")                       # time only, but a dated header came before: a header
    res = read_paths([write("log2.txt", text)])
    assert res.messages.sort_values("source_line")["text"].tolist() == ["在吗", "", ""]
    rej = res.rejected.sort_values("source_line")
    assert rej["source_line"].tolist() == [3, 4, 6]
    assert "looks like a message header" in rej["reason"].iloc[0]
    assert "outside any message" in rej["reason"].iloc[1]
    assert "looks like a message header" in rej["reason"].iloc[2]
    f = res.files[0]
    assert (f.rows_read, f.rows, f.rejected) == (6, 3, 3)


def test_chatlog_time_only_header_without_a_date_is_rejected(write):
    res = read_paths([write("nodate.txt", "tb_a 10:00:00\n在吗\ntb_b (2026-11-20 10:00:05):\n在的\n")])
    assert res.messages["sender"].tolist() == ["tb_b"]
    assert res.rejected["source_line"].tolist() == [1, 2]
    assert "without a date" in res.rejected["reason"].iloc[0]


# --------------------------------------------------------------------------- 3. content sniffing

TSV_ROWS = [("2026-11-20 10:00:00", "buyer", "在吗"), ("2026-11-20 10:00:20", "店:小美", "在的亲"),
            ("2026-11-20 10:00:40", "buyer", "有M码吗")]


@pytest.mark.parametrize("style", ["utf16le-bom", "utf16be-bom", "utf8", "utf8-bom", "gbk", "crlf"])
def test_tab_separated_txt_is_a_table_not_a_chat_log(write, style):
    text = "发送时间\t发送人\t消息内容\n" + "".join(f"{a}\t{b}\t{c}\n" for a, b, c in TSV_ROWS)
    if style == "crlf":
        text = text.replace("\n", "\r\n")
    data = {"utf16le-bom": codecs.BOM_UTF16_LE + text.replace("\n", "\r\n").encode("utf-16-le"),
            "utf16be-bom": codecs.BOM_UTF16_BE + text.encode("utf-16-be"),
            "utf8-bom": codecs.BOM_UTF8 + text.encode("utf-8"),
            "gbk": text.encode("gbk")}.get(style, text.encode("utf-8"))
    res = read_paths([write("excel_unicode.txt", data)])
    f = res.files[0]
    assert f.reader == "tsv", vars(f)
    assert res.messages["sender"].tolist() == ["buyer", "店:小美", "buyer"]
    assert res.messages["text"].tolist() == ["在吗", "在的亲", "有M码吗"]
    assert res.messages["source_line"].tolist() == [2, 3, 4]
    assert (f.rows_read, f.rows, f.rejected) == (3, 3, 0)


def test_comma_txt_and_chat_log_txt_are_told_apart(write):
    csv_text = "time,nick,content\n" + "".join(f"{a},{b},{c}\n" for a, b, c in TSV_ROWS)
    assert read_paths([write("c.txt", csv_text)]).files[0].reader == "csv"
    log = "消息对象:buyer\nbuyer (2026-11-20 10:00:00):\n在吗, 亲\n店:小美 2026-11-20 10:00:20\n在的\n"
    res = read_paths([write("l.txt", log)])
    assert res.files[0].reader == "chatlog" and res.messages["text"].tolist() == ["在吗, 亲", "在的"]


def test_table_with_unknown_headers_in_txt_names_the_missing_columns(write):
    text = "when\twho\twhat\n" + "".join(f"{a}\t{b}\t{c}\n" for a, b, c in TSV_ROWS)
    res = read_paths([write("odd.txt", text)])
    assert "no message headers found" in res.files[0].error or "no usable column" in res.files[0].error
    res = read_paths([write("odd2.txt", text)], IngestOptions(columns={"when": "sent_at", "who": "sender",
                                                                     "what": "text"}))
    assert res.files[0].reader == "tsv" and len(res.messages) == 3


# --------------------------------------------------------------------------- 4. double counting

def test_same_file_twice_and_folder_plus_file_are_read_once(write, tmp_path):
    path = write("d/a.csv", _rows(20))
    copy = write("elsewhere/copy_of_a.csv", _rows(20))
    res = read_paths([path, tmp_path / "d", str(path), copy])
    assert len(res.messages) == 20
    read = [f for f in res.files if not f.skipped]
    assert [f.path for f in read] == [str(path)]
    skipped = [(f.path, f.skipped) for f in res.files if f.skipped]
    assert len(skipped) == 3 and all("counted once" in why for _, why in skipped)
    assert [why for p, why in skipped if p == str(path)] == [f"same file as {path}; counted once"] * 2
    assert dict(skipped)[str(copy)] == f"same content as {path}; counted once"
    _accounted(res.files)


@pytest.mark.parametrize("read", ["whole", "stream"])
def test_exact_duplicate_rows_are_counted_once(write, read):
    body = _rows(30).splitlines()[1:]
    first = write("day1.csv", "\n".join([HEADER, *body[:20]]) + "\n")
    second = write("day2.csv", "\n".join([HEADER, *body[10:], body[25]]) + "\n")  # 10 overlap + 1 repeat
    messages, rejected, files = _read([first, second], read, chunk_rows=7)
    assert len(messages) == 30 and rejected.empty
    by_name = {Path(f.path).name: f for f in files}
    assert (by_name["day1.csv"].rows_read, by_name["day1.csv"].rows, by_name["day1.csv"].duplicates) == (20, 20, 0)
    assert (by_name["day2.csv"].rows_read, by_name["day2.csv"].rows, by_name["day2.csv"].duplicates) == (21, 10, 11)
    _accounted(files)


def test_same_second_different_text_is_not_a_duplicate(write):
    text = HEADER + "\nA,2026-11-20 10:00:00,buyer,在吗\nA,2026-11-20 10:00:00,buyer,在吗?\nA,2026-11-20 10:00:00,buyer,在吗\n"
    res = read_paths([write("same_second.csv", text)])
    assert res.messages["text"].tolist() == ["在吗", "在吗?"]
    assert res.files[0].duplicates == 1


# --------------------------------------------------------------------------- 5. column mapping

def test_missing_column_hint_names_only_unmapped_headers(write):
    text = "conversation_id,sent_at,sender,聊天记录,备注\nA,2026-11-20 10:00:00,b,hi,x\n"
    res = read_paths([write("m.csv", text)])
    err = res.files[0].error
    assert "no usable column for text" in err
    assert "unmapped headers: 聊天记录, 备注" in err
    assert "conversation_id\u2192conversation_id" in err            # says which are in use
    assert '--columns "聊天记录=text"' in err
    assert "conversation_id=text" not in err


def test_mapping_onto_a_header_already_in_use_is_an_error_naming_both(write):
    text = "conversation_id,sent_at,sender,聊天记录\nA,2026-11-20 10:00:00,b,hi\n"
    res = read_paths([write("m.csv", text)], IngestOptions(columns=parse_column_mapping("conversation_id=text")))
    err = res.files[0].error
    assert "'conversation_id'" in err and "text" in err and "already the conversation_id column" in err
    assert len(res.messages) == 0


def test_a_header_mapped_to_two_columns_is_an_error():
    with pytest.raises(ValueError, match="'a' to both text and sender"):
        parse_column_mapping("a=text,a=sender")
    with pytest.raises(ValueError, match="both 'a' and 'b' to text"):
        parse_column_mapping("a=text,b=text")


# --------------------------------------------------------------------------- 6. encodings

def _gb18030_with_bad_byte(n=1000, row=501) -> bytes:
    data = _rows(n).encode("gb18030")
    lines = data.split(b"\n")
    lines[row] = lines[row] + b"\xff"  # line row+1 of the file
    return b"\n".join(lines)


@pytest.mark.parametrize("read", ["whole", "stream"])
def test_one_bad_byte_names_line_and_offset(write, read):
    data = _gb18030_with_bad_byte()
    path = write("bad.csv", data)
    _, _, files = _read([path], read)
    err = files[0].error
    offset = data.index(b"\xff")
    assert "line 502" in err
    if read == "whole":
        assert f"byte offset {offset}" in err and "--encoding-errors replace" in err


def test_forced_encoding_error_names_line_and_offset(write):
    data = _gb18030_with_bad_byte()
    res = read_paths([write("bad.csv", data)], IngestOptions(encoding="gb18030"))
    offset = data.index(b"\xff")
    assert f"line 502 are not valid gb18030 (first bad byte at offset {offset})" in res.files[0].error


@pytest.mark.parametrize("read", ["whole", "stream"])
@pytest.mark.parametrize("forced", [None, "gb18030"])
def test_encoding_errors_replace_keeps_the_file_and_counts(write, read, forced):
    path = write("bad.csv", _gb18030_with_bad_byte())
    messages, rejected, files = _read([path], read, chunk_rows=300, encoding=forced, encoding_errors="replace")
    f = files[0]
    assert f.error is None and len(messages) == 1000 and f.replaced == 1
    assert any("1 undecodable byte sequence(s) were replaced" in n for n in f.notes)
    assert messages["text"].str.contains("\ufffd").sum() == 1
    _accounted(files)


def test_encoding_errors_option_is_validated():
    with pytest.raises(ValueError):
        IngestOptions(encoding_errors="ignore")


# --------------------------------------------------------------------------- 7. xlsx title rows

def _workbook(path: Path, rows: list[list]) -> Path:
    import openpyxl
    wb = openpyxl.Workbook()
    for row in rows:
        wb.active.append(row)
    wb.save(path)
    return path


def test_xlsx_title_rows_above_the_header_are_skipped_and_lines_stay_sheet_rows(tmp_path):
    path = _workbook(tmp_path / "t.xlsx", [["柚子旗舰店 聊天记录导出"], ["导出时间: 2026-11-21"], [None],
                                           ["会话编号", "发送时间", "发送人", "消息内容"],
                                           ["x1", "2026-11-20 10:00:00", "buyer", "在吗"],
                                           [None, None, None, None],
                                           ["x1", "2026-11-20 10:00:20", "店:小美", "在的亲"],
                                           ["x1", "not a time", "buyer", "?"]])
    res = read_paths([path])
    f = res.files[0]
    assert f.error is None and res.messages["text"].tolist() == ["在吗", "在的亲"]
    assert res.messages["source_line"].tolist() == [5, 7]
    assert res.rejected["source_line"].tolist() == [8]
    assert any("skipped 3 title row(s)" in n for n in f.notes)
    assert (f.rows_read, f.rows, f.rejected) == (3, 2, 1)
    forced = read_paths([path], IngestOptions(skip_rows=3))
    assert forced.messages["source_line"].tolist() == [5, 7]


def test_xlsx_without_header_names_the_missing_columns(tmp_path):
    path = _workbook(tmp_path / "n.xlsx", [["报表"], ["a", "b", "c"], ["1", "2", "3"]])
    err = read_paths([path]).files[0].error
    assert "no usable column" in err and "unmapped headers: a, b, c" in err


# --------------------------------------------------------------------------- 8. time order

@pytest.mark.parametrize("read", ["whole", "stream"])
def test_backwards_timestamps_are_counted_and_noted(write, read):
    text = (HEADER + "\nA,2026-11-20 10:05:00,buyer,第一\nA,2026-11-20 10:01:00,店:小美,第二\n"
            "A,2026-11-20 10:06:00,buyer,第三\nB,2026-11-20 11:00:00,buyer2,b1\nB,2026-11-20 11:01:00,店:小美,b2\n")
    messages, _, files = _read([write("order.csv", text)], read)
    f = files[0]
    assert f.out_of_order == 1
    assert any(n.startswith("1 rows out of time order in conversation A") and "sorted by time" in n for n in f.notes)
    a = messages[messages["conversation_id"] == "A"]
    assert a["text"].tolist() == ["第二", "第一", "第三"]


# --------------------------------------------------------------------------- 9. printable messages

def test_printable_escapes_controls_and_cuts():
    assert printable("a\x00b\nc\u202ed") == "a\\x00b\\nc\\u202ed"
    out = printable("x" * 5000, 200)
    assert out.startswith("x" * 200) and "(+4,800 chars)" in out and len(out) < 230
    assert printable(None) == ""


def test_binary_file_error_and_rejects_have_no_control_characters(write):
    import random
    rng = random.Random(1)
    blob = bytes(rng.randrange(256) for _ in range(20000))
    res = read_paths([write("blob.csv", blob), write("blob.txt", b"\x00\x01\x02" * 5000),
                      write("ctl.csv", HEADER + "\nA,2026-11-20 10:00:00,\x01\x02,\x1b[31m" + "x" * 3000 + "\n"
                            "A,bad\x07time,b,c\n")])
    for f in res.files:
        for text in [f.error or "", f.skipped or "", *f.notes]:
            assert len(text) <= 700
            assert not any(ord(c) < 32 or 0x7f <= ord(c) < 0xa0 for c in text), text
    for value in [*res.rejected["raw"], *res.rejected["reason"]]:
        assert len(value) <= 700 and not any(ord(c) < 32 for c in value)
    _accounted(res.files)
