"""A streamed audit (chunks of whole conversations) gives the same tables as an in-memory one."""

from pathlib import Path

import pandas as pd
import pytest

from qa_scorer.pipeline import AuditOptions, audit

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "sample_transcripts"
KEYS = {
    "messages": ["conversation_id", "sent_at", "source_file", "source_line"],
    "replies": ["conversation_id", "sent_at", "source_file", "source_line"],
    "rounds": ["conversation_id", "round_index"],
    "conversations": ["conversation_id"],
    "agents": ["agent"],
}


def _table(folder: Path, name: str) -> pd.DataFrame:
    df = pd.read_csv(folder / f"{name}.csv", encoding="utf-8-sig", keep_default_na=False)
    return df.sort_values(KEYS[name]).reset_index(drop=True)


@pytest.mark.parametrize("chunk_rows,tags,read_whole_files", [
    (40, False, False),   # CSV files read chunk by chunk (inputs larger than memory)
    (300, False, True),   # files read whole, audited in chunks
    (120, True, False),   # pipelined: tag worker processes on one chunk while the next is read
    (120, True, True),
])
def test_streamed_audit_equals_in_memory(tmp_path, chunk_rows, tags, read_whole_files):
    whole, chunked = tmp_path / "whole", tmp_path / "chunked"
    a = audit([SAMPLES], AuditOptions(out_dir=whole, tags=tags, xlsx=False, workers=1))
    b = audit([SAMPLES], AuditOptions(out_dir=chunked, tags=tags, xlsx=False, chunk_rows=chunk_rows, workers=2,
                                      tag_pool_above_bytes=0, read_whole_files=read_whole_files))
    assert b.messages is None and "in chunks of" in " ".join(b.notes)
    assert a.summary == b.summary and b.summary["messages"] > 900
    for folder in (whole, chunked):  # message_index points at the reply's row of that run's messages.csv
        msgs = pd.read_csv(folder / "messages.csv", encoding="utf-8-sig", keep_default_na=False)
        reps = pd.read_csv(folder / "replies.csv", encoding="utf-8-sig", keep_default_na=False)
        linked = msgs.iloc[reps["message_index"].to_numpy()]
        assert (linked["source_line"].to_numpy() == reps["source_line"].to_numpy()).all()
        assert (linked["source_file"].to_numpy() == reps["source_file"].to_numpy()).all()
    for name in KEYS:
        x, y = _table(whole, name), _table(chunked, name)
        if name == "replies":  # row numbers differ: streamed messages.csv is in chunk order
            x, y = x.drop(columns="message_index"), y.drop(columns="message_index")
        pd.testing.assert_frame_equal(x, y, check_dtype=False, obj=name)
    # the report of a streamed audit shows the same worst chats, with every message
    html_a = (whole / "report.html").read_text(encoding="utf-8")
    html_b = (chunked / "report.html").read_text(encoding="utf-8")
    assert html_b.count('class="bubble"') == html_a.count('class="bubble"') > 20
    assert html_b.count('class="conv"') == html_a.count('class="conv"') == 20


def test_stream_reports_conversations_split_across_chunks(tmp_path):
    src = tmp_path / "split.csv"
    src.write_text(
        "conversation_id,sent_at,sender,text\n"
        "A,2026-11-20 10:00:00,buyer1,在吗\n"
        "A,2026-11-20 10:00:10,店:小美,在的亲\n"
        "B,2026-11-20 10:01:00,buyer2,有货吗\n"
        "B,2026-11-20 10:01:20,店:小美,有的亲\n"
        "A,2026-11-20 10:05:00,buyer1,那我拍了\n", encoding="utf-8")
    for whole_files in (True, False):
        res = audit([src], AuditOptions(out_dir=tmp_path / "o", tags=False, xlsx=False, html=False, chunk_rows=2,
                                        read_whole_files=whole_files))
        assert any("came back after their chunk" in n for n in res.notes)
        assert res.summary["messages"] == 5  # nothing lost


def test_bad_rows_in_a_chunked_audit_are_rejected_one_by_one(tmp_path):
    # an input audited in chunks but read whole keeps row-level rejects: nothing after a bad row is lost
    src = tmp_path / "bad.csv"
    src.write_text("conversation_id,sent_at,sender,text\n"
                   "A,2026-11-20 10:00:00,buyer1,在吗\n"
                   "A,2026-11-20 10:00:10,店:小美,\"在的亲\",extra field\n"
                   "B,2026-11-20 10:01:00,buyer2,有货吗\n"
                   "B,2026-11-20 10:01:20,店:小美,有的亲\n", encoding="utf-8")
    res = audit([src], AuditOptions(out_dir=tmp_path / "o", tags=False, xlsx=False, html=False, chunk_rows=2,
                                    read_whole_files=True))
    assert res.summary["messages"] == 3 and res.rejected["source_line"].tolist() == [3]
    assert not res.failed_files
    # read chunk by chunk (inputs larger than memory) the file stops at the broken row, and says so
    res = audit([src], AuditOptions(out_dir=tmp_path / "p", tags=False, xlsx=False, html=False, chunk_rows=2,
                                    read_whole_files=False))
    assert res.failed_files and "--chunk-size 0" in res.failed_files[0].error
