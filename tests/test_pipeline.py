"""Driver glue: tag counts per conversation, workbook row selection, CSV writing (re-exported by pipeline)."""

import pandas as pd

from qa_scorer.pipeline import add_tag_counts, workbook_selection, write_table


def test_add_tag_counts_sums_flags_per_conversation():
    conversations = pd.DataFrame({"conversation_id": ["a", "b", "c"]})
    replies = pd.DataFrame({"conversation_id": ["a", "a", "b"], "pushy": [1, 1, 0], "unhelpful": [0, 1, 1],
                            "rude": [0, 0, 0], "overclaim": [0, 0, 1], "forbidden": [1, 0, 0]})
    out = add_tag_counts(conversations, replies)
    assert out["pushy"].tolist() == [2, 0, 0]      # c has no replies: 0, not NaN
    assert out["unhelpful"].tolist() == [1, 1, 0]
    assert out["overclaim"].tolist() == [0, 1, 0]
    assert out["forbidden"].tolist() == [1, 0, 0]


def test_workbook_selection_keeps_everything_under_the_limit():
    convs = pd.DataFrame({"conversation_id": list("abc"), "service_score": [90, 50, 70]})
    reps = pd.DataFrame({"conversation_id": list("abc"), "rude": [0, 1, 0]})
    sheets, notes = workbook_selection(convs, reps, pd.DataFrame(), max_rows=3)
    assert notes == [] and sheets["conversations"]["conversation_id"].tolist() == list("abc")


def test_workbook_selection_worst_conversations_and_flagged_replies_first():
    convs = pd.DataFrame({"conversation_id": list("abcd"), "service_score": [90, 50, 70, 20]})
    reps = pd.DataFrame({"conversation_id": list("abcd"), "rude": [0, 0, 0, 1], "short_reply": [0, 1, 0, 0]})
    sheets, notes = workbook_selection(convs, reps, pd.DataFrame(), max_rows=2)
    assert sheets["conversations"]["conversation_id"].tolist() == ["d", "b"]  # lowest scores
    assert sheets["replies"]["conversation_id"].tolist() == ["b", "d"]        # the two flagged ones
    assert len(notes) == 2 and "conversations.csv" in notes[0] and "replies.csv" in notes[1]


def test_write_table_bom_booleans_and_timestamps(tmp_path):
    df = pd.DataFrame({"t": pd.to_datetime(["2026-11-20 10:00:05"]), "ok": [True], "x": [None], "s": ["=1+1"]})
    path = write_table(df, tmp_path / "a.csv")
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    text = raw.decode("utf-8-sig")
    assert "2026-11-20 10:00:05" in text and "true" in text
    back = pd.read_csv(path, encoding="utf-8-sig")
    assert back["ok"].tolist() == [True] and back["x"].isna().all()
    assert back["s"].tolist() == ["'=1+1"]  # a spreadsheet shows the text, does not run it
