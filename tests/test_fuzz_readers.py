"""Fuzzing the readers: random bytes, mutated CSV/TSV (quotes, delimiters, line ends, encodings)
and random chat-log lines never raise; every file is either reported (error / skipped) or fully
accounted for: rows_read == rows + rejected + duplicates, in both read modes.  Rejects and errors
hold no control characters."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qa_scorer.ingest import ChunkedInput, IngestOptions, read_paths

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Characters every encoding under test (UTF-8, GBK, UTF-16) can hold.
ALPHABET = st.sampled_from(list("abcAB01:-/ 在吗好的亲店小美买家【】（）：，") + ['"', ",", "\t", "\n", "\r"])
FIELD = st.text(ALPHABET, max_size=12)
TIMES = st.sampled_from(["2026-11-20 10:00:00", "2026-11-20 10:00:05", "2026/11/20 10:01:00", "1763604000",
                         "bad time", "", "2026-13-45 10:00:00"])
SENDERS = st.sampled_from(["tb_小王", "店:小美", "店：阿杰", "", "系统", "buyer"])
ROWS = st.lists(st.tuples(st.sampled_from(["A", "B", ""]), TIMES, SENDERS, FIELD), min_size=0, max_size=25)


def _quote(value: str, sep: str) -> str:
    if any(c in value for c in ('"', sep, "\n", "\r")):
        return '"' + value.replace('"', '""') + '"'
    return value


def _no_controls(text: str) -> bool:
    return not any(ord(c) < 32 or 0x7F <= ord(c) < 0xA0 for c in text)


def _check(paths: list[Path], stream: bool = False, options: IngestOptions | None = None) -> None:
    """Both read modes: no exception, accounting per file, printable messages."""
    results = [read_paths(paths, options or IngestOptions())]
    if stream:
        source = ChunkedInput(paths, IngestOptions(), chunk_rows=3, read="stream")
        list(source)
        results.append(source)
    for res in results:
        for f in res.files:
            for text in [f.error or "", f.skipped or "", *f.notes]:
                assert _no_controls(text) and len(text) < 1000, text
            if f.error is None and f.skipped is None:
                assert f.rows_read == f.rows + f.rejected + f.duplicates, vars(f)
        rejected = res.rejected
        for value in [*rejected["raw"], *rejected["reason"]]:
            assert _no_controls(value) and len(value) < 1000, value


@FUZZ
@given(data=st.binary(max_size=3000), ext=st.sampled_from([".csv", ".tsv", ".txt", ".json", ".jsonl", ".xlsx", ".log"]))
def test_random_bytes_never_raise(data, ext):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"f{ext}"
        path.write_bytes(data)
        _check([path], stream=ext in (".csv", ".tsv"))


MUTATIONS = st.lists(st.tuples(st.sampled_from(["insert", "delete"]), st.integers(0, 10_000),
                               st.sampled_from(['"', ",", "\t", "\n", "\r", '""', "\x00", "，", "a"])),
                     max_size=4)


@FUZZ
@given(rows=ROWS, sep=st.sampled_from([",", "\t"]), with_id=st.booleans(), mutations=MUTATIONS,
       encoding=st.sampled_from(["utf-8", "utf-8-sig", "gbk", "utf-16"]), eol=st.sampled_from(["\n", "\r\n", "\r"]),
       ext=st.sampled_from([".csv", ".tsv", ".txt"]))
def test_mutated_delimited_files_are_accounted_for(rows, sep, with_id, mutations, encoding, eol, ext):
    header = ["conversation_id", "sent_at", "sender", "text"] if with_id else ["sent_at", "sender", "text"]
    lines = [sep.join(header)]
    for conv, ts, sender, text in rows:
        fields = [conv, ts, sender, text] if with_id else [ts, sender, text]
        lines.append(sep.join(_quote(v, sep) for v in fields))
    text = eol.join(lines) + eol
    for kind, pos, chunk in mutations:
        pos = pos % (len(text) + 1)
        text = text[:pos] + chunk + text[pos:] if kind == "insert" else text[:pos] + text[pos + len(chunk):]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"f{ext}"
        path.write_bytes(text.encode(encoding))
        _check([path], stream=ext == ".csv")


LOG_LINES = st.sampled_from([
    "消息对象:tb_小王", "tb_小王 (2026-11-20 10:10:15):", "店：小美 (2026-11-20 10:10:40):", "momo酱 2026-11-20 11:00:00",
    "2026-11-20 11:00:30 店:阿杰", "【2026-11-20 10:00:20】tb_a：", "[2026-11-20 10:00:20] tb_a:", "tb_小王 10:12:00",
    "店:小美 (10:12:30):", "2026-11-20", "---- 2026-11-21 ----", "----------------", "====", "在吗？", "有M码的哦",
    "", "   ", "2026-11-20 10:00:20", "[10:01] 看一下", "【10:02:00】", "tb_x (2026-02-30 10:00:00):",
    "tb_y 25:61:61", "a\tb\tc", "sent_at,sender,text", "\x00\x01", "好的,谢谢",
])


@FUZZ
@given(lines=st.lists(st.one_of(LOG_LINES, FIELD), max_size=30), eol=st.sampled_from(["\n", "\r\n"]),
       encoding=st.sampled_from(["utf-8", "gbk", "utf-16"]), forced=st.booleans())
def test_random_chat_logs_are_accounted_for(lines, eol, encoding, forced):
    text = eol.join(lines)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "log.txt"
        path.write_bytes(text.encode(encoding, errors="replace"))
        _check([path], options=IngestOptions(fmt="chatlog") if forced else None)
