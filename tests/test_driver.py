"""One audit driver: every engine x executor x chunking x read mode gives the same tables.

The reference is the simplest audit (one chunk, in this process).  Whole-file reading keeps the
row order, so those CSVs must be byte-identical; reading chunk by chunk ("stream") writes
messages.csv in chunk order, so those tables are compared sorted by their keys.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from qa_scorer.cli import app
from qa_scorer.ingest import IngestOptions
from qa_scorer.pipeline import AuditOptions, audit

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "sample_transcripts"
TABLES = ("messages", "replies", "rounds", "conversations", "agents")
KEYS = {
    "messages": ["conversation_id", "sent_at", "source_file", "source_line"],
    "replies": ["conversation_id", "sent_at", "source_file", "source_line"],
    "rounds": ["conversation_id", "round_index"],
    "conversations": ["conversation_id"],
    "agents": ["agent"],
}
TAG_COLUMNS = ["pushy", "unhelpful", "rude", "overclaim", "p_pushy", "p_unhelpful", "p_rude", "p_overclaim",
               "tag_words"]


def _read(folder: Path, name: str) -> pd.DataFrame:
    return pd.read_csv(folder / f"{name}.csv", encoding="utf-8-sig", keep_default_na=False)


def _sorted(folder: Path, name: str) -> pd.DataFrame:
    df = _read(folder, name)
    if name == "replies":  # row numbers of messages.csv differ when it is written in chunk order
        df = df.drop(columns="message_index")
    return df.sort_values(KEYS[name]).reset_index(drop=True)


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("reference")
    res = audit([SAMPLES], AuditOptions(out_dir=out, html=False, xlsx=False, executor="in-process", chunk_rows=0))
    assert res.run_info["chunks"] == 1 and res.run_info["executor"] == "in-process"
    replies = _read(out, "replies")
    assert set(TAG_COLUMNS) <= set(replies.columns)
    assert replies[["pushy", "unhelpful", "rude", "overclaim"]].to_numpy().sum() > 0  # the sample has flags
    return out


def _check_same(reference: Path, out: Path, *, same_order: bool) -> None:
    for name in TABLES:
        if same_order:
            assert (out / f"{name}.csv").read_bytes() == (reference / f"{name}.csv").read_bytes(), name
        else:
            pd.testing.assert_frame_equal(_sorted(reference, name), _sorted(out, name), check_dtype=False, obj=name)
    # message_index always points at the reply's own row of that run's messages.csv
    msgs, reps = _read(out, "messages"), _read(out, "replies")
    linked = msgs.iloc[reps["message_index"].to_numpy()]
    assert (linked["source_line"].to_numpy() == reps["source_line"].to_numpy()).all()
    assert (linked["source_file"].to_numpy() == reps["source_file"].to_numpy()).all()


@pytest.mark.parametrize("executor,workers", [("in-process", 1), ("pool", 1), ("pool", 2)])
@pytest.mark.parametrize("chunk_rows", [0, 150])
@pytest.mark.parametrize("read", ["whole", "stream"])
def test_local_engine_every_combination_gives_the_same_tables(reference, tmp_path, executor, workers,
                                                              chunk_rows, read):
    res = audit([SAMPLES], AuditOptions(out_dir=tmp_path, html=False, xlsx=False, executor=executor,
                                        workers=workers, chunk_rows=chunk_rows, read=read))
    run = json.loads((tmp_path / "run.json").read_text(encoding="utf-8"))
    assert run["engine"] == "local" and run["executor"] == executor and run["read"] == read
    assert run["workers"] == workers
    if chunk_rows and read == "whole":
        # 925 messages in chunks of about 150 whole conversations: at least 6 chunks
        assert run["chunks"] >= 6
    _check_same(reference, tmp_path, same_order=(read == "whole"))
    assert res.summary["messages"] == 925


@pytest.fixture(scope="module")
def dask_cluster():
    pytest.importorskip("dask.distributed")
    from dask.distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, host="127.0.0.1", dashboard_address=None,
                      processes=True) as cluster:
        yield cluster


@pytest.mark.slow
@pytest.mark.parametrize("chunk_rows", [0, 200])
def test_dask_engine_gives_the_same_tables(reference, tmp_path, dask_cluster, chunk_rows):
    res = audit([SAMPLES], AuditOptions(out_dir=tmp_path, html=False, xlsx=False, engine="dask",
                                        scheduler=dask_cluster.scheduler_address, chunk_rows=chunk_rows))
    assert res.run_info["executor"] == "dask" and res.run_info["workers"] == 2
    assert res.run_info["chunks"] == (1 if chunk_rows == 0 else res.run_info["chunks"]) >= 1
    if chunk_rows:
        assert res.run_info["chunks"] >= 4
    _check_same(reference, tmp_path, same_order=True)


@pytest.mark.slow
def test_dask_engine_starts_its_own_local_cluster(reference, tmp_path):
    pytest.importorskip("dask.distributed")
    res = audit([SAMPLES], AuditOptions(out_dir=tmp_path, html=False, xlsx=False, engine="dask", workers=1,
                                        chunk_rows=300))
    assert res.run_info["scheduler"] == "local cluster" and res.run_info["chunks"] >= 3
    _check_same(reference, tmp_path, same_order=True)


def test_run_json_records_what_ran(reference):
    run = json.loads((reference / "run.json").read_text(encoding="utf-8"))
    assert run["engine"] == "local" and run["executor"] == "in-process" and run["chunks"] == 1
    model = run["model"]
    assert len(model["corpus_sha256"]) == 64 and model["thresholds"]["rude"] > 0.5
    assert "/" not in model.get("name", "")  # a file name, never a local path


def _rubric_with_metrics(path: Path, lines: str) -> Path:
    """The packaged default rubric with other values in its [metrics] table."""
    import re

    from qa_scorer.rubric import preset_text

    text = preset_text("default")
    for line in lines.strip().splitlines():
        key = line.split("=")[0].strip()
        text, n = re.subn(rf"(?m)^{key} *=.*$", line, text, count=1)
        if not n:
            text = text.replace("[metrics]\n", f"[metrics]\n{line}\n", 1)
    path.write_text(text, encoding="utf-8")
    return path


def test_library_and_cli_give_identical_tables_for_a_rubric_with_metrics(tmp_path):
    rubric = _rubric_with_metrics(tmp_path / "rubric.toml", "slow_seconds = 30\n")
    lib, cli = tmp_path / "lib", tmp_path / "cli"
    res = audit([SAMPLES], AuditOptions(out_dir=lib, rubric_path=rubric, tags=False, html=False, xlsx=False))
    assert res.run_info["settings"]["slow_seconds"] == 30
    result = CliRunner().invoke(app, ["audit", str(SAMPLES), "--out", str(cli), "--rubric", str(rubric),
                                      "--no-tags", "--no-html", "--no-xlsx"])
    assert result.exit_code == 0, result.output
    for name in TABLES:
        assert (lib / f"{name}.csv").read_bytes() == (cli / f"{name}.csv").read_bytes(), name
    # the rubric's 30 s threshold really applied: more slow rounds than with the default 120 s
    default = audit([SAMPLES], AuditOptions(out_dir=tmp_path / "d", tags=False, html=False, xlsx=False))
    assert res.conversations["slow_rounds"].sum() > default.conversations["slow_rounds"].sum()


def test_options_layers_later_wins(tmp_path):
    """defaults <- rubric [metrics] <- settings file <- platform <- single options."""
    from qa_scorer.options import plan_audit
    from qa_scorer.rubric import load_rubric

    rubric = _rubric_with_metrics(tmp_path / "r.toml", "slow_seconds = 30\nwithin_seconds = 100\nmin_reply_chars = 5\n")
    settings = tmp_path / "s.toml"
    settings.write_text("[metrics]\nwithin_seconds = 90\nmin_reply_chars = 6\n", encoding="utf-8")
    opts = AuditOptions(rubric_path=rubric, settings_path=settings, platform="taobao",
                        metric_overrides={"min_reply_chars": 7})
    plan = plan_audit([SAMPLES], opts, load_rubric(rubric))
    s = plan.settings
    assert (s.slow_seconds, s.within_seconds, s.min_reply_chars, s.latency_cap_s) == (30, 90, 7, 600)


def test_audit_never_changes_the_callers_options(tmp_path):
    ingest = IngestOptions()
    opts = AuditOptions(out_dir=tmp_path, ingest=ingest, tags=False, html=False, xlsx=False,
                        metric_overrides={"session_gap_s": 600})
    before = dataclasses.asdict(opts)
    audit([SAMPLES / "other_formats" / "wangwang_chatlog.txt"], opts)
    assert dataclasses.asdict(opts) == before and ingest.session_gap_s is None


def test_scheduler_without_dask_engine_is_an_error(tmp_path):
    with pytest.raises(ValueError, match="--engine dask"):
        audit([SAMPLES], AuditOptions(out_dir=tmp_path, scheduler="tcp://127.0.0.1:8786"))
    result = CliRunner().invoke(app, ["audit", str(SAMPLES), "--out", str(tmp_path / "o"),
                                      "--scheduler", "tcp://127.0.0.1:8786"])
    assert result.exit_code == 2 and "--engine dask" in result.output


def test_unknown_engine_executor_read_are_errors(tmp_path):
    for bad in ({"engine": "spark"}, {"executor": "threads"}, {"read": "lazy"}):
        with pytest.raises(ValueError, match="unknown value"):
            audit([SAMPLES], AuditOptions(out_dir=tmp_path, **bad))


def test_an_input_with_no_readable_rows_still_writes_every_table(tmp_path):
    src = tmp_path / "empty.csv"
    src.write_text("conversation_id,sent_at,sender,text\n", encoding="utf-8")
    res = audit([src], AuditOptions(out_dir=tmp_path / "o", tags=False, html=False, xlsx=False))
    assert res.summary["messages"] == 0
    for name in TABLES:
        assert (tmp_path / "o" / f"{name}.csv").exists(), name
    assert "conversation_id" in _read(tmp_path / "o", "replies").columns


def test_a_typo_never_destroys_yesterdays_report(tmp_path):
    """`audit samples --out r; audit sample_transcript/ --out r` used to leave an empty r/."""
    out = tmp_path / "r"
    audit([SAMPLES], AuditOptions(out_dir=out, tags=False, xlsx=False))
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    assert {"messages.csv", "agents.csv", "report.html", "run.json"} <= set(before)
    res = audit([ROOT / "sample_transcript"], AuditOptions(out_dir=out, tags=False, xlsx=False))
    assert res.summary["messages"] == 0 and res.failed_files and not res.replaced_earlier
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before  # yesterday's report untouched
    assert res.out_dir == out.resolve().with_name("r.incomplete") and (res.out_dir / "run.json").exists()
    assert any("原有的报告已保留" in n for n in res.notes)  # Chinese by default
    # the command says so and exits 1
    again = CliRunner().invoke(app, ["audit", str(ROOT / "sample_transcript"), "--out", str(out), "--no-tags"])
    assert again.exit_code == 1 and "原有的报告已保留" in again.output
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert not [p for p in tmp_path.iterdir() if ".partial-" in p.name]  # no staging folder left


def test_a_run_that_fails_midway_leaves_the_earlier_report_and_no_debris(tmp_path, monkeypatch):
    import qa_scorer.pipeline as pipeline

    out = tmp_path / "r"
    audit([SAMPLES], AuditOptions(out_dir=out, tags=False, xlsx=False, html=False))
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(pipeline, "_finish", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        audit([SAMPLES], AuditOptions(out_dir=out, tags=False, xlsx=False, html=False))
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r"]


def test_no_agents_is_visible_on_the_result(tmp_path):
    src = tmp_path / "plain.csv"
    src.write_text("conversation_id,sent_at,sender,text\n"
                   "A,2026-11-20 10:00:00,buyer1,在吗\n"
                   "A,2026-11-20 10:00:10,小美,在的亲\n", encoding="utf-8")
    res = audit([src], AuditOptions(out_dir=tmp_path / "o", tags=False, html=False, xlsx=False))
    assert res.no_agents and "小美" not in res.agents["agent"].tolist()
    from qa_scorer.ingest import IngestOptions as IO
    res = audit([src], AuditOptions(out_dir=tmp_path / "p", tags=False, html=False, xlsx=False,
                                    ingest=IO(agents={"小美"})))
    assert not res.no_agents and res.agents["agent"].tolist() == ["小美"]


def test_zero_agents_is_a_warning_with_the_fix_and_exit_3(tmp_path):
    src = tmp_path / "plain.csv"
    src.write_text("conversation_id,sent_at,sender,text\n"
                   "A,2026-11-20 10:00:00,buyer1,在吗\n"
                   "A,2026-11-20 10:00:10,小美,在的亲\n", encoding="utf-8")
    base = ["audit", str(src), "--no-tags", "--no-xlsx", "--no-html"]
    res = CliRunner().invoke(app, [*base, "--out", str(tmp_path / "a")])
    assert res.exit_code == 3 and "未识别到任何客服" in res.output and "--agents" in res.output
    res = CliRunner().invoke(app, [*base, "--out", str(tmp_path / "b"), "--allow-no-agents", "--lang", "en"])
    assert res.exit_code == 0 and "No agent found" in res.output
    res = CliRunner().invoke(app, [*base, "--out", str(tmp_path / "c"), "--agents", "小美"])
    assert res.exit_code == 0 and "未识别到任何客服" not in res.output


def test_encoding_errors_and_skip_rows_reach_ingest(tmp_path):
    src = tmp_path / "gbk.csv"
    good = "".join(f"B{i},2026-11-20 10:{i:02d}:00,买家{i},这件衣服有黑色的吗\n" for i in range(20))
    src.write_bytes("conversation_id,sent_at,sender,text\nA,2026-11-20 10:00:00,买家,在吗\n".encode("gb18030")
                    + b"A,2026-11-20 10:00:10,\xb5\xea:\xd0\xa1,\xff\n" + good.encode("gb18030"))
    strict = CliRunner().invoke(app, ["audit", str(src), "--out", str(tmp_path / "s"), "--no-tags", "--lang", "en"])
    assert strict.exit_code == 1 and "line 3" in strict.output
    replaced = CliRunner().invoke(app, ["audit", str(src), "--out", str(tmp_path / "r"), "--no-tags",
                                        "--encoding-errors", "replace", "--allow-no-agents"])
    assert replaced.exit_code == 0, replaced.output
    msgs = _read(tmp_path / "r", "messages")
    assert len(msgs) == 22 and msgs["text"].str.contains("\ufffd").sum() == 1
    bad = CliRunner().invoke(app, ["audit", str(src), "--out", str(tmp_path / "x"), "--encoding-errors", "ignore"])
    assert bad.exit_code == 2


def test_cli_read_executor_and_chunk_options_reach_the_driver(reference, tmp_path):
    out = tmp_path / "o"
    res = CliRunner().invoke(app, ["audit", str(SAMPLES), "--out", str(out), "--no-html", "--no-xlsx",
                                   "--read", "stream", "--executor", "pool", "--workers", "2",
                                   "--chunk-size", "150"])
    assert res.exit_code == 0, res.output
    run = json.loads((out / "run.json").read_text(encoding="utf-8"))
    assert (run["read"], run["executor"], run["workers"], run["chunk_rows"]) == ("stream", "pool", 2, 150)
    _check_same(reference, out, same_order=False)
    bad = CliRunner().invoke(app, ["audit", str(SAMPLES), "--out", str(tmp_path / "x"), "--executor", "threads"])
    assert bad.exit_code == 2 and "threads" in bad.output


def test_cli_skip_rows_reads_an_xlsx_below_its_title_rows(tmp_path):
    import openpyxl

    path = tmp_path / "titled.xlsx"
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["小熊母婴专营店 聊天记录导出"])            # row 1: a title
    ws.append(["导出时间 2026-11-21"])                    # row 2: a subtitle
    ws.append(["conversation_id", "sent_at", "sender", "text"])  # row 3: the header
    ws.append(["A", "2026-11-20 10:00:00", "tb_1", "在吗"])
    ws.append(["A", "2026-11-20 10:00:10", "店:小美", "在的亲"])
    wb.save(path)
    res = CliRunner().invoke(app, ["audit", str(path), "--out", str(tmp_path / "o"), "--no-tags", "--no-html",
                                   "--no-xlsx", "--skip-rows", "2"])
    assert res.exit_code == 0, res.output
    msgs = _read(tmp_path / "o", "messages")
    assert msgs["text"].tolist() == ["在吗", "在的亲"] and msgs["source_line"].tolist() == [4, 5]
