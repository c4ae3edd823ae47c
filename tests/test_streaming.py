"""Reading chunk by chunk ("stream", for inputs larger than memory): nothing lost, bad rows one by one.

That every read mode gives the same tables on the samples is in tests/test_driver.py."""

from pathlib import Path

import pytest

from qa_scorer.pipeline import AuditOptions, audit

SPLIT = ("conversation_id,sent_at,sender,text\n"
         "A,2026-11-20 10:00:00,buyer1,在吗\n"
         "A,2026-11-20 10:00:10,店:小美,在的亲\n"
         "B,2026-11-20 10:01:00,buyer2,有货吗\n"
         "B,2026-11-20 10:01:20,店:小美,有的亲\n"
         "A,2026-11-20 10:05:00,buyer1,那我拍了\n")


def _opts(out: Path, **kw) -> AuditOptions:
    return AuditOptions(out_dir=out, tags=False, xlsx=False, html=False, **kw)


def test_stream_reports_conversations_split_across_chunks(tmp_path):
    src = tmp_path / "split.csv"
    src.write_text(SPLIT, encoding="utf-8")
    res = audit([src], _opts(tmp_path / "s", chunk_rows=2, read="stream"))
    assert res.summary["messages"] == 5  # nothing lost
    assert any("在其分块结束后再次出现" in n for n in res.notes)  # Chinese by default
    assert res.summary["conversations"] == 3  # A's late row was audited as a conversation of its own
    # read whole, the same rows are one conversation A again, whatever the chunk size
    res = audit([src], _opts(tmp_path / "w", chunk_rows=2, read="whole"))
    assert res.summary == {"messages": 5, "roles": {"customer": 3, "agent": 2}, "conversations": 2}
    assert not any("再次出现" in n for n in res.notes)


BAD = ("conversation_id,sent_at,sender,text\n"
       "A,2026-11-20 10:00:00,buyer1,在吗\n"
       "A,2026-11-20 10:00:10,店:小美,\"在的亲\",extra field\n"          # line 3: 5 fields
       "B,2026-11-20 10:01:00,buyer2,\"有货吗\n还有黑色吗\"\n"              # lines 4-5: one message
       "B,2026-11-20 10:01:20,店:小美,有的亲\n"                            # line 6
       "C,2026-11-20 10:02:00,buyer3,多少钱\n")                           # line 7


@pytest.mark.parametrize("read", ["whole", "stream"])
@pytest.mark.parametrize("encoding", ["utf-8", "gb18030"])
def test_a_malformed_row_is_rejected_alone_in_every_read_mode(tmp_path, read, encoding):
    src = tmp_path / "bad.csv"
    src.write_bytes(BAD.encode(encoding))
    res = audit([src], _opts(tmp_path / "o", chunk_rows=2, read=read))
    assert not res.failed_files
    assert res.rejected["source_line"].tolist() == [3]
    assert "应有 4 个字段，实际 5 个" in res.rejected["reason"].iloc[0]  # Chinese by default
    # read = accepted + rejected: 5 data rows, 4 messages kept, 1 rejected
    assert res.summary["messages"] == 4 and res.files[0].rows == 4 and res.files[0].rejected == 1
    msgs = res.messages if res.messages is not None else None
    lines = sorted(msgs["source_line"].tolist()) if msgs is not None else None
    if lines is not None:
        assert lines == [2, 4, 6, 7]
    import pandas as pd
    written = pd.read_csv(tmp_path / "o" / "messages.csv", encoding="utf-8-sig", keep_default_na=False)
    assert sorted(written["source_line"].tolist()) == [2, 4, 6, 7]
    assert "有货吗\n还有黑色吗" in written["text"].tolist()
