"""``qa-scorer audit`` as a library call: ingest -> metrics -> tags -> scores -> outputs.

    from qa_scorer.pipeline import AuditOptions, audit
    result = audit(["sample_transcripts/"], AuditOptions(out_dir="qa-report"))

One driver for every input size and engine (docs/architecture.md):

1. ``plan_audit`` resolves the options once (settings layers, engine, executor, read mode);
2. ``ChunkedInput`` reads the exports and yields chunks of whole conversations (a small input is
   one chunk);
3. an executor (in process, a local worker pool, Dask) runs the same ``ChunkScorer`` - metrics,
   tags, scores - on every chunk, while this process reads the next one;
4. the sinks consume the scored chunks in order (CSV files, agent facts, the worst conversations
   for report.html, the rows for audit.xlsx);
5. the agent table is computed from the per-conversation tables, then report.html, audit.xlsx and
   run.json are written.

This module only orchestrates; every stage lives in its own module.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Callable, Iterable

import pandas as pd

from qa_scorer import __version__
from qa_scorer.executors import make_executor
from qa_scorer.i18n import _
from qa_scorer.ingest import ChunkedInput, FileReport
from qa_scorer.options import AuditOptions, AuditPlan, plan_audit
from qa_scorer.scoring import ChunkScorer, add_tag_counts, cached_model, score_chunk
from qa_scorer.sinks import AgentFacts, TableFiles, WorkbookRows, WorstConversations, workbook_selection, write_table

__all__ = ["AuditOptions", "AuditResult", "audit", "add_tag_counts", "write_table", "workbook_selection"]


@dataclass
class AuditResult:
    out_dir: Path
    messages: pd.DataFrame | None     # None when the input was too big to keep (see messages.csv)
    rejected: pd.DataFrame
    replies: pd.DataFrame             # without texts when the input was too big to keep them
    rounds: pd.DataFrame
    conversations: pd.DataFrame
    agents: pd.DataFrame
    files: list[FileReport]
    notes: list[str]
    timings: dict[str, float]
    written: list[Path]
    summary: dict = field(default_factory=dict)   # messages, roles {role: count}, conversations
    run_info: dict = field(default_factory=dict)  # what run.json records
    replaced_earlier: bool = True     # False: nothing was read, an earlier report in out_dir was kept

    @property
    def no_agents(self) -> bool:
        """Messages were read but no sender was recognised as an agent (店铺:子账号 or --agents)."""
        roles = self.summary.get("roles", {})
        return self.summary.get("messages", 0) > 0 and not roles.get("agent", 0) and not roles.get("auto", 0)

    @property
    def failed_files(self) -> list[FileReport]:
        return [f for f in self.files if f.error]


def describe_model(model_path: str | None) -> dict:
    """The classifier's identity for run.json (runs where the model is loaded: a worker or here)."""
    return cached_model(model_path).describe()


def warm_model(model_path: str | None) -> None:
    """Run once in each worker as it starts: load the model and jieba before the first chunk."""
    ChunkScorer(None, None, model_path, True).warm_up()


def _timed(timings: dict, key: str, t0: float) -> None:
    timings[key] = timings.get(key, 0.0) + time.perf_counter() - t0


def audit(paths: Iterable[str | Path], options: AuditOptions | None = None,
          progress: Callable[[str, float], None] | None = None) -> AuditResult:
    """Run the whole audit and write the output folder.  ``progress(stage, done)`` is optional:
    "reading NAME" with the number of files read, then "scoring" with the share of rows scored."""
    from qa_scorer import rubric as rubric_mod

    options = _workspace_model(options or AuditOptions())
    say = progress or (lambda stage, done: None)
    rubric = rubric_mod.load_rubric(options.rubric_path)
    plan = plan_audit(paths, options, rubric)
    # Everything is written to a staging folder beside the output folder and moved into place at
    # the end, so a failed or empty audit never replaces an earlier report.
    out_dir = _staging_dir(plan.out_dir)
    try:
        result = _run(plan, rubric, out_dir, say)
    except BaseException:
        shutil.rmtree(out_dir, ignore_errors=True)
        raise
    return _publish(result, out_dir, plan.out_dir)


def _workspace_model(options: AuditOptions) -> AuditOptions:
    """``audit --db`` without ``--model`` scores with the workspace's active model, when one was
    promoted (``qa-scorer model promote``); its bytes reach the workers as a file path."""
    if not options.db or options.model_path is not None or not options.tags:
        return options
    from dataclasses import replace

    from qa_scorer.workspace.models import active_model_file

    path = active_model_file(options.db)
    return options if path is None else replace(options, model_path=path)


def _staging_dir(final: Path) -> Path:
    final = final.resolve()
    final.parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f".{final.name}.partial-", dir=final.parent))


