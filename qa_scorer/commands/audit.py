"""``qa-scorer audit``: read exports, compute metrics, tag replies, score, write the report folder."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from qa_scorer.commands.common import plain, safe
from qa_scorer.executors import ExecutorError
from qa_scorer.i18n import N_, _, pgettext
from qa_scorer.ingest import FORMATS, IngestOptions, parse_column_mapping
from qa_scorer.pipeline import AuditOptions, audit
from qa_scorer.settings import PLATFORM_PRESETS, SettingsError

console = Console(stderr=True)

EXAMPLE = """
[bold]Examples[/bold]

  qa-scorer audit sample_transcripts/                      [dim]# -> ./qa-report/ (summary in Chinese)[/dim]

  qa-scorer audit sample_transcripts/ --lang en            [dim]# the same in English[/dim]

  qa-scorer audit exports/2026-11/ --out reports/2026-11 --platform taobao

  qa-scorer audit chat.csv --columns "聊天内容=text,发消息的人=sender" --agents 小美,阿杰

  qa-scorer audit huge.csv --read stream --no-xlsx          [dim]# larger than memory[/dim]

Output folder: messages/replies/rounds/conversations/agents/rejected.csv (English column names,
see docs/columns.md), run.json, report.html and audit.xlsx (Chinese headers; English with --lang en).
Exit code 1 if a file could not be read (the others are still audited) or nothing was read (an
earlier report is kept), 2 for a bad option, 3 if no agent was recognised (see --agents).
"""

#: Progress stages from qa_scorer.pipeline, as shown while the audit runs.
STAGES = {"reading": N_("reading"), "scoring": N_("scoring"), "writing outputs": N_("writing outputs")}


def _stage(stage: str) -> str:
    """'reading chat.csv' -> '读取 chat.csv' (file names from the disk are made plain)."""
    for key, label in STAGES.items():
        if stage == key or stage.startswith(key + " "):
            rest = stage[len(key):].strip()
            return _(label) + (" " + safe(rest, 60) if rest else "")
    return safe(stage, 60)


def _agents(names: Optional[str], agents_file: Optional[Path]) -> set[str]:
    result = {n.strip() for n in (names or "").split(",") if n.strip()}
    if agents_file:
        result |= {ln.strip() for ln in agents_file.read_text(encoding="utf-8-sig").splitlines() if ln.strip()}
    return result


def _service_hours(value: Optional[str]) -> dict:
    if not value:
        return {}
    try:
        start, end = value.split("-")
    except ValueError:
        raise typer.BadParameter(_("use START-END, e.g. 08:00-24:00")) from None
    return {"service_start": start.strip(), "service_end": end.strip()}


def audit_command(
    paths: list[Path] = typer.Argument(..., help="Export files or folders (searched recursively)."),
    out: Path = typer.Option(Path("qa-report"), "--out", "-o", help="Folder for the report files."),
    fmt: Optional[str] = typer.Option(None, "--format", help=f"Force a reader: {'|'.join(FORMATS)}."),
    encoding: Optional[str] = typer.Option(None, "--encoding", help="Force an encoding (default: detect UTF-8/GBK)."),
    encoding_errors: str = typer.Option("strict", "--encoding-errors",
                                        help="strict: a file with undecodable bytes is rejected (the line is named); "
                                             "replace: keep it, replacing the bad bytes (the count is reported)."),
    skip_rows: Optional[int] = typer.Option(None, "--skip-rows", min=0,
                                            help="xlsx: title rows above the header (default: detected)."),
    allow_no_agents: bool = typer.Option(False, "--allow-no-agents",
                                         help="Exit 0 even when no sender was recognised as an agent."),
    columns: Optional[str] = typer.Option(None, "--columns",
                                          help='Map other headers, e.g. "聊天内容=text,发消息的人=sender".'),
    agents: Optional[str] = typer.Option(None, "--agents", help="Extra agent account names, comma-separated."),
    agents_file: Optional[Path] = typer.Option(None, "--agents-file", exists=True, dir_okay=False,
                                               help="File with one agent account name per line."),
    session_gap: Optional[int] = typer.Option(None, "--session-gap", min=1,
                                              help="Minutes of silence that start a new conversation "
                                                   "(files without conversation ids). Default 30."),
    platform: Optional[str] = typer.Option(None, "--platform",
                                           help=f"Platform preset: {'|'.join(PLATFORM_PRESETS)}."),
    settings_file: Optional[Path] = typer.Option(None, "--settings", exists=True, dir_okay=False,
                                                 help="TOML file with a \\[metrics] table of thresholds."),
    service_hours: Optional[str] = typer.Option(None, "--service-hours", help="e.g. 08:00-24:00."),
    within_seconds: Optional[int] = typer.Option(None, "--within-seconds", help="3-minute-rate threshold (180)."),
    slow_seconds: Optional[int] = typer.Option(None, "--slow-seconds", help="Slow round threshold (120)."),
    min_reply_chars: Optional[int] = typer.Option(None, "--min-reply-chars", help="Short reply below this (4)."),
    product_answer_chars: Optional[int] = typer.Option(None, "--product-answer-chars",
                                                       help="Product answers below this are short (15)."),
    closing_silence: Optional[int] = typer.Option(None, "--closing-silence",
                                                  help="Seconds of buyer silence before a closing is due (300)."),
    rubric: Optional[Path] = typer.Option(None, "--rubric", exists=True, dir_okay=False,
                                          help="Rubric TOML (default: the packaged rubric; see `qa-scorer rubric init`)."),
    model: Optional[Path] = typer.Option(None, "--model", exists=True, dir_okay=False,
                                         help="Classifier model (.skops); default: the shipped model."),
    tags: bool = typer.Option(True, "--tags/--no-tags", help="Tag replies with the classifier."),
    workers: Optional[int] = typer.Option(None, "--workers", min=1, help="Worker processes (default: cores)."),
    html: bool = typer.Option(True, "--html/--no-html", help="Write report.html."),
    xlsx: bool = typer.Option(True, "--xlsx/--no-xlsx", help="Write audit.xlsx."),
    xlsx_max_rows: int = typer.Option(5_000, "--xlsx-max-rows", min=1, max=1_048_575,
                                      help="Rows per sheet in audit.xlsx (beyond it: worst conversations and "
                                           "flagged replies first); the CSVs always hold every row."),
    chunk_size: Optional[int] = typer.Option(None, "--chunk-size", min=0,
                                             help="Audit in chunks of this many messages (whole conversations); "
                                                  "0 = read everything at once. Default: automatic (see docs/scaling.md)."),
    read: str = typer.Option("auto", "--read", help="whole (every file at once), stream (CSV/TSV chunk by chunk, "
                                                    "for inputs larger than memory) or auto (stream above 1 GB)."),
    engine: str = typer.Option("local", "--engine", help="local (this machine) or dask (a Dask cluster)."),
    executor: str = typer.Option("auto", "--executor",
                                 help="local engine: in-process, pool (worker processes) or auto (pool for inputs over 4 MB)."),
    scheduler: Optional[str] = typer.Option(None, "--scheduler",
                                            help="dask.distributed scheduler address, e.g. tcp://10.0.0.5:8786."),
    db: Optional[str] = typer.Option(None, "--db", envvar="QA_SCORER_DB",
                                     help="Also record the run in this workspace (SQLite path or postgresql:// URL; "
                                          "see docs/workspace.md). Re-auditing the same input changes nothing."),
    by: Optional[str] = typer.Option(None, "--by", help="--db: who ran the audit (for the audit trail)."),
) -> None:
    """Audit chat exports: metrics, reply tags and service scores per conversation and agent."""
    if fmt and fmt not in FORMATS:
        raise typer.BadParameter(_("unknown format {value}; allowed: {allowed}").format(
            value=repr(plain(fmt, 40)), allowed=", ".join(FORMATS)), param_hint="--format")
    if encoding_errors not in ("strict", "replace"):
        raise typer.BadParameter(_("use strict or replace"), param_hint="--encoding-errors")
    try:
        mapping = parse_column_mapping(columns)
    except ValueError as exc:
        raise typer.BadParameter(plain(exc, 400), param_hint="--columns") from None
    overrides = {
        **_service_hours(service_hours),
        "within_seconds": within_seconds, "slow_seconds": slow_seconds, "min_reply_chars": min_reply_chars,
        "product_answer_min_chars": product_answer_chars, "closing_silence_s": closing_silence,
        "session_gap_s": session_gap * 60 if session_gap else None,
    }
    options = AuditOptions(
        out_dir=out,
        ingest=IngestOptions(fmt=fmt, encoding=encoding, columns=mapping, agents=_agents(agents, agents_file),
                             encoding_errors=encoding_errors, skip_rows=skip_rows),
        rubric_path=rubric, settings_path=settings_file, platform=platform,
        metric_overrides={k: v for k, v in overrides.items() if v is not None},
        model_path=model, tags=tags, workers=workers, html=html, xlsx=xlsx, xlsx_max_rows=xlsx_max_rows,
        chunk_rows=chunk_size, read=read, engine=engine, executor=executor, scheduler=scheduler,
        db=db, db_actor=by,
    )
    from qa_scorer.ingest import discover_files
    n_files = len(discover_files([str(p) for p in paths])[0])
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                  TimeElapsedColumn(), console=console, transient=True) as bar:
        task = bar.add_task(_stage("reading"), total=max(n_files, 1))

        def progress(stage: str, done: float) -> None:
            if stage.startswith("reading"):
                bar.update(task, description=_stage(stage), completed=done)
            elif stage == "scoring" and done:
                bar.update(task, description=_stage(stage), total=100, completed=round(done * 100))
            else:
                bar.update(task, description=_stage(stage))

        try:
            result = audit(paths, options, progress=progress)
        except (SettingsError, ValueError, ExecutorError) as exc:
            bar.stop()
            label = safe(_("Error:"))
            console.print(f"[red]{label}[/red] {safe(exc, 2000)}")
            raise typer.Exit(2) from None
    print_summary(result)
    if result.no_agents:
        console.print("[yellow]" + safe(_("No agent found: no sender looks like 店铺:子账号 and none was named with "
                                         "--agents. Name the agent accounts with --agents 小美,阿杰 (or --agents-file), "
                                         "or pass --allow-no-agents if the export really has no agent messages.")) + "[/yellow]")
        if not allow_no_agents:
            raise typer.Exit(3)
    if not result.replaced_earlier or not result.summary.get("messages"):
        console.print("[red]" + safe(_("No usable message was read; an earlier report in the output folder was "
                                       "kept.")) + "[/red]")
        raise typer.Exit(1)
    if result.failed_files:
        raise typer.Exit(1)


def summary_rows(result) -> list[tuple[str, str]]:
    """The summary as (label, value) rows in the current language; values from files are plain text.

    The two score means are named as in report.html (qa_scorer.report.common.score_means):
    会话平均服务分 = over all conversations, 客服平均服务分 = over agents (each agent once).
    """
    from qa_scorer.report.common import (
        AGENT_MEAN_LABEL, CONVERSATION_MEAN_LABEL, fmt_rate, is_missing, pooled_within_rate, score_means,
    )

    files_ok = [f for f in result.files if not f.error and not f.skipped]
    roles = result.summary.get("roles", {})
    role_names = {"customer": _("buyer"), "agent": _("agent"), "auto": _("auto-reply"), "system": _("system")}
    failed = len(result.failed_files)
    rows = [
        (_("Files read"), f"{len(files_ok)}" + (_("  ({n} failed)").format(n=failed) if failed else "")),
        (_("Conversations"), f"{result.summary.get('conversations', 0):,}"),
        (_("Messages"), f"{result.summary.get('messages', 0):,}  (" + _(", ").join(
            f"{role_names[r]} {int(roles.get(r, 0)):,}" for r in role_names) + ")"),
        (pgettext("summary", "Agents"), f"{len(result.agents):,}"),
        (_("Rejected rows"), f"{len(result.rejected):,}" + ("  -> rejected.csv" if len(result.rejected) else "")),
    ]
    means = score_means(result.agents, result.conversations)
    if "conversation" in means:
        rows.append((_(CONVERSATION_MEAN_LABEL), _("{score} (over {n} conversations)").format(
            score=f"{means['conversation']:.1f}",
            n=f"{int(result.conversations['service_score'].notna().sum()):,}")))
    if "agent" in means:
        rows.append((_(AGENT_MEAN_LABEL), _("{score} (over {n} agents)").format(
            score=f"{means['agent']:.1f}", n=f"{int(result.agents['service_score'].notna().sum()):,}")))
    rate = pooled_within_rate(result.conversations)
    if not is_missing(rate):
        rows.append((_("3-minute response rate"), fmt_rate(rate)))
    if "needs_review" in result.conversations.columns:
        from qa_scorer.report.common import flag
        n_review = int(flag(result.conversations, "needs_review").sum())
        rows.append((_("Conversations to review"), f"{n_review:,}" + (
            "  -> conversations.csv needs_review" if n_review else "")))
    rows.append((_("Output folder"), str(result.out_dir)))
    ws = result.run_info.get("workspace")
    if ws:
        rows.append((_("Workspace"), _("run {run}: {new} new, {updated} updated, {unchanged} unchanged, "
                                       "{closed} in closed periods (not changed)").format(
            run=ws["run_id"], new=f"{ws['new']:,}", updated=f"{ws['updated']:,}", unchanged=f"{ws['unchanged']:,}",
            closed=f"{ws['skipped_closed']:,}")))
    return rows


def print_summary(result, console: Console | None = None) -> None:
    """Print what was read, skipped and found.  Nothing from a file is interpreted as markup."""
    out = console or Console()
    for f in result.files:
        if f.error:
            out.print(f"[red]✗ {safe(f.path)}[/red]: {safe(f.error, 400)} " + safe(_("(file skipped)")))
        elif f.skipped:
            out.print(f"[yellow]- {safe(f.path)}[/yellow]: {safe(f.skipped, 400)}; " + safe(_("not audited")))
        for note in f.notes:
            out.print(f"[yellow]! {safe(f.path)}[/yellow]: {safe(note, 400)}")
    table = Table(title=safe(_("qa-scorer audit summary")), show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column()
    for label, value in summary_rows(result):
        table.add_row(safe(label), safe(value, 400))
    out.print(table)
    label = safe(_("note:"))
    for note in result.notes:
        out.print(f"[yellow]{label}[/yellow] {safe(note, 400)}")


def register(app: typer.Typer) -> None:
    app.command("audit", help=(audit_command.__doc__ or "") + "\n\n" + EXAMPLE)(audit_command)