def _publish(result: "AuditResult", staging: Path, final: Path) -> "AuditResult":
    """Move the finished files into ``final`` (each with an atomic rename).  An audit that read no
    message does not replace an earlier report: its files go to ``<out>.incomplete/`` instead."""
    target = final
    if result.summary.get("messages", 0) == 0 and (final / "run.json").exists():
        target = final.resolve().with_name(final.resolve().name + ".incomplete")
        shutil.rmtree(target, ignore_errors=True)
        result.notes.append(_("no usable message was read: the earlier report in {final} was kept; "
                              "this run's files (rejected.csv, run.json) are in {target}").format(final=final,
                                                                                                  target=target))
        result.replaced_earlier = False
    target.mkdir(parents=True, exist_ok=True)
    written = []
    for path in result.written:
        dest = target / path.name
        os.replace(path, dest)
        written.append(dest)
    shutil.rmtree(staging, ignore_errors=True)
    result.out_dir, result.written = target, written
    return result


def _run(plan: AuditPlan, rubric, out_dir: Path, say) -> "AuditResult":
    from functools import partial

    options = plan.options
    timings: dict[str, float] = {}
    notes: list[str] = []

    files_read = {"n": 0}

    def on_file(path):
        files_read["n"] += 1
        say(f"reading {Path(path).name}", files_read["n"])

    source = ChunkedInput(plan.paths, plan.ingest, chunk_rows=plan.chunk_rows_for(None), read=plan.read,
                          progress=on_file)
    warm = partial(warm_model, plan.model_path) if plan.tags else None
    # The executor starts first: pool workers load the model on their own cores while this
    # process reads the exports.
    with make_executor(plan.executor, workers=plan.workers, warm=warm, scheduler=plan.scheduler) as executor:
        t = time.perf_counter()
        source.prepare()
        _timed(timings, "read", t)
        source.set_chunk_rows(plan.chunk_rows_for(source.total_rows))
        scorer = ChunkScorer(plan.settings, rubric, plan.model_path, plan.tags, source.data_end)
        facts, worst = AgentFacts(plan.keep_tables), WorstConversations(options.worst_n)
        table_files, xlsx_rows = TableFiles(out_dir), WorkbookRows(options.xlsx_max_rows)
        sinks = [table_files, facts, worst] + ([xlsx_rows] if options.xlsx else [])
        model_info = executor.submit(describe_model, plan.model_path).result() if plan.tags else None
        recorder = _workspace_recorder(plan, rubric, model_info)
        if recorder is not None:
            sinks.append(recorder)
        in_flight: deque = deque()

        def chunks():  # remembers each chunk handed out: results come back in the same order
            it = iter(source)
            while True:
                t0 = time.perf_counter()
                chunk = next(it, None)
                _timed(timings, "read", t0)
                if chunk is None:
                    return
                in_flight.append(chunk)
                yield chunk

        n_chunks = 0
        t_score = time.perf_counter()
        try:
            for scored in executor.map(scorer, chunks()):
                chunk = in_flight.popleft()
                n_chunks += 1
                for key, value in scored.timings.items():
                    timings[f"chunk_{key}"] = timings.get(f"chunk_{key}", 0.0) + value
                t = time.perf_counter()
                for sink in sinks:
                    sink.add(chunk, scored)
                _timed(timings, "sinks", t)
                say("scoring", facts.n_messages / source.total_rows if source.total_rows else 0)
        except BaseException:
            if recorder is not None:
                recorder.abort()  # one transaction: a failed audit records nothing
            raise
        timings["score_wall"] = time.perf_counter() - t_score - timings.get("sinks", 0.0)
        if n_chunks == 0:  # nothing readable: empty tables with every column, as a normal audit has
            from qa_scorer.schema import empty_messages
            empty = empty_messages()
            empty_scored = score_chunk(empty, plan.settings, rubric, None, data_end=None)
            for sink in (facts, table_files):
                sink.add(empty, empty_scored)
        executor_info = executor.describe()
    if source.split_conversations:
        notes.append(_("{n} conversation ids came back after their chunk was closed (the export does not list "
                       "each conversation's rows together); their parts were audited as separate conversations "
                       "- audit with --read whole to join them").format(n=f"{source.split_conversations:,}"))
    return _finish(plan, rubric, out_dir, source, facts, worst, xlsx_rows, table_files, n_chunks, model_info,
                   executor_info, timings, notes, say, recorder)


def _workspace_recorder(plan: AuditPlan, rubric, model_info):
    """The workspace sink when the audit records into a workspace (``AuditOptions.db``)."""
    if not plan.options.db:
        return None
    from qa_scorer.workspace import Workspace

    run_info = {"qa_scorer_version": __version__, "model": model_info, "rubric": rubric.to_dict(),
                "settings": plan.settings.to_dict(), "actor": plan.options.db_actor}
    return Workspace(plan.options.db).recorder(run_info, plan.options.db_actor)


def _finish(plan: AuditPlan, rubric, out_dir: Path, source, facts, worst, xlsx_rows, table_files, n_chunks,
            model_info, executor_info, timings, notes, say, recorder=None) -> AuditResult:
    """Agent table, then the files for people: report.html, audit.xlsx, run.json."""
    from qa_scorer import metrics
    from qa_scorer import rubric as rubric_mod

    options = plan.options
    tables = facts.tables()
    replies, rounds, conversations = tables["replies"], tables["rounds"], tables["conversations"]
    t = time.perf_counter()
    agents = metrics.agent_metrics(replies, rounds, conversations, plan.settings)
    agents = rubric_mod.score_agents(agents, conversations, rubric)
    _timed(timings, "agents", t)

    say("writing outputs", 0)
    rejected = source.rejected
    period = facts.period
    run_info = {
        "qa_scorer_version": __version__,
        "run_at": datetime.now().isoformat(timespec="seconds"),
        "inputs": list(plan.paths),
        "files": [vars(f) for f in source.files],
        "messages": int(facts.n_messages),
        "rejected_rows": int(len(rejected)),
        "period": [str(p) for p in period] if period[0] is not None else None,
        "settings": plan.settings.to_dict(),
        "rubric_file": plan.rubric_path or "default (packaged)",
        "rubric": rubric.to_dict(),
        "model": model_info,
        **plan.to_dict(), **executor_info,
        "chunks": n_chunks, "chunk_rows": source.chunk_rows,
    }
    if recorder is not None:
        t = time.perf_counter()
        try:
            from qa_scorer.workspace.files import input_records
            run_info["workspace"] = recorder.finish(run_info, input_records(source.files)).to_dict()
        except BaseException:
            recorder.abort()
            raise
        _timed(timings, "workspace", t)
    written = [f.path for f in table_files.files.values()]
    t = time.perf_counter()
    for name, table in (("rejected", rejected), ("conversations", conversations), ("agents", agents)):
        written.append(write_table(table, out_dir / f"{name}.csv"))
    _timed(timings, "write_csv", t)
    # The workbook is written by pure-Python xlsxwriter (~4 us a cell): for big audits it runs in
    # its own process while this one writes report.html.
    big = options.xlsx and len(conversations) > 2_000
    with make_executor("pool" if big else "in-process", workers=1) as pool:
        xlsx_job = None
        if options.xlsx:
            sheets, sheet_notes = workbook_selection(conversations, xlsx_rows.replies if xlsx_rows.replies is not None
                                                     else replies.head(0), rejected, options.xlsx_max_rows,
                                                     total_replies=xlsx_rows.total)
            xlsx_job = pool.submit(_write_workbook_job, out_dir / "audit.xlsx", agents, sheets,
                                   options.xlsx_max_rows, sheet_notes)
        if options.html:
            t = time.perf_counter()
            from qa_scorer.report import write_html_report
            shown = worst.tables()
            write_html_report(out_dir / "report.html", agents=agents, conversations=conversations,
                              replies=_report_replies(replies, shown["replies"], worst.worst),
                              messages=shown["messages"], rounds=shown["rounds"], run_info=run_info,
                              worst_n=options.worst_n)
            written.append(out_dir / "report.html")
            _timed(timings, "write_html", t)
        if xlsx_job is not None:
            xlsx_notes, timings["write_xlsx"] = xlsx_job.result()
            notes.extend(xlsx_notes or [])
            written.append(out_dir / "audit.xlsx")
    run_info["timings_s"] = {k: round(v, 3) for k, v in timings.items()}
    run_info["notes"] = notes
    (out_dir / "run.json").write_text(json.dumps(run_info, ensure_ascii=False, indent=2, default=str),
                                      encoding="utf-8")
    written.append(out_dir / "run.json")
    summary = {"messages": int(facts.n_messages), "roles": dict(facts.roles), "conversations": int(len(conversations))}
    return AuditResult(out_dir, tables["messages"], rejected, replies, rounds, conversations, agents,
                       source.files, notes, timings, written, summary, run_info)


def _report_replies(replies: pd.DataFrame, worst_replies: pd.DataFrame, worst) -> pd.DataFrame:
    """Every reply for the charts, with the full rows (texts, tag words) of the worst conversations."""
    if worst is None or not len(worst_replies) or "text" in replies.columns:
        return replies
    ids = set(worst["conversation_id"].astype(str))
    return pd.concat([replies[~replies["conversation_id"].isin(ids)], worst_replies], ignore_index=True)


def _write_workbook_job(path: Path, agents: pd.DataFrame, sheets: dict, max_rows: int, notes: list[str]):
    from qa_scorer.report import write_workbook

    t0 = time.perf_counter()
    result = write_workbook(path, agents=agents, max_rows=max_rows, **sheets)
    return [*notes, *(result or [])], time.perf_counter() - t0
